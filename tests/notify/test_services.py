"""Delivery to real local receivers: signed Feishu and DingTalk stand-ins, webhook retries, redaction."""

from __future__ import annotations

import asyncio
import json

import httpx

from tagpilot.notify.config import Service
from tagpilot.notify.render import Request
from tagpilot.notify.services import Attempt, deliver
from tests.notify.receivers import Receiver, Recorded, dingtalk_stand_in, feishu_stand_in

SECRET = "s3cret-signing-key"
CARD = json.dumps({"msg_type": "interactive", "card": {"elements": []}})


async def _nosleep(_seconds: float) -> None:
    return None


def send(service: Service, request: Request, recipient: str = "") -> Attempt:
    async def go() -> Attempt:
        async with httpx.AsyncClient() as client:
            return await deliver(client, service, request, recipient, sleep=_nosleep)

    return asyncio.run(go())


def test_feishu_signed_card_accepted_by_the_stand_in() -> None:
    with Receiver(feishu_stand_in(SECRET)) as rx:
        service = Service("feishu", "feishu", {"url": rx.url + "/open-apis/bot/v2/hook/tok", "signingSecret": SECRET},
                          (SECRET,))
        attempt = send(service, Request("POST", "", CARD))
    assert attempt.ok and attempt.status == 200, attempt
    body = rx.requests[0].json()
    assert body["msg_type"] == "interactive" and set(body) >= {"timestamp", "sign"}


def test_feishu_wrong_secret_is_a_failed_delivery_naming_the_code() -> None:
    with Receiver(feishu_stand_in("another-secret")) as rx:
        service = Service("feishu", "feishu", {"url": rx.url + "/hook/tok", "signingSecret": SECRET}, (SECRET,))
        attempt = send(service, Request("POST", "", CARD))
    assert not attempt.ok and attempt.status == 200
    assert "feishu error code 19021" in attempt.error
    assert len(rx.requests) == 1  # a body error is not an HTTP-level retry


def test_dingtalk_signed_in_the_query() -> None:
    with Receiver(dingtalk_stand_in("SEC" + SECRET)) as rx:
        service = Service("dingtalk", "dingtalk", {"url": rx.url + "/robot/send?access_token=tok",
                                                   "signingSecret": "SEC" + SECRET}, ("SEC" + SECRET,))
        ok = send(service, Request("POST", "", json.dumps({"msgtype": "text", "text": {"content": "hi"}})))
        bad = send(Service("dingtalk", "dingtalk", {"url": rx.url + "/robot/send?access_token=tok",
                                                    "signingSecret": "SECwrong"}),
                   Request("POST", "", "{}"))
    assert ok.ok, ok
    assert rx.requests[0].query["access_token"] == ["tok"]
    assert not bad.ok and "dingtalk error code 310000: sign not match" in bad.error


def test_webhook_retries_5xx_and_429_then_succeeds_with_method_and_path() -> None:
    answers = [(503, {"Retry-After": "0"}, b"busy"), (429, {"Retry-After": "0"}, b"slow"), (200, {}, b"done")]

    def answer(_rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        return answers.pop(0)

    with Receiver(answer) as rx:
        service = Service("webhook", "hook", {"url": rx.url + "/base", "headers": [{"name": "X-A", "value": "1"}]})
        attempt = send(service, Request("PUT", "items/7", "payload"))
    assert attempt.ok and attempt.requests == 3
    assert [r.method for r in rx.requests] == ["PUT"] * 3
    assert rx.requests[-1].path == "/base/items/7" and rx.requests[-1].body == b"payload"
    assert rx.requests[-1].headers["X-A"] == "1"


def test_webhook_gives_up_after_retry_max_and_redacts_secrets() -> None:
    token = "tok-abcdef-123456"

    def answer(_rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        return 400, {}, f"bad token {token}".encode()

    with Receiver(lambda _r: (500, {}, b"down")) as rx:
        service = Service("webhook", "hook", {"url": rx.url, "retryMax": 2})
        attempt = send(service, Request("GET", "", ""))
    assert not attempt.ok and attempt.requests == 3 and len(rx.requests) == 3 and "HTTP 500" in attempt.error
    with Receiver(answer) as rx:
        service = Service("webhook", "hook", {"url": rx.url + "/" + token}, (token,))
        attempt = send(service, Request("POST", "", "x"))
    assert not attempt.ok and attempt.status == 400
    assert token not in attempt.error and token not in attempt.excerpt and "*****" in attempt.excerpt


def test_network_error_is_a_failed_attempt() -> None:
    with Receiver() as rx:
        url = rx.url
    attempt = send(Service("webhook", "hook", {"url": url, "retryMax": 1}), Request("GET", "", ""))
    assert not attempt.ok and attempt.status == 0 and "ConnectError" in attempt.error
