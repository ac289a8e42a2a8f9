"""`best_flux_version` (the semver policy's fast loop) against the plain loop it replaced: parse every
value, keep the strictly greatest one the constraints admit. Random tag lists and ranges, built to
hit the reordered shortcuts: equal versions, leading zeros, partial and malformed versions, empty
prerelease identifiers, numbers beyond uint64, prereleases in and out of the range."""

from __future__ import annotations

import random

import pytest

from tagpilot.policy import FluxPolicy, select_flux
from tagpilot.policy.semver import Constraints, best_flux_version, parse_constraint, parse_flux_version


def reference(values: list[str], constraints: Constraints) -> str | None:
    """The selection as it was: a `Version` for every value, the strictly greatest admitted one."""
    best = None
    for value in values:
        v = parse_flux_version(value)
        if v is None or not constraints.check(v):
            continue
        if best is None or v.key > best.key:
            best = v
    return None if best is None else best.original


def _number(rnd: random.Random) -> str:
    if rnd.random() < 0.7:  # few distinct numbers: equal versions, and the same numbers with and without a prerelease
        return rnd.choice(["0", "1", "2"])
    return rnd.choice(["0", "1", "2", "3", "9", "10", "01", "007", str(rnd.randint(0, 12)), "18446744073709551615",
                       "18446744073709551616", "99999999999999999999", "１"])


def _ident(rnd: random.Random) -> str:
    return rnd.choice(["rc", "alpha", "beta", "0", "1", "2", "01", "10", "x-y", "", "rc1", "RC", "é", "-"])


def _tag(rnd: random.Random) -> str:
    shape = rnd.random()
    if shape < 0.08:
        return rnd.choice(["latest", "main", "sha-abc", "", "v", "1.2", "v1", "1..2", "1.2.3.4", "1-rc.1.2",
                           "1.2-rc.1", "v1.2.3-", "1.2.3+", " 1.2.3", "1.2.3 ", "V1.2.3", "vv1.2.3", "1.2.3-a+b+c"])
    text = ("v" if rnd.random() < 0.3 else "") + ".".join(_number(rnd) for _ in range(rnd.choice([1, 2, 3, 3, 3, 3])))
    if rnd.random() < 0.35:
        text += "-" + ".".join(_ident(rnd) for _ in range(rnd.randint(1, 3)))
    if rnd.random() < 0.15:
        text += "+" + ".".join(_ident(rnd) for _ in range(rnd.randint(1, 2)))
    return text


def _version(rnd: random.Random) -> str:
    parts = [str(rnd.randint(0, 10)) for _ in range(3)]
    cut = rnd.random()
    if cut < 0.15:
        parts[rnd.randint(1, 2)] = rnd.choice(["x", "X", "*"])
    elif cut < 0.25:
        parts = parts[: rnd.randint(1, 2)]
    text = ".".join(parts)
    if rnd.random() < 0.2:
        text += "-" + rnd.choice(["0", "rc.1", "alpha", "beta.2"])
    return text


def _range(rnd: random.Random) -> str:
    ops = ["", "=", "!=", ">", "<", ">=", "<=", "~", "~>", "^"]

    def group() -> str:
        if rnd.random() < 0.1:
            return f"{_version(rnd)} - {_version(rnd)}"
        if rnd.random() < 0.05:
            return "*"
        return ", ".join(f"{rnd.choice(ops)}{_version(rnd)}" for _ in range(rnd.randint(1, 3)))

    return " || ".join(group() for _ in range(rnd.choice([1, 1, 1, 2, 3])))


@pytest.mark.parametrize("seed", range(40))
def test_best_flux_version_equals_the_plain_loop(seed: int) -> None:
    rnd = random.Random(seed)
    checked = 0
    for _ in range(100):
        try:
            constraints = parse_constraint(_range(rnd))
        except Exception:
            continue  # ranges upstream refuses are not selections
        pool = [_tag(rnd) for _ in range(rnd.randint(1, 30))]
        values = [rnd.choice(pool) for _ in range(rnd.randint(0, 60))]
        assert best_flux_version(values, constraints) == reference(values, constraints), (constraints.text, values)
        checked += 1
    assert checked > 50


def test_the_first_seen_of_equal_versions_wins_and_lower_majors_are_skipped_unparsed() -> None:
    constraints = parse_constraint(">=1.0.0")
    assert best_flux_version(["1.0.0+b", "v1.0.0", "1.0.0+a"], constraints) == "1.0.0+b"
    assert best_flux_version(["2.0.0", "1.0.0-..", "1.9.9", "v2.0.0"], constraints) == "2.0.0"
    assert best_flux_version(["2.0.0-rc.1", "1.0.0"], parse_constraint(">=1.0.0-0")) == "2.0.0-rc.1"
    assert best_flux_version(["1.0.0-rc.1", "1.0.0", "1.0.0-rc.2"], parse_constraint(">=1.0.0-0")) == "1.0.0"
    assert best_flux_version(["3.0.0", "9" * 30 + ".0.0"], constraints) == "3.0.0"
    assert best_flux_version(["0.1.0", "latest"], constraints) is None
    # above the range's greatest major: skipped before it is parsed
    assert best_flux_version(["9.0.0", "4.1.0", "v5.0.0", "4.0.9"], parse_constraint(">=1.0.0 <5.0.0")) == "4.1.0"
    assert best_flux_version(["3.0.0", "1.2.9"], parse_constraint("~1.2 || ^0.1")) == "1.2.9"
    assert best_flux_version(["3.0.0", "1.2.9"], parse_constraint("~0.0.0")) == "3.0.0"  # ~ of a bare 0.0.0: no ceiling


@pytest.mark.parametrize("seed", range(5))
def test_select_flux_picks_the_same_tag_with_and_without_explain(seed: int) -> None:
    """explain=True still walks every tag the plain way (it explains each); both must agree."""
    rnd = random.Random(1000 + seed)
    for _ in range(50):
        try:
            policy = FluxPolicy.semver(_range(rnd))
        except Exception:
            continue
        tags = [_tag(rnd) for _ in range(rnd.randint(1, 40))]
        try:
            fast = select_flux(tags, policy).tag
        except Exception as e:
            with pytest.raises(type(e)):
                select_flux(tags, policy, explain=True)
            continue
        assert select_flux(tags, policy, explain=True).tag == fast
