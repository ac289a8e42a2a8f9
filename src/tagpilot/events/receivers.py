"""Webhook receivers: verify a request for a Flux `Receiver` and say what to reconcile. Pure.

The server (`tagpilot run`) finds the Receiver by path (`match_path`), reads its token from the
Secret, and calls `verify`; the returned `HookResult` carries the HTTP status, a message safe to log
and return, the objects to reconcile now and an event for the events log. Nothing here does I/O,
keeps state or reads a clock, so every branch is a table test.

The checks per `spec.type` are Flux's (`notification-controller/internal/server/receiver_handlers.go`):

- `generic`: none beyond the unguessable path.
- `generic-hmac`: `X-Signature: sha1=|sha256=|sha512=<hex HMAC(token, body)>` (go-github's parser).
- `github`, `bitbucket` (Server): go-github's `ValidatePayload`: `X-Hub-Signature-256`, falling back
  to `X-Hub-Signature`; the prefix of the value picks the hash; `Content-Type` must be JSON or a form.
  `events` filters on `X-GitHub-Event` / `X-Event-Key`, case-insensitively.
- `gitlab`: `X-Gitlab-Token` equals the token; `events` filters on `X-Gitlab-Event`.
- `harbor`: `Authorization` equals the token, verbatim. tagpilot extension: `events`, when set,
  filters on the payload's `type` (`PUSH_ARTIFACT`...); Flux ignores `events` for Harbor.
- `dockerhub`, `quay`, `acr`: the body must be JSON of the vendor's shape; no signature exists.
- `nexus`: `X-Nexus-Webhook-Signature` = lowercase hex HMAC-SHA1(token, body), then JSON.
- `cdevents`: the body must be a CDEvent (context with type/id/source/version, a subject);
  `events` filters on the `Ce-Type` header.
- `gcr`: Flux asks Google to verify the bearer OIDC token over the network. A pure verifier cannot,
  and accepting the request unverified would let anyone trigger scans, so tagpilot answers 501.
- `distribution` (tagpilot): `Authorization: Bearer <token>` (401 otherwise); the body is the CNCF
  distribution registry's notification envelope, and only the ImageRepositories an event's
  repository names are reconciled, only for manifest pushes with a tag.

Statuses: 413 for a body over `MAX_BODY` (Flux's cap), 503 for a suspended Receiver, 400 for a failed
check (Flux answers 400 for every validation error, bad signatures included) and for JSON nested
deeper than `MAX_JSON_DEPTH` (refused before parsing: `tagpilot.jsonsafe`), 401 for a missing or
wrong bearer token (distribution only), 500 when a named resource does not exist (Flux's answer;
the resources that exist are still reconciled), 200 otherwise. `match_path` gives the 404.

Secrets: every comparison with the token or a MAC is `hmac.compare_digest`; no message, event or
repr carries a token, a signature or an `Authorization` value.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tagpilot.config.base import Object
from tagpilot.config.flux_automation import LabelSelector, selector_matches
from tagpilot.config.flux_image import ImageRepository
from tagpilot.config.flux_notification import WILDCARD, Receiver, ReceiverResource
from tagpilot.errors import InvalidReference, TagpilotError
from tagpilot.jsonsafe import JSONTooDeep, loads_bounded
from tagpilot.registry.reference import DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, parse_repository

MAX_BODY = 3 * 1024 * 1024  # Flux's receiver body cap (3 MiB)
MAX_JSON_DEPTH = 64  # deeper payloads are refused with 400 (vendors' payloads nest a handful of levels)

Key = tuple[str, str, str]  # (kind, namespace, name), as `Object.key`

def _webhook_targets() -> frozenset[str]:
    """Kinds a Receiver may name, from the kind registry. A Flux Receiver may also list
    Kustomizations, HelmReleases...: those are reported as ignored, not errors."""
    from tagpilot.engine.kinds import KINDS  # the registry imports the engine's kinds: load on use

    return KINDS.webhook_targets()

# Manifest media types: a push of one of these changes what a tag points to. Blobs (layers,
# configs) are pushed first and carry no tag; they never matter to a tag scan.
MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    }
)

_DOCKER_HUB_HOSTS = frozenset(
    {DEFAULT_DOMAIN, LEGACY_DEFAULT_DOMAIN, "registry-1.docker.io", "registry.hub.docker.com"}
)
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


class InvalidPayload(TagpilotError):
    """A webhook body that cannot be what its sender type sends (not JSON, wrong shape): HTTP 400."""

    reason = "ValidationFailed"
    status = 400


class _Rejected(Exception):
    """Internal: a check failed; carries the HTTP status and a message without secrets."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only HTTP headers (`Headers({"x-a": "1"})["X-A"] == "1"`)."""

    def __init__(self, source: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        items = source.items() if isinstance(source, Mapping) else source
        self._data: dict[str, tuple[str, str]] = {}
        for name, value in items:
            # the first value wins, as Go's Header.Get returns the first
            self._data.setdefault(name.lower(), (name, value))

    def __getitem__(self, name: str) -> str:
        return self._data[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._data

    def __repr__(self) -> str:  # header values may be credentials: names only
        return f"Headers({sorted(self._data)})"


@dataclass
class HookRequest:
    """What the server received: headers (looked up case-insensitively), the raw body, the peer."""

    headers: Mapping[str, str]
    body: bytes
    remote: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)

    def header(self, name: str) -> str:
        """The header's value, or "" when absent (Go's `Header.Get`, which Flux's checks rely on)."""
        return self.headers.get(name, "")

    def __repr__(self) -> str:
        return f"HookRequest(headers={self.headers!r}, body=<{len(self.body)} bytes>, remote={self.remote!r})"


@dataclass
class HookResult:
    """The answer to a webhook. `message` and `event` never carry secrets; `headers` are response
    headers to send (a `WWW-Authenticate` with a 401)."""

    status: int
    message: str
    reconcile: list[Key] = field(default_factory=list)
    event: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Resolution:
    """The receiver's resources resolved against the configuration."""

    found: list[Key] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # named objects not in the configuration
    ignored: list[str] = field(default_factory=list)  # kinds tagpilot does not reconcile


# -- paths ------------------------------------------------------------------------------------------


def match_path(path: str, receivers: Iterable[tuple[Receiver, str]]) -> tuple[Receiver, str] | None:
    """The (receiver, token) whose webhook path is `path`, or None (the server answers 404).

    Every candidate is compared in constant time and the loop does not stop early, so the time taken
    says nothing about how close a guess came.
    """
    found: tuple[Receiver, str] | None = None
    wanted = path.encode("utf-8", "surrogatepass")
    for receiver, token in receivers:
        if hmac.compare_digest(receiver.webhook_path(token).encode("ascii"), wanted) and found is None:
            found = (receiver, token)
    return found


# -- resources --------------------------------------------------------------------------------------


def _group(api_version: str) -> str:
    group, slash, _ = api_version.partition("/")
    return group if slash else ""


def _matches(resource: ReceiverResource, obj: Object) -> bool:
    if obj.kind != resource.kind:
        return False
    group = resource.group
    return group is None or group == _group(obj.api_version)


def resolve(receiver: Receiver, objects: Iterable[Object]) -> Resolution:
    """Resolve `spec.resources` as Flux does: namespace defaults to the Receiver's; `name: "*"`
    selects every object of the kind whose labels match `matchLabels` (no match is not an error);
    a named object that does not exist is `missing`. Order follows the resources, without repeats."""
    objects = list(objects)
    result = Resolution()
    seen: set[Key] = set()
    targets = _webhook_targets()
    for resource in receiver.spec.resources:
        if resource.kind not in targets:
            if resource.kind not in result.ignored:
                result.ignored.append(resource.kind)
            continue
        namespace = resource.namespace or receiver.namespace
        if resource.name == WILDCARD:
            selector = LabelSelector(match_labels=resource.match_labels or {})
            chosen = [
                obj
                for obj in objects
                if _matches(resource, obj)
                and (namespace == WILDCARD or obj.namespace == namespace)
                and selector_matches(selector, obj.metadata.labels)
            ]
            chosen.sort(key=lambda obj: obj.key)
        else:
            chosen = [
                obj
                for obj in objects
                if _matches(resource, obj) and obj.namespace == namespace and obj.name == resource.name
            ]
            if not chosen:
                result.missing.append(f"{resource.kind}/{namespace}/{resource.name}")
        for obj in chosen:
            if obj.key not in seen:
                seen.add(obj.key)
                result.found.append(obj.key)
    return result


def resolve_resources(receiver: Receiver, objects: Iterable[Object]) -> list[Key]:
    """The (kind, namespace, name) keys of the objects the receiver's resources select."""
    return resolve(receiver, objects).found


# -- helpers ----------------------------------------------------------------------------------------


def _same(given: str, expected: str) -> bool:
    """Constant-time string equality (any characters; `compare_digest` on str wants ASCII)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


_HASHES: dict[str, Callable[[], Any]] = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def check_hmac_signature(signature: str, body: bytes, token: str) -> None:
    """go-github's `ValidateSignature`: `<sha1|sha256|sha512>=<hex HMAC(token, body)>`.

    Raises `_Rejected(400)`; messages describe the problem without quoting the value."""
    if not signature:
        raise _Rejected(400, "missing signature")
    prefix, eq, hex_mac = signature.partition("=")
    if not eq:
        raise _Rejected(400, "the signature is not of the form <algorithm>=<hex>")
    hash_func = _HASHES.get(prefix)
    if hash_func is None:
        raise _Rejected(400, "unknown signature hash type (expected sha1, sha256 or sha512)")
    try:
        given = binascii.unhexlify(hex_mac.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _Rejected(400, "the signature is not hexadecimal") from None
    expected = hmac.new(token.encode("utf-8"), body, hash_func).digest()
    if not hmac.compare_digest(given, expected):
        raise _Rejected(400, "payload signature check failed")


def _media_type(content_type: str) -> str:
    """The media type of a Content-Type value, lowercased (what Go's mime.ParseMediaType returns)."""
    return content_type.split(";", 1)[0].strip().lower()


def _github_payload(request: HookRequest, token: str, vendor: str) -> bytes:
    """go-github's `ValidatePayload`, which Flux uses for GitHub and Bitbucket Server.

    The SHA-256 header wins; without it the SHA-1 header is used (go-github's fallback, kept for
    fidelity: HMAC-SHA1 is not forgeable in practice). Returns the JSON payload."""
    signature = request.header("X-Hub-Signature-256") or request.header("X-Hub-Signature")
    media_type = _media_type(request.header("Content-Type"))
    if not media_type:
        raise _Rejected(400, f"the {vendor} request has no Content-Type")
    if media_type == "application/json":
        payload = request.body
    elif media_type == "application/x-www-form-urlencoded":
        form = parse_qs(request.body.decode("utf-8", "replace"))
        payload = form.get("payload", [""])[0].encode("utf-8")
    else:
        raise _Rejected(400, f"the {vendor} request has an unsupported Content-Type {media_type[:80]!r}")
    try:
        check_hmac_signature(signature, request.body, token)
    except _Rejected as exc:
        raise _Rejected(400, f"the {vendor} signature header is invalid: {exc.message}") from None
    return payload


def _json(body: bytes, what: str) -> Any:
    try:
        return loads_bounded(body, max_depth=MAX_JSON_DEPTH)
    except JSONTooDeep as exc:
        raise InvalidPayload(f"cannot decode {what} payload: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise InvalidPayload(f"cannot decode {what} payload: not valid JSON") from None


def _json_details(body: bytes, what: str) -> Any:
    """A payload read only for the event record: None when it is not JSON (the sender's check has
    passed; Flux does not decode it), but `InvalidPayload` when it nests too deep to read safely."""
    try:
        return loads_bounded(body, max_depth=MAX_JSON_DEPTH)
    except JSONTooDeep as exc:
        raise InvalidPayload(f"cannot decode {what} payload: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        return None


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    """Decode a payload Go would decode into a struct: a JSON object (or null, which Go accepts)."""
    data = _json(body, what)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidPayload(f"cannot decode {what} payload: expected a JSON object")
    return data


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _text(value: Any, limit: int = 200) -> str | None:
    """A payload value fit for an event record: strings only, bounded."""
    return value[:limit] if isinstance(value, str) else None


def _events_filter(receiver: Receiver, event: str, vendor: str) -> None:
    """Flux: when `spec.events` is set, the event must equal one of them, ignoring case."""
    allowed = receiver.spec.events
    if allowed and not any(event.lower() == e.lower() for e in allowed):
        raise _Rejected(400, f"the {vendor} event {event[:100]!r} is not in the receiver's events")


# -- per-type checks --------------------------------------------------------------------------------
# Each returns details for the event record (no secrets) or raises _Rejected / InvalidPayload.


def _check_generic(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    return {}


def _check_generic_hmac(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    try:
        check_hmac_signature(request.header("X-Signature"), request.body, token)
    except _Rejected as exc:
        raise _Rejected(400, f"unable to validate HMAC signature: {exc.message}") from None
    return {}


def _check_github(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    payload = _github_payload(request, token, "GitHub")
    event = request.header("X-GitHub-Event")
    _events_filter(receiver, event, "GitHub")
    details: dict[str, Any] = {"event": event[:100], "delivery": request.header("X-GitHub-Delivery")[:100] or None}
    data = _json_details(payload, "GitHub")
    details["ref"] = _text(_get(data, "ref"))
    details["repository"] = _text(_get(data, "repository", "full_name"))
    return details


def _check_bitbucket(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    _github_payload(request, token, "Bitbucket server")
    event = request.header("X-Event-Key")
    _events_filter(receiver, event, "Bitbucket server")
    return {"event": event[:100]}


def _check_gitlab(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    if not _same(request.header("X-Gitlab-Token"), token):
        raise _Rejected(400, "the X-Gitlab-Token header value does not match the receiver token")
    event = request.header("X-Gitlab-Event")
    _events_filter(receiver, event, "GitLab")
    details: dict[str, Any] = {"event": event[:100]}
    data = _json_details(request.body, "GitLab")
    details["ref"] = _text(_get(data, "ref"))
    details["repository"] = _text(_get(data, "project", "path_with_namespace"))
    return details


def _check_harbor(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    if not _same(request.header("Authorization"), token):
        raise _Rejected(400, "the Harbor Authorization header value does not match the receiver token")
    details: dict[str, Any] = {}
    if receiver.spec.events:
        data = _json_object(request.body, "Harbor")
        event = data.get("type") if isinstance(data.get("type"), str) else ""
        _events_filter(receiver, event, "Harbor")
    else:
        data = _json_details(request.body, "Harbor")
    details["event"] = _text(_get(data, "type"))
    details["repository"] = _text(_get(data, "event_data", "repository", "repo_full_name"))
    resources = _get(data, "event_data", "resources")
    if isinstance(resources, list):
        details["tags"] = [t for t in (_text(_get(r, "tag")) for r in resources[:20]) if t]
    return details


def _check_dockerhub(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    data = _json_object(request.body, "DockerHub")
    return {"repository": _text(_get(data, "repository", "repo_name")), "tag": _text(_get(data, "push_data", "tag"))}


def _check_quay(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    data = _json_object(request.body, "Quay")
    tags = data.get("updated_tags")
    return {
        "repository": _text(data.get("docker_url")),
        "tags": [t[:200] for t in tags[:20] if isinstance(t, str)] if isinstance(tags, list) else None,
    }


def _check_acr(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    data = _json_object(request.body, "ACR")
    return {
        "event": _text(data.get("action")),
        "repository": _text(_get(data, "target", "repository")),
        "tag": _text(_get(data, "target", "tag")),
    }


def _check_nexus(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    signature = request.header("X-Nexus-Webhook-Signature")
    if not signature:
        raise _Rejected(400, "Nexus signature is missing from header")
    expected = hmac.new(token.encode("utf-8"), request.body, hashlib.sha1).hexdigest()
    # Flux compares the hex strings, so only lowercase hex (what Nexus sends) matches
    if not _same(signature, expected):
        raise _Rejected(400, "invalid Nexus signature")
    data = _json_object(request.body, "Nexus")
    return {"event": _text(data.get("action")), "repository": _text(data.get("repositoryName"))}


_CDEVENT_CONTEXT_FIELDS = ("id", "source", "type", "version")


def _check_cdevents(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    event = request.header("Ce-Type")
    data = _json_object(request.body, "CDEvent")
    context = data.get("context")
    if not isinstance(context, dict) or not isinstance(data.get("subject"), dict):
        raise InvalidPayload("unable to validate CDEvent event: it needs a context and a subject object")
    absent = [name for name in _CDEVENT_CONTEXT_FIELDS if not isinstance(context.get(name), str) or not context[name]]
    if absent:
        raise InvalidPayload(f"unable to validate CDEvent event: context lacks {', '.join(absent)}")
    _events_filter(receiver, event, "CDEvent")
    return {"event": event[:200], "cdevent_type": _text(context.get("type"))}


def _check_gcr(receiver: Receiver, token: str, request: HookRequest) -> dict[str, Any]:
    raise _Rejected(
        501,
        "gcr receivers need Google to verify the request's OIDC token, which tagpilot does not do; "
        "use a generic-hmac receiver for Google Artifact Registry notifications",
    )


_CHECKS: dict[str, Callable[[Receiver, str, HookRequest], dict[str, Any]]] = {
    "generic": _check_generic,
    "generic-hmac": _check_generic_hmac,
    "github": _check_github,
    "gitlab": _check_gitlab,
    "bitbucket": _check_bitbucket,
    "harbor": _check_harbor,
    "dockerhub": _check_dockerhub,
    "quay": _check_quay,
    "gcr": _check_gcr,
    "nexus": _check_nexus,
    "acr": _check_acr,
    "cdevents": _check_cdevents,
}


# -- distribution -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestPush:
    """One manifest push from a distribution notification: what changed, and where."""

    repository: str
    tag: str | None
    digest: str | None
    media_type: str
    hosts: tuple[str, ...]  # request.host and the host of target.url, when given


def _normal_host(host: str) -> str:
    host = host.strip().lower()
    name, port = _split_port(host)
    return name if port in ("443", "80") else host


def _split_port(host: str) -> tuple[str, str]:
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1], host[end + 2 :] if end >= 0 and host[end + 1 : end + 2] == ":" else ""
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, ""


def same_registry(a: str, b: str) -> bool:
    """Whether two registry hosts name the same registry: case and default ports ignored, Docker
    Hub's aliases equal, and loopback names (localhost, 127.0.0.1, ::1) equal on the same port."""
    a, b = _normal_host(a), _normal_host(b)
    if a == b:
        return True
    if a in _DOCKER_HUB_HOSTS and b in _DOCKER_HUB_HOSTS:
        return True
    (name_a, port_a), (name_b, port_b) = _split_port(a), _split_port(b)
    return port_a == port_b and name_a in _LOOPBACK_HOSTS and name_b in _LOOPBACK_HOSTS


def parse_distribution_envelope(body: bytes) -> list[ManifestPush]:
    """The manifest pushes in a distribution notification envelope (`{"events": [...]}`).

    Pulls, deletes, mounts and blob pushes are left out. Raises `InvalidPayload` when the body is not
    an envelope at all; an event with missing or mistyped fields is skipped, not fatal, because the
    registry retries a whole envelope that is refused and a retry would fail again."""
    data = _json(body, "distribution notification")
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise InvalidPayload("not a distribution notification envelope: expected a JSON object with an `events` list")
    pushes: list[ManifestPush] = []
    for event in data["events"]:
        if not isinstance(event, dict) or event.get("action") != "push":
            continue
        target = event.get("target")
        if not isinstance(target, dict):
            continue
        media_type = target.get("mediaType")
        repository = target.get("repository")
        if not isinstance(media_type, str) or not isinstance(repository, str) or not repository:
            continue
        if _media_type(media_type) not in MANIFEST_MEDIA_TYPES:
            continue
        hosts: list[str] = []
        request_host = _get(event, "request", "host")
        if isinstance(request_host, str) and request_host:
            hosts.append(request_host)
        url = target.get("url")
        if isinstance(url, str) and url:
            try:
                netloc = urlsplit(url).netloc
            except ValueError:
                netloc = ""
            netloc = netloc.rpartition("@")[2]
            if netloc and netloc not in hosts:
                hosts.append(netloc)
        tag = target.get("tag")
        digest = target.get("digest")
        pushes.append(
            ManifestPush(
                repository=repository,
                tag=tag if isinstance(tag, str) and tag else None,
                digest=digest if isinstance(digest, str) and digest else None,
                media_type=_media_type(media_type),
                hosts=tuple(hosts),
            )
        )
    return pushes


def _push_matches(push: ManifestPush, domain: str, path: str) -> bool:
    if push.repository != path:
        return False
    return not push.hosts or any(same_registry(host, domain) for host in push.hosts)


def distribution_targets(body: bytes, repositories: Iterable[ImageRepository]) -> list[Key]:
    """The ImageRepositories a distribution notification concerns: those whose `spec.image` names
    the repository of a tagged manifest push (`target.repository`) on the same registry host (from
    `request.host` or `target.url`; any host when the event gives none). Sorted, without repeats.

    Raises `InvalidPayload` for a body that is not an envelope (HTTP 400)."""
    return _distribution_targets(parse_distribution_envelope(body), repositories)


def _distribution_targets(pushes: list[ManifestPush], repositories: Iterable[ImageRepository]) -> list[Key]:
    # A manifest pushed by digest alone (an index's children, before the index gets its tag) moves
    # no tag: a scan started for it would run before the tag exists, so only tagged pushes count.
    pushes = [push for push in pushes if push.tag is not None]
    if not pushes:
        return []
    keys: set[Key] = set()
    for repo in repositories:
        try:
            ref = parse_repository(repo.spec.image)
        except InvalidReference:
            continue  # the ImageRepository's own reconcile reports the bad image
        if any(_push_matches(push, ref.domain, ref.path) for push in pushes):
            keys.add(repo.key)
    return sorted(keys)


def _bearer_token(value: str) -> str | None:
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "bearer":  # the auth scheme is case-insensitive (RFC 9110)
        return None
    return credentials.strip()


def _verify_distribution(
    receiver: Receiver, token: str, request: HookRequest, objects: list[Object] | None
) -> tuple[list[Key], dict[str, Any], str]:
    given = _bearer_token(request.header("Authorization"))
    # compare even when absent, so a missing header and a wrong token take the same path
    if not _same(given or "", token) or given is None:
        raise _Rejected(
            401,
            "missing or wrong bearer token in the Authorization header",
            {"WWW-Authenticate": 'Bearer realm="tagpilot"'},
        )
    pushes = parse_distribution_envelope(request.body)
    details: dict[str, Any] = {
        "pushes": [{"repository": p.repository[:255], "tag": p.tag, "digest": p.digest} for p in pushes[:50]]
    }
    if objects is None:
        return [], details, f"{len(pushes)} manifest push(es)"
    if receiver.spec.resources:
        selected = set(resolve(receiver, objects).found)
        candidates = [o for o in objects if isinstance(o, ImageRepository) and o.key in selected]
    else:
        candidates = [o for o in objects if isinstance(o, ImageRepository) and o.namespace == receiver.namespace]
    targets = _distribution_targets(pushes, candidates)
    names = ", ".join(sorted({f"{p.repository}:{p.tag}" if p.tag else p.repository for p in pushes})[:5])
    summary = f"manifest push of {names}" if pushes else "no manifest push"
    return targets, details, summary


# -- the entry point --------------------------------------------------------------------------------


def verify(receiver: Receiver, token: str, request: HookRequest, objects: Iterable[Object] | None = None) -> HookResult:
    """Check `request` against `receiver` (whose Secret holds `token`) and say what to reconcile.

    `objects` is the configuration (every loaded object); the receiver's resources are resolved
    against it (`resolve`). With `objects=None` only the request is checked and `reconcile` is empty.
    """
    rtype = receiver.spec.type
    event: dict[str, Any] = {"type": rtype, "receiver": receiver.ref}
    if request.remote:
        event["remote"] = request.remote

    def reject(status: int, message: str, headers: dict[str, str] | None = None) -> HookResult:
        return HookResult(
            status=status,
            message=f"{receiver.ref}: {message}",
            event={**event, "summary": f"rejected: {message}", "status": status},
            headers=headers or {},
        )

    if len(request.body) > MAX_BODY:
        return reject(413, f"request body larger than {MAX_BODY} bytes")
    if receiver.spec.suspend:
        return reject(503, "the receiver is suspended")
    if not token:
        # Flux would accept an empty token; with it the webhook path is guessable and HMACs are void
        return reject(500, f"Secret {receiver.spec.secret_ref.name} has an empty `token`")
    object_list = None if objects is None else list(objects)

    try:
        if rtype == "distribution":
            reconcile, details, summary = _verify_distribution(receiver, token, request, object_list)
            event.update(details)
            event["summary"] = summary
            event["reconcile"] = [f"{k}/{ns}/{name}" for k, ns, name in reconcile]
            return HookResult(200, f"{receiver.ref}: {summary}", reconcile, event)
        details = _CHECKS[rtype](receiver, token, request)
    except _Rejected as exc:
        return reject(exc.status, exc.message, exc.headers)
    except InvalidPayload as exc:
        return reject(InvalidPayload.status, str(exc))

    event.update({k: v for k, v in details.items() if v is not None})
    what = f"{rtype} event {details['event']!r}" if details.get("event") else f"{rtype} event"
    event["summary"] = f"accepted {what}"
    if object_list is None:
        return HookResult(200, f"{receiver.ref}: accepted {what}", [], event)
    resolution = resolve(receiver, object_list)
    event["reconcile"] = [f"{k}/{ns}/{name}" for k, ns, name in resolution.found]
    if resolution.ignored:
        event["ignored"] = list(resolution.ignored)
    if resolution.missing:
        event["missing"] = list(resolution.missing)
        message = f"{receiver.ref}: not found in the configuration: {', '.join(resolution.missing)}"
        return HookResult(500, message, resolution.found, event)
    return HookResult(200, f"{receiver.ref}: accepted {what}", resolution.found, event)
