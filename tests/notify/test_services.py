"""Delivery to real local receivers: signed Feishu and DingTalk stand-ins, webhook retries, redaction."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from tagpilot.notify.config import Service
from tagpilot.notify.render import Request
from tagpilot.notify.services import Attempt, deliver
from tests.fixtures.http import RecordingServer, Reply
from tests.notify.receivers import dingtalk_stand_in, feishu_stand_in

SECRET = "s3cret-signing-key"
CARD = json.dumps({"msg_type": "interactive", "card": {"elements": []}})


@pytest.fixture(scope="module")
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as rx:
        yield rx


@pytest.fixture
def rx(server: RecordingServer) -> RecordingServer:
    server.clear()
    return server


async def _nosleep(_seconds: float) -> None:
    return None


def send(service: Service, request: Request, recipient: str = "") -> Attempt:
    async def go() -> Attempt:
        async with httpx.AsyncClient() as client:
            return await deliver(client, service, request, recipient, sleep=_nosleep)

    return asyncio.run(go())


def test_feishu_signed_card_accepted_by_the_stand_in(rx: RecordingServer) -> None:
    rx.route("/open-apis/bot/v2/hook/tok", feishu_stand_in(SECRET))
    service = Service("feishu", "feishu", {"url": rx.url + "/open-apis/bot/v2/hook/tok", "signingSecret": SECRET},
                      (SECRET,))
    attempt = send(service, Request("POST", "", CARD))
    assert attempt.ok and attempt.status == 200, attempt
    body = rx.requests[0].json()
    assert body["msg_type"] == "interactive" and set(body) >= {"timestamp", "sign"}


def test_feishu_wrong_secret_is_a_failed_delivery_naming_the_code(rx: RecordingServer) -> None:
    rx.route("/hook/wrong", feishu_stand_in("another-secret"))
    service = Service("feishu", "feishu", {"url": rx.url + "/hook/wrong", "signingSecret": SECRET}, (SECRET,))
    attempt = send(service, Request("POST", "", CARD))
    assert not attempt.ok and attempt.status == 200
    assert "feishu error code 19021" in attempt.error
    assert len(rx.requests) == 1  # a body error is not an HTTP-level retry


def test_dingtalk_signed_in_the_query(rx: RecordingServer) -> None:
    rx.route("/robot/send", dingtalk_stand_in("SEC" + SECRET))
    service = Service("dingtalk", "dingtalk", {"url": rx.url + "/robot/send?access_token=tok",
                                               "signingSecret": "SEC" + SECRET}, ("SEC" + SECRET,))
    ok = send(service, Request("POST", "", json.dumps({"msgtype": "text", "text": {"content": "hi"}})))
    bad = send(Service("dingtalk", "dingtalk", {"url": rx.url + "/robot/send?access_token=tok",
                                                "signingSecret": "SECwrong"}),
               Request("POST", "", "{}"))
    assert ok.ok, ok
    assert rx.requests[0].query["access_token"] == ["tok"]
    assert not bad.ok and "dingtalk error code 310000: sign not match" in bad.error


def test_webhook_retries_5xx_and_429_then_succeeds_with_method_and_path(rx: RecordingServer) -> None:
    rx.route("/base/items/7", Reply(503, "busy", {"Retry-After": "0"}), Reply(429, "slow", {"Retry-After": "0"}),
             Reply(200, "done"))
    service = Service("webhook", "hook", {"url": rx.url + "/base", "headers": [{"name": "X-A", "value": "1"}]})
    attempt = send(service, Request("PUT", "items/7", "payload"))
    assert attempt.ok and attempt.requests == 3
    assert [r.method for r in rx.requests] == ["PUT"] * 3
    assert rx.requests[-1].path == "/base/items/7" and rx.requests[-1].body == b"payload"
    assert rx.requests[-1].headers["X-A"] == "1"


def test_webhook_gives_up_after_retry_max_and_redacts_secrets(rx: RecordingServer) -> None:
    token = "tok-abcdef-123456"
    rx.route("/down", Reply(500, "down"))
    attempt = send(Service("webhook", "hook", {"url": rx.url + "/down", "retryMax": 2}), Request("GET", "", ""))
    assert not attempt.ok and attempt.requests == 3 and len(rx.requests) == 3 and "HTTP 500" in attempt.error
    rx.route("/" + token, Reply(400, f"bad token {token}"))
    attempt = send(Service("webhook", "hook", {"url": rx.url + "/" + token}, (token,)), Request("POST", "", "x"))
    assert not attempt.ok and attempt.status == 400
    assert token not in attempt.error and token not in attempt.excerpt and "*****" in attempt.excerpt


def test_network_error_is_a_failed_attempt() -> None:
    with RecordingServer() as closed:
        url = closed.url
    attempt = send(Service("webhook", "hook", {"url": url, "retryMax": 1}), Request("GET", "", ""))
    assert not attempt.ok and attempt.status == 0 and "ConnectError" in attempt.error
