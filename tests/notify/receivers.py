"""STAND-INS for chat services that cannot run here, as responders of the shared `RecordingServer`.

No Feishu, DingTalk, WeCom, Slack, Teams or Telegram server can run on this machine, so these
responders (`server.route(path, feishu_stand_in(secret))`) check requests exactly as those services
document it (shared reference C, D, A.6) and answer with their success and error bodies. The
verification code is written here independently of `tagpilot.notify.signing`.
- Feishu: `timestamp` (Unix seconds, within one hour) and `sign` in the JSON body, where sign =
  base64(HMAC-SHA256(key = timestamp + "\\n" + secret, message = "")); `{"code":0,"msg":"success",
  "data":{}}` or `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current
  time"}`.
- DingTalk: `timestamp` (ms) and `sign` (URL-encoded) in the query, where sign = base64(HMAC-SHA256(
  key = secret, message = timestamp + "\\n" + secret)); `{"errcode":0,"errmsg":"ok"}` or
  `{"errcode":310000,"errmsg":"sign not match"}`.
- Slack Web API `chat.postMessage`: a `Bearer` token and a JSON body with `channel`; `{"ok":true}` or
  `{"ok":false,"error":"invalid_auth"|"channel_not_found"}` (always HTTP 200).
- Telegram Bot API `sendMessage` under `/bot<token>/`: `{"ok":true,"result":{...}}` or
  `{"ok":false,"error_code":401,"description":"Unauthorized"}`.
- generic-hmac receiver: `X-Signature: sha256=<hex HMAC-SHA256(token, body)>`, as Flux's Receiver checks it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

from tests.fixtures.http import RecordedRequest, Reply

Responder = Callable[[RecordedRequest], Reply]


def feishu_stand_in(secret: str, *, force_code: int | None = None) -> Responder:
    """Verify the Feishu custom bot signature as Feishu does."""

    def answer(rec: RecordedRequest) -> Reply:
        if force_code is not None:
            return Reply(200, {"code": force_code, "msg": "forced by the test", "data": {}})
        try:
            doc = rec.json()
            timestamp = str(doc["timestamp"])
            sign = str(doc["sign"])
        except (ValueError, KeyError, TypeError):
            return Reply(200, {"code": 9499, "msg": "Bad Request", "data": {}})
        expected = base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(sign, expected) or abs(time.time() - int(timestamp)) > 3600:
            return Reply(200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from "
                                                     "current time", "data": {}})
        return Reply(200, {"code": 0, "msg": "success", "data": {}})

    return answer


def dingtalk_stand_in(secret: str) -> Responder:
    """Verify the DingTalk custom robot signature as DingTalk does."""

    def answer(rec: RecordedRequest) -> Reply:
        timestamp = (rec.query.get("timestamp") or [""])[0]
        sign = (rec.query.get("sign") or [""])[0]  # parse_qs has URL-decoded it
        expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                             hashlib.sha256).digest()).decode()
        if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3_600_000:
            return Reply(200, {"errcode": 310000, "errmsg": "invalid timestamp"})
        if not hmac.compare_digest(sign, expected):
            return Reply(200, {"errcode": 310000, "errmsg": "sign not match"})
        return Reply(200, {"errcode": 0, "errmsg": "ok"})

    return answer


def slack_stand_in(token: str, channels: tuple[str, ...] = ("#deploys", "C123")) -> Responder:
    """Slack's chat.postMessage: HTTP 200 always, `ok` says whether it worked."""

    def answer(rec: RecordedRequest) -> Reply:
        if rec.headers.get("Authorization") != f"Bearer {token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if rec.json().get("channel") not in channels:
            return Reply(200, {"ok": False, "error": "channel_not_found"})
        return Reply(200, {"ok": True, "channel": "C123", "ts": "1700000000.000100"})

    return answer


def telegram_stand_in() -> Responder:
    def answer(rec: RecordedRequest) -> Reply:
        doc = rec.json()
        if not doc.get("chat_id") or not doc.get("text"):
            return Reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"})
        return Reply(200, {"ok": True, "result": {"message_id": 1, "chat": {"id": doc["chat_id"]}}})

    return answer


def hmac_ok(token: str, rec: RecordedRequest) -> bool:
    """A Flux generic-hmac receiver's check of `X-Signature`."""
    expected = "sha256=" + hmac.new(token.encode(), rec.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(rec.headers.get("X-Signature", ""), expected)
