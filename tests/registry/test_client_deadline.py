"""A registry cannot hold an operation past its timeout, nor crash it with deeply nested JSON.

These need the FAKE registry (`fake_registry.py`): the real one never answers 429, never hangs and
never sends hostile bodies. The timing bounds below are generous on purpose (4x the timeout): they
check that an operation ends at its deadline instead of after every retry of every hanging request
(~5x the timeout plus backoff before the fix, or never with ``Retry-After: 999999``), not how fast.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from tagpilot.errors import InvalidReference, InvalidResponse, RegistryUnavailable
from tagpilot.registry.client import RegistryClient, RepositoryAccess
from tagpilot.registry.credentials import DockerConfig
from tagpilot.registry.reference import parse_reference

from .fake_registry import FakeRegistry, FakeReply, FakeRequest

NO_CONFIG = DockerConfig()


def access(fake: FakeRegistry, **kwargs) -> RepositoryAccess:
    return RepositoryAccess(parse_reference(f"{fake.host}/demo/app"), **kwargs)


async def test_retry_after_beyond_the_timeout_gives_up_at_once() -> None:
    """The reproduction: 429 with Retry-After: 999999 and timeout 5s ran past 90 s."""
    with FakeRegistry(lambda r: FakeReply.error(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": "999999"})) as f:
        async with RegistryClient(docker_config=NO_CONFIG) as c:  # the real asyncio.sleep
            started = time.monotonic()
            with pytest.raises(RegistryUnavailable) as info:
                await c.list_tags(access(f, timeout=5))
            elapsed = time.monotonic() - started
        assert len(f.requests) == 1  # no point waiting: the answer would come after the deadline
    message = str(info.value)
    assert f.host in message and "429" in message
    assert "Retry-After" in message and "999999s" in message and "5s timeout" in message
    assert elapsed < 20  # 4x the timeout; it returns at once, but CI machines are slow


async def test_retry_after_within_the_timeout_is_honoured() -> None:
    replies = iter([FakeReply(429, b"", {"Retry-After": "1"}), FakeReply.json({"tags": ["a"]})])
    with FakeRegistry(lambda r: next(replies)) as f:
        async with RegistryClient(docker_config=NO_CONFIG) as c:
            assert await c.list_tags(access(f, timeout=10)) == ["a"]


async def test_a_hanging_registry_cannot_outlast_the_timeout() -> None:
    """Every request hangs: before, each of the 5 attempts waited the full timeout (plus backoff)."""
    release = threading.Event()

    def hang(request: FakeRequest) -> FakeReply:
        release.wait(60)
        return FakeReply.json({"tags": []})

    with FakeRegistry(hang) as f:
        try:
            async with RegistryClient(docker_config=NO_CONFIG, backoff_base=0.01) as c:
                started = time.monotonic()
                with pytest.raises(RegistryUnavailable) as info:
                    await c.list_tags(access(f, timeout=2))
                elapsed = time.monotonic() - started
        finally:
            release.set()
    message = str(info.value)
    assert "timed out" in message and f.host in message and "2s timeout" in message
    assert elapsed < 8  # 4x the 2 s timeout: the whole sequence is bounded, not each attempt


async def test_a_caller_deadline_bounds_the_operation() -> None:
    """A scan sets one deadline around everything it does; a sooner outer deadline wins."""
    release = threading.Event()

    def hang(request: FakeRequest) -> FakeReply:
        release.wait(60)
        return FakeReply.json({"tags": []})

    with FakeRegistry(hang) as f:
        try:
            async with RegistryClient(docker_config=NO_CONFIG) as c:
                started = time.monotonic()
                with pytest.raises(RegistryUnavailable) as info:
                    async with c.deadline(1, host=f.host, what="scan of demo/app", source="spec.timeout"):
                        await c.list_tags(access(f, timeout=30))
                elapsed = time.monotonic() - started
        finally:
            release.set()
    assert str(info.value).startswith("scan of demo/app: timed out")
    assert "1s timeout (spec.timeout)" in str(info.value)
    assert elapsed < 4  # 4x the 1 s outer deadline; the inner 30 s one never applies


async def test_deadline_leaves_other_timeouts_alone() -> None:
    """A TimeoutError that is not the deadline's own passes through unchanged."""
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        with pytest.raises(TimeoutError):
            async with c.deadline(30, host="h", what="w"):
                async with asyncio.timeout(0.01):
                    await asyncio.sleep(1)


