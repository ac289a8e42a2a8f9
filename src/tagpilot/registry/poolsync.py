"""httpcore's locks, events, semaphores and cancellation shields on plain asyncio.

`netbackend` gives httpcore's connection pools asyncio streams; this module does the same for the
synchronisation httpcore builds around every request. Under asyncio httpcore makes each of them
through anyio, after asking sniffio which event loop runs: a pool request's "connection assigned"
event is an anyio Event made through anyio's backend lookup; each connection's request and state
locks are anyio Locks, whose every acquire, contended or not, is a checkpoint that yields to the
event loop (three extra loop iterations per request); and a cancel scope is entered around every
close of the pool's connections, which is empty for almost every request. In a scan of 1,001
repositories that was ~0.3 s of ~1.85 s, more than the rest of the pool's bookkeeping
(docs/performance.md, "scan-locks").

The replacements keep httpcore's interfaces and what they guarantee:
- `AsyncioLock`, `AsyncioEvent`, `AsyncioSemaphore` are asyncio's Lock, Event and BoundedSemaphore; an
  event's `wait(timeout)` still raises httpcore's `PoolTimeout` when the pool timeout passes.
- `AsyncioShield` is anyio's shielded cancel scope whenever the task is inside an anyio cancel
  scope (a Starlette handler, an anyio task group): those are the only cancellations a shield holds
  back. asyncio's own cancellation, which tagpilot's deadlines and shutdown use, passes through anyio's
  shields anyway, so outside anyio scopes the shield is nothing at all.

Without anyio's extra yields a known httpcore bug shows at once (encode/httpcore#1093, open): a
request cancelled after the pool made it a new connection, but before it connected, leaves that
connection in the pool for ever (neither idle, closed nor usable), and once the pool is full of them
every request fails with PoolTimeout. anyio's checkpoints only made the timing rarer. The pool's
request handling (`_reclaiming_handle_async_request`) drops such a connection when the request that
was to use it fails, as the fix proposed upstream does (encode/httpcore#1099).

`install()` does both for the whole process, once: the classes go into httpcore's asynchronous
modules (httpcore looks these names up in its module globals when it makes a connection or a
request), the reclaiming into `httpcore.AsyncConnectionPool`, so every httpx client of the process
(registries, notifications, webhook triggers) gets the fix with the faster locks. It leaves any name
that is not httpcore's original alone (an httpcore laid out differently keeps its own, slower and
correct). A proxy's connections are of other classes and are not reclaimed: the bug needs requests
queued in the pool, and the registry client's requests to one registry are bounded by its
concurrency limit (8 by default), on a pool of twice as many connections.
tagpilot runs on asyncio only; under trio these classes would not work, and nothing here uses trio.
"""

from __future__ import annotations

import asyncio
import sys
import types
from typing import Any

import httpcore
from httpcore import _synchronization as originals
from httpcore._async.connection import AsyncHTTPConnection
from httpcore._exceptions import PoolTimeout, map_exceptions


class AsyncioLock:
    """httpcore's `AsyncLock`: `async with lock:` mutual exclusion, here without a checkpoint."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> AsyncioLock:
        await self._lock.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()


class AsyncioEvent:
    """httpcore's `AsyncEvent`: set once, waited for with the pool timeout."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float | None = None) -> None:
        with map_exceptions({TimeoutError: PoolTimeout}):
            async with asyncio.timeout(timeout):
                await self._event.wait()


class AsyncioSemaphore:
    """httpcore's `AsyncSemaphore` (an HTTP/2 connection's stream slots): releasing more than `bound`
    is an error, as with anyio's `max_value`."""

    def __init__(self, bound: int) -> None:
        self._semaphore = asyncio.BoundedSemaphore(bound)

    async def acquire(self) -> None:
        await self._semaphore.acquire()

    async def release(self) -> None:
        self._semaphore.release()


def _inside_anyio_scope() -> bool:
    """Whether the running task is inside an anyio cancel scope (True when that cannot be known)."""
    backend = sys.modules.get("anyio._backends._asyncio")
    if backend is None:
        return False  # anyio's asyncio backend was never loaded: no anyio scope exists in this process
    states = getattr(backend, "_task_states", None)
    task = asyncio.current_task()
    if states is None or task is None:
        return True
    state = states.get(task)
    return state is not None and state.cancel_scope is not None


class AsyncioShield:
    """httpcore's `AsyncShieldCancellation`: anyio's shield where it can matter, nothing elsewhere."""

    def __init__(self) -> None:
        self._scope: Any = None
        if _inside_anyio_scope():
            import anyio

            self._scope = anyio.CancelScope(shield=True)

    def __enter__(self) -> AsyncioShield:
        if self._scope is not None:
            self._scope.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: types.TracebackType | None) -> None:
        if self._scope is not None:
            self._scope.__exit__(exc_type, exc, traceback)


_original_handle_async_request = httpcore.AsyncConnectionPool.handle_async_request


async def _reclaiming_handle_async_request(self: httpcore.AsyncConnectionPool,
                                           request: httpcore.Request) -> httpcore.Response:
    """httpcore's `AsyncConnectionPool.handle_async_request`, taking back the connection a failed
    request leaves unused (`_drop_unused_connections`) and giving its slot to a waiting request."""
    try:
        return await _original_handle_async_request(self, request)
    except BaseException:
        if _drop_unused_connections(self):
            await self._close_connections(self._assign_requests_to_connections())  # the freed slots
        raise


def _drop_unused_connections(pool: httpcore.AsyncConnectionPool) -> bool:
    """Remove the connections that never connected and no request waits for: a request was cancelled
    (or its pool timeout passed) after one was made for it (encode/httpcore#1093). A proxy's
    connections are of other classes and are left as they are."""
    wanted = {id(request.connection) for request in pool._requests}
    unused = [connection for connection in pool._connections
              if type(connection) is AsyncHTTPConnection and connection._connection is None
              and not connection._connect_failed and id(connection) not in wanted]
    for connection in unused:
        pool._connections.remove(connection)
    return bool(unused)


REPLACEMENTS: dict[str, type] = {
    "AsyncLock": AsyncioLock,
    "AsyncEvent": AsyncioEvent,
    "AsyncSemaphore": AsyncioSemaphore,
    "AsyncShieldCancellation": AsyncioShield,
}
MODULES = ("connection_pool", "connection", "http11", "http2", "http_proxy", "socks_proxy")


def install() -> int:
    """Put the classes above in httpcore's asynchronous modules, and the reclaiming request handling
    in its connection pool; the number of names replaced (0 once done, or when this httpcore has none
    of its originals where they were)."""
    import importlib

    pool_class = httpcore.AsyncConnectionPool
    if pool_class.handle_async_request is _original_handle_async_request:
        pool_class.handle_async_request = _reclaiming_handle_async_request  # type: ignore[method-assign]
    replaced = 0
    for module_name in MODULES:
        try:
            module = importlib.import_module(f"httpcore._async.{module_name}")
        except ImportError:  # http2 without h2, socks without socksio: nothing of theirs runs
            continue
        for name, replacement in REPLACEMENTS.items():
            if getattr(module, name, None) is getattr(originals, name, replacement):
                setattr(module, name, replacement)
                replaced += 1
    return replaced
