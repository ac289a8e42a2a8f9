"""Masterminds/semver v3 behaviour: tables from its README/source, plus properties."""

from __future__ import annotations

import ast
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.errors import InvalidPolicy
from tagpilot.policy.semver import (
    _OP_FUNCS,
    is_x,
    parse_constraint,
    parse_flux_version,
    parse_single_constraint,
    parse_version,
    rewrite_range,
)


def check(constraint: str, version: str) -> bool:
    v = parse_version(version)
    assert v is not None, version
    return parse_constraint(constraint).check(v)


# (constraint, version, expected) — README "Checking Version Constraints" equivalences and the
# comments of constraints.go (^, ~, x-ranges, hyphen ranges, prerelease opt-in).
CHECKS = [
    ("=1.2.3", "1.2.3", True),
    ("1.2.3", "1.2.4", False),
    ("!=1.2.3", "1.2.4", True),
    ("!=1.2.3", "1.2.3", False),
    ("!=4.x", "5.0.0", True),
    ("!=4.x", "4.2.0", False),
    ("!=4.1.x", "4.1.7", False),
    ("!=4.1.x", "4.2.0", True),
    (">1.2.3", "1.2.4", True),
    (">1.2.3", "1.2.3", False),
    (">11", "11.1.0", False),  # >11 means 12 or higher
    (">11", "12.0.0", True),
    (">11.1", "11.1.1", False),
    (">11.1", "11.2.0", True),
    ("<1.2.3", "1.2.2", True),
    ("<1.2.3", "1.2.3", False),
    (">=1.2.3", "1.2.3", True),
    ("=>1.2.3", "1.2.3", True),
    ("<=1.2.3", "1.2.3", True),
    ("=<1.2.3", "1.2.4", False),
    # x-ranges and partial versions
    ("1.2.x", "1.2.0", True),
    ("1.2.x", "1.2.99", True),
    ("1.2.x", "1.3.0", False),
    ("1.2", "1.2.5", True),
    ("1", "1.9.9", True),
    ("1", "2.0.0", False),
    ("1.X", "1.5.0", True),
    ("1.*", "1.5.0", True),
    (">= 1.2.x", "1.2.0", True),
    (">= 1.2.x", "1.1.9", False),
    ("<= 2.x", "2.99.0", True),
    ("<= 2.x", "3.0.0", False),
    ("<=1.2", "1.2.9", True),
    ("<=1.2", "1.3.0", False),
    ("*", "0.0.0", True),
    ("*", "12345.6.7", True),
    ("x", "3.0.0", True),
    ("v1.x", "1.4.0", True),
    # tilde
    ("~1.2.3", "1.2.3", True),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2.3", "1.2.2", False),
    ("~1", "1.0.0", True),
    ("~1", "1.9.0", True),
    ("~1", "2.0.0", False),
    ("~2.3", "2.3.9", True),
    ("~2.3", "2.4.0", False),
    ("~>1.2.x", "1.2.7", True),
    ("~1.x", "1.8.0", True),
    ("~*", "7.0.0", True),
    # caret
    ("^1.2.3", "1.2.3", True),
    ("^1.2.3", "1.9.0", True),
    ("^1.2.3", "2.0.0", False),
    ("^1.2.3", "1.2.2", False),
    ("^1.2.x", "1.2.0", True),
    ("^1.2.x", "1.99.0", True),
    ("^2.3", "2.3.0", True),
    ("^2.3", "3.0.0", False),
    ("^2.x", "2.0.0", True),
    ("^0.2.3", "0.2.3", True),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.2", "0.2.0", True),
    ("^0.2", "0.3.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.9", True),
    ("^0.0", "0.1.0", False),
    ("^0", "0.9.9", True),
    ("^0", "1.0.0", False),
    # hyphen ranges
    ("1.2 - 1.4.5", "1.2.0", True),
    ("1.2 - 1.4.5", "1.4.5", True),
    ("1.2 - 1.4.5", "1.4.6", False),
    ("2.3.4 - 4.5", "4.5.9", True),
    ("2.3.4 - 4.5", "4.6.0", False),
    ("2.3.4 - 4.5", "2.3.3", False),
    # conjunctions and disjunctions
    (">= 1.2, < 3.0.0 || >= 4.2.3", "2.9.0", True),
    (">= 1.2, < 3.0.0 || >= 4.2.3", "3.5.0", False),
    (">= 1.2, < 3.0.0 || >= 4.2.3", "4.2.3", True),
    (">=1.0.0 <2.0.0", "1.5.0", True),
    (">=1.0.0 <2.0.0", "2.0.0", False),
    (">0,<2.0", "1.9.9", True),
    ("<2 || >=3.1", "3.0.5", False),
    # prereleases: only when the AND group names one
    (">=1.2.3", "1.2.4-beta", False),
    (">=1.2.3-0", "1.2.4-beta", True),
    (">=1.0.0-0 <2.0.0", "1.5.0-rc.1", True),
    (">=1.0.0 <2.0.0", "1.5.0-rc.1", False),
    ("<2.0.0 || >=3.0.0-0", "1.5.0-rc.1", False),
    (">=1.2.3-BETA", "1.2.3-alpha", True),  # ASCII: upper case sorts first
    ("^1.2.3-alpha", "1.2.3-beta", True),
    ("^1.2.3", "1.2.4-alpha", False),
    ("~1.2.3-beta.2", "1.2.3-beta.10", True),
    ("*", "1.0.0-rc1", False),
    ("1.2.3+build", "1.2.3+other", True),  # build metadata does not order
    # literal upstream oddities, kept on purpose
    ("<=*", "1.0.0", False),
    ("^*", "0.0.0", True),
    ("^*", "0.1.0", False),
]


