"""The shared selection (`policy/memo.py`): the same answer as each policy selecting on its own,
computed once per policy value and tag list, never kept for lists it has not seen, bounded."""

from __future__ import annotations

import random

import pytest

from tagpilot.policy import SelectionFailed
from tagpilot.policy.factory import from_argo, from_flux_spec
from tagpilot.policy.memo import SelectionMemo, tags_digest

SPECS = [
    {"policy": {"semver": {"range": ">=1.0.0"}}},
    {"policy": {"semver": {"range": "~1.2"}}},
    {"policy": {"semver": {"range": ">=1.0.0-0"}}},
    {"policy": {"alphabetical": {"order": "desc"}}},
    {"policy": {"numerical": {"order": "asc"}}, "filterTags": {"pattern": r"^(?P<n>\d+)$", "extract": "$n"}},
    {"policy": {"semver": {"range": ">=0.0.0"}}, "filterTags": {"pattern": r"^v(?P<v>.*)$", "extract": "$v"}},
]


def _tags(rnd: random.Random) -> list[str]:
    pool = ["1.0.0", "1.2.3", "1.2.10", "v1.2.4", "v2.0.0", "2.0.0-rc.1", "10", "9", "latest", "1.2", "0.9.9",
            "1.2.3+build", "3", "v0.1.0"]
    return rnd.sample(pool, rnd.randint(1, len(pool)))


def _answer(policy, tags):
    try:
        selection = policy.select(tags)
    except SelectionFailed as exc:
        return ("failed", str(exc))
    return (selection.tag, selection.value)


def test_the_shared_selection_is_each_policys_own() -> None:
    rnd = random.Random(16)
    memo = SelectionMemo()
    lists = [_tags(rnd) for _ in range(40)]
    for _ in range(600):  # many objects: the same specs over the same lists, in random order
        spec, tags = rnd.choice(SPECS), list(rnd.choice(lists))  # each object reads its own copy
        policy = from_flux_spec(spec)
        try:
            shared = memo.select(policy, tags)
            got = (shared.tag, shared.value)
        except SelectionFailed as exc:
            got = ("failed", str(exc))
        assert got == _answer(from_flux_spec(spec), tags), (spec, tags)
    assert memo.hits > memo.misses  # shared, not recomputed


def test_one_evaluation_per_policy_and_list_and_order_matters() -> None:
    memo = SelectionMemo()
    tags = [f"1.{j}.0" for j in range(1000)]
    for _ in range(10):
        assert memo.select(from_flux_spec(SPECS[0]), list(tags)).tag == "1.999.0"
    assert (memo.misses, memo.hits) == (1, 9)
    # another policy value, or the same tags in another order (semver keeps the first of equals),
    # is another entry
    assert memo.select(from_flux_spec(SPECS[3]), tags).tag == "1.0.0"  # alphabetical, desc: the smallest
    assert tags_digest(["a", "b"]) != tags_digest(["b", "a"])
    lists = [[], [""], ["", ""], ["a"], ["a", "b"], ["a,b"], ["a\nb"], ["a\n", "b"], ["a", "", "b"],
             ['J["a\\nb"]'], ['["a"]'], ["Pa"], ["P", "a"]]
    assert len({tags_digest(t) for t in lists}) == len(lists)  # no two lists share a digest
    assert memo.misses == 2


def test_the_memo_is_bounded() -> None:
    memo = SelectionMemo(max_entries=50)
    policy = from_flux_spec(SPECS[0])
    for i in range(500):
        assert memo.select(policy, [f"1.{i}.0", "0.1.0"]).tag == f"1.{i}.0"
    assert len(memo) == 50
    memo.select(policy, ["1.499.0", "0.1.0"])  # the most recent entries stay
    assert memo.hits == 1


def test_failures_and_metadata_policies_are_not_kept() -> None:
    memo = SelectionMemo()
    policy = from_flux_spec(SPECS[0])
    for _ in range(2):
        with pytest.raises(SelectionFailed):
            memo.select(policy, ["latest", "0.1.0"])
    assert len(memo) == 0
    assert memo.misses == 2 and memo.hits == 0
    # Argo's settings hold lists (not hashable): computed every time, the same answer
    argo = from_argo("semver", ignore_tags=["1.2.*"])
    tags = ["1.1.0", "1.2.0"]
    assert memo.select(argo, tags).tag == argo.select(tags).tag == "1.1.0"
    assert memo.select(argo, tags).tag == "1.1.0"
    assert len(memo) == 0 and memo.hits == 0
