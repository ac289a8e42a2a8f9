"""Go durations (`1h30m`, `30s`, `500ms`), parsed exactly as Go's `time.ParseDuration` parses them.

Flux objects carry `interval` and `timeout` as `metav1.Duration`, which is Go's ParseDuration; the CRDs
additionally restrict them to `^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$`. This module is the one duration
parser of the project: everything that reads a duration calls `parse_duration`.
"""

from __future__ import annotations

import re

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_MAX_NS = (1 << 63) - 1
_COMPONENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")
FLUX_DURATION_PATTERN = re.compile(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$")


class DurationError(ValueError):
    """Raised with Go's own message, e.g. `time: missing unit in duration "5"`."""


def parse_duration_ns(text: str) -> int:
    """Return the duration in nanoseconds, with Go's rules and error messages."""
    orig = text
    quoted = '"' + orig + '"'
    neg = False
    if text and text[0] in "+-":
        neg = text[0] == "-"
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise DurationError(f"time: invalid duration {quoted}")
    total = 0
    pos = 0
    while pos < len(text):
        match = _COMPONENT.match(text, pos)
        assert match is not None  # the pattern can match the empty string
        whole, frac, unit = match.group(1), match.group(2), match.group(3)
        if not whole and not frac:
            # Go: a component must start with a digit or '.' followed by digits.
            raise DurationError(f"time: invalid duration {quoted}")
        if not unit:
            raise DurationError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS_NS:
            raise DurationError(f'time: unknown unit "{unit}" in duration {quoted}')
        scale = _UNITS_NS[unit]
        value = int(whole or "0") * scale
        if frac:
            # Go truncates the fractional part to what fits in nanoseconds.
            value += int(frac) * scale // (10 ** len(frac))
        total += value
        if total > _MAX_NS:
            raise DurationError(f"time: invalid duration {quoted}")
        pos = match.end()
    return -total if neg else total


def parse_duration(text: str) -> float:
    """Return the duration in seconds (float)."""
    return parse_duration_ns(text) / 1e9


def parse_flux_duration(text: str) -> float:
    """A duration as a Flux CRD field accepts it: Go syntax restricted to `ms`, `s`, `m`, `h`, no sign."""
    if not isinstance(text, str) or not FLUX_DURATION_PATTERN.match(text):
        raise DurationError(
            f"invalid duration {text!r}: expected a Go duration such as 30s, 5m, 1h30m or 500ms"
        )
    return parse_duration(text)


def format_duration(seconds: float) -> str:
    """Format seconds the way Go's `Duration.String()` does for whole units (`1h30m0s`, `30s`, `500ms`)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                value = ns / size
                text = f"{value:.9f}".rstrip("0").rstrip(".")
                return f"{sign}{text}{unit}"
    hours, rest = divmod(ns, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    secs = rest / 1e9
    sec_text = f"{secs:.9f}".rstrip("0").rstrip(".")
    if hours:
        return f"{sign}{hours}h{minutes}m{sec_text}s"
    if minutes:
        return f"{sign}{minutes}m{sec_text}s"
    return f"{sign}{sec_text}s"