@pytest.mark.parametrize(("constraint", "version", "expected"), CHECKS)
def test_constraint_table(constraint: str, version: str, expected: bool) -> None:
    assert check(constraint, version) is expected


@pytest.mark.parametrize(
    "bad",
    ["", "1.0.0p", "1x", "x1", "-1", "a", "latest", ">=1.0.0<2.0.0", "1.2.3 -", ">= 1 ||", "~>>1", "1.2.3.4"],
)
def test_improper_constraints(bad: str) -> None:
    with pytest.raises(InvalidPolicy, match="improper constraint"):
        parse_constraint(bad)


@pytest.mark.parametrize("good", ["1.0.x", "^1.0", "=1.0.0", "~1.0", ">=1.0", ">0,<2.0", " >= 1.2 , < 3 ", "2.x-0"])
def test_flux_valid_ranges(good: str) -> None:
    parse_constraint(good)


VERSIONS = [
    ("1.2.3", (1, 2, 3, "", "")),
    ("v1.2.3", (1, 2, 3, "", "")),
    ("1.2", (1, 2, 0, "", "")),
    ("v2", (2, 0, 0, "", "")),
    ("1.2.3-beta.1+build.345", (1, 2, 3, "beta.1", "build.345")),
    ("2025.02.03", (2025, 2, 3, "", "")),
    ("1.2.3-0a", (1, 2, 3, "0a", "")),
    ("18446744073709551615.0.0", (2**64 - 1, 0, 0, "", "")),
]


@pytest.mark.parametrize(("text", "parts"), VERSIONS)
def test_parse_version(text: str, parts: tuple) -> None:
    v = parse_version(text)
    assert v is not None
    assert (v.major, v.minor, v.patch, v.pre, v.metadata) == parts
    assert v.original == text


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "V1.2.3",
        "1.2.3-01",
        "1.2.3-",
        "1.2.3+",
        "1.2.3.4",
        "18446744073709551616.0.0",
        " 1.2.3",
        "1.2.3\n",
        "1.2.3-a..b",
        "vv1",
        "1.2.3-é",
    ],
)
def test_parse_version_rejects(bad: str) -> None:
    assert parse_version(bad) is None


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1.2.3", True),
        ("v1.2.3", True),
        ("v2025.02.03", True),
        ("v2025.02.03-rc.1", True),
        ("1.2", False),
        ("v1", False),
        ("1.2.3.4", False),
        ("1.2-rc.1", True),
    ],  # the last: SplitN on the whole string, as Flux
)
def test_flux_version_needs_three_parts(text: str, ok: bool) -> None:
    assert (parse_flux_version(text) is not None) is ok


