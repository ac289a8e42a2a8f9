"""Masterminds/semver v3 behaviour: tables from its README/source, plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.errors import InvalidPolicy
from tagpilot.policy.semver import parse_constraint, parse_flux_version, parse_version


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
