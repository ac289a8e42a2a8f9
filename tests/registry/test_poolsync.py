"""httpcore's synchronisation on plain asyncio (registry/poolsync.py).

The module swaps httpcore's anyio-based locks, events, semaphores and shields for asyncio's, in the
whole process: these tests pin what httpcore relies on them for. A pool that is full still times
out with httpcore's `PoolTimeout` (httpx's `PoolTimeout` to the caller); requests cancelled halfway
leave no connection or lock held; and a shield still holds back an anyio cancel scope's
cancellation, the one case where anyio's shield does anything. The server is the FAKE registry of
fake_registry.py (a real threaded HTTP server on 127.0.0.1) with a handler that can be slow.
"""

from __future__ import annotations

import asyncio
import time

import anyio
import httpcore
import httpx
import pytest

from tagpilot.registry import netbackend, poolsync
from tagpilot.registry.client import RegistryClient
from tagpilot.registry.credentials import DockerConfig

from .fake_registry import FakeRegistry, FakeReply, FakeRequest


def _slow_or_fast(request: FakeRequest) -> FakeReply:
    if request.path.startswith("/slow"):
        time.sleep(0.5)
    return FakeReply.json({"path": request.path})


def _client(max_connections: int, pool_timeout: float = 5.0) -> httpx.AsyncClient:
    """An httpx client set up as the registry client sets up its own."""
    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=max_connections),
                               timeout=httpx.Timeout(5.0, pool=pool_timeout))
    assert netbackend.install(client._transport)
    poolsync.install()
    return client


async def test_the_registry_client_installs_the_asyncio_classes() -> None:
    async with RegistryClient(docker_config=DockerConfig()) as client:
        client._http("http", "127.0.0.1:1", None)
    from httpcore._async import connection, connection_pool, http2, http11

    assert connection_pool.AsyncEvent is poolsync.AsyncioEvent
    assert connection_pool.AsyncShieldCancellation is poolsync.AsyncioShield
    assert connection.AsyncLock is poolsync.AsyncioLock
    assert http11.AsyncLock is poolsync.AsyncioLock
    assert http2.AsyncSemaphore is poolsync.AsyncioSemaphore
    assert httpcore.AsyncConnectionPool.handle_async_request is poolsync._reclaiming_handle_async_request
    assert poolsync.install() == 0  # once per process


async def test_a_full_pool_still_times_out_with_httpcores_pool_timeout() -> None:
    with FakeRegistry(_slow_or_fast) as fake:
        async with _client(max_connections=1, pool_timeout=0.1) as client:
            holding = asyncio.create_task(client.get(f"{fake.url}/slow"))
            await asyncio.sleep(0.1)  # the one connection is busy with the slow request
            with pytest.raises(httpx.PoolTimeout):
                await client.get(f"{fake.url}/fast")
            assert (await holding).json() == {"path": "/slow"}


async def test_requests_cancelled_halfway_leave_no_connection_or_lock_held() -> None:
    """Four requests on two connections, cancelled while two wait for a connection: the pool makes new
    connections for the waiting two as the first two fail, which nobody then uses (httpcore#1093:
    without the reclaiming the pool stays full of them and the requests below time out)."""
    with FakeRegistry(_slow_or_fast) as fake:
        async with _client(max_connections=2) as client:
            for _ in range(2):
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await asyncio.gather(*(client.get(f"{fake.url}/slow/{i}") for i in range(4)))
            async with asyncio.timeout(5):
                replies = await asyncio.gather(*(client.get(f"{fake.url}/fast/{i}") for i in range(6)))
            assert [r.json()["path"] for r in replies] == [f"/fast/{i}" for i in range(6)]
            pool = client._transport._pool
            assert len(pool.connections) <= 2
            assert not pool._requests  # no request left waiting for a connection


async def test_a_shield_holds_back_an_anyio_scopes_cancellation() -> None:
    assert poolsync.AsyncioShield()._scope is None  # asyncio's own cancellation is never held back
    finished = []
    with anyio.CancelScope() as outer:
        shield = poolsync.AsyncioShield()
        assert shield._scope is not None
        with shield:
            outer.cancel()
            await asyncio.sleep(0.05)  # not interrupted: shielded
            finished.append("shielded work")
        await asyncio.sleep(5)  # the cancellation arrives here
        finished.append("not reached")
    assert outer.cancelled_caught
    assert finished == ["shielded work"]


async def test_a_semaphore_released_more_than_its_bound_is_an_error() -> None:
    semaphore = poolsync.AsyncioSemaphore(1)
    await semaphore.acquire()
    await semaphore.release()
    with pytest.raises(ValueError):
        await semaphore.release()


async def test_an_event_set_before_anyone_waits_is_seen() -> None:
    event = poolsync.AsyncioEvent()
    event.set()
    await event.wait(timeout=0.01)
    with pytest.raises(httpcore.PoolTimeout):
        await poolsync.AsyncioEvent().wait(timeout=0.01)
