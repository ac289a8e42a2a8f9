"""Gate decisions that need no I/O: soak time. (The verify gate's HTTP check is in the engine.)"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class GateResult:
    """Whether a gate lets the candidate through, and the words for status and `get`."""

    open: bool
    message: str


def soak_gate(since: datetime, now: datetime, soak_seconds: float) -> GateResult:
    """Open once the source has held the candidate for `soak_seconds` (since it was first seen there)."""
    held = (now - since).total_seconds()
    if held >= soak_seconds:
        return GateResult(True, f"soaked {_human(held)} (needs {_human(soak_seconds)})")
    return GateResult(False, f"soaking: {_human(held)} of {_human(soak_seconds)}")


def _human(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
