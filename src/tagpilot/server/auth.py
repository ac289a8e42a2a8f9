"""Who may change what: bearer tokens with roles, for the JSON API and the dashboard alike.

`tagpilot run --auth-secret NS/NAME` names a Secret of the configuration whose keys are token names
and whose values are `ROLE:TOKEN` (`alice: "approver:3b1f..."`). Roles, each including the one before:

- `viewer`: reads the API and the dashboard (only required when an auth Secret is configured);
- `approver`: also approves and rejects requests (the routes listed in `ROLE_FOR`);
- `admin`: also reconciles, suspends, resumes and reloads: every other mutating `/api/v1` route.

Without `--auth-secret` the API and the pages are readable by anyone who reaches the (loopback by
default) address, and no network client can change anything: every mutating request is refused
with 401. The one exception is the CLI on the same machine: the daemon writes a random `local` admin
token into `<state>/daemon.json` (mode 0600), so only the user owning the state directory has it.

Browsers authenticate with a session cookie set by the login page (HttpOnly, SameSite=Strict). A
cookie is ambient, so a request authenticated by it must also carry `X-CSRF-Token` (an HMAC of the
session, which the pages embed); the Host/Origin/Content-Type guard (`guard.py`) runs before this.
Tokens never appear in logs, events, errors or pages: a principal is known by its token's name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any

from tagpilot.errors import ConfigError
from tagpilot.server.guard import MUTATING, ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from tagpilot.config.loader import Config

log = logging.getLogger("tagpilot.auth")

ROLES = ("viewer", "approver", "admin")
SESSION_COOKIE = "tagpilot_session"
CSRF_HEADER = "x-csrf-token"
MIN_TOKEN_LENGTH = 16
API_PREFIX = "/api/v1/"
# mutating routes open to a lower role than admin, as (path suffix under /api/v1/, role); the approvals
# routes (manual path issue) add themselves here with one line each
ROLE_FOR: list[tuple[str, str]] = [
    ("/approve", "approver"),
    ("/reject", "approver"),
    ("/pin", "approver"),
    ("/unpin", "approver"),
]
# pages and routes readable without a token even when an auth Secret is configured
PUBLIC_PREFIXES = ("/healthz", "/readyz", "/metrics", "/login", "/logout", "/static/")


def rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the token's name (recorded as approver, actor) and its role."""

    name: str
    role: str
    via_cookie: bool = False

    def may(self, role: str) -> bool:
        return rank(self.role) >= rank(role)


def parse_auth_secret(config: Config, ref: str) -> dict[str, Principal]:
    """token → Principal from the Secret `NS/NAME`; a ConfigError naming the key (never its value)
    for a missing Secret, an unknown role or a short token."""
    from tagpilot.config.core import Secret

    namespace, _, name = ref.rpartition("/")
    if not namespace or not name:
        raise ConfigError(f"--auth-secret {ref!r}: expected NAMESPACE/NAME of a Secret in the configuration")
    secret = config.get(Secret, namespace, name)
    if secret is None:
        raise ConfigError(f"--auth-secret {ref}: Secret {namespace}/{name} is not in the configuration; add it "
                          "to a file passed with -f (keys: token names, values: ROLE:TOKEN)")
    tokens: dict[str, Principal] = {}
    for key, raw in sorted(secret.values().items()):
        role, colon, token = raw.decode("utf-8", errors="replace").strip().partition(":")
        if not colon or role not in ROLES:
            raise ConfigError(f"Secret {namespace}/{name} key {key!r}: the value must be ROLE:TOKEN with ROLE one of "
                              f"{', '.join(ROLES)}")
        if len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(f"Secret {namespace}/{name} key {key!r}: the token is shorter than {MIN_TOKEN_LENGTH} "
                              "characters; generate one with `openssl rand -hex 24`")
        if token in tokens:
            raise ConfigError(f"Secret {namespace}/{name} key {key!r}: the same token as key "
                              f"{tokens[token].name!r}; give every person their own")
        tokens[token] = Principal(key, role)
    if not tokens:
        raise ConfigError(f"Secret {namespace}/{name} (--auth-secret) has no tokens")
    return tokens


