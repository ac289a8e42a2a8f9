"""govaluate expressions: results and error messages from govaluate's own tests and behaviour."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.expr import ExprError, parse

RESULTS = [
    ("1 + 2", {}, 3.0),
    ("1 - 2 - 3", {}, -4.0),  # reorderStages makes runs left-associative
    ("10 / 2 * 5", {}, 25.0),
    ("1 + 2 * 3", {}, 7.0),
    ("(1 + 2) * 3", {}, 9.0),
    ("-1 + 2", {}, 1.0),
    ("7 % 3", {}, 1.0),
    ("2 ** 3", {}, 8.0),
    ("3 & 6 | 1", {}, 3.0),
    ("1 << 3", {}, 8.0),
    ("16 >> 2", {}, 4.0),
    ("~0", {}, -1.0),
    ("!true", {}, False),
    ("1 < 2 == true", {}, True),
    ('"a" + 1', {}, "a1"),
    ('"b" > "a"', {}, True),
    ("'abc' == \"abc'", {}, True),  # either quote closes a string in govaluate
    ("true ? 1 : 2", {}, 1.0),
    ("false ? 1 : 2", {}, 2.0),
    ("false ? 1", {}, None),
    ("x ?? 3", {"x": None}, 3.0),
    ("a in (1, 2, 3)", {"a": 2}, True),
    ("a in (1, 2, 3)", {"a": 4}, False),
    ("a in ('x', 'y')", {"a": "y"}, True),
    ("[a b] + 1", {"a b": 2}, 3.0),
    ("n == 3", {"n": 3}, True),  # parameters are sanitised to float64
    ("a == b", {"a": [1.0, "x"], "b": [1.0, "x"]}, True),
    ("a == 1", {"a": True}, False),  # DeepEqual: bool is not float64
    ('"2014-01-02" > "2014-01-01"', {}, True),  # date literals become unix seconds
    ('ref =~ "refs/heads/release-" || ref == "refs/heads/main"', {"ref": "refs/heads/main"}, True),
    ('ref =~ "refs/heads/release-" || ref == "refs/heads/main"', {"ref": "refs/heads/release-1.2"}, True),
    ('ref =~ "refs/heads/release-" || ref == "refs/heads/main"', {"ref": "refs/heads/feature"}, False),
    ('msg !~ "skip-ci"', {"msg": "bump image [skip-ci]"}, False),
    ('msg !~ "skip-ci"', {"msg": "fix bug"}, True),
    ("a =~ p", {"a": "abc", "p": "^a.c$"}, True),
    ('action =~ "start" || (started == true && instances == 2)', {"action": "x", "started": True,
                                                                    "instances": 2}, True),
    ("(1) (2)", {}, 1.0),  # left-over tokens after a complete plan are ignored
]


@pytest.mark.parametrize(("expr", "params", "expected"), RESULTS)
def test_results(expr: str, params: dict[str, object], expected: object) -> None:
    assert parse(expr).evaluate(params) == expected


PARSE_ERRORS = [
    ("", "Unexpected end of expression"),
    ("1 +", "Unexpected end of expression"),
    ("(1", "Unbalanced parenthesis"),
    ("1 2", "Cannot transition token types from NUMERIC [1] to NUMERIC [2]"),
    ("== 1", "Cannot transition token types from UNKNOWN [<nil>] to COMPARATOR [==]"),
    ("1==-1", "Invalid token: '==-'"),
    ("a $ b", "Invalid token: '$'"),
    ("foo(1)", "Undefined function foo"),
    ('"abc', "Unclosed string literal"),
    ("[abc", "Unclosed parameter bracket"),
    ("1.2.3", "Unable to parse numeric value '1.2.3' to float64\n"),
    ("body.ref == 'x'", "Unable to access unexported field 'ref' in token 'body.ref'"),
    ("a. == 1", "Hanging accessor on token 'a.'"),
]


@pytest.mark.parametrize(("expr", "message"), PARSE_ERRORS)
def test_parse_errors(expr: str, message: str) -> None:
    with pytest.raises(ExprError) as e:
        parse(expr)
    assert str(e.value) == message


def test_invalid_constant_regex_fails_at_parse() -> None:
    with pytest.raises(ExprError, match="error parsing regexp"):
        parse('a =~ "("')


EVAL_ERRORS = [
    ("a > 1", {"a": "x"}, "Value 'x' cannot be used with the comparator '>', it is not a number"),
    ("a && b", {"a": True, "b": 1}, "Value '1' cannot be used with the logical operator '&&', it is not a bool"),
    ("a - 1", {"a": "x"}, "Value 'x' cannot be used with the modifier '-', it is not a number"),
    ("1 ? 2 : 3", {}, "Value '1' cannot be used with the ternary operator '?', it is not a bool"),
    ("-a", {"a": "x"}, "Value 'x' cannot be used with the prefix '-'"),
    ('a in ("x")', {"a": "x"}, "Value 'x' cannot be used with the comparator 'in', it is not a number"),
    ("a", {}, "No parameter 'a' found."),
    ("a.B", {"a": {}}, "Unable to access 'B', 'a' is not a struct"),
    ("a =~ 1", {"a": "x"}, "Value '1' cannot be used with the comparator '=~', it is not a number"),
    ("a > 1", {"a": None}, "Value '<nil>' cannot be used with the comparator '>', it is not a number"),
    ('a > "x"', {"a": 1e6}, "Value '1e+06' cannot be used with the comparator '>', it is not a number"),
]


@pytest.mark.parametrize(("expr", "params", "message"), EVAL_ERRORS)
def test_eval_errors(expr: str, params: dict[str, object], message: str) -> None:
    with pytest.raises(ExprError) as e:
        parse(expr).evaluate(params)
    assert str(e.value) == message


def test_short_circuit_skips_type_errors() -> None:
    assert parse("false && x").evaluate({"x": "not a bool"}) is False
    assert parse("true || x").evaluate({}) is True


@given(st.text(max_size=40))
def test_parser_only_raises_expr_error(text: str) -> None:
    try:
        expr = parse(text)
    except ExprError:
        return
    with contextlib.suppress(ExprError):
        expr.evaluate({"a": 1.0, "b": "x", "c": True})


@given(st.lists(st.sampled_from(["a", "1", "'s'", "(", ")", "+", "-", "*", "==", "&&", "||", "?", ":", ",",
                                 "in", "!", "=~", "**", "true", "??", "%", "<<", "~"]), max_size=12))
def test_token_soup_only_raises_expr_error(tokens: list[str]) -> None:
    with contextlib.suppress(ExprError):
        parse(" ".join(tokens)).evaluate({"a": 2.0})