def test_precedence_follows_semver_spec() -> None:
    ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
    ]
    keys = [parse_version(t).key for t in ordered]  # type: ignore[union-attr]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_constraint_errors_are_bounded_in_time_on_hostile_input() -> None:
    # exponential in a backtracking engine; RE2 answers at once (no timing assertion, it just finishes)
    with pytest.raises(InvalidPolicy):
        parse_constraint("1   " * 1000 + "!")


# --- properties ------------------------------------------------------------------------------

nums = st.integers(min_value=0, max_value=50)


@given(st.text(max_size=40))
def test_parse_version_never_crashes(text: str) -> None:
    v = parse_version(text)
    assert v is None or v.original == text


@given(st.text(alphabet="0123456789.xX*^~<>=!|, -vab+", max_size=40))
def test_parse_constraint_only_raises_invalid_policy(text: str) -> None:
    try:
        c = parse_constraint(text)
    except InvalidPolicy:
        return
    c.check(parse_version("1.2.3"))  # type: ignore[arg-type]


@given(nums, nums, nums, nums, nums, nums)
def test_caret_equals_its_expansion(a: int, b: int, c: int, x: int, y: int, z: int) -> None:
    v = parse_version(f"{x}.{y}.{z}")
    assert v is not None
    if a > 0:
        expansion = f">={a}.{b}.{c}, <{a + 1}.0.0"
    elif b > 0:
        expansion = f">={a}.{b}.{c}, <0.{b + 1}.0"
    else:
        expansion = f">=0.0.{c}, <0.0.{c + 1}"
    assert parse_constraint(f"^{a}.{b}.{c}").check(v) == parse_constraint(expansion).check(v)


@given(nums, nums, nums, nums, nums, nums)
def test_tilde_equals_its_expansion(a: int, b: int, c: int, x: int, y: int, z: int) -> None:
    v = parse_version(f"{x}.{y}.{z}")
    assert v is not None
    # Masterminds special-cases `~0.0.0` as `>=0.0.0` (constraints.go, constraintTilde)
    expansion = ">=0.0.0" if (a, b, c) == (0, 0, 0) else f">={a}.{b}.{c}, <{a}.{b + 1}.0"
    assert parse_constraint(f"~{a}.{b}.{c}").check(v) == parse_constraint(expansion).check(v)


@given(nums, nums, nums, nums, nums, nums)
def test_hyphen_equals_its_expansion(a: int, b: int, x: int, y: int, z: int, w: int) -> None:
    v = parse_version(f"{x}.{y}.{z}")
    assert v is not None
    lo, hi = f"{a}.{b}.0", f"{a + w}.{b}.9"
    assert parse_constraint(f"{lo} - {hi}").check(v) == parse_constraint(f">={lo}, <={hi}").check(v)


# --- Masterminds/semver v3 constraints_test.go, ported ----------------------------------------
# The big tables are kept in upstream's Go syntax (one `{...},` row per line) so they can be
# diffed against constraints_test.go; `_go_rows` turns them into tuples.


def _go_rows(text: str) -> list[tuple]:
    """Parse Go composite-literal rows like `{">=1.1", "4.1.0", true},` into Python tuples."""
    rows = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        body = line[1 : line.rindex("}")]
        body = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", body))
        rows.append(ast.literal_eval(f"({body},)"))
    return rows


# TestParseConstraint: (input, upstream operator function, the version compared with, error?)
_GO_FUNCS = {
    "constraintGreaterThanEqual": "_greater_equal",
    "constraintTildeOrEqual": "_tilde_or_equal",
    "constraintLessThanEqual": "_less_equal",
    "constraintGreaterThan": "_greater",
    "constraintLessThan": "_less",
}
PARSE_CONSTRAINT = [
    (">= 1.2", "constraintGreaterThanEqual", "1.2.0", False),
    ("1.0", "constraintTildeOrEqual", "1.0.0", False),
    ("foo", None, "", True),
    ("<= 1.2", "constraintLessThanEqual", "1.2.0", False),
    ("=< 1.2", "constraintLessThanEqual", "1.2.0", False),
    ("=> 1.2", "constraintGreaterThanEqual", "1.2.0", False),
    ("v1.2", "constraintTildeOrEqual", "1.2.0", False),
    ("=1.5", "constraintTildeOrEqual", "1.5.0", False),
    ("> 1.3", "constraintGreaterThan", "1.3.0", False),
    ("< 1.4.1", "constraintLessThan", "1.4.1", False),
    ("< 40.50.10", "constraintLessThan", "40.50.10", False),
]


