"""httpcore's network backend with a cheap "is the idle connection readable?" check.

httpcore asks every pooled connection whether its idle socket has become readable (a server-side
close) each time it assigns a request to a connection: with 8 connections to a registry that is ~23
checks per request. The anyio stream answers through its typed-attribute table, which is rebuilt on
every question (a dict of lambdas and a `getpeername` call): ~0.5 ms of CPU per request, about a third
of what a scan spends in the HTTP stack (docs/performance.md). The streams made here keep the raw socket
they were opened with and ask `select` directly, which is what httpcore does with the socket it looked
up; every other operation is the wrapped stream's own.
"""

from __future__ import annotations

import socket
import ssl
import typing

import httpcore
from httpcore._backends.auto import AutoBackend
from httpcore._utils import is_socket_readable


class _RememberedSocketStream(httpcore.AsyncNetworkStream):
    """An httpcore stream that remembers its raw socket for the readability check."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _RememberedSocketStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable" and self._socket is not None:
            return is_socket_readable(self._socket)
        return self._inner.get_extra_info(info)


class RememberedSocketBackend(AutoBackend):
    """httpcore's default backend (anyio under asyncio), its streams wrapped in `_RememberedSocketStream`."""

    async def connect_tcp(self, *args: typing.Any, **kwargs: typing.Any) -> httpcore.AsyncNetworkStream:
        return _RememberedSocketStream(await super().connect_tcp(*args, **kwargs))

    async def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> httpcore.AsyncNetworkStream:
        return _RememberedSocketStream(await super().connect_unix_socket(*args, **kwargs))


def install(transport: object) -> bool:
    """Give an httpx transport's connection pool the backend above; False when it has no such pool (a test's
    injected transport, or an httpx whose layout differs), which leaves it as it was."""
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and isinstance(getattr(pool, "_network_backend", None),
                                                                     AutoBackend):
        pool._network_backend = RememberedSocketBackend()
        return True
    return False
