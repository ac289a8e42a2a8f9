"""Close the browser route to the API: DNS rebinding and cross-site requests.

The daemon listens on 127.0.0.1 by default and its API has no authentication yet, so any web page
a user opens could otherwise drive it: a cross-site `fetch` with `Content-Type: text/plain` needs
no CORS preflight and its POST lands (suspend, reconcile, reload), and a page whose DNS name is
rebound to 127.0.0.1 can even read the answers. An ASGI middleware, because the checks need only
the request head and must run before any route, FastAPI's or a webhook's:

- Host (every `/api/` request): the name must be one the daemon answers to: localhost, the
  `--listen` host, a name given with `tagpilot run --allowed-host`, or an IP address literal (a
  rebinding attack needs the attacker's DNS name in Host, never an address). 403 otherwise.
- Origin (mutating requests: POST, PUT, PATCH, DELETE): absent (not a browser), the same origin as
  the Host, or on an `--allowed-host` name. `null` and foreign origins get 403.
- Content-Type (mutating requests): `application/json`, which a browser cannot send cross-site
  without a CORS preflight that this server never grants. 415 otherwise.

Webhooks (`/hook/...`, Argo EventSource endpoints) are called by servers and carry their own secrets:
they accept any Host and content type, as Flux and Argo do.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
GUARDED_PREFIX = "/api/"
HINT = "pass `tagpilot run --allowed-host NAME` to serve the API under another name"


def split_host(value: str) -> tuple[str, str]:
    """(`name`, `port`) of a Host header or URL netloc; the name lowercased, without brackets or a
    trailing dot. `port` is "" when absent."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, ""
        rest = value[end + 1:]
        return value[1:end], rest[1:] if rest.startswith(":") else ""
    name, colon, port = value.rpartition(":")
    if colon and port.isdigit() and ":" not in name:
        return name.rstrip("."), port
    return value.rstrip("."), ""


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class RequestGuard:
    """ASGI middleware: refuse what only a browser tricked by another site would send (module doc)."""

    def __init__(self, app: ASGIApp, *, listen_host: str, allowed_hosts: Iterable[str] = (),
                 exempt: Callable[[str, str], bool] | None = None) -> None:
        self.app = app
        self.allowed = frozenset(split_host(h)[0] for h in allowed_hosts if h.strip())
        self.names = LOCAL_NAMES | {split_host(listen_host)[0]} | self.allowed
        self.exempt = exempt or (lambda _method, _path: False)

    def host_allowed(self, host: str) -> bool:
        """Whether a request addressed to `host` (a Host header value) may reach the API."""
        name, _port = split_host(host)
        return name in self.names or _is_ip(name)

    def origin_allowed(self, origin: str, host: str) -> bool:
        """Whether a browser page from `origin` may change things: the page's own origin, or a name
        the operator allowed. `null` (sandboxed frames, file: pages) never is."""
        try:
            parts = urlsplit(origin.strip())
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False
        name, port = split_host(parts.netloc)
        if name in self.allowed:
            return True
        default = "443" if parts.scheme == "https" else "80"
        host_name, host_port = split_host(host)
        return (name, port or default) == (host_name, host_port or default)

    def check(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, str] | None:
        """(status, message) refusing the request, or None to serve it."""
        if not path.startswith(GUARDED_PREFIX) or self.exempt(method, path):
            return None
        host = headers.get("host")
        if host is not None and not self.host_allowed(host):
            return 403, (f"this daemon does not answer to the Host {host[:200]!r}: the API is served as "
                         f"localhost, 127.0.0.1, its --listen address or an IP address; {HINT}")
        if method not in MUTATING:
            return None
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin, host or ""):
            return 403, (f"cross-site request refused: Origin {origin[:200]!r} is not this daemon's "
                         f"address; {HINT}")
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            shown = repr(media_type[:100]) if media_type else "none"
            return 415, (f"{method} {path[:200]} needs Content-Type: application/json (got {shown}); "
                         "send a JSON body, e.g. {}")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers: dict[str, str] = {}
            for raw_name, raw_value in scope.get("headers", []):
                headers.setdefault(raw_name.decode("latin-1").lower(), raw_value.decode("latin-1"))
            refused = self.check(scope["method"], scope["path"], headers)
            if refused is not None:
                status, message = refused
                body = json.dumps({"detail": message}).encode()
                await send({"type": "http.response.start", "status": status,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