@pytest.mark.parametrize(("text", "func", "version", "err"), PARSE_CONSTRAINT)
def test_upstream_parse_constraint(text: str, func: str | None, version: str, err: bool) -> None:
    if err:
        with pytest.raises(InvalidPolicy, match="improper constraint"):
            parse_single_constraint(text)
        return
    c = parse_single_constraint(text)
    assert str(c.con) == version
    assert _OP_FUNCS[c.op].__name__ == _GO_FUNCS[func]  # type: ignore[index]


# TestConstraintCheck: one comparison, prereleases admitted iff it names one.
CONSTRAINT_CHECK = _go_rows("""
    {"=2.0.0", "1.2.3", false},
    {"=2.0.0", "2.0.0", true},
    {"=2.0", "1.2.3", false},
    {"=2.0", "2.0.0", true},
    {"=2.0", "2.0.1", true},
    {"4.1", "4.1.0", true},
    {"!=4.1.0", "4.1.0", false},
    {"!=4.1.0", "4.1.1", true},
    {"!=4.1", "4.1.0", false},
    {"!=4.1", "4.1.1", false},
    {"!=4.1", "5.1.0-alpha.1", false},
    {"!=4.1.0", "5.1.0-alpha.1", false},
    {"!=4.1-alpha", "4.1.0", true},
    {"!=4.1", "5.1.0", true},
    {"<11", "0.1.0", true},
    {"<11", "11.1.0", false},
    {"<1.1", "0.1.0", true},
    {"<1.1", "1.1.0", false},
    {"<1.1", "1.1.1", false},
    {"<=11", "1.2.3", true},
    {"<=11", "12.2.3", false},
    {"<=11", "11.2.3", true},
    {"<=1.1", "1.2.3", false},
    {"<=1.1", "0.1.0", true},
    {"<=1.1", "1.1.0", true},
    {"<=1.1", "1.1.1", true},
    {">1.1", "4.1.0", true},
    {">1.1", "1.1.0", false},
    {">0", "0", false},
    {">0", "1", true},
    {">0", "0.0.1-alpha", false},
    {">0.0", "0.0.1-alpha", false},
    {">0-0", "0.0.1-alpha", false},
    {">0.0-0", "0.0.1-alpha", false},
    {">0", "0.0.0-alpha", false},
    {">0-0", "0.0.0-alpha", false},
    {">0.0.0-0", "0.0.0-alpha", true},
    {">1.2.3-alpha.1", "1.2.3-alpha.2", true},
    {">1.2.3-alpha.1", "1.3.3-alpha.2", true},
    {">11", "11.1.0", false},
    {">11.1", "11.1.0", false},
    {">11.1", "11.1.1", false},
    {">11.1", "11.2.1", true},
    {">=11", "11.1.2", true},
    {">=11.1", "11.1.2", true},
    {">=11.1", "11.0.2", false},
    {">=1.1", "4.1.0", true},
    {">=1.1", "1.1.0", true},
    {">=1.1", "0.0.9", false},
    {">=0", "0.0.1-alpha", false},
    {">=0.0", "0.0.1-alpha", false},
    {">=0-0", "0.0.1-alpha", true},
    {">=0.0-0", "0.0.1-alpha", true},
    {">=0", "0.0.0-alpha", false},
    {">=0-0", "0.0.0-alpha", true},
    {">=0.0.0-0", "0.0.0-alpha", true},
    {">=0.0.0-0", "1.2.3", true},
    {">=0.0.0-0", "3.4.5-beta.1", true},
    {"<0", "0.0.0-alpha", false},
    {"<0-z", "0.0.0-alpha", true},
    {">=0", "0", true},
    {"=0", "1", false},
    {"*", "1", true},
    {"*", "4.5.6", true},
    {"*", "1.2.3-alpha.1", false},
    {"*-0", "1.2.3-alpha.1", true},
    {"2.*", "1", false},
    {"2.*", "3.4.5", false},
    {"2.*", "2.1.1", true},
    {"2.1.*", "2.1.1", true},
    {"2.1.*", "2.2.1", false},
    {"", "1", true}, // An empty string is treated as * or wild card
    {"", "4.5.6", true},
    {"", "1.2.3-alpha.1", false},
    {"2", "1", false},
    {"2", "3.4.5", false},
    {"2", "2.1.1", true},
    {"2.1", "2.1.1", true},
    {"2.1", "2.2.1", false},
    {"~1.2.3", "1.2.4", true},
    {"~1.2.3", "1.3.4", false},
    {"~1.2", "1.2.4", true},
    {"~1.2", "1.3.4", false},
    {"~1", "1.2.4", true},
    {"~1", "2.3.4", false},
    {"~0.2.3", "0.2.5", true},
    {"~0.2.3", "0.3.5", false},
    {"~1.2.3-beta.2", "1.2.3-beta.4", true},
    {"~1.2.3-beta.2", "1.2.4-beta.2", true},
    {"~1.2.3-beta.2", "1.3.4-beta.2", false},
    {"^1.2.3", "1.8.9", true},
    {"^1.2.3", "2.8.9", false},
    {"^1.2.3", "1.2.1", false},
    {"^1.1.0", "2.1.0", false},
    {"^1.2.0", "2.2.1", false},
    {"^1.2.0", "1.2.1-alpha.1", false},
    {"^1.2.0-alpha.0", "1.2.1-alpha.1", true},
    {"^1.2.0-alpha.0", "1.2.1-alpha.0", true},
    {"^1.2.0-alpha.2", "1.2.0-alpha.1", false},
    {"^1.2", "1.8.9", true},
    {"^1.2", "2.8.9", false},
    {"^1", "1.8.9", true},
    {"^1", "2.8.9", false},
    {"^0.2.3", "0.2.5", true},
    {"^0.2.3", "0.5.6", false},
    {"^0.2", "0.2.5", true},
    {"^0.2", "0.5.6", false},
    {"^0.0.3", "0.0.3", true},
    {"^0.0.3", "0.0.4", false},
    {"^0.0", "0.0.3", true},
    {"^0.0", "0.1.4", false},
    {"^0.0", "1.0.4", false},
    {"^0", "0.2.3", true},
    {"^0", "1.1.4", false},
    {"^0.2.3-beta.2", "0.2.3-beta.4", true},
    {"^0.2.3-beta.2", "0.2.4-beta.2", true},
    {"^0.2.3-beta.2", "0.3.4-beta.2", false},
    {"^0.2.3-beta.2", "0.2.3-beta.2", true},
""")


