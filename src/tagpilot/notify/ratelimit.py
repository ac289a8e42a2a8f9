"""Per-service send rate limits, so a burst (a batch of 50 updates, a retry storm) stays inside what the
chat service accepts instead of being answered with "frequency limited" (Feishu 11232) or throttled.

Documented limits (shared reference C, D): Feishu/Lark custom bots 5 requests/s and 100/min, DingTalk
robots 20/min; WeCom group bots 20/min. A service may set its own with the option `rateLimit`
(`"10/s"`, `"30/m"`, a list of them). Sliding windows per service name, in this process.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

DEFAULTS: dict[str, tuple[tuple[int, float], ...]] = {
    "feishu": ((5, 1.0), (100, 60.0)),
    "dingtalk": ((20, 60.0),),
    "wecom": ((20, 60.0),),
}
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_limits(value: Any) -> tuple[tuple[int, float], ...]:
    """`"5/s"`, `["5/s", "100/m"]` → ((5, 1.0), (100, 60.0)); ValueError names the bad entry."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        count, _, unit = str(item).partition("/")
        if not count.strip().isdigit() or unit.strip() not in _UNITS or int(count) <= 0:
            raise ValueError(f"rateLimit {item!r} must look like 5/s, 100/m or 1000/h")
        out.append((int(count), _UNITS[unit.strip()]))
    return tuple(out)


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}

    def limits(self, service: Any) -> tuple[tuple[int, float], ...]:
        configured = service.options.get("rateLimit")
        if configured:
            return parse_limits(configured)
        return DEFAULTS.get(service.type, ())

    async def acquire(self, service: Any) -> float:
        """Wait until one more request to `service` fits every window; returns the seconds waited."""
        limits = self.limits(service)
        if not limits:
            return 0.0
        sent = self._sent.setdefault(service.name, deque())
        waited = 0.0
        while True:
            now = self._clock()
            longest = max(window for _count, window in limits)
            while sent and sent[0] <= now - longest:
                sent.popleft()
            wait = 0.0
            for count, window in limits:
                recent = [t for t in sent if t > now - window]
                if len(recent) >= count:
                    wait = max(wait, recent[-count] + window - now)
            if wait <= 0:
                sent.append(now)
                return waited
            await self._sleep(wait)
            waited += wait
