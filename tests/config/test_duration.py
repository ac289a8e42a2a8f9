"""Go's time.ParseDuration, case by case (values and messages from Go's own tests and docs)."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.config.duration import (
    DurationError,
    format_duration,
    parse_duration_ns,
    parse_flux_duration,
)

S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0), ("5s", 5 * S), ("30s", 30 * S), ("1478s", 1478 * S), ("-5s", -5 * S), ("+5s", 5 * S),
        ("-0", 0), ("+0", 0), ("5.0s", 5 * S), ("5.6s", 5 * S + 600_000_000), ("5.s", 5 * S),
        (".5s", 500_000_000), ("1.0s", S), ("1.00s", S), ("1.004s", S + 4_000_000),
        ("100.00100s", 100 * S + 1_000_000), ("10ns", 10), ("11us", 11_000), ("12µs", 12_000),
        ("12μs", 12_000), ("13ms", 13_000_000), ("14s", 14 * S), ("15m", 15 * 60 * S), ("16h", 16 * 3600 * S),
        ("3h30m", (3 * 3600 + 30 * 60) * S), ("10.5s4m", 4 * 60 * S + 10 * S + 500_000_000),
        ("-2m3.4s", -(2 * 60 * S + 3 * S + 400_000_000)), ("1h2m3s4ms5us6ns", 3723 * S + 4_005_006),
        ("39h9m14.425s", (39 * 3600 + 9 * 60 + 14) * S + 425_000_000), ("52763797000ns", 52763797000),
        ("0.3333333333333333333h", 20 * 60 * S - 1), ("9007199254740993ns", 9007199254740993),
        ("9223372036854775807ns", (1 << 63) - 1), ("500ms", 500_000_000), ("1h30m", 5400 * S),
    ],
)
def test_parse_duration_values(text: str, ns: int) -> None:
    assert abs(parse_duration_ns(text) - ns) <= 1  # Go's float rounding of fractions may differ by 1ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("3", 'time: missing unit in duration "3"'),
        ("-", 'time: invalid duration "-"'),
        ("s", 'time: invalid duration "s"'),
        (".", 'time: invalid duration "."'),
        ("-.", 'time: invalid duration "-."'),
        (".s", 'time: invalid duration ".s"'),
        ("+.s", 'time: invalid duration "+.s"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("3000000h", 'time: invalid duration "3000000h"'),
        ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration_ns(text)
    assert str(info.value) == message


@pytest.mark.parametrize("text", ["1h30m", "30s", "500ms", "5m", "1.5h", "10m0s"])
def test_flux_accepts(text: str) -> None:
    assert parse_flux_duration(text) > 0


@pytest.mark.parametrize("text", ["5", "-5m", "1d", "10us", "", "5 m", "1h 30m"])
def test_flux_rejects_what_its_crd_pattern_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_flux_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(5400, "1h30m0s"), (30, "30s"), (0.5, "500ms"), (0, "0s"), (61, "1m1s")]
)
def test_format_like_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.text(max_size=30))
def test_parser_never_crashes_on_junk(text: str) -> None:
    with contextlib.suppress(DurationError):
        parse_duration_ns(text)
