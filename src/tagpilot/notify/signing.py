"""Request signing of Feishu/Lark and DingTalk custom bots, exactly as each service documents it.

Feishu: timestamp in Unix **seconds**; `sign = base64(HMAC-SHA256(key = timestamp + "\\n" + secret,
message = ""))`; `timestamp` and `sign` are top-level fields of the JSON body.
DingTalk: timestamp in Unix **milliseconds**; `sign = urlencode(base64(HMAC-SHA256(key = secret,
message = timestamp + "\\n" + secret)))`; `&timestamp=<ts>&sign=<sign>` are appended to the URL.
The two swap the key and message roles (the usual bug in hand-written clients). Pure.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse


def feishu_sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """The base64 signature (URL-encode it into the query; `dingtalk_url` does)."""
    message = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def dingtalk_url(url: str, secret: str, timestamp_ms: int) -> str:
    sign = urllib.parse.quote_plus(dingtalk_sign(secret, timestamp_ms))
    return f"{url}{'&' if '?' in url else '?'}timestamp={timestamp_ms}&sign={sign}"
