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
import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

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


JSON = "application/json; charset=utf-8"
SLACK_API = "https://slack.com/api"
TELEGRAM_API = "https://api.telegram.org"


def _body_error(service: Service, request_url: str, response: httpx.Response) -> str:
    """Chat APIs answer HTTP 200 with the error in the body: Feishu `code`/`StatusCode`, DingTalk and WeCom
    `errcode`, Slack's Web API and Telegram `ok: false`, a legacy Teams connector anything but `1`."""
    kind = service.type
    if kind == "teams":
        text = response.content.decode("utf-8", errors="replace").strip()
        return "" if text == "1" else f"teams answered {text[:100]!r} instead of 1"
    slack_api = kind == "slack" and request_url.split("?", 1)[0].endswith("/chat.postMessage")
    if kind not in ("feishu", "dingtalk", "wecom", "telegram") and not slack_api:
        return ""
    try:
        doc = json.loads(response.content)
    except ValueError:
        return f"{kind} answered a body that is not JSON"
    if not isinstance(doc, dict):
        return f"{kind} answered a body that is not a JSON object"
    if kind in ("slack", "telegram"):
        if doc.get("ok") is True:
            return ""
        return f"{kind} responded with error: {doc.get('error') or doc.get('description') or 'ok is not true'}"
    if kind == "feishu":
        code = doc.get("code", doc.get("StatusCode", 0))
        message = doc.get("msg", doc.get("StatusMessage", ""))
    else:
        code, message = doc.get("errcode", 0), doc.get("errmsg", "")
    if code in (0, None):
        return ""
    return f"{kind} error code {code}: {message}"


def _telegram_chat(recipient: str) -> dict[str, Any]:
    """argocd-notifications' recipients: `-123` a chat id (`-123|7` a forum topic), else a channel `@name`;
    Flux's channel `-123:7` is a topic too."""
    chat, _, thread = recipient.replace(":", "|").partition("|")
    out: dict[str, Any] = {"chat_id": chat if chat.startswith("-") or chat.startswith("@") else "@" + chat}
    if thread:
        out["message_thread_id"] = int(thread) if thread.isdigit() else thread
    return out


