"""The OCI distribution client: tag lists, digests, manifests and image configs.

One `RegistryClient` serves every repository of a process. It keeps one ``httpx.AsyncClient`` per
(scheme, host, TLS settings) so connections are reused, a Bearer token cache, per-registry limits
(concurrency and requests per second), and a content-addressed cache of manifests and configs.

Behaviour follows the distribution spec and what real registries do (see
``shared/reference/registry-behaviour.md``):

- Scheme: ``https``. For ``insecure: true`` and for loopback (``localhost:``, ``127.0.0.1``, ``::1``)
  or private RFC 1918 hosts, go-containerregistry (and so Flux) pings ``https://HOST/v2/`` first and
  falls back to ``http`` ("happy eyeballs": the http ping starts 300 ms after the https one, or at
  once when https fails; the first ping answered 200 or 401 wins). We do the same, once per host and
  TLS settings for the client's lifetime, so an HTTPS registry on 127.0.0.1 with a ``certSecretRef``
  CA works, and a plain-HTTP one that hangs on the TLS hello costs at most the 300 ms head start.
- TLS failures (an unverifiable certificate, a refused client certificate, a server that does not
  speak TLS) are not retried: they do not heal. Their messages say which and what to set.
- Auth: a request is sent; on 401 the ``WWW-Authenticate`` challenge decides: Basic resends with the
  credentials, Bearer fetches a token from the realm (cached per host, scope and credentials). The
  scheme a host asked for is remembered, so later requests carry credentials from the start.
- Retries: 408/429/5xx and network errors are retried with exponential backoff and jitter, waiting at
  least ``Retry-After``; after the last attempt the error is `RegistryUnavailable`.
- Bodies are streamed and cut at a cap (`ResponseTooLarge`); JSON that is not what the API specifies
  is `InvalidResponse`; 404 is `NotFoundError` with the registry's own code (``NAME_UNKNOWN``); a HEAD
  has no body to carry it, so a 404 on a manifest HEAD is asked again with GET.
- Tag lists follow ``Link: <...>; rel="next"`` (relative or absolute, same host only), with limits
  on pages and tags so a registry that never stops paginating cannot keep us forever.

No message or log line contains a credential or token: errors name the host, the repository and the
registry's error code, and say whether credentials were used and where they came from.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import contextvars
import functools
import hashlib
import ipaddress
import os
import socket
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import h2.exceptions
import httpx
from httpx._exceptions import request_context as httpx_request_context

from tagpilot.errors import (
    AuthenticationError,
    DeleteUnsupported,
    InvalidResponse,
    NotFoundError,
    RegistryError,
    RegistryTLSError,
    RegistryUnavailable,
    ResponseTooLarge,
)
from tagpilot.jsonsafe import JSONTooDeep, loads_bounded
from tagpilot.registry import credentials as creds_mod
from tagpilot.registry import netbackend, poolsync, tlsprefetch
from tagpilot.registry.auth import (
    Challenge,
    TokenCache,
    parse_www_authenticate,
    pick_challenge,
    repository_scope,
    token_lifetime,
)
from tagpilot.registry.cache import MemoryCache, MetadataCache
from tagpilot.registry.credentials import Credentials, DockerConfig
from tagpilot.registry.limits import (
    RETRYABLE_STATUS,
    HostLimits,
    Sleep,
    TokenBucket,
    backoff_delay,
    parse_retry_after,
)
from tagpilot.registry.manifest import (
    ACCEPT_MANIFESTS,
    MANIFEST_TYPES,
    OCI_INDEX,
    Descriptor,
    ImageConfig,
    ImageMetadata,
    Manifest,
    Platform,
    parse_config,
    parse_manifest,
    sha256_digest,
    verify_digest,
)
from tagpilot.registry.reference import Reference, is_digest, split_tag_or_digest

__all__ = [
    "MetadataCache",
    "RegistryClient",
    "RegistryTLSError",
    "RepositoryAccess",
    "TLSSettings",
    "registry_scheme",
]

MiB = 1 << 20
USER_AGENT = "tagpilot/0.1 (+https://github.com/tagpilot)"
_MAX_ERROR_DETAIL = 200
HTTPS_HEAD_START = 0.3  # go-containerregistry's fallbackDelay (from Go's happy-eyeballs dialer)
_ALERT_WAIT = 1.0  # how long the TLS diagnosis waits for a server's alert after the handshake
_T = TypeVar("_T")


@dataclass(frozen=True)
class _Deadline:
    """When the current registry operation must be done (event-loop time), and how it was configured."""

    at: float
    seconds: float
    source: str  # for messages: "spec.timeout", "timeout"


# The deadline of the operation running in this task (and the tasks it starts): every request, retry
# wait and token fetch inside it is bounded by it, so no registry can stretch an operation past it.
_DEADLINE: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar("tagpilot_registry_deadline",
                                                                              default=None)


def _bounded(method: Callable[..., Awaitable[_T]]) -> Callable[..., Awaitable[_T]]:
    """Run a public client operation within ``access.timeout`` as a whole (or the caller's sooner deadline)."""

    @functools.wraps(method)
    async def wrapper(self: RegistryClient, access: RepositoryAccess, *args: Any, **kwargs: Any) -> _T:
        ref = access.reference
        async with self.deadline(access.timeout, host=ref.api_host, what=ref.name):
            return await method(self, access, *args, **kwargs)

    return wrapper



@dataclass(frozen=True)
class TLSSettings:
    """TLS material from a ``certSecretRef``: a CA bundle added to the system CAs, and a client cert."""

    ca_pem: bytes | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    # Argo registries.conf `insecure: true`, `tagpilot copy --insecure`: accept any certificate
    insecure_skip_verify: bool = False

    def __repr__(self) -> str:
        return (
            f"TLSSettings(ca={self.ca_pem is not None}, cert={self.cert_pem is not None}, "
            f"key={'<hidden>' if self.key_pem else None}, insecure_skip_verify={self.insecure_skip_verify})"
        )

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for part in (self.ca_pem, self.cert_pem, self.key_pem):
            h.update(b"\0" if part is None else hashlib.sha256(part).digest())
        h.update(b"insecure" if self.insecure_skip_verify else b"")
        return h.hexdigest()[:16]


@dataclass
class RepositoryAccess:
    """How to reach one repository: the reference and the connection settings of its registry."""

    reference: Reference
    credentials: Credentials | None = None  # explicit (from a Secret); None → the Docker config
    insecure: bool = False  # plain http
    tls: TLSSettings | None = None
    timeout: float = 30.0  # seconds, for each operation as a whole (retries and waits included)
    credentials_source: str | None = None  # for messages: "Secret default/regcred"
    # what to tell a user who gave no credentials: the way the calling command takes them
    credentials_hint: str = "configure a secretRef or run 'docker login'"


# What a request can fail with below HTTP: httpx's mapped errors, our deadlines, TLS, and h2's own
# ProtocolError, which httpcore lets through when an HTTP/2 connection dies while two requests start on
# it (the second initialises an h2 state the first one's failure closed): a closed connection, not a bug
_TRANSPORT_ERRORS = (httpx.TransportError, TimeoutError, ssl.SSLError, h2.exceptions.ProtocolError)


@dataclass
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str


async def _send_direct(
    client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], content: bytes | None, timeout: float
) -> httpx.Response:
    """Send one request straight to the client's transport for its URL (proxies included).

    What `client.build_request` + `client.send` add for a request that follows no redirect and carries
    no cookie (merging the URL against no base, an empty cookie jar, no auth flow, no event hook, the
    redirect check) costs ~0.15 ms of CPU per request, a tenth of what the HTTP stack costs a scan
    (docs/performance.md). The request is the one `build_request` makes: the client's default headers
    under ours, the same timeout. A response that sets a cookie is stored in the client's jar, and from
    then on that client's requests take `client.send` again, so cookies are sent back as before.
    """
    merged = client.headers.copy()
    merged.update(headers)
    request = httpx.Request(method, url, headers=merged, content=content,
                            extensions={"timeout": _timeout_extension(timeout)})
    with httpx_request_context(request=request):
        response = await client._transport_for_url(request.url).handle_async_request(request)
    response.request = request
    if "set-cookie" in response.headers:
        client.cookies.extract_cookies(response)
    return response


