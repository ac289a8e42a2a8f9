"""Flux ImagePolicy selection: tables from image-reflector-controller's tests and docs, properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.errors import InvalidPolicy, PolicyError
from tagpilot.policy import FluxPolicy, SelectionFailed, parse_flux_policy, select_flux


def spec(policy: dict, filter_tags: dict | None = None) -> FluxPolicy:
    s: dict = {"policy": policy}
    if filter_tags is not None:
        s["filterTags"] = filter_tags
    return parse_flux_policy(s)


SEMVER = [
    ("1.0.x", ["1.0.0", "1.0.0.1", "1.0.0p", "1.0.1", "1.2.0", "0.1.0"], "1.0.1"),
    ("1.0.x", ["v1.2.3", "v1.0.0", "v0.1.0"], "v1.0.0"),
    (">=1.0.0", ["v2025.02.03", "2024.12.1"], "v2025.02.03"),
    (">=1.0.0", ["1.2", "v1", "1.0.0"], "1.0.0"),
    (">=1.0.0", ["1.0.0", "2.0.0-rc.1"], "1.0.0"),
    (">=1.0.0-0", ["1.0.0", "2.0.0-rc.1"], "2.0.0-rc.1"),
    ("*", ["1.0.0+b", "1.0.0+a", "v1.0.0"], "1.0.0+b"),  # first seen among equals
    ("*", ["v1.0.0", "1.0.0"], "v1.0.0"),
]


@pytest.mark.parametrize(("range_", "tags", "expected"), SEMVER)
def test_semver_table(range_: str, tags: list[str], expected: str) -> None:
    assert select_flux(tags, spec({"semver": {"range": range_}})).tag == expected


@pytest.mark.parametrize(("tags", "range_"), [(["b1.2.3", "b1.0.0", "b0.1.0"], "1.0.x"), (["1.2.0"], "1.0.x")])
def test_semver_no_match(tags: list[str], range_: str) -> None:
    with pytest.raises(PolicyError, match=r"^unable to determine latest version from provided list$"):
        select_flux(tags, spec({"semver": {"range": range_}}))


@pytest.mark.parametrize("kind", [{"semver": {"range": "*"}}, {"alphabetical": {}}, {"numerical": {}}])
def test_empty_list(kind: dict) -> None:
    with pytest.raises(PolicyError, match=r"^version list argument cannot be empty$"):
        select_flux([], spec(kind))


ALPHA = [
    ("asc", ["xenon", "argon", "helium", "radium"], "xenon"),
    ("desc", ["xenon", "argon", "helium", "radium"], "argon"),
    ("ASC", ["RELEASE.2023-01-31", "RELEASE.2023-02-01", "RELEASE.2022-12-25"], "RELEASE.2023-02-01"),
    ("asc", ["Z", "a"], "a"),  # byte order
    (None, ["1", "10", "9"], "9"),
]


@pytest.mark.parametrize(("order", "tags", "expected"), ALPHA)
def test_alphabetical_table(order: str | None, tags: list[str], expected: str) -> None:
    body = {} if order is None else {"order": order}
    assert select_flux(tags, spec({"alphabetical": body})).tag == expected


NUMERICAL = [
    ("asc", ["1", "10", "9", "-5", "1.5"], "10"),
    ("desc", ["1", "10", "9", "-5", "1.5"], "-5"),
    ("asc", ["1e3", "999"], "1e3"),
    ("asc", ["1.0", "1"], "1"),  # tie: the later wins
    ("desc", ["1", "1.0"], "1.0"),
    ("asc", ["0x10p0", "15"], "0x10p0"),
]


@pytest.mark.parametrize(("order", "tags", "expected"), NUMERICAL)
def test_numerical_table(order: str, tags: list[str], expected: str) -> None:
    assert select_flux(tags, spec({"numerical": {"order": order}})).tag == expected


def test_numerical_one_bad_value_fails() -> None:
    with pytest.raises(PolicyError, match=r"^failed to parse invalid numeric value 'latest'$"):
        select_flux(["1", "latest", "3"], spec({"numerical": {"order": "asc"}}))


def test_filter_and_extract() -> None:
    policy = spec(
        {"numerical": {"order": "asc"}},
        {"pattern": r"^main-[a-fA-F0-9]+-(?P<ts>.*)", "extract": "$ts"},
    )
    tags = ["main-abc123-1700000000", "main-def456-1700000100", "dev-000-1800000000", "main-1a2b-16"]
    sel = select_flux(tags, policy)
    assert (sel.tag, sel.value) == ("main-def456-1700000100", "1700000100")


def test_filter_is_unanchored() -> None:
    policy = spec({"alphabetical": {}}, {"pattern": "rc"})
    assert select_flux(["1-rc1", "2-final", "0-rc2"], policy).tag == "1-rc1"


def test_filter_extract_duplicate_value_later_tag_stands_for_it() -> None:
    policy = spec({"semver": {"range": "*"}}, {"pattern": r"^(\d+\.\d+\.\d+)-", "extract": "$1"})
    sel = select_flux(["1.0.0-a", "1.0.0-b", "0.9.0-c"], policy, explain=True)
    assert sel.tag == "1.0.0-b"
    assert sel.verdicts is not None
    outcomes = {v.tag: v.outcome for v in sel.verdicts}
    assert outcomes == {"1.0.0-a": "lower", "1.0.0-b": "selected", "0.9.0-c": "lower"}


def test_filter_removes_everything() -> None:
    with pytest.raises(SelectionFailed, match="cannot be empty") as info:
        select_flux(["a", "b"], spec({"alphabetical": {}}, {"pattern": "^z"}), explain=True)
    assert [v.outcome for v in info.value.verdicts or []] == ["excluded", "excluded"]


def test_explain_semver_reasons() -> None:
    tags = ["1.0.0", "1.2.0", "junk", "1.1.0-rc.1", "2.0.0", "1.2.0+x", "1.1"]
    sel = select_flux(tags, spec({"semver": {"range": "^1.0"}}, {"pattern": "."}), explain=True)
    assert sel.tag == "1.2.0"
    assert sel.verdicts is not None
    got = [(v.tag, v.outcome) for v in sel.verdicts]
    assert got == [
        ("1.0.0", "lower"),
        ("1.2.0", "selected"),
        ("junk", "not-semver"),
        ("1.1.0-rc.1", "prerelease"),
        ("2.0.0", "out-of-range"),
        ("1.2.0+x", "lower"),
        ("1.1", "not-semver"),
    ]
    assert all(v.detail for v in sel.verdicts)


def test_explain_numerical_failure_names_the_bad_value() -> None:
    with pytest.raises(SelectionFailed) as info:
        select_flux(["1", "x"], spec({"numerical": {}}), explain=True)
    assert ("x", "not-numeric") in [(v.tag, v.outcome) for v in info.value.verdicts or []]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"policy": {}}, "given ImagePolicyChoice object is invalid"),
        ({"policy": {"semver": {"range": "latest"}}}, "improper constraint: latest"),
        ({"policy": {"semver": {}}}, "range is required"),
        (
            {"policy": {"alphabetical": {"order": "up"}}},
            "invalid order argument provided: 'UP', must be one of: ASC, DESC",
        ),
        ({"policy": {"numerical": {"order": "sideways"}}}, "invalid order argument provided"),
        ({"policy": {"alphabetical": {}}, "filterTags": {"pattern": "("}}, "invalid regular expression pattern '\\('"),
        ({"policy": {"alphabetical": {}, "numerical": {}}}, "only one of"),
        ({"policy": {"alphabetical": {}}, "extra": 1}, "unknown field"),
        ({"policy": {"semver": {"range": "*", "x": 1}}}, "unknown field"),
        ({"policy": {"semver": {"range": 5}}}, "must be a string"),
    ],
)
def test_invalid_specs(bad: dict, message: str) -> None:
    with pytest.raises(InvalidPolicy, match=message):
        parse_flux_policy(bad)


def test_spec_accepts_other_imagepolicy_fields() -> None:
    p = parse_flux_policy({"imageRepositoryRef": {"name": "x"}, "policy": {"semver": {"range": ">=1"}}})
    assert p.kind == "semver"


def test_builders_match_parser() -> None:
    assert select_flux(["1.0.0", "2.0.0"], FluxPolicy.semver("<2")).tag == "1.0.0"
    assert select_flux(["a", "b"], FluxPolicy.alphabetical("desc")).tag == "a"
    assert select_flux(["1", "2"], FluxPolicy.numerical(pattern=".", extract="")).tag == "2"


# --- properties ------------------------------------------------------------------------------

versions = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30)).map(lambda t: f"{t[0]}.{t[1]}.{t[2]}")


@given(st.lists(versions, min_size=1, max_size=30, unique=True), st.randoms())
def test_semver_order_invariant(tags: list[str], rnd: random.Random) -> None:
    policy = FluxPolicy.semver(">=0.0.0")
    shuffled = tags[:]
    rnd.shuffle(shuffled)
    assert select_flux(tags, policy).tag == select_flux(shuffled, policy).tag


@given(
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=30), st.randoms(), st.sampled_from(["asc", "desc"])
)
def test_alphabetical_order_invariant(tags: list[str], rnd: random.Random, order: str) -> None:
    policy = FluxPolicy.alphabetical(order)
    shuffled = tags[:]
    rnd.shuffle(shuffled)
    winner = select_flux(shuffled, policy).tag
    assert winner == select_flux(tags, policy).tag
    assert winner == (max(tags) if order == "asc" else min(tags))


@given(st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=30, unique=True), st.randoms())
def test_numerical_order_invariant(nums: list[int], rnd: random.Random) -> None:
    tags = [str(n) for n in nums]
    shuffled = tags[:]
    rnd.shuffle(shuffled)
    for order, pick in (("asc", max), ("desc", min)):
        assert select_flux(shuffled, FluxPolicy.numerical(order)).tag == str(pick(nums))


@given(st.lists(st.text(max_size=12), max_size=20), st.sampled_from(["*", "^1", ">=0.1.0-0", "~2.x"]))
def test_semver_never_crashes_on_junk(tags: list[str], range_: str) -> None:
    try:
        sel = select_flux(tags, FluxPolicy.semver(range_), explain=True)
    except SelectionFailed:
        return
    assert sel.tag in tags
    assert sel.verdicts is not None and len(sel.verdicts) == len(set(tags))
