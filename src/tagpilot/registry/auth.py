"""Registry authentication pieces that need no network: challenge parsing and the token cache.

The distribution token flow (``docs/spec/auth/token.md``): a request answers 401 with
``WWW-Authenticate: Bearer realm="...",service="...",scope="..."``; the client asks the realm for a
token (``GET`` with ``service`` and ``scope``, basic credentials when it has them, or ``POST``
``grant_type=refresh_token`` with an identity token) and receives ``token`` or ``access_token`` and
``expires_in`` (default 60 s; Docker treats anything shorter as 60 s). Tokens are cached per
(host, scope, credential identity) so a scan of many repositories does not fetch one per request.

The header grammar is RFC 7235 (auth-scheme, then comma-separated ``key=value`` or
``key="quoted \\"string\\""``; several challenges may share one header). Python has no parser for
it in the standard library, and httpx does not expose one, so it is written here; it never raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

MIN_TOKEN_LIFETIME = 60.0  # seconds; Docker's minimumTokenLifetimeSeconds
TOKEN_EXPIRY_MARGIN = 0.9  # refresh a little before the registry would refuse the token


@dataclass(frozen=True)
class Challenge:
    """One auth challenge: the scheme (lowercase, ``basic`` or ``bearer``) and its parameters."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _skip(text: str, i: int, chars: str = " \t") -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def _token(text: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(text) and text[i] in _TOKEN_CHARS:
        i += 1
    return text[start:i], i


def _quoted(text: str, i: int) -> tuple[str, int]:
    """Read a quoted-string starting at the opening quote; tolerate a missing closing quote."""
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value into challenges; junk yields fewer challenges, never an error."""
    challenges: list[Challenge] = []
    current: Challenge | None = None
    after_scheme = False  # the previous item was an auth-scheme with no comma since
    i, n = 0, len(header)
    while i < n:
        start = i
        i = _skip(header, i, " \t,")
        saw_comma = "," in header[start:i]
        if i >= n:
            break
        word, j = _token(header, i)
        if not word:
            i += 1  # a stray character: skip it
            after_scheme = False
            continue
        k = _skip(header, j)
        is_param = k < n and header[k] == "=" and not (k + 1 < n and header[k + 1] == "=")
        if current is not None and is_param:
            k = _skip(header, k + 1)
            if k < n and header[k] == '"':
                value, k = _quoted(header, k)
            else:
                value, k = _token(header, k)
            current.params[word.lower()] = value
            i, after_scheme = k, False
            continue
        if current is not None and after_scheme and not saw_comma:
            # "Negotiate abc==": a token68 credential blob; kept, never needed.
            while k < n and header[k] == "=":
                k += 1
            current.params.setdefault("token68", header[i:k].strip())
            i, after_scheme = k, False
            continue
        current = Challenge(scheme=word.lower(), params={})
        challenges.append(current)
        i, after_scheme = j, True
    return challenges


def pick_challenge(challenges: list[Challenge]) -> Challenge | None:
    """The challenge we can answer: Bearer preferred over Basic, as Docker does."""
    for wanted in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == wanted:
                return challenge
    return None


def repository_scope(path: str, actions: str = "pull") -> str:
    """The token scope for reading a repository: ``repository:<path>:pull``."""
    return f"repository:{path}:{actions}"


def token_lifetime(expires_in: object) -> float:
    """Seconds a token may be used, from the token response's ``expires_in`` (default and floor 60 s)."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return MIN_TOKEN_LIFETIME
    return max(float(expires_in), MIN_TOKEN_LIFETIME)


@dataclass
class _Entry:
    token: str
    expires_at: float


class TokenCache:
    """Bearer tokens by (host, scope, credential fingerprint) until shortly before they expire.

    The clock is injectable (monotonic seconds) so tests can move time without sleeping.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, str, str], _Entry] = {}

    def get(self, host: str, scope: str, identity: str) -> str | None:
        entry = self._entries.get((host, scope, identity))
        if entry is None:
            return None
        if self._clock() >= entry.expires_at:
            del self._entries[(host, scope, identity)]
            return None
        return entry.token

    def put(self, host: str, scope: str, identity: str, token: str, lifetime: float) -> None:
        self._entries[(host, scope, identity)] = _Entry(token, self._clock() + lifetime * TOKEN_EXPIRY_MARGIN)

    def forget(self, host: str, scope: str, identity: str) -> None:
        self._entries.pop((host, scope, identity), None)

    def __len__(self) -> int:
        return len(self._entries)
