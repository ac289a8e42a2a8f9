"""Go regexp.Expand, strconv.ParseFloat and filepath.Match, as tables of Go's own results."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.errors import InvalidPolicy
from tagpilot.policy.goglob import glob_match
from tagpilot.policy.gonum import parse_go_float
from tagpilot.policy.gore import compile_go, expand

# regexp.MustCompile(pattern).ExpandString(nil, template, src, FindStringSubmatchIndex(src))
EXPAND = [
    (r"(\w+)-(\d+)", "main-42", "$2", "42"),
    (r"(\w+)-(\d+)", "main-42", "${2}", "42"),
    (r"(\w+)-(\d+)", "main-42", "$1x", ""),  # group named "1x": unknown, empty
    (r"(\w+)-(\d+)", "main-42", "${1}x", "mainx"),
    (r"(\w+)-(\d+)", "main-42", "$$1", "$1"),
    (r"(\w+)-(\d+)", "main-42", "$", "$"),  # malformed: literal
    (r"(\w+)-(\d+)", "main-42", "${1", "${1"),  # missing brace: literal $
    (r"(\w+)-(\d+)", "main-42", "$01", ""),  # leading zero: a name, not group 1
    (r"(\w+)-(\d+)", "main-42", "$9", ""),  # no such group
    (r"(?P<ts>\d+)", "x-17", "$ts", "17"),
    (r"(?P<ts>\d+)", "x-17", "${ts}.0", "17.0"),
    (r"(?P<ts>\d+)", "x-17", "$ts.0", "17.0"),
    (r"(?P<ts>\d+)", "x-17", "$tsx", ""),
    (r"(?P<ts>\d+)", "x-17", "$0", "17"),
    (r"(a)|(b)", "b", "[$1][$2]", "[][b]"),  # unmatched group: empty
    (r"^(?P<v>.*)$", "é-1", "$v", "é-1"),
]


@pytest.mark.parametrize(("pattern", "src", "template", "expected"), EXPAND)
def test_expand_table(pattern: str, src: str, template: str, expected: str) -> None:
    rx = compile_go(pattern)
    m = rx.regexp.search(src)  # type: ignore[attr-defined]
    assert m is not None
    assert expand(rx, template, m) == expected


def test_invalid_pattern_message() -> None:
    with pytest.raises(InvalidPolicy, match=r"invalid regular expression pattern '\(': missing \)"):
        compile_go("(")


def test_lookaround_is_not_re2() -> None:
    with pytest.raises(InvalidPolicy):
        compile_go("a(?=b)")


@given(st.text(max_size=30))
def test_expand_never_crashes(template: str) -> None:
    rx = compile_go(r"(?P<a>\w*)-(\d*)")
    m = rx.regexp.search("ab-12")  # type: ignore[attr-defined]
    assert isinstance(expand(rx, template, m), str)


FLOATS = [
    ("1", 1.0),
    ("-5", -5.0),
    ("1.5", 1.5),
    ("1e3", 1000.0),
    (".5", 0.5),
    ("5.", 5.0),
    ("+3", 3.0),
    ("0x1p-2", 0.25),
    ("0x_1p0", 1.0),
    ("Inf", math.inf),
    ("-infinity", -math.inf),
    ("1e-400", 0.0),
    ("007", 7.0),
    ("1e400", None),
    ("1_000", 1000.0),  # Go accepts underscores between digits (atof_test.go: "1_23.50_0_0e+1_2")
    ("1__000", None),
    ("_1000", None),
    (" 1", None),
    ("1 ", None),
    ("0x1", None),
    ("", None),
    ("abc", None),
    ("1.2.3", None),
    ("١", None),
    ("+nan", None),
    ("1e", None),
    ("0x1p", None),
    ("-", None),
    (".", None),
]


@pytest.mark.parametrize(("text", "expected"), FLOATS)
def test_parse_go_float(text: str, expected: float | None) -> None:
    assert parse_go_float(text) == expected


def test_nan_is_accepted() -> None:
    v = parse_go_float("NaN")
    assert v is not None and math.isnan(v)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_repr_round_trips(x: float) -> None:
    assert parse_go_float(repr(x)) == x


@given(st.text(max_size=20))
def test_parse_go_float_never_crashes(text: str) -> None:
    parse_go_float(text)


GLOBS = [
    ("*", "anything", True),
    ("*-rc*", "1.0.0-rc1", True),
    ("*-rc*", "1.0.0", False),
    ("v?.*", "v1.2", True),
    ("v?.*", "v10.2", False),
    ("[abc]*", "beta", True),
    ("[^abc]*", "beta", False),
    ("[!abc]*", "!x", True),  # '!' is not negation in Go
    ("[a-c]x", "bx", True),
    ("\\*", "*", True),
    ("\\*", "a", False),
    ("*", "a/b", False),  # * does not cross the separator
    ("[", "[", False),  # bad pattern: never matches
    ("[]a]", "]", False),
    ("a\\", "a", False),
    ("latest", "latest", True),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), GLOBS)
def test_glob_table(pattern: str, name: str, expected: bool) -> None:
    assert glob_match(pattern, name) is expected


@given(st.text(max_size=12), st.text(max_size=12))
def test_glob_never_crashes(pattern: str, name: str) -> None:
    glob_match(pattern, name)