@functools.lru_cache(maxsize=64)
def _timeout_extension(timeout: float) -> dict[str, float | None]:
    return httpx.Timeout(timeout).as_dict()


@dataclass
class _HostAuth:
    """What a registry host asked for last time (so later requests authenticate up front)."""

    challenge: Challenge | None = None
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)


@dataclass
class _PingResult:
    """One leg of the scheme probe: the status of ``GET /v2/``, or why no HTTP answer came."""

    status: int | None = None
    error: BaseException | None = None

    @property
    def success(self) -> bool:
        # go-containerregistry's pingSingle: 200 (anonymous) or 401 (a challenge) is a registry
        return self.status in (200, 401)


@dataclass(frozen=True)
class _TransportFailure:
    """A transport error put into words; `final` ones (TLS) are not retried."""

    message: str
    final: bool = False
    tls_server: bool = False  # the failure proves a TLS server is there (it sent a certificate or an alert)


_PRIVATE_V4 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def registry_scheme(host: str, insecure: bool = False) -> str:
    """``http`` or ``https`` for a registry host, as go-containerregistry decides it."""
    if insecure:
        return "http"
    if host.startswith("localhost:") or host == "localhost":
        return "http"
    hostname = host
    if host.startswith("["):
        hostname = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        hostname = host.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(hostname)
    except ValueError:
        return "https"
    if ip.is_loopback or (ip.version == 4 and any(ip in net for net in _PRIVATE_V4)):
        return "http"
    return "https"


def _registry_error(body: bytes) -> str:
    """``CODE: message`` from a distribution error body, or a trimmed text; never more than 200 chars."""
    try:
        data = loads_bounded(body)
    except (ValueError, UnicodeDecodeError):  # JSONTooDeep too: show the start of the text
        text = body[:_MAX_ERROR_DETAIL].decode("utf-8", "replace").strip()
        return " ".join(text.split())
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        code, message = first.get("code"), first.get("message")
        parts = [str(p) for p in (code, message) if p]
        return ": ".join(parts)[:_MAX_ERROR_DETAIL]
    if isinstance(data, dict) and isinstance(data.get("details") or data.get("error"), str):
        return str(data.get("details") or data.get("error"))[:_MAX_ERROR_DETAIL]
    return ""


def _next_link(headers: httpx.Headers) -> str | None:
    """The target of ``Link: <url>; rel="next"`` (RFC 8288), if any."""
    for value in headers.get_list("link"):
        for part in _split_links(value):
            part = part.strip()
            if not part.startswith("<") or ">" not in part:
                continue
            target, params = part[1 : part.index(">")], part[part.index(">") + 1 :]
            for param in params.split(";"):
                key, _, val = param.strip().partition("=")
                if key.strip().lower() == "rel" and "next" in val.strip().strip('"').lower().split():
                    return target
    return None


