"""Argo Events dependency filters: pass/fail and error texts as sensors/dependencies/filter.go."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagpilot.cli.sensor_cmd import run_batch
from tagpilot.events.filters import apply_filters
from tagpilot.events.paths import loads

PUSH = loads(
    json.dumps(
        {
            "header": {"X-Gitlab-Event": ["Push Hook"]},
            "body": {
                "ref": "refs/heads/main",
                "commits": [{"message": "bump image [skip-ci]"}],
                "count": 3,
                "msg": "aGVsbG8gd29ybGQ=",
                "draft": False,
                "name": "dev-docs",
            },
        }
    )
)

TUTORIAL = {
    "exprs": [
        {
            "expr": 'ref =~ "refs/heads/release-" || ref == "refs/heads/main"',
            "fields": [{"name": "ref", "path": "body.ref"}],
        },
        {"expr": 'msg !~ "skip-ci"', "fields": [{"name": "msg", "path": "body.commits.0.message"}]},
    ],
}


def _event(ref: str, message: str) -> object:
    return loads(json.dumps({"header": {}, "body": {"ref": ref, "commits": [{"message": message}]}}))


@pytest.mark.parametrize(
    ("ref", "message", "passed"),
    [
        ("refs/heads/main", "fix: bug", True),
        ("refs/heads/release-1.2", "fix: bug", True),
        ("refs/heads/feature/x", "fix: bug", False),
        ("refs/heads/main", "chore: update image [skip-ci]", False),
    ],
)
def test_tutorial_filters(ref: str, message: str, passed: bool) -> None:
    assert apply_filters(TUTORIAL, _event(ref, message)).passed is passed


def test_seed_path_with_brackets_does_not_exist() -> None:
    filters = {"exprs": [{"expr": 'msg !~ "skip-ci"', "fields": [{"name": "msg", "path": "commits[0].message"}]}]}
    res = apply_filters(filters, PUSH)
    assert res == type(res)(False, ["expr filter error (path 'commits[0].message' does not exist)"])


DATA_CASES = [
    ({"path": "body.name", "type": "string", "value": ["docs"]}, True, []),  # unanchored regex
    ({"path": "body.name", "type": "string", "value": ["^docs$"]}, False, []),
    ({"path": "body.name", "type": "string", "value": ["docs"], "comparator": "!="}, False, []),
    ({"path": "body.name", "type": "string", "value": ["x", "dev"]}, True, []),  # values are ORed
    ({"path": "body.count", "type": "number", "value": ["2"], "comparator": ">"}, True, []),
    ({"path": "body.count", "type": "number", "value": ["3"]}, True, []),
    ({"path": "body.count", "type": "number", "value": ["3"], "comparator": "!="}, False, []),
    (
        {"path": "body.count", "type": "number", "value": ["abc"]},
        False,
        ['data filter error (strconv.ParseFloat: parsing "abc": invalid syntax)'],
    ),
    ({"path": "body.draft", "type": "bool", "value": ["false"]}, True, []),
    (
        {"path": "body.draft", "type": "bool", "value": ["maybe"]},
        False,
        ['data filter error (strconv.ParseBool: parsing "maybe": invalid syntax)'],
    ),
    (
        {"path": "body.nope", "type": "string", "value": ["x"]},
        False,
        ["data filter error (path 'body.nope' does not exist)"],
    ),
    ({"path": "body.name", "type": "string", "value": []}, False, ["data filter error (no values specified)"]),
    ({"path": "body.name", "type": "int", "value": ["1"]}, False, ["data filter error (unsupported JSON type 'int')"]),
    ({"path": "body.msg", "type": "string", "value": ["^hello world$"], "template": "{{ b64dec .Input }}"}, True, []),
    ({"path": "body.commits.#", "type": "number", "value": ["1"]}, True, []),
]


@pytest.mark.parametrize(("data_filter", "passed", "errors"), DATA_CASES)
def test_data_filters(data_filter: dict[str, object], passed: bool, errors: list[str]) -> None:
    res = apply_filters({"data": [data_filter]}, PUSH)
    assert (res.passed, res.errors) == (passed, errors)


def test_data_or_collects_errors_and_first_pass_wins() -> None:
    missing = {"path": "body.nope", "type": "string", "value": ["x"]}
    good = {"path": "body.count", "type": "number", "value": ["3"]}
    bad = {"path": "body.count", "type": "number", "value": ["4"]}
    assert apply_filters({"data": [missing, good], "dataLogicalOperator": "or"}, PUSH).passed
    res = apply_filters({"data": [missing, bad], "dataLogicalOperator": "or"}, PUSH)
    assert (res.passed, res.errors) == (False, ["data filter errors [path 'body.nope' does not exist]"])
    assert not apply_filters({"data": [bad, bad], "dataLogicalOperator": "or"}, PUSH).passed


def test_expr_errors_and_non_bool_results() -> None:
    def run(expr: str) -> tuple[bool, list[str]]:
        res = apply_filters({"exprs": [{"expr": expr, "fields": [{"name": "n", "path": "body.count"}]}]}, PUSH)
        return res.passed, res.errors

    assert run("n > 2") == (True, [])
    assert run("n + 1") == (False, [])  # only the boolean true passes
    assert run('n > "x"') == (
        False,
        ["expr filter error (Value '3' cannot be used with the comparator '>', it is not a number)"],
    )
    assert run("body.count > 1") == (
        False,
        ["expr filter error (Unable to access unexported field 'count' in token 'body.count')"],
    )


def test_expr_or_operator() -> None:
    filters = {
        "exprLogicalOperator": "or",
        "exprs": [
            {"expr": "x == 1", "fields": [{"name": "x", "path": "body.nope"}]},
            {"expr": "n == 3", "fields": [{"name": "n", "path": "body.count"}]},
        ],
    }
    assert apply_filters(filters, PUSH).passed
    filters["exprs"] = filters["exprs"][:1]
    res = apply_filters(filters, PUSH)
    assert (res.passed, res.errors) == (False, ["expr filter errors [path 'body.nope' does not exist]"])


def test_exprs_and_data_together() -> None:
    filters = {**TUTORIAL, "data": [{"path": "body.count", "type": "number", "value": ["3"]}]}
    assert not apply_filters(filters, PUSH).passed  # the skip-ci expr fails first
    res = apply_filters(filters, _event("refs/heads/main", "ok"))  # exprs pass, body.count is missing
    assert (res.passed, res.errors) == (False, ["data filter error (path 'body.count' does not exist)"])


def test_no_filters_pass() -> None:
    assert apply_filters(None, PUSH).passed
    assert apply_filters({}, PUSH).passed


def test_batch_cli(tmp_path: Path) -> None:
    lines = [
        {
            "filters": TUTORIAL,
            "event": {"header": {}, "body": {"ref": "refs/heads/main", "commits": [{"message": "ok"}]}},
        },
        {
            "filters": TUTORIAL,
            "event": {"header": {}, "body": {"ref": "refs/heads/dev", "commits": [{"message": "ok"}]}},
        },
        {"filters": {"data": [{"path": "body.x", "type": "string", "value": ["a"]}]}, "event": {"body": {}}},
    ]
    f = tmp_path / "cases.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n\nnot json\n", encoding="utf-8")
    code, out = run_batch(f)
    assert code == 0
    rows = [json.loads(x) for x in out.splitlines()]
    assert rows[:3] == [
        {"pass": True, "errors": []},
        {"pass": False, "errors": []},
        {"pass": False, "errors": ["data filter error (path 'body.x' does not exist)"]},
    ]
    assert rows[3]["pass"] is False and rows[3]["errors"]
    assert run_batch(tmp_path / "missing.jsonl")[0] == 2


# ---------------------------------------------------------------------------------------------
# which filter rejected the event (`reason`), for `sensor test` and the daemon's decision


def test_reason_names_the_failing_data_filter() -> None:
    filters = {
        "data": [
            {"path": "header.X-Gitlab-Event", "type": "string", "value": ["Push Hook"]},
            {"path": "body.ref", "type": "string", "value": ["refs/heads/main"]},
        ]
    }
    event = loads(json.dumps({"header": {"X-Gitlab-Event": ["Push Hook"]}, "body": {"ref": "refs/heads/dev"}}))
    res = apply_filters(filters, event)
    assert not res.passed and res.errors == []
    assert res.reason == "data filter 1 (path body.ref, type string, value [refs/heads/main]): got refs/heads/dev"


def test_reason_names_the_failing_expr_filter() -> None:
    res = apply_filters({"exprs": [{"expr": "a == 1", "fields": [{"name": "a", "path": "body.count"}]}]}, PUSH)
    assert not res.passed
    assert res.reason == "expr filter 0: `a == 1` is false with a=3"
    res = apply_filters(TUTORIAL, _event("refs/heads/main", "x [skip-ci]"))
    assert res.reason == 'expr filter 1: `msg !~ "skip-ci"` is false with msg=x [skip-ci]'


def test_reason_with_errors_and_or_operators() -> None:
    missing = {"data": [{"path": "body.nope", "type": "string", "value": ["a"]}]}
    res = apply_filters(missing, PUSH)
    assert res.reason == "data filter 0 (path body.nope, type string, value [a]): path 'body.nope' does not exist"
    either = {
        "dataLogicalOperator": "or",
        "data": [
            {"path": "body.name", "type": "string", "value": ["^prod"]},
            {"path": "body.count", "type": "number", "value": ["5"], "comparator": ">="},
        ],
    }
    res = apply_filters(either, PUSH)
    assert not res.passed
    assert res.reason == (
        "no data filter matched (dataLogicalOperator: or): "
        "data filter 0 (path body.name, type string, value [^prod]): got dev-docs; "
        "data filter 1 (path body.count, type number, value [5], comparator >=): got 3"
    )
    a_is_1 = {"expr": "a == 1", "fields": [{"name": "a", "path": "body.count"}]}
    reason = apply_filters({"exprLogicalOperator": "or", "exprs": [a_is_1]}, PUSH).reason
    assert reason.startswith("no expr filter matched (exprLogicalOperator: or): expr filter 0")
    both_or = {**missing, "exprs": [{"expr": "a == 1", "fields": [{"name": "a", "path": "body.x"}]}]}
    res = apply_filters(both_or, PUSH, operator="or")
    assert not res.passed
    assert res.reason.startswith("filtersLogicalOperator or: an error fails the event: expr filter 0 (`a == 1`)")
    assert "data filter 0 (path body.nope" in res.reason
    assert apply_filters(TUTORIAL, _event("refs/heads/main", "fine")).reason == ""