@pytest.mark.parametrize(("constraint", "version", "expected"), CONSTRAINT_CHECK)
def test_upstream_constraint_check(constraint: str, version: str, expected: bool) -> None:
    c = parse_single_constraint(constraint)
    v = parse_version(version)
    assert v is not None
    assert c.check(v, bool(c.con.pre)) is expected


# TestNewConstraint: (input, number of OR groups, comparisons in the first group, error?)
NEW_CONSTRAINT = _go_rows("""
    {">= 1.1", 1, 1, false},
    {">40.50.60, < 50.70", 1, 2, false},
    {"2.0", 1, 1, false},
    {"v2.3.5-20161202202307-sha.e8fc5e5", 1, 1, false},
    {">= bar", 0, 0, true},
    {"BAR >= 1.2.3", 0, 0, true},
    {">= 1.2.3 < 2.0", 1, 2, false},
    {">= 1.2.3 < 2.0 || => 3.0 < 4", 2, 2, false},
    {">= 1.2.3, < 2.0", 1, 2, false},
    {">= 1.2.3, < 2.0 || => 3.0, < 4", 2, 2, false},
    {"3 - 4 || => 3.0, < 4", 2, 2, false},
    {"12.3.4.1234", 0, 0, true},
    {"12.23.4.1234", 0, 0, true},
    {"12.3.34.1234", 0, 0, true},
    {"12.3.34 ~1.2.3", 1, 2, false},
    {"12.3.34~ 1.2.3", 0, 0, true},
    {"1.0.0 - 2.0.0, <=2.0.0", 1, 3, false},
""")


