"""Go's `time.Time` and `time.Duration` as trigger conditions and templates see them.

argocd-notifications registers a `time` namespace (`Now()`, `Parse(s)` as RFC 3339, duration constants
`Nanosecond`…`Hour`, layout constants) used in conditions
(`time.Now().Sub(time.Parse(app.status.operationState.startedAt)).Minutes() >= 5`) and in templates
(`{{ (call .time.Parse .app.status.operationState.startedAt).Local.Format "2006-01-02 15:04:05" }}`).
Pure: `Now()` returns the instant the namespace was built with; `Local` is the zone passed in (the
controller's TZ upstream; UTC by default here).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tagpilot.gotemplate.values import GoStruct

NANOSECOND, MICROSECOND, MILLISECOND = 1, 1_000, 1_000_000
SECOND, MINUTE, HOUR = 1_000_000_000, 60_000_000_000, 3_600_000_000_000

LAYOUTS = {
    "Layout": "01/02 03:04:05PM '06 -0700", "ANSIC": "Mon Jan _2 15:04:05 2006",
    "UnixDate": "Mon Jan _2 15:04:05 MST 2006", "RubyDate": "Mon Jan 02 15:04:05 -0700 2006",
    "RFC822": "02 Jan 06 15:04 MST", "RFC822Z": "02 Jan 06 15:04 -0700", "RFC850": "Monday, 02-Jan-06 15:04:05 MST",
    "RFC1123": "Mon, 02 Jan 2006 15:04:05 MST", "RFC1123Z": "Mon, 02 Jan 2006 15:04:05 -0700",
    "RFC3339": "2006-01-02T15:04:05Z07:00", "RFC3339Nano": "2006-01-02T15:04:05.999999999Z07:00",
    "Kitchen": "3:04PM", "Stamp": "Jan _2 15:04:05", "StampMilli": "Jan _2 15:04:05.000",
    "StampMicro": "Jan _2 15:04:05.000000", "StampNano": "Jan _2 15:04:05.000000000",
    "DateTime": "2006-01-02 15:04:05", "DateOnly": "2006-01-02", "TimeOnly": "15:04:05",
}

_LAYOUT_TOKEN = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|Z07:00:00|Z07:00|Z0700|Z07|-07:00:00|-07:00|-0700|-07|"
    r"[.,](?:0+|9+)|__2|002|_2|01|02|03|04|05|06|15|PM|pm|1|2|3|4|5")


class Duration(int):
    """A Go time.Duration (nanoseconds, an int64)."""

    go_type = "time.Duration"

    def Hours(self) -> float:
        return int(self) / HOUR

    def Minutes(self) -> float:
        return int(self) / MINUTE

    def Seconds(self) -> float:
        return int(self) / SECOND

    def Milliseconds(self) -> int:
        return int(int(self) / MILLISECOND)

    def String(self) -> str:
        return format_duration(int(self))

    def __str__(self) -> str:
        return format_duration(int(self))


def format_duration(ns: int) -> str:
    """Go's Duration.String: `1h2m3.5s`, `1.5ms`, `0s`."""
    if ns == 0:
        return "0s"
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns < SECOND:
        for unit, size in (("ms", MILLISECOND), ("µs", MICROSECOND), ("ns", NANOSECOND)):
            if ns >= size:
                return sign + _frac(ns, size) + unit
    hours, rest = divmod(ns, HOUR)
    minutes, rest = divmod(rest, MINUTE)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + _frac(rest, SECOND) + "s"


