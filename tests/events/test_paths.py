"""gjson path results: the table of gjson's SYNTAX.md over its example document."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.events.paths import dumps, get, loads

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


# ---------------------------------------------------------------------------------------------
# gjson_test.go's modifier, static-literal and query tables (raw text as gjson returns it)

_OTHER = '{"other":{"hello":"world"},"arr":[1,2,3,4,5,6]}'
_NAME = '{"name":{"first":"Tom","last":"Anderson"}}'
_RECORDS = '{"Message":"{\\"Records\\":[{\\"eventVersion\\":\\"2.1\\"}]}"}'

MODIFIER_TABLE = [
    # TestModifier / TestChaining / TestArrayEx
    (_OTHER, "@pretty|@reverse|@ugly", '{"arr":[1,2,3,4,5,6],"other":{"hello":"world"}}'),
    (_OTHER, "@this", '{"other":{"hello":"world"},"arr":[1,2,3,4,5,6]}'),
    (_OTHER, "other.@this", '{"hello":"world"}'),
    (_OTHER, "@pretty|@reverse|arr|@reverse|2", "4"),
    ('{"info":{"friends":[{"age":44},{"age":68},{"age":47}]}}', "info.friends|@reverse|0|age", "47"),
    ('[{"c":[{"a":10.11}]},{"c":[{"a":11.11}]}]', "@ugly|#.c.#[a=10.11]", '[{"a":10.11}]'),
    ('[{"c":[{"a":10.11}]},{"c":[{"a":11.11}]}]', "@ugly|#.c.#", "[1,1]"),
    ('[{"c":[{"a":10.11}]},{"c":[{"a":11.11}]}]', "@reverse|0|c|0|a", "11.11"),
    # TestFlatten
    ('[1,[2],[3,4],[5,[6,[7]]],{"hi":"there"},8,[9]]', "@flatten", '[1,2,3,4,5,[6,[7]],{"hi":"there"},8,9]'),
    ('[1,[2],[3,4],[5,[6,[7]]],{"hi":"there"},8,[9]]', '@flatten:{"deep":true}', '[1,2,3,4,5,6,7,{"hi":"there"},8,9]'),
    ('{"9999":1234}', "@flatten", '{"9999":1234}'),
    ("[1,[],[2]]", "@flatten", "[1,2]"),
    # TestJoin
    ("[{},{}]", "@join", "{}"),
    ('[{"a":1},{"b":2}]', "@join", '{"a":1,"b":2}'),
    ('[{"a":1,"b":1},{"b":2}]', "@join", '{"a":1,"b":2}'),
    ('[{"a":1,"b":1},{"b":2},5,{"c":3}]', "@join", '{"a":1,"b":2,"c":3}'),
    ('[{"a":1,"b":1},{"b":2},5,{"c":3}]', '@join:{"preserve":true}', '{"a":1,"b":1,"b":2,"c":3}'),
    ('[{"a":1,"b":1},{"b":2},5,{"c":3}]', '@join:{"preserve":true}.b', "1"),
    ('{"9999":1234}', "@join", '{"9999":1234}'),
    # TestValid
    ("[{}]", "@valid", "[{}]"),
    # TestKeysValuesModifier
    ('{"1300014":{"code":"1300014"},"1300015":{"code":"1300015"}}', "@keys", '["1300014","1300015"]'),
    ('{"1300014":{"code":"1300014"},"1300015":{"code":"1300015"}}', "@values.#.code", '["1300014","1300015"]'),
    ('"hello"', "@keys", "[null]"),
    ("[]", "@keys", "[]"),
    ("[1,2,3]", "@keys", "[null,null,null]"),
    ('"hello"', "@values", '["hello"]'),
    ("[]", "@values", "[]"),
    ("[1,2,3]", "@values", "[1,2,3]"),
    ('{"a":1}', "missing|@keys", "[]"),
    ('{"a":1}', "missing|@values", "[]"),
    # TestToFromStr
    # upstream's string lacks the closing brace: gjson reads broken JSON, this port needs it whole
    (_RECORDS, "Message.@fromstr.Records.#.eventVersion.@tostr", '["\\"2.1\\""]'),
    ('{"a":{"id":1023,"name":"alert"}}', "a.@tostr", '"{\\"id\\":1023,\\"name\\":\\"alert\\"}"'),
    ('{"a":"{\\"id\\":1023}"}', "a.@fromstr.id", "1023"),
    ('{"a":"hello"}', "a.@fromstr", None),
    ('{"a":"nope"}', "a.@fromstr", "nope"),  # gjson's Parse reads `n` not followed by `u` as NaN
    # TestGroup
    ('{"id":["123","456","789"],"val":[2,1]}', "@group", '[{"id":"123","val":2},{"id":"456","val":1},{"id":"789"}]'),
    ("[1,2]", "@group", None),
    # TestStaticJSON
    (_NAME, '"bar"', None),
    (_NAME, '!"bar"', '"bar"'),
    (_NAME, '!{"name":{"first":"Tom"}}.{name.first}.first', '"Tom"'),
    (_NAME, '{name.last,"foo":!"bar"}', '{"last":"Anderson","foo":"bar"}'),
    (_NAME, '{name.last,"foo":!{"a":"b"},"that"}', '{"last":"Anderson","foo":{"a":"b"}}'),
    (
        _NAME,
        '{name.last,"foo":!{"c":"d"},"that":!true,"this":!false,"noop":!null}',
        '{"last":"Anderson","foo":{"c":"d"},"that":true,"this":false,"noop":null}',
    ),
    (_NAME, "[!true,!false,!null,!inf,!nan,!hello]", "[true,false,null,inf,nan]"),
    ('{"a":1}', "!123", "123"),
    ('{"a":1}', "!-1.5", "-1.5"),
    ('{"a":1}', "!true|@tostr", '"true"'),
    ('{"a":1}', "!hello", None),
]


@pytest.mark.parametrize(("doc", "path", "raw"), MODIFIER_TABLE)
def test_gjson_modifier_table(doc: str, path: str, raw: str | None) -> None:
    res = get(loads(doc), path)
    if raw is None:
        assert not res.exists
    else:
        assert res.exists
        assert res.raw == raw


def test_mod_dig() -> None:
    doc = loads(
        '{"group":{"issues":[{"fields":{"labels":["milestone_1","group:foo"]},"refid":"123"},'
        '{"fields":{"labels":["milestone_2"]},"refid":"456"},'
        '[{"extra_deep":[{"fields":{"labels":["milestone_3"]},"refid":"789"}]}]]}}'
    )
    assert get(doc, "group.@dig:#(refid=123)|0.fields.labels.0").string() == "milestone_1"
    assert get(doc, "group.@dig:#(refid=456)|0.fields.labels.0").string() == "milestone_2"
    assert get(doc, "group.@dig:#(refid=789)|0.fields.labels.0").string() == "milestone_3"
    doc = loads(
        '{"something":{"anything":{"abcdefg":{"finally":{"important":{"secret":"password","name":"jake"}},'
        '"name":"melinda"}}}}'
    )
    assert get(doc, "@dig:name").string() == '["melinda","jake"]'
    assert get(doc, "@dig:secret").string() == '["password"]'


def test_group_after_multipath_query() -> None:
    doc = loads(
        '{"issues":[{"fields":{"labels":["milestone_1","group:foo","plan:a","plan:b"]},"id":"123"},'
        '{"fields":{"labels":["milestone_1","group:foo","plan:a","plan"]},"id":"456"}]}'
    )
    path = '{"id":issues.#.id,"plans":issues.#.fields.labels.#(%"plan:*")#|#.#}|@group|#(plans>=2)#.id'
    assert get(doc, path).raw == '["123"]'


def test_pretty_layout() -> None:
    doc = loads('{"other":{"hello":"world"},"arr":[1,2,3,4,5,6],"objs":[{"a":1}],"e":{},"l":[]}')
    assert get(doc, "@pretty").raw == (
        '{\n  "other": {\n    "hello": "world"\n  },\n  "arr": [1, 2, 3, 4, 5, 6],\n'
        '  "objs": [\n    {\n      "a": 1\n    }\n  ],\n  "e": {},\n  "l": []\n}\n'
    )
    sorted_ = get(doc, '@pretty:{"sortKeys":true}').raw
    assert sorted_.index('"arr"') < sorted_.index('"e"') < sorted_.index('"l"') < sorted_.index('"objs"')
    assert get(doc, '@pretty:{"indent":"\\t","prefix":"  "}').raw.startswith('  {\n  \t"other": {\n  \t\t"hello"')
    # an array wider than `width` goes on several lines
    assert get(loads("[1,2,3]"), '@pretty:{"width":5}').raw == "[\n  1,\n  2,\n  3\n]\n"
    # the round trip of TestModifier: @pretty then @ugly gives the compact text back
    assert get(doc, "@pretty|@ugly").raw == dumps(doc)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("vals.#(b!=~true)#.a", "[3,4,5,9,10,11]"),
        ("vals.#(b!=~false)#.a", "[1,2,6,7,8]"),
        ("vals.#(b==~null)#.a", "[10,11]"),  # a missing key is null to gjson
        ("vals.#(b!=~null)#.a", "[1,2,3,4,5,6,7,8,9]"),
        ("vals.#(b==~*)#.a", "[1,2,3,4,5,6,7,8,9,10]"),
        ("vals.#(b!=~*)#.a", "[11]"),
    ],
)
def test_tilde_queries_with_missing_keys(query: str, expected: str) -> None:
    test_tilde_queries(query, expected)


def test_hostile_paths_and_documents_are_bounded() -> None:
    assert not get(DOC, "[" * 5000).exists
    assert not get(DOC, "{" * 5000 + "age").exists
    deep: object = 1
    for _ in range(3000):
        deep = [deep]
    assert get(deep, '@flatten:{"deep":true}').raw == "[1]"
    assert get(deep, "@dig:#").exists
    assert get(list(range(100_000)), "@reverse|0").string() == "99999"