@pytest.mark.parametrize(("text", "ors", "count", "err"), NEW_CONSTRAINT)
def test_upstream_new_constraint(text: str, ors: int, count: int, err: bool) -> None:
    if err:
        with pytest.raises(InvalidPolicy, match="improper constraint"):
            parse_constraint(text)
        return
    c = parse_constraint(text)
    assert len(c.groups) == ors
    assert len(c.groups[0]) == count


# TestConstraintsCheck (and the booleans of TestConstraintsValidate, which agree with Check).
CONSTRAINTS_CHECK = _go_rows("""
    {"*", "1.2.3", true},
    {"~0.0.0", "1.2.3", true},
    {"0.x.x", "1.2.3", false},
    {"0.0.x", "1.2.3", false},
    {"0.0.0", "1.2.3", false},
    {"^0.0.0", "1.2.3", false},
    {"= 2.0", "1.2.3", false},
    {"= 2.0", "2.0.0", true},
    {"4.1", "4.1.0", true},
    {"4.1.x", "4.1.3", true},
    {"1.x", "1.4", true},
    {"!=4.1", "4.1.0", false},
    {"!=4.1-alpha", "4.1.0-alpha", false},
    {"!=4.1-alpha", "4.1.1-alpha", false},
    {"!=4.1-alpha", "4.1.0", true},
    {"!=4.1", "5.1.0", true},
    {"!=4.x", "5.1.0", true},
    {"!=4.x", "4.1.0", false},
    {"!=4.1.x", "4.2.0", true},
    {"!=4.2.x", "4.2.3", false},
    {">1.1", "4.1.0", true},
    {">1.1", "1.1.0", false},
    {"<1.1", "0.1.0", true},
    {"<1.1", "1.1.0", false},
    {"<1.1", "1.1.1", false},
    {"<1.x", "1.1.1", false},
    {"<1.x", "0.1.1", true},
    {"<1.x", "2.0.0", false},
    {"<1.1.x", "1.2.1", false},
    {"<1.1.x", "1.1.500", false},
    {"<1.1.x", "1.0.500", true},
    {"<1.2.x", "1.1.1", true},
    {">=1.1", "4.1.0", true},
    {">=1.1", "4.1.0-beta", false},
    {">=1.1", "1.1.0", true},
    {">=1.1", "0.0.9", false},
    {"<=1.1", "0.1.0", true},
    {"<=1.1", "0.1.0-alpha", false},
    {"<=1.1-a", "0.1.0-alpha", true},
    {"<=1.1", "1.1.0", true},
    {"<=1.x", "1.1.0", true},
    {"<=2.x", "3.0.0", false},
    {"<=1.1", "1.1.1", true},
    {"<=1.1.x", "1.2.500", false},
    {"<=4.5", "3.4.0", true},
    {"<=4.5", "3.7.0", true},
    {"<=4.5", "4.6.3", false},
    {">1.1, <2", "1.1.1", false},
    {">1.1, <2", "1.2.1", true},
    {">1.1, <3", "4.3.2", false},
    {">=1.1, <2, !=1.2.3", "1.2.3", false},
    {">1.1 <2", "1.1.1", false},
    {">1.1 <2", "1.2.1", true},
    {">1.1    <3", "4.3.2", false},
    {">=1.1    <2    !=1.2.3", "1.2.3", false},
    {">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true},
    {">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false},
    {">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true},
    {">=1.1, <2, !=1.2.3 || > 3", "3.0.0", false},
    {">=1.1, <2, !=1.2.3 || > 3", "1.2.3", false},
    {">=1.1 <2 !=1.2.3", "1.2.3", false},
    {">=1.1 <2 !=1.2.3 || > 3", "4.1.2", true},
    {">=1.1 <2 !=1.2.3 || > 3", "3.1.2", false},
    {">=1.1 <2 !=1.2.3 || >= 3", "3.0.0", true},
    {">=1.1 <2 !=1.2.3 || > 3", "3.0.0", false},
    {">=1.1 <2 !=1.2.3 || > 3", "1.2.3", false},
    {"> 1.1, <     2", "1.1.1", false},
    {">   1.1, <2", "1.2.1", true},
    {">1.1, <  3", "4.3.2", false},
    {">= 1.1, <     2, !=1.2.3", "1.2.3", false},
    {"> 1.1 < 2", "1.1.1", false},
    {">1.1 < 2", "1.2.1", true},
    {"> 1.1    <3", "4.3.2", false},
    {">=1.1    < 2    != 1.2.3", "1.2.3", false},
    {">= 1.1, <2, !=1.2.3 || > 3", "4.1.2", true},
    {">= 1.1, <2, != 1.2.3 || > 3", "3.1.2", false},
    {">= 1.1, <2, != 1.2.3 || >= 3", "3.0.0", true},
    {">= 1.1, <2, !=1.2.3 || > 3", "3.0.0", false},
    {">= 1.1, <2, !=1.2.3 || > 3", "1.2.3", false},
    {">= 1.1 <2 != 1.2.3", "1.2.3", false},
    {">= 1.1 <2 != 1.2.3 || > 3", "4.1.2", true},
    {">= 1.1 <2 != 1.2.3 || > 3", "3.1.2", false},
    {">= 1.1 <2 != 1.2.3 || >= 3", "3.0.0", true},
    {">= 1.1 < 2 !=1.2.3 || > 3", "3.0.0", false},
    {">=1.1 < 2 !=1.2.3 || > 3", "1.2.3", false},
    {">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta", true},
    {">= 1.0.0  <= 2.0.0-beta", "1.0.1", true},
    {">= 1.0.0  <= 2.0.0-beta", "3.0.0", false},
    {">= 1.0.0  <= 2.0.0-beta || > 3", "1.0.1-beta", true},
    {">= 1.0.0  <= 2.0.0-beta || > 3", "3.0.1-beta", false},
    {">= 1.0.0  <= 2.0.0-beta != 1.0.1 || > 3", "1.0.1-beta", true},
    {">= 1.0.0  <= 2.0.0-beta != 1.0.1-beta || > 3", "1.0.1-beta", false},
    {">= 1.0.0-0  <= 2.0.0", "1.0.1-beta", true},
    {"1.1 - 2", "1.1.1", true},
    {"1.5.0 - 4.5", "3.7.0", true},
    {"1.1-3", "4.3.2", false},
    {"^1.1", "1.1.1", true},
    {"^1.1", "4.3.2", false},
    {"^1.x", "1.1.1", true},
    {"^2.x", "1.1.1", false},
    {"^1.x", "2.1.1", false},
    {"^1.x", "1.1.1-beta1", false},
    {"^1.1.2-alpha", "1.2.1-beta1", true},
    {"^1.2.x-alpha", "1.1.1-beta1", false},
    {"^0.0.1", "0.0.1", true},
    {"^0.0.1", "0.3.1", false},
    {"~*", "2.1.1", true},
    {"~1", "2.1.1", false},
    {"~1", "1.3.5", true},
    {"~1", "1.4", true},
    {"~1.x", "2.1.1", false},
    {"~1.x", "1.3.5", true},
    {"~1.x", "1.4", true},
    {"~1.1", "1.1.1", true},
    {"~1.1", "1.1.1-alpha", false},
    {"~1.1-alpha", "1.1.1-beta", true},
    {"~1.1.1-beta", "1.1.1-alpha", false},
    {"~1.1.1-beta", "1.1.1", true},
    {"~1.2.3", "1.2.5", true},
    {"~1.2.3", "1.2.2", false},
    {"~1.2.3", "1.3.2", false},
    {"~1.1", "1.2.3", false},
    {"~1.3", "2.4.5", false},
    {"1.0.0 - 2.0.0 <=2.0.0", "1.5.0", true},
    {"1.0.0 - 2.0.0, <=2.0.0", "1.5.0", true},
    // TestConstraintsValidate rows not above
    {"<2.x", "1.1.1", true},
    {"<1.x", "2.1.1", false},
    {"<=2.x", "3.1.0", false},
    {"^1.1", "1.1.1-alpha", false},
    {"^1.1.1-alpha", "1.1.1-beta", true},
    {"^1.1.1-beta", "1.1.1-alpha", false},
    {"^0.0.1", "0.1.3", false},
    {"~1", "1.3.5-beta", false},
    {"~1.x", "1.3.5-beta", false},
    {"~1.3.6-alpha", "1.3.5-beta", false},
    {"~1.3.5-alpha", "1.3.5-beta", true},
    {"~1.3.5-beta", "1.3.5-alpha", false},
""")


