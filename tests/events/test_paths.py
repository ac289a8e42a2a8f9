"""gjson path results: the table of gjson's SYNTAX.md over its example document."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.events.paths import get, loads

DOC = loads("""{
  "name": {"first": "Tom", "last": "Anderson"},
  "age":37,
  "children": ["Sara","Alex","Jack"],
  "fav.movie": "Deer Hunter",
  "friends": [
    {"first": "Dale", "last": "Murphy", "age": 44, "nets": ["ig", "fb", "tw"]},
    {"first": "Roger", "last": "Craig", "age": 68, "nets": ["fb", "tw"]},
    {"first": "Jane", "last": "Murphy", "age": 47, "nets": ["ig", "tw"]}
  ]
}""")

# (path, String() of the result, or None for "does not exist")
TABLE = [
    ("name.last", "Anderson"),
    ("age", "37"),
    ("children", '["Sara","Alex","Jack"]'),
    ("children.0", "Sara"),
    ("friends.1.first", "Roger"),
    ("child*.2", "Jack"),
    ("c?ildren.0", "Sara"),
    (r"fav\.movie", "Deer Hunter"),
    ("friends.#", "3"),
    ("friends.#.age", "[44,68,47]"),
    ('friends.#(last=="Murphy").first', "Dale"),
    ('friends.#(last=="Murphy")#.first', '["Dale","Jane"]'),
    ("friends.#(age>45)#.last", '["Craig","Murphy"]'),
    ('friends.#(first%"D*").last', "Murphy"),
    ('friends.#(first!%"D*").last', "Craig"),
    ('children.#(!%"*a*")', "Alex"),
    ('children.#(%"*a*")#', '["Sara","Jack"]'),
    ('friends.#(nets.#(=="fb"))#.first', '["Dale","Roger"]'),
    ("friends|#", "3"),
    ("friends.0|first", "Dale"),
    ('friends.#(last="Murphy")#|first', None),
    ('friends.#(last="Murphy")#.0', "[]"),
    ('friends.#(last="Murphy")#|0', '{"first":"Dale","last":"Murphy","age":44,"nets":["ig","fb","tw"]}'),
    ('friends.#(last="Murphy")#.#', "[]"),
    ('friends.#(last="Murphy")#|#', "2"),
    ('friends.#(last=="Nobody")#', "[]"),
    ('friends.#(last=="Nobody")', None),
    ("children.@reverse", '["Jack","Alex","Sara"]'),
    ("children.@reverse.0", "Jack"),
    (
        '{name.first,age,"the_murphys":friends.#(last="Murphy")#.first}',
        '{"first":"Tom","age":37,"the_murphys":["Dale","Jane"]}',
    ),
    ("[age,name.first]", '[37,"Tom"]'),
    ("children.5", None),
    ("missing", None),
    ("name.first.x", None),
]


@pytest.mark.parametrize(("path", "expected"), TABLE)
def test_syntax_table(path: str, expected: str | None) -> None:
    res = get(DOC, path)
    if expected is None:
        assert not res.exists
    else:
        assert res.exists
        assert res.string() == expected


def test_argo_webhook_paths() -> None:
    event = loads(
        '{"header": {"X-Gitlab-Event": ["Push Hook"]}, "body": {"ref": "refs/heads/main",'
        ' "commits": [{"message": "bump [skip-ci]"}], "total": 1.50, "big": 12345678901234567890}}'
    )
    assert get(event, "body.commits.0.message").string() == "bump [skip-ci]"
    assert get(event, "body.commits.#").value == 1.0
    assert get(event, "header.X-Gitlab-Event.0").string() == "Push Hook"
    # gjson has no [n] index syntax: `commits[0]` is a key name that does not exist
    assert not get(event, "body.commits[0].message").exists
    assert not get(event, "commits.0.message").exists
    # numbers: String() keeps integer text, re-formats the rest like strconv 'f' -1
    assert get(event, "body.total").string() == "1.5"
    assert get(event, "body.total").raw == "1.50"
    assert get(event, "body.big").string() == "12345678901234567890"


def test_value_types() -> None:
    doc = loads('{"a": 1, "b": "x", "c": true, "d": null, "e": [1, {"f": 2}]}')
    assert get(doc, "a").value == 1.0 and isinstance(get(doc, "a").value, float)
    assert get(doc, "c").value is True
    res = get(doc, "d")
    assert res.exists and res.value is None and res.string() == ""
    assert get(doc, "e").value == [1.0, {"f": 2.0}]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("vals.#(b==~true)#.a", "[1,2,6,7,8]"),
        ("vals.#(b==~false)#.a", "[3,4,5,9,10,11]"),
    ],
)
def test_tilde_queries(query: str, expected: str) -> None:
    doc = loads(
        '{"vals": [{"a": 1, "b": true}, {"a": 2, "b": true}, {"a": 3, "b": false}, {"a": 4, "b": "0"},'
        ' {"a": 5, "b": 0}, {"a": 6, "b": "1"}, {"a": 7, "b": 1}, {"a": 8, "b": "true"},'
        ' {"a": 9, "b": false}, {"a": 10, "b": null}, {"a": 11}]}'
    )
    assert get(doc, query).string() == expected


@pytest.mark.parametrize(
    ("raw", "bool_", "float_"),
    [
        ('"true"', True, 0.0),
        ('"T"', True, 0.0),
        ('"1"', True, 1.0),
        ('"yes"', False, 0.0),
        ("0", False, 0.0),
        ("2.5", True, 2.5),
        ("true", True, 1.0),
        ("false", False, 0.0),
        ('"3.25"', False, 3.25),
    ],
)
def test_bool_and_float(raw: str, bool_: bool, float_: float) -> None:
    res = get(loads('{"v": ' + raw + "}"), "v")
    assert res.bool() is bool_
    assert res.float() == float_


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=4), kids, max_size=4),
    max_leaves=20,
)


@given(json_values, st.text(max_size=30))
def test_get_never_crashes(doc: object, path: str) -> None:
    res = get(doc, path)
    assert isinstance(res.string(), str)
