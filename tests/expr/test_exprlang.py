"""expr-lang subset: what argocd-notifications conditions (the catalog, the seed, the reference) use."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from tagpilot.expr.exprlang import ExprLangError, compile_expr, evaluate
from tagpilot.notify.gotime import time_namespace

NOW = dt.datetime(2024, 5, 1, 12, 10, tzinfo=dt.UTC)
APP = {"metadata": {"name": "demo"},
       "status": {"operationState": {"phase": "Succeeded", "startedAt": "2024-05-01T12:00:00Z",
                                     "syncResult": {"revision": "abc"}},
                  "health": {"status": "Healthy"}, "sync": {"status": "Synced"}}}
ENV = {"app": APP, "time": time_namespace(NOW), "update": None}


@pytest.mark.parametrize(("expr", "want"), [
    # the seed's conditions
    ("app.status.operationState.phase in ['Succeeded'] and app.status.health.status == 'Healthy'", True),
    ("app.status.operationState.phase in ['Succeeded'] and app.status.health.status in ['Degraded','Unknown']",
     False),
    ("app.status.operationState.phase in ['Error','Failed']", False),
    # the catalog / reference
    ("app.status?.operationState.syncResult?.revision", "abc"),
    ("time.Now().Sub(time.Parse(app.status?.operationState.startedAt)).Minutes() >= 5", True),
    ("time.Now().Sub(time.Parse(app.status.operationState.startedAt)) > 15 * time.Minute", False),
    ("app.metadata.deletionTimestamp != nil", False),
    ("app.status.missing?.x.y", None),
    ("app.metadata.name matches '^de'", True),
    ("app.metadata.name contains 'em' && app.metadata.name startsWith 'd' && app.metadata.name endsWith 'o'", True),
    ("not (1 > 2) || false", True),
    ("'x' not in ['a', 'b']", True),
    ("'status' in app", True),
    ("7 / 2", 3.5), ("7 % 3", 1), ("2 + 3 * 4", 14), ("-2 ** 2", -4.0), ("1 == 1.0", True), ("'1' == 1", False),
    ("update ?? 'none'", "none"),
    ("len(app.metadata.name) > 3 ? 'long' : 'short'", "long"),
    ("all([1, 2, 3], {# > 0}) and any([1, 2], {# == 2}) and none([1], {# == 5})", True),
    ("map(filter([1, 2, 3], {# >= 2}), {# * 10})", [20, 30]),
    ("true", True), ("\"a\\tb\"", "a\tb"),
])
def test_values(expr: str, want: object) -> None:
    assert evaluate(expr, ENV) == want


@pytest.mark.parametrize(("expr", "message"), [
    ("app.status.sync.revision.x", "cannot fetch x from <nil> (1:26)"),  # no optional chaining: an error
    ("app.nothing.phase", "cannot fetch phase from <nil>"),
    ("1 and true", "not bool"),
    ("'a' in nil", "operator in not defined on <nil>"),
    ("1 + 'a'", "invalid operation: int + string"),
    ("unknown > 1", "unknown name unknown"),
])
def test_errors(expr: str, message: str) -> None:
    with pytest.raises(ExprLangError, match=re.escape(message)):
        evaluate(expr, ENV)


@pytest.mark.parametrize("expr", ["", "a ==", "(a", "[1, 2", "a | b", "{a: 1}", "1 ..", "#"])
def test_parse_errors(expr: str) -> None:
    with pytest.raises(ExprLangError):
        compile_expr(expr)
