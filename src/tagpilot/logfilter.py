"""Collapse identical log lines, so that a fault repeating thousands of times a second (a storm of
bad webhooks, an accept loop out of descriptors) writes a few lines, not hundreds of megabytes.

`RepeatFilter` lets the first of identical records (same logger, level and message) through and
drops the copies that follow within `window` seconds; the first copy after the window goes out with
"(repeated N times since last shown)" so that nothing is hidden, only counted. Installed on the
daemon's log handlers by `tagpilot run` (`collapse_repeats`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

DEFAULT_WINDOW = 10.0  # seconds
MAX_TRACKED = 1024  # distinct messages remembered (the least recent are forgotten)


class RepeatFilter(logging.Filter):
    """A `logging.Filter` that drops identical records within a window and reports their count."""

    def __init__(self, window: float = DEFAULT_WINDOW, *, max_tracked: int = MAX_TRACKED,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.max_tracked = max_tracked
        self.clock = clock
        self._seen: OrderedDict[tuple[str, int, str], list[float]] = OrderedDict()  # key → [start, dropped]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format: let logging report it as it does
            return True
        key = (record.name, record.levelno, message[:2000])
        now = self.clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.window:
                entry[1] += 1
                return False
            dropped = int(entry[1]) if entry is not None else 0
            self._seen[key] = [now, 0]
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_tracked:
                self._seen.popitem(last=False)
        if dropped:
            record.msg = f"{message} (repeated {dropped} times since last shown)"
            record.args = None
        return True


def collapse_repeats(window: float = DEFAULT_WINDOW, logger: logging.Logger | None = None) -> RepeatFilter:
    """Install one `RepeatFilter` on every handler of `logger` (the root logger by default)."""
    repeat = RepeatFilter(window)
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(repeat)
    return repeat