def _frac(ns: int, size: int) -> str:
    whole, frac = divmod(ns, size)
    if not frac:
        return str(whole)
    digits = str(frac).rjust(len(str(size)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


class GoTime(GoStruct):
    """A Go time.Time: an aware datetime plus nanoseconds below the microsecond."""

    go_type = "time.Time"

    def __init__(self, value: dt.datetime, nanos: int = 0, local: dt.tzinfo | None = None) -> None:
        self._dt = value
        self._nanos = nanos  # nanoseconds beyond value.microsecond
        self._local = local or dt.UTC

    def _ns(self) -> int:
        return int(self._dt.timestamp()) * SECOND + self._dt.microsecond * 1000 + self._nanos

    def _expr_cmp(self) -> int:
        return self._ns()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTime) and self._ns() == other._ns()

    def __hash__(self) -> int:
        return hash(self._ns())

    def Sub(self, other: GoTime) -> Duration:
        return Duration(self._ns() - other._ns())

    def Add(self, d: int) -> GoTime:
        total = self._dt + dt.timedelta(microseconds=(self._nanos + int(d)) // 1000)
        return GoTime(total, (self._nanos + int(d)) % 1000, self._local)

    def _expr_add(self, d: Any) -> GoTime:
        return self.Add(d)

    def _expr_sub(self, other: Any) -> Any:
        return self.Sub(other) if isinstance(other, GoTime) else self.Add(-int(other))

    def Before(self, other: GoTime) -> bool:
        return self._ns() < other._ns()

    def After(self, other: GoTime) -> bool:
        return self._ns() > other._ns()

    def Equal(self, other: GoTime) -> bool:
        return self._ns() == other._ns()

    def IsZero(self) -> bool:
        return self._dt == ZERO._dt

    def Unix(self) -> int:
        return int(self._dt.timestamp())

    def Local(self) -> GoTime:
        return GoTime(self._dt.astimezone(self._local), self._nanos, self._local)

    def UTC(self) -> GoTime:
        return GoTime(self._dt.astimezone(dt.UTC), self._nanos, self._local)

    def Format(self, layout: str) -> str:
        return go_format(self._dt, self._nanos, layout)

    def String(self) -> str:
        return go_format(self._dt, self._nanos, "2006-01-02 15:04:05.999999999 -0700 MST")


ZERO = GoTime(dt.datetime(1, 1, 1, tzinfo=dt.UTC))


def _zone(value: dt.datetime, token: str) -> str:
    offset = value.utcoffset() or dt.timedelta(0)
    if token.startswith("Z") and not offset:
        return "Z"
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    h, rest = divmod(abs(seconds), 3600)
    m, s = divmod(rest, 60)
    core = token.lstrip("Z-")
    if core == "07":
        return f"{sign}{h:02d}"
    if core == "0700":
        return f"{sign}{h:02d}{m:02d}"
    if core == "07:00":
        return f"{sign}{h:02d}:{m:02d}"
    return f"{sign}{h:02d}:{m:02d}:{s:02d}"


def go_format(value: dt.datetime, nanos: int, layout: str) -> str:
    """Go's Time.Format with a reference-time layout."""
    ns = value.microsecond * 1000 + nanos

    def one(m: re.Match[str]) -> str:
        t = m.group()
        if t in ("January", "Jan"):
            return value.strftime("%B") if t == "January" else value.strftime("%b")
        if t in ("Monday", "Mon"):
            return value.strftime("%A") if t == "Monday" else value.strftime("%a")
        if t == "MST":
            name = value.tzname() or "UTC"
            return name if name.isalpha() else _zone(value, "-0700")
        if t == "2006":
            return f"{value.year:04d}"
        if t == "06":
            return f"{value.year % 100:02d}"
        if t[0] in "Z-":
            return _zone(value, t)
        if t[0] in ".,":
            digits = f"{ns:09d}"[: len(t) - 1]
            if t[1] == "9":
                digits = digits.rstrip("0")
                return t[0] + digits if digits else ""
            return t[0] + digits
        table = {"01": f"{value.month:02d}", "1": str(value.month), "02": f"{value.day:02d}",
                 "2": str(value.day), "_2": f"{value.day:2d}", "002": f"{value.timetuple().tm_yday:03d}",
                 "__2": f"{value.timetuple().tm_yday:3d}", "15": f"{value.hour:02d}",
                 "03": f"{(value.hour % 12) or 12:02d}", "3": str((value.hour % 12) or 12),
                 "04": f"{value.minute:02d}", "4": str(value.minute), "05": f"{value.second:02d}",
                 "5": str(value.second), "PM": "PM" if value.hour >= 12 else "AM",
                 "pm": "pm" if value.hour >= 12 else "am"}
        return table[t]

    return _LAYOUT_TOKEN.sub(one, layout)


_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(text: Any, local: dt.tzinfo | None = None) -> GoTime:
    """`time.Parse(time.RFC3339, s)`; raises ValueError with Go's wording."""
    m = _RFC3339.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse')
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or "").ljust(9, "0")
    zone = m.group(8)
    tz = dt.UTC if zone in ("Z", "z") else dt.timezone(
        (1 if zone[0] == "+" else -1) * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    ns = int(frac)
    value = dt.datetime(year, month, day, hour, minute, second, ns // 1000, tzinfo=tz)
    return GoTime(value, ns % 1000, local)


def time_namespace(now: dt.datetime, local: dt.tzinfo | None = None) -> dict[str, Any]:
    """The `time` helpers of argocd-notifications, with `Now()` fixed at `now`."""
    ns: dict[str, Any] = {
        "Now": lambda: GoTime(now, 0, local),
        "Parse": lambda text: parse_rfc3339(text, local),
        "Nanosecond": Duration(NANOSECOND), "Microsecond": Duration(MICROSECOND),
        "Millisecond": Duration(MILLISECOND), "Second": Duration(SECOND), "Minute": Duration(MINUTE),
        "Hour": Duration(HOUR),
    }
    ns.update(LAYOUTS)
    return ns
