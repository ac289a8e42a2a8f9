"""RegistryClient against the FAKE registry (pagination, retries, limits, bad bodies, auth flows).

See `fake_registry.py` for why these behaviours need a fake; the real-registry tests are in
`test_client_real.py`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator

import pytest

from tagpilot.errors import (
    AuthenticationError,
    InvalidResponse,
    NotFoundError,
    RegistryUnavailable,
    ResponseTooLarge,
)
from tagpilot.registry.cache import MemoryCache
from tagpilot.registry.client import RegistryClient, RepositoryAccess, registry_scheme
from tagpilot.registry.credentials import Credentials, DockerConfig, parse_docker_config
from tagpilot.registry.manifest import OCI_INDEX, OCI_MANIFEST, sha256_digest
from tagpilot.registry.reference import parse_reference

from .fake_registry import FakeRegistry, FakeReply, FakeRequest, paginated_tags

NO_CONFIG = DockerConfig()


class Sleeps:
    """Records requested sleeps instead of sleeping, so retry tests take no wall time."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def access(fake: FakeRegistry, repo: str = "demo/app", **kwargs) -> RepositoryAccess:
    return RepositoryAccess(parse_reference(f"{fake.host}/{repo}"), **kwargs)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def client(sleeps: Sleeps | None = None, **kwargs) -> RegistryClient:
    kwargs.setdefault("docker_config", NO_CONFIG)
    return RegistryClient(sleep=sleeps or Sleeps(), **kwargs)


# -- pagination ------------------------------------------------------------------------------------

TAGS = [f"v{i}" for i in range(2500)]


@pytest.mark.parametrize("absolute", [False, True])
async def test_pagination_follows_links(absolute: bool) -> None:
    holder: dict[str, str] = {}
    with FakeRegistry(lambda r: handler(r)) as fake:
        holder["url"] = fake.url
        handler = paginated_tags("demo/app", TAGS, 1000, absolute=fake.url if absolute else None)
        async with client() as c:
            assert await c.list_tags(access(fake)) == TAGS
        assert [r.query.get("last") for r in fake.requests] == [None, ["v999"], ["v1999"]]
        assert fake.requests[0].query["n"] == ["1000"]


async def test_registry_smaller_page_size_is_respected() -> None:
    with FakeRegistry(paginated_tags("demo/app", TAGS[:95], 10)) as fake:
        async with client() as c:
            assert await c.list_tags(access(fake)) == TAGS[:95]
        assert len(fake.requests) == 10


def _endless(request: FakeRequest) -> FakeReply:
    page = int(request.query.get("page", ["0"])[0])
    return FakeReply.json(
        {"tags": [f"t{page}"]}, headers={"Link": f'</v2/demo/app/tags/list?page={page + 1}>; rel="next"'}
    )


async def test_never_ending_pagination_is_cut() -> None:
    with FakeRegistry(_endless) as fake:
        async with client(max_pages=25) as c:
            with pytest.raises(InvalidResponse) as info:
                await c.list_tags(access(fake))
        assert "registry kept paginating" in str(info.value)
        assert "25 pages" in str(info.value)
        assert len(fake.requests) == 25


async def test_too_many_tags() -> None:
    with FakeRegistry(_endless) as fake:
        async with client(max_tags=10) as c:
            with pytest.raises(InvalidResponse) as info:
                await c.list_tags(access(fake))
        assert "more than 10 tags" in str(info.value)


async def test_pagination_loop_detected() -> None:
    def loop(request: FakeRequest) -> FakeReply:
        return FakeReply.json({"tags": ["a"]}, headers={"Link": '</v2/demo/app/tags/list?n=1000>; rel="next"'})

    with FakeRegistry(loop) as fake:
        async with client() as c:
            with pytest.raises(InvalidResponse) as info:
                await c.list_tags(access(fake))
        assert "repeats an earlier link" in str(info.value)
        assert len(fake.requests) == 1


