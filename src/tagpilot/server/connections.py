"""Keep the daemon answering when clients open connections and never finish a request (slowloris).

uvicorn (h11) has a keep-alive timeout between requests but none while it reads a request head, and
its `limit_concurrency` answers 503 only once a request head arrived, so 1,100 sockets that send half
a header each stay open until the process runs out of file descriptors; from then on every accept
fails (and asyncio logs that failure again and again). Three defences, wired in by `tagpilot run`:

- `GuardedH11Protocol`: uvicorn's h11 protocol with a timer per connection: `header_timeout` to
  receive a complete request head (armed on connect and again after each response, so a stalled
  second request on a keep-alive connection is caught too), then `body_timeout` to receive the body.
  A connection that misses either is closed.
- `ConnectionGuard.max_connections`: at most this many connections across all listening ports, below
  the file-descriptor limit. A connection over the limit evicts the oldest one that is still waiting
  for a request head (an attacker's), so a real client gets in; only when every connection is busy
  with a request is the new one closed instead.
- `raise_nofile_limit`: the soft RLIMIT_NOFILE raised to the hard limit at start.

Repeated log lines are collapsed by `tagpilot.logfilter.RepeatFilter`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("tagpilot.server")

DEFAULT_HEADER_TIMEOUT = 10.0  # seconds to send a request head (Go servers commonly use 5-10 s)
DEFAULT_BODY_TIMEOUT = 60.0  # seconds to send a body once the head is complete (3 MiB at 50 KiB/s)
MAX_DEFAULT_CONNECTIONS = 2048
FD_RESERVE = 256  # descriptors kept free for git, registry connections, the store and logs


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (what a server may use); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return soft


def _open_descriptors() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 64


def default_max_connections(soft_limit: int | None = None) -> int:
    """Connections to accept at most: the file-descriptor limit less what is open now and a reserve,
    capped at `MAX_DEFAULT_CONNECTIONS`, never below 16."""
    if soft_limit is None or soft_limit == resource.RLIM_INFINITY:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY:
        return MAX_DEFAULT_CONNECTIONS
    return max(16, min(MAX_DEFAULT_CONNECTIONS, soft_limit - _open_descriptors() - FD_RESERVE))


@dataclass
class ConnectionGuard:
    """Shared by every listening server of one daemon: the limits and the connections open now."""

    max_connections: int
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    open: set[GuardedH11Protocol] = field(default_factory=set)
    # connections waiting for a request head, oldest first (dicts keep insertion order)
    waiting: dict[GuardedH11Protocol, float] = field(default_factory=dict)
    evicted: int = 0
    timed_out: int = 0

    def protocol_class(self) -> type[GuardedH11Protocol]:
        """The class to give uvicorn as `http=`: the h11 protocol bound to this guard."""
        guard = self

        class Bound(GuardedH11Protocol):
            pass

        Bound.guard = guard
        return Bound

    def admit(self, conn: GuardedH11Protocol) -> bool:
        """Register a new connection; False when it must be closed at once (every slot busy)."""
        self.open.add(conn)
        if len(self.open) <= self.max_connections:
            return True
        victim = next((c for c in self.waiting if c is not conn), None)
        if victim is None:
            log.warning("connection limit (%d) reached and every connection is busy with a request: "
                        "refusing new connections", self.max_connections)
            return False
        self.evicted += 1
        log.warning("connection limit (%d) reached: closing the oldest connection that has not sent a "
                    "complete request", self.max_connections)
        victim.drop()
        return True


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with request-head and body timeouts and a shared connection limit."""

    guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None

    # -- the timer ------------------------------------------------------------------------------------

    def _arm(self, seconds: float, waiting_for_head: bool) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)
        if waiting_for_head:
            self.guard.waiting.setdefault(self, time.monotonic())
        else:
            self.guard.waiting.pop(self, None)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        self.guard.timed_out += 1
        log.debug("closing a connection that did not send its request in time")
        self.drop()

    def drop(self) -> None:
        """Close the connection now, without an answer (its request never arrived)."""
        self._disarm()
        self.guard.waiting.pop(self, None)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def _follow(self) -> None:
        """Re-arm the timer for what the connection waits for now (h11's view of the client)."""
        if self.transport is None or self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._read_timer is None:
                self._arm(self.guard.header_timeout, True)
        elif state is h11.SEND_BODY:
            if self.guard.waiting.pop(self, None) is not None or self._read_timer is None:
                self._arm(self.guard.body_timeout, False)
        else:  # the request is complete (or the connection is done): the app has it
            self._disarm()
            self.guard.waiting.pop(self, None)

    # -- the protocol ----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(self):
            transport.abort()
            return
        self._arm(self.guard.header_timeout, True)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        # the next request on this keep-alive connection gets its own head timeout (uvicorn's idle
        # keep-alive timer stops at its first byte)
        self._disarm()
        self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.guard.waiting.pop(self, None)
        self.guard.open.discard(self)
        super().connection_lost(exc)
