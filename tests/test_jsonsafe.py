"""`loads_bounded`: JSON with a bound on nesting depth (for registry and webhook bodies)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.jsonsafe import JSONTooDeep, json_depth_exceeds, loads_bounded


@pytest.mark.parametrize(
    "text",
    ['{"tags": ["a", "b"]}', "[]", "1", '"x"', "[" * 64 + "]" * 64, '{"a": "[[[[[[[[[[[[[[[[[[[["}'],
)
def test_within_the_limit_is_plain_json(text: str) -> None:
    assert loads_bounded(text, max_depth=64) == json.loads(text)
    assert loads_bounded(text.encode()) == json.loads(text)


@pytest.mark.parametrize(
    "data",
    [
        b"[" * 200_000,  # the reproduction: a RecursionError traceback before
        b"[" * 200_000 + b"]" * 200_000,
        b'{"a":' * 65 + b"1" + b"}" * 65,
        ("[" * 65 + "]" * 65).encode("utf-16"),
    ],
    ids=["open-200k", "closed-200k", "objects-65", "utf16-65"],
)
def test_too_deep_is_a_value_error(data: bytes) -> None:
    with pytest.raises(JSONTooDeep) as info:
        loads_bounded(data)
    assert isinstance(info.value, ValueError)
    assert "deeper than 64 levels" in str(info.value)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"t": ["[" * 1000, '\\"[[[', "{" * 100]})
    assert loads_bounded(text, max_depth=3) == json.loads(text)


def test_max_depth_is_exact() -> None:
    assert loads_bounded("[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(JSONTooDeep):
        loads_bounded("[[[[1]]]]", max_depth=3)


def test_invalid_json_is_still_a_value_error() -> None:
    with pytest.raises(ValueError):
        loads_bounded(b'{"a": ')
    with pytest.raises(ValueError):
        loads_bounded(b"\xff\xfe\xff")


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(), c, max_size=3), max_leaves=30))
def test_depth_measure_matches_the_document(value: object) -> None:
    def depth(v: object) -> int:
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0

    text = json.dumps(value)
    d = depth(value)
    assert not json_depth_exceeds(text, d)
    if d:
        assert json_depth_exceeds(text, d - 1)