async def test_next_link_to_other_host_refused() -> None:
    def away(request: FakeRequest) -> FakeReply:
        return FakeReply.json({"tags": ["a"]}, headers={"Link": '<http://evil.example/v2/x>; rel="next"'})

    with FakeRegistry(away) as fake:
        async with client() as c:
            with pytest.raises(InvalidResponse) as info:
                await c.list_tags(access(fake))
        assert "another host" in str(info.value)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"name": "demo/app", "tags": null}', []),
        (b'{"name": "demo/app"}', []),
        (b'{"tags": ["b", "a", "b"]}', ["b", "a", "b"]),
    ],
)
async def test_tag_bodies(body: bytes, expected: list[str]) -> None:
    with FakeRegistry(lambda r: FakeReply(200, body)) as fake:
        async with client() as c:
            assert await c.list_tags(access(fake)) == expected


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"tags": [', "not valid JSON"),
        (b"<html>oops</html>", "not valid JSON"),
        (b'["a"]', "not a JSON object"),
        (b'{"tags": "a"}', "list of strings"),
        (b'{"tags": [1, 2]}', "list of strings"),
    ],
)
async def test_malformed_tag_bodies(body: bytes, why: str) -> None:
    with FakeRegistry(lambda r: FakeReply(200, body)) as fake:
        async with client() as c:
            with pytest.raises(InvalidResponse) as info:
                await c.list_tags(access(fake))
        assert why in str(info.value)
        assert "demo/app" in str(info.value)


def _endless_body() -> Iterator[bytes]:
    yield b'{"tags": ['
    for i in range(100_000):
        yield b'"%d",' % i * 100


async def test_huge_streamed_body_is_cut() -> None:
    with FakeRegistry(lambda r: FakeReply(200, _endless_body())) as fake:
        async with client(max_tag_page_bytes=256 * 1024) as c:
            with pytest.raises(ResponseTooLarge) as info:
                await c.list_tags(access(fake))
        assert "262144-byte limit" in str(info.value)


async def test_huge_declared_body_is_refused() -> None:
    body = json.dumps({"tags": [f"t{i}" for i in range(50_000)]}).encode()
    with FakeRegistry(lambda r: FakeReply(200, body)) as fake:
        async with client(max_tag_page_bytes=1000) as c:
            with pytest.raises(ResponseTooLarge):
                await c.list_tags(access(fake))


# -- errors and retries ----------------------------------------------------------------------------


async def test_404_name_unknown() -> None:
    with FakeRegistry(paginated_tags("demo/app", TAGS, 10)) as fake:
        async with client() as c:
            with pytest.raises(NotFoundError) as info:
                await c.list_tags(access(fake, "demo/nope"))
        assert "NAME_UNKNOWN" in str(info.value)
        assert f"{fake.host}/demo/nope" in str(info.value)


