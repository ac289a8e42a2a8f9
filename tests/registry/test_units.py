"""Pure pieces of the registry client: challenge parsing, token cache, backoff, manifests, caches."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.errors import InvalidResponse
from tagpilot.registry.auth import (
    Challenge,
    TokenCache,
    parse_www_authenticate,
    pick_challenge,
    token_lifetime,
)
from tagpilot.registry.cache import DiskCache, MemoryCache
from tagpilot.registry.client import _next_link
from tagpilot.registry.limits import TokenBucket, backoff_delay, parse_retry_after
from tagpilot.registry.manifest import (
    DOCKER_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Platform,
    parse_config,
    parse_created,
    parse_manifest,
    sha256_digest,
)

HUB = 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            HUB,
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/alpine:pull",
                    },
                )
            ],
        ),
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        ("basic realm=x", [Challenge("basic", {"realm": "x"})]),
        (
            'Basic realm="a", Bearer realm="b", service=s',
            [Challenge("basic", {"realm": "a"}), Challenge("bearer", {"realm": "b", "service": "s"})],
        ),
        ('Bearer realm="a\\"b,c"', [Challenge("bearer", {"realm": 'a"b,c'})]),
        (
            "Negotiate abc==, Basic realm=x",
            [Challenge("negotiate", {"token68": "abc=="}), Challenge("basic", {"realm": "x"})],
        ),
        ('Bearer realm="unterminated', [Challenge("bearer", {"realm": "unterminated"})]),
        ("", []),
        ("Bearer", [Challenge("bearer", {})]),
    ],
)
def test_parse_www_authenticate(header: str, expected: list[Challenge]) -> None:
    assert parse_www_authenticate(header) == expected


@given(st.text(max_size=200))
def test_parse_www_authenticate_never_raises(header: str) -> None:
    for challenge in parse_www_authenticate(header):
        assert challenge.scheme == challenge.scheme.lower()


def test_pick_challenge_prefers_bearer() -> None:
    challenges = parse_www_authenticate('Basic realm="a", Bearer realm="b"')
    assert pick_challenge(challenges) == Challenge("bearer", {"realm": "b"})
    assert pick_challenge(parse_www_authenticate("Negotiate")) is None


@pytest.mark.parametrize(("expires_in", "lifetime"), [(None, 60), (30, 60), (300, 300), ("300", 60), (True, 60)])
def test_token_lifetime(expires_in: object, lifetime: float) -> None:
    assert token_lifetime(expires_in) == lifetime


def test_token_cache_expiry() -> None:
    now = [0.0]
    cache = TokenCache(lambda: now[0])
    cache.put("h", "repository:a:pull", "anon", "T", 100)
    assert cache.get("h", "repository:a:pull", "anon") == "T"
    assert cache.get("h", "repository:b:pull", "anon") is None
    assert cache.get("h", "repository:a:pull", "other-creds") is None
    now[0] = 89.0
    assert cache.get("h", "repository:a:pull", "anon") == "T"
    now[0] = 90.0  # refreshed a little before the registry's expiry
    assert cache.get("h", "repository:a:pull", "anon") is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("0", 0.0),
        (" 12 ", 12.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = dt.datetime(2015, 10, 21, 7, 28, 0, tzinfo=dt.UTC)
    assert parse_retry_after(value, now) == seconds


@given(st.integers(0, 20), st.floats(0, 1), st.one_of(st.none(), st.floats(0, 10_000)))
def test_backoff_bounds(attempt: int, r: float, retry_after: float | None) -> None:
    delay = backoff_delay(attempt, base=0.5, cap=30, retry_after=retry_after, max_retry_after=120, rand=lambda: r)
    exp = min(30, 0.5 * 2**attempt)
    assert exp / 2 <= delay or (retry_after is not None and delay >= min(retry_after, 120))
    assert delay <= max(exp, min(retry_after or 0, 120))
    if retry_after is not None:
        assert delay >= min(retry_after, 120)


async def test_token_bucket_rate() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(d: float) -> None:
        slept.append(d)
        now[0] += d

    bucket = TokenBucket(2.0, burst=2, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):
        await bucket.acquire()
    # Two immediately (burst), then one every half second on the fake clock.
    assert now[0] == pytest.approx(2.0)
    assert len(slept) == 4


async def test_token_bucket_concurrent_waiters() -> None:
    now = [0.0]

    async def sleep(d: float) -> None:
        now[0] += d
        await asyncio.sleep(0)

    bucket = TokenBucket(10.0, burst=1, clock=lambda: now[0], sleep=sleep)
    await asyncio.gather(*(bucket.acquire() for _ in range(11)))
    assert now[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("headers", "target"),
    [
        ({"Link": '</v2/a/tags/list?n=2&last=b>; rel="next"'}, "/v2/a/tags/list?n=2&last=b"),
        ({"Link": "<https://r.io/v2/a/tags/list?last=b>; rel=next"}, "https://r.io/v2/a/tags/list?last=b"),
        ({"Link": '</prev>; rel="prev", </next,x>; rel="next"'}, "/next,x"),
        ({"Link": '</x>; rel="prev next"'}, "/x"),
        ({"Link": '</x>; rel="prev"'}, None),
        ({"Link": "garbage"}, None),
        ({}, None),
    ],
)
def test_next_link(headers: dict[str, str], target: str | None) -> None:
    import httpx

    assert _next_link(httpx.Headers(headers)) == target


def test_platform_matching() -> None:
    arm64 = Platform("linux", "arm64")
    assert arm64.matches(Platform.parse("linux/arm64/v8"))
    assert Platform("linux", "arm64", "v8").matches(Platform.parse("linux/arm64"))
    assert not Platform("linux", "arm", "v6").matches(Platform.parse("linux/arm/v7"))
    assert not Platform("windows", "amd64").matches(Platform.parse("linux/amd64"))
    assert str(Platform.parse("Linux/ARM/v7")) == "linux/arm/v7"
    with pytest.raises(ValueError):
        Platform.parse("linux")


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2024-05-06T07:08:09Z", "2024-05-06T07:08:09+00:00"),
        ("2024-05-06T07:08:09.123456789Z", "2024-05-06T07:08:09.123456+00:00"),
        ("2024-05-06T07:08:09.5+02:00", "2024-05-06T05:08:09.500000+00:00"),
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00+00:00"),
        ("0001-01-01T00:00:00Z", None),  # Go's zero time: unknown
        ("2024-13-01T00:00:00Z", None),
        ("yesterday", None),
        (None, None),
        (12, None),
    ],
)
def test_parse_created(text: object, iso: str | None) -> None:
    got = parse_created(text)
    assert (got.isoformat() if got else None) == iso


def test_parse_manifest_kinds() -> None:
    cfg = {"mediaType": "c", "digest": "sha256:" + "1" * 64, "size": 3}
    single = json.dumps({"schemaVersion": 2, "config": cfg, "layers": []}).encode()
    m = parse_manifest(single, sha256_digest(single))
    assert m.media_type == OCI_MANIFEST and not m.is_index and m.config is not None
    index = json.dumps({"schemaVersion": 2, "manifests": [dict(cfg, platform={"os": "linux"})]}).encode()
    assert parse_manifest(index, "d").media_type == OCI_INDEX
    listed = parse_manifest(index, "d", content_type=f"{DOCKER_LIST}; charset=utf-8")
    assert listed.media_type == DOCKER_LIST and listed.is_index
    assert listed.manifests[0].platform is None  # no architecture: not a platform


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"schemaVersion": 1, "fsLayers": []}', "schema 1"),
        (b'{"mediaType": "text/plain"}', "unsupported manifest media type"),
        (b'{"mediaType": "' + OCI_INDEX.encode() + b'", "manifests": {}}', "'manifests' list"),
        (b'{"mediaType": "' + OCI_MANIFEST.encode() + b'"}', "'config' descriptor"),
        (b'{"config": {"size": 1}}', "valid digest"),
    ],
)
def test_parse_manifest_rejects(body: bytes, why: str) -> None:
    with pytest.raises(InvalidResponse) as info:
        parse_manifest(body, "d")
    assert why in str(info.value)


def test_parse_config() -> None:
    body = json.dumps(
        {
            "created": "2024-01-02T03:04:05Z",
            "os": "linux",
            "architecture": "arm",
            "variant": "v7",
            "config": {"Labels": {"a": "b", "n": 1, "bad": {"x": 1}}},
        }
    ).encode()
    config = parse_config(body)
    assert str(config.platform) == "linux/arm/v7"
    assert config.labels == {"a": "b", "n": "1"}
    assert config.created == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    empty = parse_config(b'{"config": {"Labels": null}}')
    assert (empty.created, empty.platform, empty.labels) == (None, None, {})


def test_memory_cache_lru() -> None:
    cache = MemoryCache(max_bytes=10)
    cache.put("a", "t", b"12345")
    cache.put("b", "t", b"12345")
    assert cache.get("a") == b"12345"  # a is now most recent
    cache.put("c", "t", b"123")
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    cache.put("huge", "t", b"x" * 11)
    assert cache.get("huge") is None


def test_disk_cache_verifies(tmp_path) -> None:
    cache = DiskCache(tmp_path)
    body = b'{"hello": "world"}'
    digest = sha256_digest(body)
    assert cache.get(digest) is None
    cache.put(digest, "t", body)
    assert DiskCache(tmp_path).get(digest) == body
    (tmp_path / "sha256" / digest.split(":")[1]).write_bytes(b"corrupted")
    assert cache.get(digest) is None  # corrupt entries are misses, and removed
    assert not (tmp_path / "sha256" / digest.split(":")[1]).exists()
    cache.put("../../etc/passwd", "t", body)  # not a digest: ignored
    assert cache.get("../../etc/passwd") is None