def _split_links(value: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, c in enumerate(value):
        if c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            parts.append(value[start:i])
            start = i + 1
    parts.append(value[start:])
    return parts


class RegistryClient:
    """Reads tags, digests, manifests and configs from OCI registries. Use as an async context manager."""

    def __init__(
        self,
        *,
        cache: MetadataCache | None = None,
        docker_config: DockerConfig | None = None,
        max_concurrency_per_registry: int = 8,
        requests_per_second: float | None = None,
        max_pages: int = 1000,
        max_tags: int = 1_000_000,
        page_size: int = 1000,
        max_tag_page_bytes: int = 64 * MiB,
        max_manifest_bytes: int = 4 * MiB,
        max_config_bytes: int = 8 * MiB,
        retries: int = 4,
        https_head_start: float = HTTPS_HEAD_START,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 120.0,
        credential_cache_seconds: float = 300.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.cache: MetadataCache = cache if cache is not None else MemoryCache()
        self._docker_config = docker_config
        self.max_concurrency = max_concurrency_per_registry
        self.requests_per_second = requests_per_second
        self.max_pages = max_pages
        self.max_tags = max_tags
        self.page_size = page_size
        self.max_tag_page_bytes = max_tag_page_bytes
        self.max_manifest_bytes = max_manifest_bytes
        self.max_config_bytes = max_config_bytes
        self.retries = retries
        self.https_head_start = https_head_start
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_retry_after = max_retry_after
        self.credential_cache_seconds = credential_cache_seconds
        self._sleep = sleep
        self._clock = clock
        self._transport = transport
        self._user_agent = user_agent
        self._clients: dict[tuple[str, str, str], httpx.AsyncClient] = {}
        self._limits: dict[str, HostLimits] = {}
        self._auth: dict[str, _HostAuth] = {}
        self._tokens = TokenCache(clock)
        self._creds: dict[str, tuple[float, Credentials | None]] = {}
        self.request_count = 0  # HTTP requests sent to registries (not token services), for tests/metrics
        # per registry host, read by the daemon's /metrics: requests sent, and those that failed
        # (transport errors and answers >= 400 other than the 401 of an auth challenge)
        self.requests_by_host: collections.Counter[str] = collections.Counter()
        self.failures_by_host: collections.Counter[str] = collections.Counter()
        self.requests_by_method: collections.Counter[str] = collections.Counter()  # for copy tests
        self.probe_count = 0  # scheme probes (``GET /v2/`` over https and http), counted apart
        # (host, TLS fingerprint) → the scheme the probe settled on, and why https failed there
        self._schemes: dict[tuple[str, str], str] = {}
        self._scheme_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._https_failures: dict[tuple[str, str], str] = {}
        self._contexts: dict[tuple[str, str], ssl.SSLContext] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every connection pool."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    # -- deadlines ---------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def deadline(
        self, seconds: float, *, host: str, what: str, source: str = "timeout"
    ) -> AsyncIterator[None]:
        """Everything inside finishes within `seconds` as a whole, or raises `RegistryUnavailable`.

        Requests, retries, ``Retry-After`` waits, token fetches and the scheme probe all count, not
        each read on its own: a registry that trickles bytes, hangs or asks to come back in a day
        cannot hold the operation longer. Nested deadlines keep the sooner one. `source` says where
        the value came from (``spec.timeout``), for the message.
        """
        loop = asyncio.get_running_loop()
        at = loop.time() + seconds
        current = _DEADLINE.get()
        if current is not None and current.at <= at:
            yield
            return
        token = _DEADLINE.set(_Deadline(at, seconds, source))
        timer = asyncio.timeout_at(at)
        try:
            async with timer:
                yield
        except TimeoutError:
            if not timer.expired():
                raise
            raise RegistryUnavailable(
                f"{what}: timed out: {host} did not finish within the {_seconds(seconds)} timeout ({source}), "
                f"retries included; check that the registry is up, or raise spec.timeout if it is just slow"
            ) from None
        finally:
            _DEADLINE.reset(token)

    async def _wait_to_retry(
        self, delay: float, *, failure: str, attempts: int, retry_after: float | None = None
    ) -> None:
        """Sleep before a retry, unless the wait would end past the deadline: then give up now.

        `failure` says what failed (``listing tags of H/R: H answered 429``). A ``Retry-After`` is
        thus capped by what remains of the operation's timeout: waiting longer could only end in it.
        """
        current = _DEADLINE.get()
        if current is not None:
            remaining = current.at - asyncio.get_running_loop().time()
            if delay >= remaining:
                if retry_after is not None and retry_after >= remaining:
                    why = f"it asked to retry after {_seconds(retry_after)} (Retry-After)"
                else:
                    why = f"the next retry would come after {_seconds(delay)}"
                raise RegistryUnavailable(
                    f"{failure}; {why}, past the {_seconds(current.seconds)} timeout ({current.source}, "
                    f"{_seconds(max(0.0, remaining))} left): gave up after {attempts} attempt(s)"
                )
        await self._sleep(delay)

    # -- plumbing ----------------------------------------------------------------------------------

    def limits_for(self, host: str) -> HostLimits:
        """The limits of one registry host (created on first use)."""
        limits = self._limits.get(host)
        if limits is None:
            limits = HostLimits(self.max_concurrency, self.requests_per_second, clock=self._clock, sleep=self._sleep)
            self._limits[host] = limits
        return limits

    def set_rate_limit(self, host: str, requests_per_second: float | None) -> None:
        """Bound one registry host's requests per second (Argo registries.conf `limit`)."""
        limits = self.limits_for(host)
        if (limits.bucket.rate if limits.bucket else None) != requests_per_second:
            limits.bucket = TokenBucket(requests_per_second, clock=self._clock, sleep=self._sleep) \
                if requests_per_second else None

    async def _base_url(self, access: RepositoryAccess) -> str:
        host = access.reference.api_host
        return f"{await self.resolve_scheme(access)}://{host}"

    @_bounded
    async def resolve_scheme(self, access: RepositoryAccess) -> str:
        """``https`` or ``http`` for the repository's registry, as go-containerregistry's ping decides.

        Hosts `registry_scheme` gives ``https`` are always https. The others (``insecure: true``,
        loopback, private IPs) are probed once per host and TLS settings: https first, http after a
        head start. A result is remembered when a leg got an HTTP answer; when neither did (the
        registry is down) we use http this time and probe again next time.
        """
        host = access.reference.api_host
        if registry_scheme(host, access.insecure) == "https":
            return "https"
        key = (host, access.tls.fingerprint() if access.tls else "")
        scheme = self._schemes.get(key)
        if scheme is not None:
            return scheme
        async with self._scheme_locks.setdefault(key, asyncio.Lock()):
            scheme = self._schemes.get(key)
            if scheme is not None:
                return scheme
            scheme, conclusive = await self._probe_scheme(access, key)
            if conclusive:
                self._schemes[key] = scheme
            return scheme

    async def _probe_scheme(self, access: RepositoryAccess, key: tuple[str, str]) -> tuple[str, bool]:
        """Race ``GET /v2/`` over https and (after the head start) http; see `resolve_scheme`."""
        host = access.reference.api_host
        tasks = {asyncio.create_task(self._ping_leg(access, "https")): "https"}
        results: dict[str, _PingResult] = {}
        http_started = False
        try:
            while tasks:
                done, _ = await asyncio.wait(
                    tasks, timeout=None if http_started else self.https_head_start,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for task in done:
                    scheme = tasks.pop(task)
                    results[scheme] = task.result()
                    if results[scheme].success:
                        self._https_failures.pop(key, None)
                        return scheme, True
                if not http_started:  # the head start is over, or https failed already
                    tasks[asyncio.create_task(self._ping_leg(access, "http"))] = "http"
                    http_started = True
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        https, http = results["https"], results["http"]
        if https.status is not None:  # a TLS server answered, just not 200/401: let the request tell
            return "https", True
        if https.error is not None:
            failure = await self._transport_failure(https.error, "https", host, access)
            if failure.tls_server:
                # A TLS server refused us; http will fail too (Go answers 400): say both, like ggcr
                self._https_failures[key] = failure.message
        return "http", http.status is not None

    async def _ping_leg(self, access: RepositoryAccess, scheme: str) -> _PingResult:
        host = access.reference.api_host
        self.probe_count += 1
        try:
            client = self._http(scheme, host, access.tls)
            async with asyncio.timeout(access.timeout):
                request = client.build_request("GET", f"{scheme}://{host}/v2/", timeout=access.timeout)
                response = await client.send(request, stream=True)
                await response.aclose()
        except (*_TRANSPORT_ERRORS, OSError) as exc:
            return _PingResult(error=exc)
        return _PingResult(status=response.status_code)

    def _context(self, host: str, tls: TLSSettings | None) -> ssl.SSLContext:
        # hosts without TLS settings share one context: each load of the CA bundle costs ~25 ms
        key = (host, tls.fingerprint()) if tls else ("", "")
        context = self._contexts.get(key)
        if context is None:
            context = self._contexts[key] = _ssl_context(tls, host)
        return context

    async def _transport_failure(
        self, exc: BaseException, scheme: str, host: str, access: RepositoryAccess
    ) -> _TransportFailure:
        """Say what went wrong; TLS failures are final (not retried) and name the certificate problem.

        A client certificate the registry refuses shows up, with TLS 1.3, after our side of the
        handshake is done: as a raw ``ssl.SSLError`` alert when the read sees it, but often as an
        empty ``ReadError``/``WriteError`` (broken pipe, reset) when the write hits the closed socket.
        For those on https we shake hands once more on a bare socket and wait for the alert.
        """
        ssl_error = _find_ssl_error(exc)
        # a TLS close (EOF) instead of the alert is the same race as a broken pipe: ask again
        closed_tls = isinstance(ssl_error, (ssl.SSLZeroReturnError, ssl.SSLEOFError))
        if (ssl_error is None or closed_tls) and scheme == "https" and (closed_tls or _is_closed_connection(exc)):
            reason = await asyncio.to_thread(
                _tls_alert, host, self._context(host, access.tls), min(_ALERT_WAIT, access.timeout)
            )
            if reason:
                return _tls_failure(host, reason, None, access.tls)
            if closed_tls and access.tls is not None and access.tls.cert_pem:
                return _TransportFailure(
                    f"TLS handshake with {host} failed: the registry closed the connection right after the handshake "
                    f"({ssl_error.reason or ssl_error}); it most likely rejected our client certificate (the "
                    f"registry must trust the CA of tls.crt in certSecretRef)", final=True, tls_server=True)
        if ssl_error is not None:
            verify = ssl_error.verify_message if isinstance(ssl_error, ssl.SSLCertVerificationError) else None
            return _tls_failure(host, ssl_error.reason or str(ssl_error), verify, access.tls)
        return _TransportFailure(_describe_transport_error(exc))

    def _http(self, scheme: str, host: str, tls: TLSSettings | None) -> httpx.AsyncClient:
        key = (scheme, host, tls.fingerprint() if tls else "")
        client = self._clients.get(key)
        if client is None:
            # a plain-http client never opens TLS (requests are routed to a client by their URL's
            # scheme and redirects are not followed), but httpx wants a context: the shared one
            verify = self._context(host, tls)
            client = httpx.AsyncClient(
                http2=self._transport is None,
                verify=verify,
                transport=self._transport,
                headers={"User-Agent": self._user_agent},
                follow_redirects=False,
                limits=httpx.Limits(max_connections=max(1, self.max_concurrency) * 2),
            )
            if self._transport is None:  # httpcore on plain asyncio: streams per pool, locks per process
                for transport in (client._transport, *client._mounts.values()):
                    netbackend.install(transport)
                poolsync.install()
            self._clients[key] = client
        return client

    async def _credentials(self, access: RepositoryAccess) -> tuple[Credentials | None, str]:
        """Credentials for the repository and a description of their source (for messages)."""
        if access.credentials is not None:
            return access.credentials, access.credentials_source or "the configured secret"
        host = access.reference.domain
        cached = self._creds.get(host)
        if cached is not None and self._clock() < cached[0]:
            config_source = self._docker_config.source if self._docker_config else "Docker config"
            return cached[1], config_source
        if self._docker_config is None:
            self._docker_config = creds_mod.load_docker_config()
        found = await creds_mod.lookup(self._docker_config, host)
        self._creds[host] = (self._clock() + self.credential_cache_seconds, found)
        return found, self._docker_config.source

    async def _read_body(self, response: httpx.Response, cap: int, what: str) -> bytes:
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > cap:
            raise ResponseTooLarge(f"{what}: response of {int(length)} bytes exceeds the {cap}-byte limit")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise ResponseTooLarge(f"{what}: response exceeds the {cap}-byte limit; stopped reading")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _send_once(
        self,
        access: RepositoryAccess,
        method: str,
        url: str,
        headers: dict[str, str],
        cap: int,
        what: str,
        follow_redirects: bool,
        content: bytes | None = None,
    ) -> _Response:
        parts = urlsplit(url)
        client = self._http(parts.scheme, parts.netloc, access.tls)
        self.request_count += 1
        self.requests_by_host[parts.netloc] += 1
        self.requests_by_method[method] += 1
        try:
            async with asyncio.timeout(access.timeout):
                if follow_redirects or client.cookies:
                    request = client.build_request(
                        method, url, headers=headers, content=content, timeout=access.timeout)
                    response = await client.send(request, stream=True, follow_redirects=follow_redirects)
                else:
                    response = await _send_direct(client, method, url, headers, content, access.timeout)
                try:
                    body = b"" if method == "HEAD" else await self._read_body(response, cap, what)
                finally:
                    await response.aclose()
        except BaseException:
            self.failures_by_host[parts.netloc] += 1
            raise
        if response.status_code >= 400 and response.status_code != 401:
            self.failures_by_host[parts.netloc] += 1
        return _Response(response.status_code, response.headers, body, str(response.url))

    async def _request(
        self,
        access: RepositoryAccess,
        method: str,
        url: str,
        *,
        scope: str | None,
        what: str,
        accept: str | None = None,
        cap: int = 4 * MiB,
        follow_redirects: bool = False,
        ok: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> _Response:
        """Send with auth, limits and retries; return a response whose status is in `ok`."""
        try:
            return await self._request_once_authenticated(
                access, method, url, scope=scope, what=what, accept=accept, cap=cap,
                follow_redirects=follow_redirects, ok=ok, headers=headers, content=content,
            )
        except RegistryError as exc:
            # On an http fallback where https found a TLS server that refused us, say both (as ggcr does)
            parts = urlsplit(url)
            key = (parts.netloc, access.tls.fingerprint() if access.tls else "")
            https_failure = self._https_failures.get(key) if parts.scheme == "http" else None
            if https_failure and not isinstance(exc, NotFoundError | AuthenticationError):
                raise type(exc)(f"{exc}; https://{parts.netloc} was tried first: {https_failure}") from None
            raise

    async def _request_once_authenticated(
        self,
        access: RepositoryAccess,
        method: str,
        url: str,
        *,
        scope: str | None,
        what: str,
        accept: str | None,
        cap: int,
        follow_redirects: bool,
        ok: tuple[int, ...],
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> _Response:
        host = access.reference.api_host
        host_auth = self._auth.setdefault(host, _HostAuth())
        creds, source = await self._credentials(access)
        base_headers = {"Accept": accept} if accept else {}
        base_headers.update(headers or {})
        authenticated_fresh = False  # we already answered a challenge with fresh credentials
        attempt = 0
        while True:
            request_headers = dict(base_headers)
            auth_header = await self._auth_header(access, host_auth, creds, scope, fresh=False)
            if auth_header:
                request_headers["Authorization"] = auth_header
            try:
                async with self.limits_for(host):
                    response = await self._send_once(
                        access, method, url, request_headers, cap, what, follow_redirects, content
                    )
            except _TRANSPORT_ERRORS as exc:
                failure = await self._transport_failure(exc, urlsplit(url).scheme, host, access)
                if failure.final:
                    raise RegistryTLSError(f"{what}: {failure.message}") from None
                if attempt < self.retries:
                    await self._wait_to_retry(self._delay(attempt, None), attempts=attempt + 1,
                                              failure=f"{what}: cannot reach {host} ({failure.message})")
                    attempt += 1
                    continue
                raise RegistryUnavailable(
                    f"{what}: cannot reach {host} ({failure.message}) after {attempt + 1} attempt(s)"
                ) from None
            status = response.status
            if status in ok:
                return response
            if status == 401 and not authenticated_fresh:
                challenge = pick_challenge(parse_www_authenticate(response.headers.get("www-authenticate", "")))
                if challenge is None:
                    raise self._auth_failed(access, response, creds, source, "no usable WWW-Authenticate challenge")
                host_auth.challenge = challenge
                # Throw away a cached token that the registry just refused, then authenticate anew.
                await self._auth_header(access, host_auth, creds, scope, fresh=True)
                authenticated_fresh = True
                continue
            if status in (401, 403):
                raise self._auth_failed(access, response, creds, source, None)
            if status in RETRYABLE_STATUS:
                if attempt < self.retries:
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    await self._wait_to_retry(self._delay(attempt, retry_after), attempts=attempt + 1,
                                              failure=f"{what}: {host} answered {status}", retry_after=retry_after)
                    attempt += 1
                    continue
                detail = _registry_error(response.body)
                raise RegistryUnavailable(
                    f"{what}: {host} answered {status}{f' ({detail})' if detail else ''} after {attempt + 1} attempt(s)"
                )
            detail = _registry_error(response.body)
            if status == 404:
                raise NotFoundError(f"{what}: not found (404{f' {detail}' if detail else ''})")
            raise RegistryError(f"{what}: {host} answered {status}{f' ({detail})' if detail else ''}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        return backoff_delay(
            attempt,
            base=self.backoff_base,
            cap=self.backoff_cap,
            retry_after=retry_after,
            max_retry_after=self.max_retry_after,
        )

    def _auth_failed(
        self,
        access: RepositoryAccess,
        response: _Response,
        creds: Credentials | None,
        source: str,
        why: str | None,
    ) -> AuthenticationError:
        host = access.reference.api_host
        detail = why or _registry_error(response.body) or "access denied"
        label = "UNAUTHORIZED" if response.status == 401 else "FORBIDDEN"
        if creds is None:
            hint = f"no credentials were found; {access.credentials_hint}"
        elif creds.unmatched_hosts is not None:
            hosts = ", ".join(creds.unmatched_hosts) or "none"
            hint = (
                f"{source} has no entry for {access.reference.domain} (it has entries for: {hosts}), so no "
                f"credentials were sent; add an entry for {access.reference.domain} to it"
            )
        elif creds.is_empty:
            hint = f"{source} holds no credentials, so none were sent"
        else:
            who = f"user {creds.username!r}" if creds.username else "a token"
            hint = f"sent {who} from {source}; check the credentials and their access to this repository"
        return AuthenticationError(
            f"authentication to {host} failed for {access.reference.name}: {response.status} {label} {detail} ({hint})"
        )

    # -- auth --------------------------------------------------------------------------------------

    async def _auth_header(
        self,
        access: RepositoryAccess,
        host_auth: _HostAuth,
        creds: Credentials | None,
        scope: str | None,
        *,
        fresh: bool,
    ) -> str | None:
        challenge = host_auth.challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if creds is not None and creds.has_basic:
                return _basic_header(creds)
            return None
        if challenge.scheme != "bearer":
            return None
        if creds is not None and creds.registry_token:
            return f"Bearer {creds.registry_token}"
        host = access.reference.api_host
        token_scope = scope or challenge.scope or ""
        identity = creds.fingerprint() if creds else "anonymous"
        lock = host_auth.locks.setdefault(f"{token_scope}\0{identity}", asyncio.Lock())
        async with lock:
            if fresh:
                self._tokens.forget(host, token_scope, identity)
            token = self._tokens.get(host, token_scope, identity)
            if token is None:
                token, lifetime = await self._fetch_token(access, challenge, creds, token_scope)
                self._tokens.put(host, token_scope, identity, token, lifetime)
        return f"Bearer {token}"

    async def _fetch_token(
        self, access: RepositoryAccess, challenge: Challenge, creds: Credentials | None, scope: str
    ) -> tuple[str, float]:
        host = access.reference.api_host
        realm = challenge.realm
        if not realm or urlsplit(realm).scheme not in ("http", "https"):
            raise AuthenticationError(f"authentication to {host} failed: the Bearer challenge has no usable realm")
        params = {}
        if challenge.service:
            params["service"] = challenge.service
        if scope:
            params["scope"] = scope
        parts = urlsplit(realm)
        client = self._http(parts.scheme, parts.netloc, access.tls)
        what = f"token service {parts.scheme}://{parts.netloc}{parts.path} for {host}"
        for attempt in range(self.retries + 1):
            try:
                async with asyncio.timeout(access.timeout):
                    if creds is not None and creds.identity_token:
                        form = dict(params, grant_type="refresh_token", client_id="tagpilot")
                        form["refresh_token"] = creds.identity_token
                        request = client.build_request("POST", realm, data=form, timeout=access.timeout)
                    else:
                        request = client.build_request("GET", realm, params=params, timeout=access.timeout)
                        if creds is not None and creds.has_basic:
                            request.headers["Authorization"] = _basic_header(creds)
                    response = await client.send(request, stream=True)
                    try:
                        body = await self._read_body(response, MiB, what)
                    finally:
                        await response.aclose()
            except _TRANSPORT_ERRORS as exc:
                failure = await self._transport_failure(exc, parts.scheme, parts.netloc, access)
                if failure.final:
                    raise RegistryTLSError(f"{what}: {failure.message}") from None
                if attempt < self.retries:
                    await self._wait_to_retry(self._delay(attempt, None), attempts=attempt + 1,
                                              failure=f"{what}: unreachable ({failure.message})")
                    continue
                raise RegistryUnavailable(f"{what}: unreachable ({failure.message})") from None
            if response.status_code in RETRYABLE_STATUS and attempt < self.retries:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                await self._wait_to_retry(self._delay(attempt, retry_after), attempts=attempt + 1,
                                          retry_after=retry_after, failure=f"{what}: answered {response.status_code}")
                continue
            break
        if response.status_code in (401, 403):
            who = f"user {creds.username!r}" if creds and creds.username else "anonymous access"
            raise AuthenticationError(
                f"authentication to {host} failed: {what} answered {response.status_code} "
                f"{'UNAUTHORIZED' if response.status_code == 401 else 'FORBIDDEN'} for {who}"
            )
        if response.status_code != 200:
            raise AuthenticationError(f"authentication to {host} failed: {what} answered {response.status_code}")
        try:
            data = loads_bounded(body)
        except JSONTooDeep as exc:
            raise InvalidResponse(f"{what}: {_too_deep(parts.netloc, exc)}") from None
        except (ValueError, UnicodeDecodeError):
            raise InvalidResponse(f"{what}: the token response is not JSON") from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise InvalidResponse(f"{what}: the token response has no 'token' or 'access_token'")
        return token, token_lifetime(data.get("expires_in"))

    # -- API ---------------------------------------------------------------------------------------

    @_bounded
    async def ping(self, access: RepositoryAccess) -> None:
        """Check that the registry answers ``/v2/`` and accepts our credentials."""
        await self._request(
            access,
            "GET",
            f"{await self._base_url(access)}/v2/",
            scope=None,
            what=f"{access.reference.api_host}",
            cap=MiB,
        )

    async def url_for(self, access: RepositoryAccess, path_or_url: str) -> str:
        """An absolute URL on the repository's registry: ``/v2/...`` paths and relative ``Location``s
        are joined to its base URL; an absolute URL must stay on that host (a hostile ``Location``
        cannot send our credentials elsewhere)."""
        base = await self._base_url(access)
        url = str(httpx.URL(base + "/").join(path_or_url))
        other = urlsplit(url).netloc
        if other.lower() != urlsplit(base).netloc.lower():
            raise InvalidResponse(f"{access.reference.api_host} sent a location on another host ({other})")
        return url

    @_bounded
    async def send(
        self,
        access: RepositoryAccess,
        method: str,
        path_or_url: str,
        *,
        scope: str | None,
        what: str,
        ok: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        accept: str | None = None,
        cap: int = MiB,
    ) -> _Response:
        """One API call with a small body (manifest PUTs, upload sessions, blob HEADs), with auth,
        limits and retries as every read; the copy (`registry/copy.py`) is built from these."""
        url = await self.url_for(access, path_or_url)
        return await self._request(
            access, method, url, scope=scope, what=what, ok=ok, headers=headers, content=content,
            accept=accept, cap=cap,
        )

    @contextlib.asynccontextmanager
    async def stream(
        self,
        access: RepositoryAccess,
        method: str,
        path_or_url: str,
        *,
        scope: str | None,
        what: str,
        ok: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
        content: AsyncIterator[bytes] | None = None,
        follow_redirects: bool = False,
    ) -> AsyncIterator[httpx.Response]:
        """A request whose body is streamed one way or the other (blob GET, blob PUT), for the copy.

        Nothing is read into memory here. There are no retries: a streamed body cannot be sent twice,
        so the caller retries the whole transfer. `access.timeout` bounds each read and write, not the
        transfer as a whole (a large layer may take minutes). A GET that meets a first 401 is sent once
        more with fresh auth; a streamed upload must follow a `send` with the same scope (the upload
        session POST), so its credentials are known up front. The registry's concurrency limit is
        held for the whole transfer.
        """
        url = await self.url_for(access, path_or_url)
        host = access.reference.api_host
        host_auth = self._auth.setdefault(host, _HostAuth())
        creds, source = await self._credentials(access)
        parts = urlsplit(url)
        client = self._http(parts.scheme, parts.netloc, access.tls)
        for fresh in (False, True):
            request_headers = dict(headers or {})
            auth_header = await self._auth_header(access, host_auth, creds, scope, fresh=fresh)
            if auth_header:
                request_headers["Authorization"] = auth_header
            async with self.limits_for(host):
                self.request_count += 1
                self.requests_by_host[parts.netloc] += 1
                self.requests_by_method[method] += 1
                request = client.build_request(method, url, headers=request_headers, content=content,
                                               timeout=access.timeout)
                try:
                    response = await client.send(request, stream=True, follow_redirects=follow_redirects)
                except _TRANSPORT_ERRORS as exc:
                    self.failures_by_host[parts.netloc] += 1
                    failure = await self._transport_failure(exc, parts.scheme, host, access)
                    error = RegistryTLSError if failure.final else RegistryUnavailable
                    raise error(f"{what}: {failure.message}") from None
                try:
                    if response.status_code == 401 and not fresh and content is None:
                        challenge = pick_challenge(
                            parse_www_authenticate(response.headers.get("www-authenticate", ""))
                        )
                        if challenge is not None:
                            host_auth.challenge = challenge
                            continue
                    if response.status_code not in ok:
                        self.failures_by_host[parts.netloc] += 1
                        body = await self._read_body(response, MiB, what) if method != "HEAD" else b""
                        failed = _Response(response.status_code, response.headers, body, str(response.url))
                        if response.status_code in (401, 403):
                            raise self._auth_failed(access, failed, creds, source, None)
                        detail = _registry_error(body)
                        suffix = f" ({detail})" if detail else ""
                        if response.status_code == 404:
                            raise NotFoundError(f"{what}: not found (404{suffix})")
                        if response.status_code in RETRYABLE_STATUS:
                            raise RegistryUnavailable(f"{what}: {host} answered {response.status_code}{suffix}")
                        raise RegistryError(f"{what}: {host} answered {response.status_code}{suffix}")
                    yield response
                    return
                finally:
                    await response.aclose()
        raise AuthenticationError(f"{what}: {host} kept answering 401")  # pragma: no cover - loop returns

    @_bounded
    async def list_tags(self, access: RepositoryAccess) -> list[str]:
        """Every tag of the repository, in registry order, following pagination."""
        ref = access.reference
        base = await self._base_url(access)
        url = f"{base}/v2/{ref.path}/tags/list?n={self.page_size}"
        scope = repository_scope(ref.path)
        what = f"listing tags of {ref.name}"
        tags: list[str] = []
        seen = {url}
        pages = 0
        while True:
            pages += 1
            response = await self._request(
                access, "GET", url, scope=scope, what=what, accept="application/json", cap=self.max_tag_page_bytes
            )
            try:
                data = loads_bounded(response.body)
            except JSONTooDeep as exc:
                raise InvalidResponse(f"{what}: page {pages}: {_too_deep(ref.api_host, exc)}") from None
            except (ValueError, UnicodeDecodeError):
                raise InvalidResponse(f"{what}: page {pages} is not valid JSON") from None
            if not isinstance(data, dict):
                raise InvalidResponse(f"{what}: page {pages} is not a JSON object")
            page = data.get("tags")
            if page is None:
                page = []
            if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                raise InvalidResponse(f"{what}: 'tags' must be a list of strings")
            tags.extend(page)
            if len(tags) > self.max_tags:
                raise InvalidResponse(f"{what}: registry kept paginating: more than {self.max_tags} tags (the limit)")
            link = _next_link(response.headers)
            if not link:
                return tags
            next_url = str(httpx.URL(response.url).join(link))
            current, nxt = urlsplit(response.url), urlsplit(next_url)
            if (nxt.scheme, nxt.netloc) != (current.scheme, current.netloc):
                raise InvalidResponse(f"{what}: the next-page link points to another host ({nxt.netloc})")
            if next_url in seen:
                raise InvalidResponse(f"{what}: registry kept paginating: page {pages + 1} repeats an earlier link")
            if pages >= self.max_pages:
                raise InvalidResponse(f"{what}: registry kept paginating: more than {self.max_pages} pages (the limit)")
            seen.add(next_url)
            url = next_url

    async def head_digest(self, access: RepositoryAccess, tag: str) -> str:
        """The digest a tag points at now (HEAD; GET and hash when the registry sends no digest)."""
        return (await self.head_manifest(access, tag))[0]

    @_bounded
    async def head_manifest(self, access: RepositoryAccess, tag: str) -> tuple[str, str]:
        """(digest, media type) of what a tag points at now; the media type is "" when the registry
        did not say (callers that need to know whether it is an index then GET it)."""
        ref = access.reference
        url = f"{await self._base_url(access)}/v2/{ref.path}/manifests/{tag}"
        what = f"manifest {ref.name}:{tag}"
        scope = repository_scope(ref.path)
        # Some registries refuse HEAD (405) or omit the digest header, yet serve GET. A 404 HEAD has no
        # body to say MANIFEST_UNKNOWN or NAME_UNKNOWN: the GET below asks again and raises with the code.
        response = await self._request(
            access, "HEAD", url, scope=scope, what=what, accept=ACCEPT_MANIFESTS, cap=0, ok=(200, 404, 405)
        )
        digest = response.headers.get("docker-content-digest", "").strip()
        if response.status == 200 and digest.startswith("sha256:") and is_digest(digest):
            media_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
            return digest, media_type if media_type in MANIFEST_TYPES else ""
        manifest = await self._get_manifest_by_tag(access, tag)
        return manifest.digest, manifest.media_type

    @_bounded
    async def delete_manifest(self, access: RepositoryAccess, digest: str) -> None:
        """DELETE a manifest by digest. On distribution this also removes every tag pointing at it,
        so callers resolve all tags first. 405 (delete disabled) raises DeleteUnsupported."""
        ref = access.reference
        if not is_digest(digest):
            raise ValueError(f"delete_manifest needs a digest, not {digest!r}")
        what = f"deleting {ref.name}@{digest}"
        response = await self._request(
            access, "DELETE", f"{await self._base_url(access)}/v2/{ref.path}/manifests/{digest}",
            scope=repository_scope(ref.path, "pull,push,delete"), what=what, accept=ACCEPT_MANIFESTS,
            cap=MiB, ok=(202, 200, 204, 405),
        )
        if response.status == 405:
            detail = _registry_error(response.body)
            raise DeleteUnsupported(
                f"{what}: {ref.api_host} refuses deletes (405{f' {detail}' if detail else ''}); enable "
                f"storage.delete.enabled in the registry's configuration, or delete through the vendor's API"
            )

    @_bounded
    async def referrers(self, access: RepositoryAccess, digest: str) -> list[Descriptor] | None:
        """OCI 1.1 referrers of `digest` (signatures, SBOMs, attestations), or None when the registry has
        no referrers API (404 without an index, 400/405: distribution, Docker Hub), so callers use the
        `sha256-<hex>` tag fallback instead."""
        ref = access.reference
        if not is_digest(digest):
            raise ValueError(f"referrers needs a digest, not {digest!r}")
        what = f"referrers of {ref.name}@{digest}"
        response = await self._request(
            access, "GET", f"{await self._base_url(access)}/v2/{ref.path}/referrers/{digest}",
            scope=repository_scope(ref.path), what=what, accept=OCI_INDEX, cap=self.max_manifest_bytes,
            ok=(200, 400, 404, 405),
        )
        content_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        if response.status != 200 or content_type != OCI_INDEX:
            return None  # distribution answers 404 (page not found): no API, not "no referrers"
        index = parse_manifest(response.body, sha256_digest(response.body), OCI_INDEX, what)
        return list(index.manifests)

    async def _get_manifest_by_tag(self, access: RepositoryAccess, tag: str) -> Manifest:
        ref = access.reference
        what = f"manifest {ref.name}:{tag}"
        response = await self._request(
            access,
            "GET",
            f"{await self._base_url(access)}/v2/{ref.path}/manifests/{tag}",
            scope=repository_scope(ref.path),
            what=what,
            accept=ACCEPT_MANIFESTS,
            cap=self.max_manifest_bytes,
        )
        digest = sha256_digest(response.body)
        manifest = parse_manifest(response.body, digest, response.headers.get("content-type"), what)
        self.cache.put(digest, manifest.media_type, response.body)
        return manifest

    @_bounded
    async def get_manifest(self, access: RepositoryAccess, ref: str) -> Manifest:
        """A manifest or index by tag or digest; by digest it comes from the cache when possible."""
        tag, _digest = split_tag_or_digest(ref, access.reference.name)
        if tag is not None:
            return await self._get_manifest_by_tag(access, tag)
        name = access.reference.name
        what = f"manifest {name}@{ref}"
        cached = self.cache.get(ref)
        if cached is not None:
            return parse_manifest(cached, ref, None, what)
        response = await self._request(
            access,
            "GET",
            f"{await self._base_url(access)}/v2/{access.reference.path}/manifests/{ref}",
            scope=repository_scope(access.reference.path),
            what=what,
            accept=ACCEPT_MANIFESTS,
            cap=self.max_manifest_bytes,
        )
        verify_digest(ref, response.body, what)
        manifest = parse_manifest(response.body, ref, response.headers.get("content-type"), what)
        self.cache.put(ref, manifest.media_type, response.body)
        return manifest

    @_bounded
    async def get_config(self, access: RepositoryAccess, manifest: Manifest) -> ImageConfig:
        """The image config of a single-image manifest (cached by digest)."""
        if manifest.config is None:
            raise InvalidResponse(f"manifest {access.reference.name}@{manifest.digest} is an index, not an image")
        digest = manifest.config.digest
        what = f"image config {access.reference.name}@{digest}"
        body = self.cache.get(digest)
        if body is None:
            response = await self._request(
                access,
                "GET",
                f"{await self._base_url(access)}/v2/{access.reference.path}/blobs/{digest}",
                scope=repository_scope(access.reference.path),
                what=what,
                cap=self.max_config_bytes,
                follow_redirects=True,
            )
            body = response.body
            verify_digest(digest, body, what)
            self.cache.put(digest, manifest.config.media_type, body)
        return parse_config(body, what)

    @_bounded
    async def image_metadata(
        self, access: RepositoryAccess, tag: str, platforms: list[str] | None = None
    ) -> ImageMetadata:
        """Digest, creation time, platforms and labels of what `tag` points at now.

        The tag is resolved with a HEAD; everything behind the digest comes from the cache when it
        was seen before. For an index, `platforms` (``linux/amd64``, ``linux/arm64/v8``) limits which
        platform images are inspected; the digest is the index digest, as Docker and Flux report it.
        """
        wanted = [Platform.parse(p) for p in platforms] if platforms else None
        digest = await self.head_digest(access, tag)
        manifest = await self.get_manifest(access, digest)
        if not manifest.is_index:
            config = await self.get_config(access, manifest)
            plat = str(config.platform) if config.platform else None
            if wanted and config.platform and not any(config.platform.matches(w) for w in wanted):
                return ImageMetadata(digest, manifest.media_type, None, [plat] if plat else [], {})
            return ImageMetadata(
                digest=digest,
                media_type=manifest.media_type,
                created=config.created,
                platforms=[plat] if plat else [],
                labels=config.labels,
                platform_created={plat: config.created} if plat else {},
                platform_digests={plat: digest} if plat else {},
            )
        children = [d for d in manifest.manifests if not d.is_attestation]
        all_platforms = [str(d.platform) for d in children if d.platform]
        selected = [
            d for d in children if wanted is None or (d.platform and any(d.platform.matches(w) for w in wanted))
        ]
        configs = await asyncio.gather(*(self._child_config(access, d.digest) for d in selected))
        created_by_platform: dict[str, Any] = {}
        digests: dict[str, str] = {}
        labels: dict[str, str] = {}
        for descriptor, config in zip(selected, configs, strict=True):
            key = str(descriptor.platform or config.platform or descriptor.digest)
            created_by_platform[key] = config.created
            digests[key] = descriptor.digest
            if not labels:
                labels = config.labels
        times = [t for t in created_by_platform.values() if t is not None]
        return ImageMetadata(
            digest=digest,
            media_type=manifest.media_type,
            created=max(times) if times else None,
            platforms=all_platforms,
            labels=labels,
            platform_created=created_by_platform,
            platform_digests=digests,
        )

    async def _child_config(self, access: RepositoryAccess, digest: str) -> ImageConfig:
        child = await self.get_manifest(access, digest)
        if child.is_index:
            raise InvalidResponse(f"manifest {access.reference.name}@{digest}: nested indexes are not supported")
        return await self.get_config(access, child)


def _seconds(value: float) -> str:
    """``5s``, ``0.2s``, ``999999s``: a duration for messages."""
    return f"{round(value, 1):g}s"


def _too_deep(host: str, exc: JSONTooDeep) -> str:
    return (
        f"the response from {host} is nested too deeply (more than {exc.max_depth} levels of arrays/objects); "
        "refused as broken or hostile"
    )


def _basic_header(creds: Credentials) -> str:
    pair = f"{creds.username or ''}:{creds.password or ''}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _describe_transport_error(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"[:_MAX_ERROR_DETAIL]
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or "connection failed"
        return f"connection failed: {reason[:_MAX_ERROR_DETAIL]}"
    return f"{type(exc).__name__}: {str(exc)[:_MAX_ERROR_DETAIL]}" if str(exc) else type(exc).__name__


def _find_ssl_error(exc: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` behind an httpx/httpcore/anyio exception, if there is one."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


def _is_closed_connection(exc: BaseException) -> bool:
    """An empty read/write error: the peer closed or reset the connection under us."""
    return isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError | h2.exceptions.ProtocolError)


def _split_host(host: str) -> tuple[str, int]:
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1 :]
        return name, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 443
    name, _, port = host.partition(":")
    return name, int(port) if port.isdigit() else 443


def _tls_alert(host: str, context: ssl.SSLContext, wait: float) -> str | None:
    """Shake hands with `host` and wait briefly for an alert; its reason (``SSLV3_ALERT_BAD_CERTIFICATE``).

    Blocking (run in a thread). Nothing is sent after the handshake, so the server has no unread data
    and closes with a FIN, not a reset that would discard its alert before we read it.
    """
    name, port = _split_host(host)
    try:
        with socket.create_connection((name, port), timeout=wait) as raw, context.wrap_socket(
            raw, server_hostname=name
        ) as conn:
            conn.recv(1)
    except ssl.SSLError as exc:
        return exc.reason or None
    except OSError:
        return None
    return None


_CA_HINT = "set certSecretRef with the registry's CA (ca.crt)"


def _tls_failure(host: str, reason: str, verify_message: str | None, tls: TLSSettings | None) -> _TransportFailure:
    """A TLS error in words: which side refused what, and what to set in the ``certSecretRef``."""
    reason = reason[:_MAX_ERROR_DETAIL]
    prefix = f"TLS handshake with {host} failed"
    if reason == "CERTIFICATE_VERIFY_FAILED" or verify_message:
        detail = verify_message or "unknown reason"
        lowered = detail.lower()
        if "issuer" in lowered or "self-signed" in lowered or "self signed" in lowered:
            hint = _CA_HINT
        elif "hostname" in lowered or "ip address mismatch" in lowered:
            hint = f"the registry's certificate is not valid for {host}"
        elif "expired" in lowered:
            hint = "the registry's certificate has expired"
        else:
            hint = _CA_HINT if not (tls and tls.ca_pem) else "check the CA in certSecretRef"
        return _TransportFailure(
            f"{prefix}: certificate verify failed: {detail} [CERTIFICATE_VERIFY_FAILED] ({hint})",
            final=True, tls_server=True,
        )
    if "ALERT" in reason and any(w in reason for w in ("CERTIFICATE", "UNKNOWN_CA", "ACCESS_DENIED")):
        if tls is not None and tls.cert_pem:
            message = (
                f"{prefix}: the registry rejected our client certificate ({reason}; the registry must "
                f"trust the CA of tls.crt in certSecretRef)"
            )
        else:
            message = (
                f"{prefix}: the registry requires a client certificate ({reason}; set tls.crt and tls.key "
                f"in certSecretRef)"
            )
        return _TransportFailure(message, final=True, tls_server=True)
    if reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"):
        return _TransportFailure(
            f"{prefix}: the server does not speak TLS ({reason}); is it a plain-HTTP registry? "
            f"then set insecure: true",
            final=True,
        )
    return _TransportFailure(f"{prefix}: {reason}", final=True, tls_server="ALERT" in reason)


def _ssl_context(tls: TLSSettings | None, host: str) -> ssl.SSLContext:
    """System CAs plus a configured CA; a client certificate when one is given."""
    context = tlsprefetch.take() or ssl.create_default_context()
    if tls is None:
        return context
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        if tls.ca_pem:
            context.load_verify_locations(cadata=tls.ca_pem.decode("ascii", "replace"))
        if tls.cert_pem:
            if not tls.key_pem:
                raise RegistryError(f"TLS settings for {host}: a client certificate needs a key (tls.key)")
            # ssl only loads client certificates from files: write them to a private, short-lived dir.
            with tempfile.TemporaryDirectory(prefix="tagpilot-tls-") as directory:
                cert_path = os.path.join(directory, "tls.crt")
                key_path = os.path.join(directory, "tls.key")
                for path, data in ((cert_path, tls.cert_pem), (key_path, tls.key_pem)):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        out.write(data)
                context.load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        raise RegistryError(f"TLS settings for {host} are invalid: {exc.reason or exc}") from None
    return context
