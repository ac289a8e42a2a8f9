"""Sending one rendered notification to one service: webhook, Feishu/Lark and DingTalk over httpx.

Retries (go-retryablehttp's policy, as the webhook service upstream): network errors, 5xx and 429 are
retried up to `retryMax` (3) times with exponential backoff between `retryWaitMin` (1s) and
`retryWaitMax` (5s); a 429/503 `Retry-After` in seconds is honoured (capped at 60s). Feishu and
DingTalk answer HTTP 200 with an error code in the body: `code`/`StatusCode` (Feishu) or `errcode`
(DingTalk) other than 0 is a failed delivery naming the code and message — Flux counts such a
response as delivered. Secrets (resolved `$name` values, the bot URL with its token, signatures)
never appear in what is returned: every text passes through `redact`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpx

from tagpilot.notify.config import Service
from tagpilot.notify.render import Request
from tagpilot.notify.signing import dingtalk_url, feishu_sign

EXCERPT = 300
REDACTED = "*****"
MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True)
class Attempt:
    """One delivery: ok, the last HTTP status (0 without a response), a redacted response excerpt, the
    error named (redacted), and how many HTTP requests it took."""

    ok: bool
    status: int
    excerpt: str
    error: str
    requests: int


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _seconds(value: object, default: float) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value:
        from tagpilot.config.duration import parse_flux_duration

        try:
            return parse_flux_duration(value)
        except ValueError:
            return default
    return default


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None


def _body_error(service: Service, response: httpx.Response) -> str:
    """Feishu `code`/`StatusCode`, DingTalk `errcode`: non-zero is a failure with the service's message."""
    if service.type not in ("feishu", "dingtalk"):
        return ""
    try:
        doc = json.loads(response.content)
    except ValueError:
        return f"{service.type} answered a body that is not JSON"
    if not isinstance(doc, dict):
        return f"{service.type} answered a body that is not a JSON object"
    if service.type == "feishu":
        code = doc.get("code", doc.get("StatusCode", 0))
        message = doc.get("msg", doc.get("StatusMessage", ""))
    else:
        code, message = doc.get("errcode", 0), doc.get("errmsg", "")
    if code in (0, None):
        return ""
    return f"{service.type} error code {code}: {message}"


def build_http(service: Service, request: Request, recipient: str, now: float) -> tuple[str, str, dict[str, str],
                                                                                          bytes]:
    """Method, URL, headers and body of the HTTP request, signed when the service has a signingSecret."""
    opts = service.options
    url = str(opts["url"])
    headers = {str(h.get("name")): str(h.get("value")) for h in opts.get("headers") or [] if isinstance(h, dict)}
    body = request.body.encode()
    if service.type == "webhook":
        if request.path:
            url = url.rstrip("/") + "/" + request.path.lstrip("/")
        return request.method, url, headers, body
    headers.setdefault("Content-Type", "application/json; charset=utf-8")
    secret = opts.get("signingSecret")
    if service.type == "feishu" and secret:
        doc = json.loads(request.body)
        timestamp = int(now)
        doc["timestamp"] = str(timestamp)
        doc["sign"] = feishu_sign(str(secret), timestamp)
        body = json.dumps(doc, ensure_ascii=False).encode()
    elif service.type == "dingtalk" and secret:
        url = dingtalk_url(url, str(secret), int(now * 1000))
    return "POST", url, headers, body


async def deliver(client: httpx.AsyncClient, service: Service, request: Request, recipient: str, *,
                  clock: Callable[[], float] = time.time,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Attempt:
    """Send with retries; never raises for delivery problems."""
    opts = service.options
    retry_max = int(opts.get("retryMax", 3))
    wait_min = _seconds(opts.get("retryWaitMin"), 1.0)
    wait_max = _seconds(opts.get("retryWaitMax"), 5.0)
    timeout = _seconds(opts.get("timeout"), 10.0)
    secrets = [*service.secret_values, str(opts.get("url", "")), str(opts.get("signingSecret") or "")]
    basic = opts.get("basicAuth") if isinstance(opts.get("basicAuth"), dict) else None
    auth = (str(basic.get("username", "")), str(basic.get("password", ""))) if basic else None
    status, excerpt, error = 0, "", ""
    for attempt in range(retry_max + 1):
        method, url, headers, body = build_http(service, request, recipient, clock())  # re-signed per try
        wait = min(wait_max, wait_min * (2 ** attempt))
        try:
            response = await client.request(method, url, headers=headers, content=body, timeout=timeout,
                                            auth=auth)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            status, excerpt = 0, ""
            error = f"request to {service.type} service {service.name!r} failed: {exc.__class__.__name__}"
            if attempt < retry_max:
                await sleep(wait)
            continue
        status = response.status_code
        excerpt = redact(response.content[:EXCERPT].decode("utf-8", errors="replace"), secrets)
        if status == 429 or status >= 500:
            error = f"{service.type} service {service.name!r} answered HTTP {status}"
            if attempt < retry_max:
                after = _retry_after(response) if status in (429, 503) else None
                await sleep(wait if after is None else after)
            continue
        if not 200 <= status < 300:
            error = f"{service.type} service {service.name!r} answered HTTP {status}: {excerpt}"
            return Attempt(False, status, excerpt, redact(error, secrets), attempt + 1)
        body_error = _body_error(service, response)
        if body_error:
            return Attempt(False, status, excerpt, redact(body_error, secrets), attempt + 1)
        return Attempt(True, status, excerpt, "", attempt + 1)
    return Attempt(False, status, excerpt, redact(error, secrets), retry_max + 1)