@pytest.mark.parametrize(("constraint", "version", "expected"), CONSTRAINTS_CHECK)
def test_upstream_constraints_check(constraint: str, version: str, expected: bool) -> None:
    assert check(constraint, version) is expected


# TestConstraintsCheckIncludePrerelease / TestConstraintsValidateIncludePrerelease: the rows that
# differ from the table above once `IncludePrerelease` is set (the others must not change).
INCLUDE_PRERELEASE = _go_rows("""
    {">=1.1", "4.1.0-beta", true},
    {">1.1", "4.1.0-beta", true},
    {"<=1.1", "0.1.0-alpha", true},
    {"<1.1", "0.1.0-alpha", true},
    {"^1.x", "1.1.1-beta1", true},
    {"~1.1", "1.1.1-alpha", true},
    {"*", "1.2.3-alpha", true},
    {"= 2.0", "2.0.1-beta", true},
    {"^1.1", "1.1.1-alpha", true},
    {"~1", "1.3.5-beta", true},
    {"~1.x", "1.3.5-beta", true},
""")


@pytest.mark.parametrize(("constraint", "version", "expected"), INCLUDE_PRERELEASE)
def test_upstream_include_prerelease(constraint: str, version: str, expected: bool) -> None:
    v = parse_version(version)
    assert v is not None
    assert parse_constraint(constraint).check(v, include_prerelease=True) is expected


