"""Recording HTTP receivers on 127.0.0.1 for notification tests, with Feishu and DingTalk STAND-INS.

No Feishu or DingTalk server can run here, so these stand-ins verify requests exactly as those
services document it (shared reference C and D) and answer with their success and error bodies:
- Feishu stand-in: `timestamp` (Unix seconds, within one hour) and `sign` in the JSON body, where
  sign = base64(HMAC-SHA256(key = timestamp + "\\n" + secret, message = "")); HTTP 200 with
  `{"code":0,"msg":"success","data":{}}`, or `{"code":19021,"msg":"sign match fail or timestamp is
  not within one hour from current time"}`.
- DingTalk stand-in: `timestamp` (ms) and `sign` (URL-encoded) in the query, where sign =
  base64(HMAC-SHA256(key = secret, message = timestamp + "\\n" + secret)); HTTP 200 with
  `{"errcode":0,"errmsg":"ok"}` or `{"errcode":310000,"errmsg":"sign not match"}`.
The verification code is written here independently of `tagpilot.notify.signing`.

(A minimal local server: another engineer is writing the shared tests/fixtures/http.py; the
integrator will switch these tests to it.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Receiver:
    """A recording server; `answer(request) -> (status, headers, body)` decides each response."""

    answer: Callable[[Recorded], Answer] = lambda _r: (200, {}, b"ok")
    requests: list[Recorded] = field(default_factory=list)
    _server: http.server.ThreadingHTTPServer | None = None

    def __enter__(self) -> Receiver:
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parsed = urllib.parse.urlsplit(self.path)
                rec = Recorded(self.command, parsed.path, urllib.parse.parse_qs(parsed.query),
                               {k: v for k, v in self.headers.items()}, self.rfile.read(length))
                outer.requests.append(rec)
                status, headers, body = outer.answer(rec)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"


def _json(doc: dict[str, Any]) -> Answer:
    return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()


def feishu_stand_in(secret: str, *, force_code: int | None = None) -> Callable[[Recorded], Answer]:
    """Verify the Feishu custom bot signature as Feishu does."""

    def answer(rec: Recorded) -> Answer:
        if force_code is not None:
            return _json({"code": force_code, "msg": "forced by the test", "data": {}})
        try:
            doc = rec.json()
            timestamp = str(doc["timestamp"])
            sign = str(doc["sign"])
        except (ValueError, KeyError, TypeError):
            return _json({"code": 9499, "msg": "Bad Request", "data": {}})
        expected = base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(sign, expected) or abs(time.time() - int(timestamp)) > 3600:
            return _json({"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time",
                          "data": {}})
        return _json({"code": 0, "msg": "success", "data": {}})

    return answer


def dingtalk_stand_in(secret: str) -> Callable[[Recorded], Answer]:
    """Verify the DingTalk custom robot signature as DingTalk does."""

    def answer(rec: Recorded) -> Answer:
        timestamp = (rec.query.get("timestamp") or [""])[0]
        sign = (rec.query.get("sign") or [""])[0]  # parse_qs has URL-decoded it
        expected = base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(),
                                             hashlib.sha256).digest()).decode()
        if not timestamp.isdigit() or abs(time.time() * 1000 - int(timestamp)) > 3_600_000:
            return _json({"errcode": 310000, "errmsg": "invalid timestamp"})
        if not hmac.compare_digest(sign, expected):
            return _json({"errcode": 310000, "errmsg": "sign not match"})
        return _json({"errcode": 0, "errmsg": "ok"})

    return answer