class Authenticator:
    """Resolves a request's credentials to a `Principal`; re-reads the Secret when the configuration
    was reloaded (a token revoked in the file is refused after the reload)."""

    def __init__(self, config: Callable[[], Config | None], auth_secret: str | None, local_token: str) -> None:
        self._config = config
        self.auth_secret = auth_secret
        self._local = Principal("local", "admin")
        self._local_token = local_token
        self._csrf_key = secrets.token_bytes(32)
        self._cache: tuple[int, dict[str, Principal]] | None = None
        if auth_secret:
            current = config()
            if current is not None:
                parse_auth_secret(current, auth_secret)  # fail the start on a bad Secret

    @property
    def enabled(self) -> bool:
        """Whether reads need a token too (an auth Secret is configured)."""
        return bool(self.auth_secret)

    def _tokens(self) -> dict[str, Principal]:
        config = self._config()
        if not self.auth_secret or config is None:
            return {}
        if self._cache is None or self._cache[0] != id(config):
            try:
                tokens = parse_auth_secret(config, self.auth_secret)
            except ConfigError as exc:  # a reload broke it: nobody but the local CLI gets in (fail closed)
                log.error("authentication Secret unusable, only the local CLI token is accepted: %s", exc)
                tokens = {}
            self._cache = (id(config), tokens)
        return self._cache[1]

    def principal(self, token: str) -> Principal | None:
        if token and hmac.compare_digest(token.encode(), self._local_token.encode()):
            return self._local
        for known, principal in self._tokens().items():
            if hmac.compare_digest(token.encode(), known.encode()):
                return principal
        return None

    def csrf_for(self, session: str) -> str:
        return hmac.new(self._csrf_key, session.encode(), hashlib.sha256).hexdigest()

    def from_headers(self, headers: dict[str, str]) -> tuple[Principal | None, str]:
        """(principal, session cookie value or "") of a request."""
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            return self.principal(authorization[7:].strip()), ""
        cookie = session_cookie(headers.get("cookie", ""))
        if cookie:
            found = self.principal(cookie)
            return (Principal(found.name, found.role, via_cookie=True) if found else None), cookie
        return None, ""


def session_cookie(header: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is no session
        return ""
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel else ""


def required_role(method: str, path: str, reads_need_token: bool) -> str | None:
    """The role a request needs, or None when anyone may make it."""
    if path.startswith(PUBLIC_PREFIXES) or path.startswith("/hook/"):
        return None
    if method in MUTATING:
        if not path.startswith(API_PREFIX):
            return None  # webhooks (Argo EventSources) carry their own secrets; /login checks itself
        return next((role for suffix, role in ROLE_FOR if path.endswith(suffix)), "admin")
    return "viewer" if reads_need_token else None


class AuthGuard:
    """ASGI middleware: 401 without valid credentials, 403 for a role too low or a cookie without its
    CSRF token; puts the `Principal` (or None) into `scope["state"]["principal"]` for the routes."""

    def __init__(self, app: ASGIApp, *, auth: Authenticator,
                 exempt: Callable[[str, str], bool] | None = None) -> None:
        self.app = app
        self.auth = auth
        self.exempt = exempt or (lambda _method, _path: False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", []):
            headers.setdefault(raw_name.decode("latin-1").lower(), raw_value.decode("latin-1"))
        principal, session = self.auth.from_headers(headers)
        scope.setdefault("state", {})["principal"] = principal
        method, path = scope["method"], scope["path"]
        needed = None if self.exempt(method, path) else required_role(method, path, self.auth.enabled)
        refused = self._refusal(needed, principal, session, headers, path)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, message = refused
        if status == 401 and method == "GET" and not path.startswith("/api/") and \
                "text/html" in headers.get("accept", ""):
            await _send(send, 303, b"", [(b"location", b"/login?next=" + path.encode("latin-1", "replace"))])
            return
        extra = [(b"www-authenticate", b'Bearer realm="tagpilot"')] if status == 401 else []
        await _send(send, status, json.dumps({"detail": message}).encode(),
                    [(b"content-type", b"application/json"), *extra])

    def _refusal(self, needed: str | None, principal: Principal | None, session: str, headers: dict[str, str],
                 path: str) -> tuple[int, str] | None:
        if needed is None:
            return None
        if principal is None:
            if needed != "viewer" and not self.auth.enabled:
                return 401, ("this daemon is read-only: start it with `tagpilot run --auth-secret NS/NAME` to "
                             "accept tokens (the CLI on this machine uses the token in <state>/daemon.json)")
            return 401, "authentication required: send `Authorization: Bearer TOKEN` or log in at /login"
        if not principal.may(needed):
            return 403, f"{principal.name!r} has the role {principal.role}; {path[:200]} needs {needed}"
        if principal.via_cookie and needed != "viewer":
            sent = headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), self.auth.csrf_for(session).encode()):
                return 403, "missing or wrong X-CSRF-Token for a request authenticated by the session cookie"
        return None


async def _send(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def principal_of(request: Any) -> Principal | None:
    """The caller of a FastAPI/Starlette request (set by `AuthGuard`)."""
    return getattr(request.state, "principal", None)


def actor(request: Any) -> str:
    """Who to record as having caused a change: the token's name."""
    found = principal_of(request)
    return found.name if found else "anonymous"