def build_http(service: Service, request: Request, recipient: str, now: float) -> tuple[str, str, dict[str, str],
                                                                                          bytes]:
    """Method, URL, headers and body of the HTTP request: each transport's URL, authentication and signature."""
    opts = service.options
    kind = service.type
    url = str(opts.get("url") or "")
    headers = {str(h.get("name")): str(h.get("value")) for h in opts.get("headers") or [] if isinstance(h, dict)}
    body = request.body.encode()
    if kind == "webhook":
        if request.path:
            url = url.rstrip("/") + "/" + request.path.lstrip("/")
        return request.method, url, headers, body
    headers.setdefault("Content-Type", JSON)
    token = str(opts.get("token") or "")
    if kind in ("generic", "generic-hmac"):
        headers.setdefault("Gotk-Component", "tagpilot")
        if kind == "generic-hmac":
            digest = hmac.new(token.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Signature"] = f"sha256={digest}"
    elif kind == "slack":
        if not url:  # argocd-notifications: the Web API with a bot token, the recipient is the channel
            url = str(opts.get("apiURL") or SLACK_API).rstrip("/") + "/chat.postMessage"
        if token:
            headers["Authorization"] = f"Bearer {token}"
    elif kind == "discord":
        if not url.split("?", 1)[0].endswith("/slack"):  # Flux posts Slack-formatted messages to <hook>/slack
            base, _, query = url.partition("?")
            url = base.rstrip("/") + "/slack" + (f"?{query}" if query else "")
    elif kind == "alertmanager":
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif opts.get("username") and opts.get("password"):
            raw = f"{opts['username']}:{opts['password']}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    elif kind == "telegram":
        url = f"{str(opts.get('apiURL') or TELEGRAM_API).rstrip('/')}/bot{token}/sendMessage"
        doc = json.loads(request.body)
        doc.update(_telegram_chat(str(doc.get("chat_id") or recipient)))
        body = json.dumps(doc, ensure_ascii=False).encode()
    elif kind == "matrix":
        # Flux: PUT to the room's send endpoint; the transaction id is the event's sha1 (request.path, set by
        # notify/flux.py), so a retry of one event is one transaction: the homeserver never posts it twice
        room = quote(str(opts.get("channel") or recipient), safe="")
        txn = quote(request.path, safe="") or hashlib.sha1(body, usedforsecurity=False).hexdigest()
        url = f"{url.rstrip('/')}/_matrix/client/r0/rooms/{room}/send/m.room.message/{txn}"
        headers["Authorization"] = f"Bearer {token}"
        return "PUT", url, headers, body
    elif kind in ("teams", "teams-workflows", "googlechat"):  # argocd: the recipient names a configured URL
        urls = opts.get("webhooks" if kind == "googlechat" else "recipientUrls") or {}
        url = str(urls.get(recipient, "")) if isinstance(urls, dict) else ""
        if not url:
            raise LookupError(f"recipient {recipient!r} is not one of the {kind} service's "
                              f"{'webhooks' if kind == 'googlechat' else 'recipientUrls'} "
                              f"({', '.join(sorted(urls)) if isinstance(urls, dict) else ''})")
    secret = opts.get("signingSecret")
    if kind == "feishu" and secret:
        doc = json.loads(request.body)
        timestamp = int(now)
        doc["timestamp"] = str(timestamp)
        doc["sign"] = feishu_sign(str(secret), timestamp)
        body = json.dumps(doc, ensure_ascii=False).encode()
    elif kind == "dingtalk" and secret:
        url = dingtalk_url(url, str(secret), int(now * 1000))
    return "POST", url, headers, body


async def deliver(client: httpx.AsyncClient, service: Service, request: Request, recipient: str, *,
                  clock: Callable[[], float] = time.time,
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Attempt:
    """Send with retries; never raises for delivery problems."""
    if service.type == "email":
        return await send_email(service, request, recipient)
    opts = service.options
    retry_max = int(opts.get("retryMax", 3))
    wait_min = _seconds(opts.get("retryWaitMin"), 1.0)
    wait_max = _seconds(opts.get("retryWaitMax"), 5.0)
    timeout = _seconds(opts.get("timeout"), 10.0)
    secrets = [*service.secret_values, str(opts.get("url", "")), str(opts.get("signingSecret") or ""),
               str(opts.get("token") or "")]
    basic = opts.get("basicAuth") if isinstance(opts.get("basicAuth"), dict) else None
    auth = (str(basic.get("username", "")), str(basic.get("password", ""))) if basic else None
    status, excerpt, error = 0, "", ""
    for attempt in range(retry_max + 1):
        try:
            method, url, headers, body = build_http(service, request, recipient, clock())  # re-signed per try
        except LookupError as exc:
            return Attempt(False, 0, "", redact(str(exc), secrets), attempt)
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
        body_error = _body_error(service, url, response)
        if body_error:
            return Attempt(False, status, excerpt, redact(body_error, secrets), attempt + 1)
        return Attempt(True, status, excerpt, "", attempt + 1)
    return Attempt(False, status, excerpt, redact(error, secrets), retry_max + 1)


def _smtp_send(service: Service, request: Request, recipient: str) -> None:
    """One message over SMTP: implicit TLS on port 465, else STARTTLS whenever the server offers it
    (`insecure_skip_verify` only skips certificate checks), then AUTH when a username is set."""
    opts = service.options
    doc = json.loads(request.body)
    message = EmailMessage()
    message["Subject"] = str(doc.get("subject") or "")
    message["From"] = str(opts["from"])
    recipients = [r.strip() for r in recipient.split(",") if r.strip()]
    message["To"] = ", ".join(recipients)
    message.set_content(str(doc.get("body") or ""), subtype="html" if opts.get("html") else "plain")
    host, port = str(opts["host"]), int(opts.get("port") or 587)
    timeout = _seconds(opts.get("timeout"), 10.0)
    context = ssl.create_default_context()
    if opts.get("insecure_skip_verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context) if port == 465 \
        else smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if port != 465 and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
        if opts.get("username"):
            smtp.login(str(opts["username"]), str(opts.get("password") or ""))
        smtp.send_message(message, to_addrs=recipients)


async def send_email(service: Service, request: Request, recipient: str) -> Attempt:
    """SMTP delivery (argocd-notifications' email service); the recipient may be a comma-separated list."""
    secrets = [*service.secret_values, str(service.options.get("password") or "")]
    if not recipient.strip():
        return Attempt(False, 0, "", "an email subscription needs a recipient address (email:<address>)", 0)
    try:
        await asyncio.to_thread(_smtp_send, service, request, recipient)
    except smtplib.SMTPResponseException as exc:
        text = exc.smtp_error.decode("utf-8", errors="replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return Attempt(False, exc.smtp_code, redact(text[:EXCERPT], secrets),
                       redact(f"email service {service.name!r}: SMTP {exc.smtp_code} {text}", secrets), 1)
    except (OSError, smtplib.SMTPException) as exc:
        return Attempt(False, 0, "", redact(f"email service {service.name!r} failed: {exc.__class__.__name__}: "
                                            f"{exc}", secrets), 1)
    return Attempt(True, 250, "", "", 1)