async def test_429_retry_after_is_honoured(sleeps: Sleeps) -> None:
    calls = {"n": 0}

    def limited(request: FakeRequest) -> FakeReply:
        calls["n"] += 1
        if calls["n"] <= 2:
            return FakeReply.error(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": "7"})
        return FakeReply.json({"tags": ["ok"]})

    with FakeRegistry(limited) as fake:
        async with client(sleeps, backoff_base=0.01) as c:
            assert await c.list_tags(access(fake)) == ["ok"]
    assert len(sleeps.delays) == 2
    assert all(d >= 7 for d in sleeps.delays)


async def test_retry_after_is_capped(sleeps: Sleeps) -> None:
    replies = iter([FakeReply(429, b"", {"Retry-After": "86400"}), FakeReply.json({"tags": []})])
    with FakeRegistry(lambda r: next(replies)) as fake:
        async with client(sleeps, max_retry_after=30) as c:
            # a timeout that leaves room for the 30 s wait: a Retry-After past the timeout gives up at
            # once instead (test_client_deadline.py)
            assert await c.list_tags(access(fake, timeout=60)) == []
    assert sleeps.delays == [30]


async def test_5xx_gives_up_after_retries(sleeps: Sleeps) -> None:
    with FakeRegistry(lambda r: FakeReply.error(503, "UNAVAILABLE", "maintenance")) as fake:
        async with client(sleeps, retries=3, backoff_base=1.0, backoff_cap=100) as c:
            with pytest.raises(RegistryUnavailable) as info:
                await c.list_tags(access(fake))
        assert len(fake.requests) == 4
    assert "503" in str(info.value) and "4 attempt" in str(info.value)
    # Exponential with equal jitter: attempt k waits within [2**k / 2, 2**k].
    for k, delay in enumerate(sleeps.delays):
        assert 2**k / 2 <= delay <= 2**k


async def test_400_is_not_retried(sleeps: Sleeps) -> None:
    with FakeRegistry(lambda r: FakeReply.error(400, "PAGINATION_NUMBER_INVALID", "bad n")) as fake:
        async with client(sleeps) as c:
            with pytest.raises(Exception) as info:
                await c.list_tags(access(fake))
        assert len(fake.requests) == 1
    assert "PAGINATION_NUMBER_INVALID" in str(info.value)
    assert sleeps.delays == []


async def test_unreachable_host(sleeps: Sleeps) -> None:
    fake = FakeRegistry(lambda r: FakeReply())
    host = fake.host
    fake.stop()  # the port is closed now
    ref = parse_reference(f"{host}/demo/app")
    async with client(sleeps, retries=2) as c:
        with pytest.raises(RegistryUnavailable) as info:
            await c.list_tags(RepositoryAccess(ref))
    assert host in str(info.value) and "3 attempt" in str(info.value)
    assert len(sleeps.delays) == 2


async def test_timeout_is_unavailable(sleeps: Sleeps) -> None:
    release = threading.Event()

    def slow(request: FakeRequest) -> FakeReply:
        release.wait(5)
        return FakeReply.json({"tags": []})

    with FakeRegistry(slow) as fake:
        async with client(sleeps, retries=0) as c:
            with pytest.raises(RegistryUnavailable) as info:
                await c.list_tags(access(fake, timeout=0.2))
        release.set()
    assert "timed out" in str(info.value)


async def test_concurrency_is_bounded_per_registry() -> None:
    state = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def counting(request: FakeRequest) -> FakeReply:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return FakeReply.json({"tags": ["a"]})

    import asyncio

    with FakeRegistry(counting) as fake:
        async with client(max_concurrency_per_registry=2) as c:
            results = await asyncio.gather(*(c.list_tags(access(fake, f"r/{i}")) for i in range(8)))
            assert results == [["a"]] * 8
            assert c.limits_for(fake.host).max_in_flight <= 2
    assert state["peak"] <= 2


# -- auth ------------------------------------------------------------------------------------------


class TokenRegistry:
    """Fake registry + token service: Bearer challenge, tokens checked, counted and expirable."""

    def __init__(self, user: str = "alice", password: str = "wonder-s3cret", refresh: str = "refresh-xyz"):
        self.user, self.password, self.refresh = user, password, refresh
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.fake = FakeRegistry(self.handle)

    def handle(self, request: FakeRequest) -> FakeReply:
        if request.path == "/token":
            return self.token(request)
        auth = request.authorization or ""
        if not auth.startswith("Bearer ") or auth[7:] not in self.valid:
            scope = "repository:demo/app:pull" if "/demo/app/" in request.path else None
            challenge = f'Bearer realm="{self.fake.url}/token",service="fake-registry"'
            if scope:
                challenge += f',scope="{scope}"'
            return FakeReply.error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
        if request.path.endswith("/tags/list"):
            return FakeReply.json({"tags": ["1", "2"]})
        return FakeReply.json({})

    def token(self, request: FakeRequest) -> FakeReply:
        if request.method == "POST":
            form = {k: v[0] for k, v in __import__("urllib.parse").parse.parse_qs(request.body.decode()).items()}
            if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh:
                return FakeReply.error(401, "UNAUTHORIZED", "bad refresh token")
            assert form.get("service") == "fake-registry"
        else:
            assert request.query.get("service") == ["fake-registry"]
            auth = request.authorization
            if auth is not None:
                user, _, password = base64.b64decode(auth.split(" ", 1)[1]).decode().partition(":")
                if (user, password) != (self.user, self.password):
                    return FakeReply.error(401, "UNAUTHORIZED", "invalid username or password")
        token = f"tok-{len(self.issued)}"
        self.issued.append(token)
        self.valid.add(token)
        key = "access_token" if len(self.issued) % 2 else "token"
        return FakeReply.json({key: token, "expires_in": 300})


async def test_bearer_flow_caches_tokens() -> None:
    server = TokenRegistry()
    with server.fake as fake:
        creds = Credentials(server.user, server.password)
        async with client() as c:
            for _ in range(5):
                assert await c.list_tags(access(fake, credentials=creds)) == ["1", "2"]
        # One 401, one token, then the token is sent up front.
        assert len(server.issued) == 1
        assert fake.count("GET", "/tags/list") == 6
        assert fake.count("GET", "/token") == 1


async def test_bearer_token_expiry_refetches() -> None:
    server = TokenRegistry()
    now = [1000.0]
    with server.fake as fake:
        async with client(clock=lambda: now[0]) as c:
            a = access(fake)  # anonymous tokens
            await c.list_tags(a)
            await c.list_tags(a)
            assert len(server.issued) == 1
            now[0] += 301
            await c.list_tags(a)
            assert len(server.issued) == 2


async def test_bearer_revoked_token_is_replaced() -> None:
    server = TokenRegistry()
    with server.fake as fake:
        async with client() as c:
            await c.list_tags(access(fake))
            server.valid.clear()  # the registry forgets every token
            assert await c.list_tags(access(fake)) == ["1", "2"]
        assert len(server.issued) == 2


async def test_bearer_wrong_password() -> None:
    server = TokenRegistry()
    with server.fake as fake:
        async with client() as c:
            with pytest.raises(AuthenticationError) as info:
                await c.list_tags(access(fake, credentials=Credentials("alice", "wrong-pass-123")))
    message = str(info.value)
    assert f"authentication to {fake.host} failed" in message
    assert "401" in message and "alice" in message
    assert "wrong-pass-123" not in message


async def test_identity_token_uses_refresh_grant() -> None:
    server = TokenRegistry()
    with server.fake as fake:
        async with client() as c:
            creds = Credentials(identity_token=server.refresh)
            assert await c.list_tags(access(fake, credentials=creds)) == ["1", "2"]
        assert fake.count("POST", "/token") == 1


async def test_registry_token_is_sent_directly() -> None:
    server = TokenRegistry()
    server.valid.add("preissued")
    with server.fake as fake:
        async with client() as c:
            creds = Credentials(registry_token="preissued")
            assert await c.list_tags(access(fake, credentials=creds)) == ["1", "2"]
        assert server.issued == []


def basic_registry(user: str, password: str) -> FakeRegistry:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def handle(request: FakeRequest) -> FakeReply:
        if request.authorization != expected:
            return FakeReply.error(
                401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": 'Basic realm="fake"'}
            )
        return FakeReply.json({"tags": ["x"]})

    return FakeRegistry(handle)


async def test_basic_auth_from_docker_config() -> None:
    with basic_registry("bob", "builder-pw") as fake:
        config = parse_docker_config(
            {"auths": {f"http://{fake.host}": {"auth": base64.b64encode(b"bob:builder-pw").decode()}}}
        )
        async with client(docker_config=config) as c:
            assert await c.list_tags(access(fake)) == ["x"]
            assert await c.list_tags(access(fake)) == ["x"]
        # The second call sent Basic credentials up front.
        assert len(fake.requests) == 3


async def test_basic_auth_wrong_and_missing() -> None:
    with basic_registry("bob", "builder-pw") as fake:
        async with client() as c:
            with pytest.raises(AuthenticationError) as info:
                await c.list_tags(access(fake, credentials=Credentials("bob", "nope-nope")))
            assert "nope-nope" not in str(info.value)
            assert "401 UNAUTHORIZED" in str(info.value)
            with pytest.raises(AuthenticationError) as info:
                await c.list_tags(access(fake))
            assert "no credentials were found" in str(info.value)


async def test_403_is_authentication_error() -> None:
    with FakeRegistry(lambda r: FakeReply.error(403, "DENIED", "requested access to the resource is denied")) as f:
        async with client() as c:
            with pytest.raises(AuthenticationError) as info:
                await c.list_tags(access(f))
    assert "403 FORBIDDEN DENIED" in str(info.value)


# -- manifests -------------------------------------------------------------------------------------


def _blob(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True).encode()


class ManifestRegistry:
    """Serves a fixed set of manifests and blobs; can drop the digest header or refuse HEAD."""

    def __init__(self, head_405: bool = False, send_digest: bool = True) -> None:
        self.head_405, self.send_digest = head_405, send_digest
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.fake = FakeRegistry(self.handle)

    def add_image(self, tag: str, created: str, platform: tuple[str, str, str | None], labels: dict) -> str:
        config = _blob(
            {
                "created": created,
                "os": platform[0],
                "architecture": platform[1],
                **({"variant": platform[2]} if platform[2] else {}),
                "config": {"Labels": labels},
            }
        )
        self.blobs[sha256_digest(config)] = config
        manifest = _blob(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "x", "digest": sha256_digest(config), "size": len(config)},
                "layers": [],
            }
        )
        digest = sha256_digest(manifest)
        self.manifests[digest] = (OCI_MANIFEST, manifest)
        self.manifests[tag] = (OCI_MANIFEST, manifest)
        return digest

    def add_index(self, tag: str, children: list[tuple[str, tuple[str, str, str | None]]]) -> str:
        entries = []
        for digest, plat in children:
            platform = {"os": plat[0], "architecture": plat[1], **({"variant": plat[2]} if plat[2] else {})}
            entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": 1, "platform": platform})
        entries.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": next(iter(self.manifests)),
                "size": 1,
                "platform": {"os": "unknown", "architecture": "unknown"},
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            }
        )
        index = _blob({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        digest = sha256_digest(index)
        self.manifests[digest] = self.manifests[tag] = (OCI_INDEX, index)
        return digest

    def handle(self, request: FakeRequest) -> FakeReply:
        parts = request.path.split("/")
        kind, ref = parts[-2], parts[-1]
        if kind == "manifests":
            if request.method == "HEAD" and self.head_405:
                return FakeReply(405)
            if ref not in self.manifests:
                return FakeReply.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            assert OCI_INDEX in request.headers.get("accept", "")
            media_type, body = self.manifests[ref]
            headers = {"Content-Type": media_type}
            if self.send_digest:
                headers["Docker-Content-Digest"] = sha256_digest(body)
            return FakeReply(200, body, headers)
        if kind == "blobs" and ref in self.blobs:
            return FakeReply(200, self.blobs[ref])
        return FakeReply.error(404, "BLOB_UNKNOWN", "blob unknown")


async def test_single_image_metadata_and_cache() -> None:
    reg = ManifestRegistry()
    digest = reg.add_image("1.0", "2024-05-06T07:08:09.123456789Z", ("linux", "amd64", None), {"a": "b"})
    cache = MemoryCache()
    with reg.fake as fake:
        async with client(cache=cache) as c:
            meta = await c.image_metadata(access(fake), "1.0")
            assert meta.digest == digest
            assert meta.created is not None and meta.created.isoformat() == "2024-05-06T07:08:09.123456+00:00"
            assert meta.platforms == ["linux/amd64"]
            assert meta.labels == {"a": "b"}
            first = len(fake.requests)
            assert first == 3  # HEAD, manifest GET, config GET
            again = await c.image_metadata(access(fake), "1.0")
            assert again == meta
            assert len(fake.requests) == first + 1  # only the HEAD: the rest is content-addressed
        # A new client with the same cache (a restart with a persistent cache) fetches no content.
        async with client(cache=cache) as c:
            await c.image_metadata(access(fake), "1.0")
        assert [r.method for r in fake.requests[first + 1 :]] == ["HEAD"]


async def test_index_metadata_platforms() -> None:
    reg = ManifestRegistry()
    amd = reg.add_image("amd", "2024-01-01T00:00:00Z", ("linux", "amd64", None), {"arch": "amd"})
    arm = reg.add_image("arm", "2024-02-01T00:00:00+01:00", ("linux", "arm64", "v8"), {"arch": "arm"})
    index = reg.add_index("multi", [(amd, ("linux", "amd64", None)), (arm, ("linux", "arm64", "v8"))])
    with reg.fake as fake:
        async with client() as c:
            meta = await c.image_metadata(access(fake), "multi")
            assert meta.digest == index
            assert meta.media_type == OCI_INDEX
            assert meta.platforms == ["linux/amd64", "linux/arm64/v8"]
            assert meta.created is not None and meta.created.isoformat() == "2024-01-31T23:00:00+00:00"
            assert meta.labels == {"arch": "amd"}
            assert meta.platform_digests == {"linux/amd64": amd, "linux/arm64/v8": arm}
            only_arm = await c.image_metadata(access(fake), "multi", platforms=["linux/arm64"])
            assert list(only_arm.platform_created) == ["linux/arm64/v8"]
            assert only_arm.labels == {"arch": "arm"}


@pytest.mark.parametrize(("head_405", "send_digest"), [(True, True), (False, False)])
async def test_digest_without_head(head_405: bool, send_digest: bool) -> None:
    reg = ManifestRegistry(head_405=head_405, send_digest=send_digest)
    digest = reg.add_image("1", "2024-01-01T00:00:00Z", ("linux", "amd64", None), {})
    with reg.fake as fake:
        async with client() as c:
            assert await c.head_digest(access(fake), "1") == digest
            assert fake.count("GET") == 1


async def test_manifest_digest_mismatch_rejected() -> None:
    reg = ManifestRegistry()
    reg.add_image("1", "2024-01-01T00:00:00Z", ("linux", "amd64", None), {})
    wrong = "sha256:" + "0" * 64
    reg.manifests[wrong] = reg.manifests["1"]
    with reg.fake as fake:
        async with client() as c:
            with pytest.raises(InvalidResponse) as info:
                await c.get_manifest(access(fake), wrong)
    assert "does not match its digest" in str(info.value)


async def test_manifest_unknown_tag() -> None:
    reg = ManifestRegistry()
    with reg.fake as fake:
        async with client() as c:
            with pytest.raises(NotFoundError):
                await c.image_metadata(access(fake), "nope")


def test_registry_scheme() -> None:
    assert registry_scheme("ghcr.io") == "https"
    assert registry_scheme("ghcr.io", insecure=True) == "http"
    assert registry_scheme("127.0.0.1:5000") == "http"
    assert registry_scheme("localhost:5000") == "http"
    assert registry_scheme("[::1]:5000") == "http"
    assert registry_scheme("192.168.1.4:5000") == "http"
    assert registry_scheme("10.0.0.1") == "http"
    assert registry_scheme("8.8.8.8:443") == "https"
    assert registry_scheme("index.docker.io") == "https"


async def test_requests_per_second_limit() -> None:
    now = [0.0]

    async def sleep(delay: float) -> None:
        now[0] += delay

    with FakeRegistry(lambda r: FakeReply.json({"tags": []})) as fake:
        async with RegistryClient(
            docker_config=NO_CONFIG, requests_per_second=5, clock=lambda: now[0], sleep=sleep
        ) as c:
            for _ in range(11):
                await c.list_tags(access(fake))
    # Five per second on the fake clock: the burst of 5, then 6 more take 1.2 s.
    assert now[0] == pytest.approx(1.2)


# -- scheme: https first, http fallback (go-containerregistry's ping) ------------------------------


@pytest.mark.parametrize("tls_hello", ["garbage", "hang", "close"])
async def test_plain_http_loopback_falls_back_to_http_once(tls_hello: str) -> None:
    # 127.0.0.1 is an http host for ggcr: https is tried first, then http; the answer is kept, so a
    # client pings once however many requests follow (and a server that hangs on the TLS hello is
    # overtaken by the http ping after the head start, not waited for until the timeout)
    with FakeRegistry(lambda r: FakeReply.json({"tags": ["a"]}), tls_hello=tls_hello) as fake:  # type: ignore[arg-type]
        async with client() as c:
            for _ in range(3):
                assert await c.list_tags(access(fake, timeout=30)) == ["a"]
            assert await c.resolve_scheme(access(fake)) == "http"
            assert c.probe_count == 2  # one https leg, one http leg
            assert c.request_count == 3
        assert fake.tls_hellos == 1
        assert len(fake.pings) == 1
        assert len(fake.requests) == 3


async def test_concurrent_first_requests_share_one_probe() -> None:
    import asyncio

    with FakeRegistry(lambda r: FakeReply.json({"tags": ["a"]})) as fake:
        async with client() as c:
            results = await asyncio.gather(*(c.list_tags(access(fake, f"r/{i}")) for i in range(6)))
        assert results == [["a"]] * 6
        assert fake.tls_hellos == 1 and len(fake.pings) == 1


@pytest.mark.parametrize("status", [404, 500])
async def test_probe_answered_with_an_error_still_settles_on_http(status: int) -> None:
    # ggcr would fail the ping; we let the real request speak, and remember http (the server answered)
    with FakeRegistry(lambda r: FakeReply.json({"tags": ["a"]}), ping=FakeReply(status)) as fake:
        async with client() as c:
            assert await c.list_tags(access(fake)) == ["a"]
            assert await c.list_tags(access(fake)) == ["a"]
        assert len(fake.pings) == 1


async def test_probe_is_not_remembered_when_nothing_answers(sleeps: Sleeps) -> None:
    fake = FakeRegistry(lambda r: FakeReply())
    fake.stop()  # the port refuses connections: no scheme can be decided
    async with client(sleeps, retries=0) as c:
        for _ in range(2):
            with pytest.raises(RegistryUnavailable) as info:
                await c.list_tags(RepositoryAccess(parse_reference(f"{fake.host}/demo/app")))
            assert "connection failed" in str(info.value)
        assert c.probe_count == 4  # probed again on the second call (the registry may be up by then)


async def test_https_hosts_are_not_probed() -> None:
    async with client() as c:
        ref = parse_reference("ghcr.io/fluxcd/source-controller")
        assert await c.resolve_scheme(RepositoryAccess(ref)) == "https"
        assert c.probe_count == 0


# -- 404 on a manifest HEAD: the GET tells the registry's code ------------------------------------


@pytest.mark.parametrize(
    ("handler", "code"),
    [
        (None, "MANIFEST_UNKNOWN"),
        (lambda r: FakeReply.error(404, "NAME_UNKNOWN", "repository name not known to registry"), "NAME_UNKNOWN"),
    ],
    ids=["manifest-unknown", "name-unknown"],
)
async def test_head_404_reports_the_registry_code(handler, code: str) -> None:
    reg = ManifestRegistry()
    fake = reg.fake if handler is None else FakeRegistry(handler)
    with fake:
        async with client() as c:
            with pytest.raises(NotFoundError) as info:
                await c.head_digest(access(fake), "nope")
        assert [r.method for r in fake.requests] == ["HEAD", "GET"]
    message = str(info.value)
    assert code in message
    assert f"{fake.host}/demo/app:nope" in message


async def test_head_404_then_get_200_returns_the_digest() -> None:
    # the tag appeared between the HEAD and the GET: the GET's answer is the truth
    reg = ManifestRegistry()
    digest = reg.add_image("1", "2024-01-01T00:00:00Z", ("linux", "amd64", None), {})
    handle = reg.handle
    reg.fake.handler = lambda r: FakeReply.error(404, "MANIFEST_UNKNOWN", "x") if r.method == "HEAD" else handle(r)
    with reg.fake as fake:
        async with client() as c:
            assert await c.head_digest(access(fake), "1") == digest