NESTED = b"[" * 200_000


@pytest.mark.parametrize("body", [NESTED, b'{"tags": ' + b"[" * 100 + b"]" * 100 + b"}"], ids=["200k", "100"])
async def test_deeply_nested_tag_page_is_refused(body: bytes) -> None:
    with FakeRegistry(lambda r: FakeReply(200, body, {"Content-Type": "application/json"})) as f:
        async with RegistryClient(docker_config=NO_CONFIG) as c:
            with pytest.raises(InvalidResponse) as info:
                await c.list_tags(access(f))
    message = str(info.value)
    assert f"the response from {f.host} is nested too deeply" in message and "demo/app" in message


async def test_deeply_nested_manifest_is_refused() -> None:
    with FakeRegistry(lambda r: FakeReply(200, NESTED, {"Content-Type": "application/json"})) as f:
        async with RegistryClient(docker_config=NO_CONFIG) as c:
            with pytest.raises(InvalidResponse) as info:
                await c.get_manifest(access(f), "1.0")
    assert "nested too deeply" in str(info.value) and f.host in str(info.value)


async def test_deeply_nested_token_response_is_refused() -> None:
    def handle(request: FakeRequest) -> FakeReply:
        if request.path == "/token":
            return FakeReply(200, NESTED)
        realm = f"http://{request.headers['host']}/token"
        return FakeReply.error(401, "UNAUTHORIZED", "auth", {"WWW-Authenticate": f'Bearer realm="{realm}",service="r"'})

    with FakeRegistry(handle) as f:
        async with RegistryClient(docker_config=NO_CONFIG) as c:
            with pytest.raises(InvalidResponse) as info:
                await c.list_tags(access(f))
    assert "nested too deeply" in str(info.value) and "token service" in str(info.value)


async def test_deeply_nested_error_body_does_not_crash() -> None:
    with FakeRegistry(lambda r: FakeReply(400, NESTED)) as f:
        async with RegistryClient(docker_config=NO_CONFIG) as c:
            with pytest.raises(Exception) as info:
                await c.list_tags(access(f))
    assert not isinstance(info.value, RecursionError)
    assert "400" in str(info.value)
    json.dumps(str(info.value))  # a plain, short message
    assert len(str(info.value)) < 600


async def test_manifest_refs_are_checked_before_they_reach_a_url() -> None:
    """`get_manifest` tells a tag from a digest through registry/reference.py, not by looking for ':'."""
    with FakeRegistry(lambda r: FakeReply.error(404, "MANIFEST_UNKNOWN", "unknown")) as f:
        async with RegistryClient(docker_config=NO_CONFIG) as c:
            with pytest.raises(InvalidReference):
                await c.get_manifest(access(f), "sha256:../../../v2/_catalog")
            with pytest.raises(InvalidReference):
                await c.get_manifest(access(f), "a/../b")
        assert f.requests == []


async def test_index_with_a_malformed_child_digest_is_an_invalid_response() -> None:
    oci_index = "application/vnd.oci.image.index.v1+json"
    index = json.dumps({"schemaVersion": 2, "mediaType": oci_index,
                        "manifests": [{"mediaType": "x", "digest": "sha256:../../x", "size": 1}]}).encode()
    with FakeRegistry(lambda r: FakeReply(200, index, {"Content-Type": oci_index})) as f:
        async with RegistryClient(docker_config=NO_CONFIG) as c:
            with pytest.raises(InvalidResponse) as info:
                await c.get_manifest(access(f), "multi")
    assert "descriptor without a valid digest" in str(info.value)
