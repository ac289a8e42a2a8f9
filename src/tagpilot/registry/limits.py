"""Politeness towards registries: per-registry concurrency, requests per second, retry delays.

Registries rate-limit (Docker Hub answers 429 ``toomanyrequests``) and fail transiently (502/503).
A scanner that hammers them gets banned; one that gives up at the first 503 flaps. So every request
to a registry host passes a semaphore (concurrency) and an optional token bucket (requests per
second), and retryable answers are retried with exponential backoff and jitter, waiting at least as
long as ``Retry-After`` asks (capped, so a hostile server cannot park us for a day).

Clock, sleep and randomness are injectable so tests can check the delays without waiting.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime

Sleep = Callable[[float], Awaitable[None]]
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent/junk."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float = 30.0,
    retry_after: float | None = None,
    max_retry_after: float = 120.0,
    rand: Callable[[], float] = random.random,
    jitter: float = 0.5,
    jitter_above: bool = False,
) -> float:
    """Delay before retry number `attempt` (0-based): exponential backoff with jitter.

    The exponential part is ``exp = base * 2**attempt`` capped at `cap`. Jitter keeps many clients
    (registry scanners, racing git pushers, failing objects) from retrying in lockstep: by default
    a fraction `jitter` of it is random, the delay in ``[exp·(1-jitter), exp]`` ("equal jitter" at
    0.5, "full jitter" at 1.0), so it never exceeds `cap`. With `jitter_above` the random part is
    added on top instead, in ``[exp, exp·(1+jitter)]``: the scheduler's backoff, whose `cap` is an
    object's interval and whose retries must not come sooner than the plain exponential. `rand`
    (uniform in [0, 1)) is injectable so tests get exact delays. A ``Retry-After`` wins when it is
    longer, but never beyond `max_retry_after`.
    """
    exp = min(cap, base * (2**attempt))
    delay = exp * (1 + rand() * jitter) if jitter_above else exp - exp * jitter + rand() * exp * jitter
    if retry_after is not None:
        delay = max(delay, min(retry_after, max_retry_after))
    return delay


class TokenBucket:
    """At most `rate` acquisitions per second on average, bursts up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self) -> None:
        """Wait until a token is available and take it (FIFO among waiters thanks to the lock)."""
        async with self._lock:
            self._refill()
            # The epsilon and the minimum sleep keep float rounding from spinning forever on a token
            # that is 0.9999999 full while the clock cannot advance by less than its resolution.
            while self._tokens < 1 - 1e-9:
                await self._sleep(max((1 - self._tokens) / self.rate, 1e-4))
                self._refill()
            self._tokens = max(0.0, self._tokens - 1)


class HostLimits:
    """The limits of one registry host: a concurrency semaphore and an optional rate limit."""

    def __init__(
        self,
        max_concurrency: int,
        requests_per_second: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.semaphore = asyncio.Semaphore(max(1, max_concurrency))
        self.bucket = TokenBucket(requests_per_second, clock=clock, sleep=sleep) if requests_per_second else None
        self.in_flight = 0
        self.max_in_flight = 0  # observed peak, for tests and metrics

    async def __aenter__(self) -> HostLimits:
        await self.semaphore.acquire()
        try:
            if self.bucket is not None:
                await self.bucket.acquire()
        except BaseException:
            self.semaphore.release()
            raise
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.in_flight -= 1
        self.semaphore.release()
