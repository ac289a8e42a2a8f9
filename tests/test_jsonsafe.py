"""`tagpilot.jsonsafe`: JSON with a nesting bound, refused before the recursive parser sees it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.jsonsafe import JSONTooDeep, check_depth, loads_bounded


def test_ordinary_documents_decode_as_json_loads() -> None:
    doc = b'{"a": [1, {"b": "[[[[{{{{"}], "c": "\\"]["}'
    assert loads_bounded(doc) == json.loads(doc)
    assert loads_bounded(doc.decode()) == json.loads(doc)
    assert loads_bounded("[]", max_depth=1) == []
    assert loads_bounded('"just a string"', max_depth=0) == "just a string"


@pytest.mark.parametrize("opener", ["[", "{\"k\":"])
def test_the_depth_bound_is_exact(opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    assert loads_bounded(opener * 64 + "1" + closer * 64) is not None
    with pytest.raises(JSONTooDeep, match="deeper than 64 levels"):
        loads_bounded(opener * 65 + "1" + closer * 65)


def test_hostile_nesting_is_refused_not_a_recursion_error() -> None:
    for body in (b"[" * 200_000, b"{\"a\":" * 200_000, "[" * 200_000):
        with pytest.raises(JSONTooDeep) as info:
            loads_bounded(body)
        assert isinstance(info.value, ValueError)  # callers that catch ValueError stay correct


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps(["[" * 1000, "{" * 1000, '\\"[' * 100])
    check_depth(text, 1)
    assert loads_bounded(text, max_depth=1)[0] == "[" * 1000


def test_utf16_bytes_are_read_as_json_loads_reads_them() -> None:
    doc = json.dumps({"k": ["\u2200\u225b"]}).encode("utf-16")
    assert loads_bounded(doc) == {"k": ["\u2200\u225b"]}
    with pytest.raises(JSONTooDeep):
        loads_bounded(("[" * 100 + "]" * 100).encode("utf-16"))


def test_malformed_json_is_a_value_error() -> None:
    for bad in (b"", b"[1,", b'"unterminated', b"\xff\xfe\x00", b"{]"):
        with pytest.raises(ValueError):
            loads_bounded(bad)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda children: st.lists(children) | st.dictionaries(st.text(), children), max_leaves=30))
def test_any_shallow_value_round_trips(value: object) -> None:
    assert loads_bounded(json.dumps(value)) == value
