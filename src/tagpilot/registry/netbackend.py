"""httpcore's network layer on plain asyncio, for the registry client's connection pools.

httpcore reaches the network through a backend (connect, read, write, start TLS, "is this idle
connection readable?"); under asyncio its default is anyio's, which puts a cancel scope, two
resource guards and a checkpoint around every read and write, and answers the readability question
(asked of every pooled connection each time a request is assigned: ~23 times per request at 8
connections) by rebuilding a typed-attribute table with a `getpeername` call. Per request that was
~0.5 ms of CPU, about as much as the rest of the HTTP stack (docs/performance.md). This backend does
the same on one asyncio `Protocol` per connection: reading is paused while nobody reads, as anyio
does, so a server's FIN or stray bytes leave the idle socket readable for httpcore's check; the
protocol also remembers EOF and errors, which is what the check sees once TLS (asyncio's, which
reads ahead) sits on top. Errors are httpcore's own (`ConnectError`, `ReadTimeout`, ...) raised from
the OSError or `ssl.SSLError` behind them, so the client's messages are unchanged.

No well-kept library does this (aiohttp is a whole other client); the module is the small protocol
httpcore defines (`AsyncNetworkBackend`, `AsyncNetworkStream`), nothing more.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import ssl
import typing

import httpcore
from httpcore._utils import is_socket_readable


class _ConnectionProtocol(asyncio.Protocol):
    """Bytes received while someone reads, EOF and the error that ended the connection."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.eof = False
        self.error: BaseException | None = None
        self._read_waiter: asyncio.Future[None] | None = None
        self._write_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)
        self.transport.pause_reading()  # until someone reads: an idle socket then shows what arrives

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self._wake_reader()

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake_reader()
        return None  # close the transport (TLS ignores this and closes itself)

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake_reader()
        self._writing_paused = False
        self._wake(self._write_waiter)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        self._wake(self._write_waiter)

    def _wake_reader(self) -> None:
        self._wake(self._read_waiter)

    @staticmethod
    def _wake(waiter: asyncio.Future[None] | None) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_readable(self) -> None:
        assert self.transport is not None
        waiter = self._read_waiter = asyncio.get_running_loop().create_future()
        self.transport.resume_reading()
        try:
            await waiter
        finally:
            self._read_waiter = None
            if not self.transport.is_closing():
                self.transport.pause_reading()

    async def wait_writable(self) -> None:
        if self._writing_paused:
            waiter = self._write_waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                self._write_waiter = None


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection (TCP, or TLS after `start_tls`) as httpcore wants it."""

    def __init__(self, protocol: _ConnectionProtocol) -> None:
        assert protocol.transport is not None
        self._protocol = protocol
        self._transport: asyncio.Transport = protocol.transport
        self._socket: socket.socket | None = protocol.transport.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.chunks and not protocol.eof:
            try:
                async with asyncio.timeout(timeout):
                    await protocol.wait_readable()
            except TimeoutError as exc:
                raise httpcore.ReadTimeout(str(exc)) from exc
        if protocol.chunks:
            chunk = protocol.chunks.popleft()
            if len(chunk) > max_bytes:
                protocol.chunks.appendleft(chunk[max_bytes:])
                chunk = chunk[:max_bytes]
            return chunk
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error)) from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.error is not None:
            raise httpcore.WriteError(str(protocol.error)) from protocol.error
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        try:
            self._transport.write(buffer)
            async with asyncio.timeout(timeout):
                await protocol.wait_writable()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except (OSError, RuntimeError) as exc:
            raise httpcore.WriteError(str(exc)) from exc
        if protocol.error is not None:
            raise httpcore.WriteError(str(protocol.error)) from protocol.error

    async def aclose(self) -> None:
        # FIN first, as anyio does: a body we stopped reading makes the close a reset, and the server
        # should see the end of the connection before that, not a reset in the middle of its next read
        transport = self._transport
        if not transport.is_closing() and transport.can_write_eof():
            with contextlib.suppress(OSError):
                transport.write_eof()
        transport.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(self._transport, self._protocol, ssl_context,
                                                 server_hostname=server_hostname)
        except TimeoutError as exc:
            self._transport.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:  # ssl.SSLError and ConnectionError are OSErrors
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:  # the connection closed during the handshake
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = self._transport = typing.cast(asyncio.Transport, transport)
        self._protocol.transport.pause_reading()
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            protocol = self._protocol
            return bool(protocol.chunks) or protocol.eof or self._transport.is_closing() or (
                is_socket_readable(self._socket))
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._socket
        return None


async def _connect(open_connection: typing.Callable[[_ConnectionProtocol], typing.Awaitable[object]],
                   timeout: float | None) -> AsyncioStream:
    """A stream over the connection `open_connection(protocol)` makes, within `timeout`; failures as
    httpcore's `ConnectTimeout` / `ConnectError`, raised from the error behind them."""
    protocol = _ConnectionProtocol()
    try:
        async with asyncio.timeout(timeout):
            await open_connection(protocol)
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(str(exc)) from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    return AsyncioStream(protocol)


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens `AsyncioStream`s; the registry client gives it to each of its connection pools."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        stream = await _connect(lambda protocol: loop.create_connection(
            lambda: protocol, host, port, local_addr=(local_address, 0) if local_address else None), timeout)
        for option in socket_options or ():
            if stream._socket is not None:
                stream._socket.setsockopt(*option)
        return stream

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await _connect(lambda protocol: loop.create_unix_connection(lambda: protocol, path), timeout)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def install(transport: object) -> bool:
    """Give an httpx transport's connection pool the backend above; False when it has no such pool (a
    test's injected transport, or an httpx whose layout differs), which leaves it as it was."""
    pool = getattr(transport, "_pool", None)
    if isinstance(pool, httpcore.AsyncConnectionPool) and hasattr(pool, "_network_backend"):
        pool._network_backend = AsyncioBackend()
        return True
    return False