_PRE_CHANGED = {(c, v) for c, v, _ in INCLUDE_PRERELEASE}


@pytest.mark.parametrize(
    ("constraint", "version", "expected"),
    [row for row in CONSTRAINTS_CHECK if (row[0], row[1]) not in _PRE_CHANGED and "-" not in row[1]],
)
def test_upstream_include_prerelease_keeps_release_results(constraint: str, version: str, expected: bool) -> None:
    v = parse_version(version)
    assert v is not None
    assert parse_constraint(constraint).check(v, include_prerelease=True) is expected


# TestRewriteRange: Go keeps a trailing space after each rewritten range, so a following
# comparison stays a separate item.
REWRITE_RANGE = _go_rows("""
    {"2 - 3", ">= 2, <= 3 "},
    {"2 - 3, 2 - 3", ">= 2, <= 3 ,>= 2, <= 3 "},
    {"2 - 3, 4.0.0 - 5.1", ">= 2, <= 3 ,>= 4.0.0, <= 5.1 "},
    {"2 - 3 4.0.0 - 5.1", ">= 2, <= 3 >= 4.0.0, <= 5.1 "},
    {"1.0.0 - 2.0.0 <=2.0.0", ">= 1.0.0, <= 2.0.0 <=2.0.0"},
""")


@pytest.mark.parametrize(("text", "rewritten"), REWRITE_RANGE)
def test_upstream_rewrite_range(text: str, rewritten: str) -> None:
    assert rewrite_range(text) == rewritten


@pytest.mark.parametrize(("text", "x"), [("A", False), ("%", False), ("X", True), ("x", True), ("*", True)])
def test_upstream_is_x(text: str, x: bool) -> None:
    assert is_x(text) is x


def test_hyphen_range_followed_by_a_comparison_in_the_same_group() -> None:
    """Regression (issue 9): `1.0.0 - 2.0.0 <=2.0.0` was refused as an improper constraint."""
    c = parse_constraint("1.0.0 - 2.0.0 <=2.0.0")
    assert len(c.groups) == 1 and len(c.groups[0]) == 3
    assert check("1.0.0 - 2.0.0 <=1.5.0", "1.5.0") is True
    assert check("1.0.0 - 2.0.0 <=1.5.0", "1.6.0") is False
