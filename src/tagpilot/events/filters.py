"""Argo Events sensor dependency filters (`data` and `exprs`), as sensors/dependencies/filter.go.

A dependency's `filters` decide whether an event triggers anything. Users copy these filters from
Argo's documentation, so pass/fail and the error texts follow filter.go: expr filters run first,
then data filters; under `and` (the default) the first error or false result fails the event, under
`or` errors are collected and joined with " / ". Paths are gjson paths (`tagpilot.events.paths`)
over the event data (`{"header": ..., "body": ...}` for a webhook), expressions are govaluate
(`tagpilot.expr`), string values are RE2 regexes searched anywhere in the value.

Like Argo, when `filtersLogicalOperator` is `or` and no context/time filter is given, those two
count as passing, so the event passes unless an error occurred.

Argo only says "filters failed"; a person whose Sensor never fires needs to know which filter said
no and what it saw. So a failed result also carries `reason`, naming the filter by its kind and
index with what it asked and what it got (`data filter 1 (path body.ref, type string, value
[refs/heads/main]): got refs/heads/dev`), and every filter when a logical operator is `or`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tagpilot.events.paths import PathResult, _result_of, get
from tagpilot.expr import ExprError
from tagpilot.expr import parse as parse_expr
from tagpilot.golang import parse_float
from tagpilot.gotemplate import TemplateError, render
from tagpilot.regex import RegexError, compile_regex

__all__ = ["FilterResult", "apply_filters"]

_SEP = " / "


@dataclass
class FilterResult:
    """Whether the event passed; Argo's error messages; and, when it failed, which filter said no."""

    passed: bool
    errors: list[str] = field(default_factory=list)
    reason: str = field(default="", compare=False)  # for people; pass/errors are Argo's verdict


GOT_SHOWN = 200  # characters of a value quoted in a reason


def _shown(text: str) -> str:
    return text if len(text) <= GOT_SHOWN else text[:GOT_SHOWN] + f"... ({len(text)} characters)"


def _or_reason(kind: str, operator_field: str, reasons: list[str]) -> str:
    """Why an `or` stage failed: no filter matched, each with its own reason."""
    return f"no {kind} filter matched ({operator_field}: or): " + "; ".join(reasons)


def _go_quote_regexp_err(pattern: str, e: RegexError) -> str:
    return f"error parsing regexp: {e.detail}: `{pattern}`"


def _parse_bool(value: str) -> bool | None:
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


class _Fail(Exception):
    """An error of one filter: under `and` it ends the stage, under `or` it is collected."""


def _is_or(op: Any) -> bool:
    return op == "or"


def _expr_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_shown(_result_of(v).string())}" for k, v in params.items())


def _filter_expr(exprs: Any, operator: Any, data: Any) -> tuple[bool, str | None, str]:
    """(passed, Argo's error, reason): expr filters as filterExpr does."""
    if exprs is None:
        return True, None, ""
    is_or = _is_or(operator)
    errors: list[str] = []
    reasons: list[str] = []
    for i, f in enumerate(exprs if isinstance(exprs, list) else []):
        f = f if isinstance(f, Mapping) else {}
        expr = str(f.get("expr", ""))
        label = f"expr filter {i} (`{expr}`)"
        params: dict[str, Any] = {}
        missing = None
        for fld in f.get("fields") or []:
            fld = fld if isinstance(fld, Mapping) else {}
            path = str(fld.get("path", ""))
            res = get(data, path)
            if not res.exists:
                missing = f"path '{path}' does not exist"
                break
            params[str(fld.get("name", ""))] = res.value
        if missing is not None:
            reasons.append(f"{label}: {missing}")
            if is_or:
                errors.append(missing)
                continue
            return False, f"expr filter error ({missing})", reasons[-1]
        if not params:
            continue
        try:
            result = parse_expr(expr).evaluate(params)
        except ExprError as e:
            reasons.append(f"{label}: {e}")
            if is_or:
                errors.append(str(e))
                continue
            return False, f"expr filter error ({e})", reasons[-1]
        if result is True:
            if is_or:
                return True, None, ""
            continue
        reasons.append(f"expr filter {i}: `{expr}` is {str(result).lower()} with {_expr_params(params)}")
        if not is_or:
            return False, None, reasons[-1]
    if is_or:
        reason = _or_reason("expr", "exprLogicalOperator", reasons) if reasons else "no expr filter matched"
        if errors:
            return False, f"expr filter errors [{_SEP.join(errors)}]", reason
        return False, None, reason
    return True, None, ""


def _template(tpl: str, res: PathResult) -> tuple[PathResult | None, str | None]:
    try:
        out = render(tpl, {"Input": res.string()}, name="param")
    except TemplateError as e:
        return None, str(e)
    if out in ("", "<no value>"):
        return None, f"template '{tpl}' evaluated to empty string or no value"
    return _result_of(out), None


def _compare_number(comparator: str, a: float, b: float) -> bool:
    return {">=": a >= b, ">": a > b, "<": a < b, "<=": a <= b, "!=": a != b, "=": a == b, "": a == b}.get(
        comparator, False
    )


def _data_label(i: int, f: Mapping[str, Any]) -> str:
    """`data filter 1 (path body.ref, type string, value [refs/heads/main])`, as the user wrote it."""
    values = f.get("value")
    shown = ", ".join(str(v) for v in values) if isinstance(values, list) else str(values or "")
    parts = [f"path {f.get('path', '')}", f"type {f.get('type', '')}", f"value [{shown}]"]
    if f.get("comparator"):
        parts.append(f"comparator {f.get('comparator')}")
    if f.get("template"):
        parts.append(f"template {f.get('template')}")
    return f"data filter {i} ({', '.join(parts)})"


def _one_data_filter(f: Mapping[str, Any], data: Any, seen: list[str] | None = None) -> bool:
    """One data filter: True/False, or raise _Fail with Argo's message for this filter.

    `seen` receives the value compared (after the template), for the reason of a failure.
    """
    path = str(f.get("path", ""))
    res = get(data, path)
    if not res.exists:
        raise _Fail(f"path '{path}' does not exist")
    values = f.get("value") or []
    if not isinstance(values, list) or not values:
        raise _Fail("no values specified")
    tpl = f.get("template") or ""
    if tpl:
        templated, err = _template(str(tpl), res)
        if err is not None:
            raise _Fail(err)
        assert templated is not None
        res = templated
    if seen is not None:
        seen.append(res.string())
    typ = f.get("type")
    comparator = str(f.get("comparator") or "")
    if typ == "bool":
        for v in values:
            b = _parse_bool(str(v))
            if b is None:
                raise _Fail(f'strconv.ParseBool: parsing "{v}": invalid syntax')
            if b == res.bool():
                return True
        return False
    if typ == "number":
        for v in values:
            n, error = parse_float(str(v))
            if error is not None:
                raise _Fail(str(error))  # Go's own text: invalid syntax, or value out of range
            if _compare_number(comparator, res.float(), n):
                return True
        return False
    if typ == "string":
        text = res.string()
        for v in values:
            try:
                rx = compile_regex(str(v))
            except RegexError as e:
                raise _Fail(_go_quote_regexp_err(str(v), e)) from None
            matched = rx.search(text) is not None
            if (comparator in ("", "=") and matched) or (comparator == "!=" and not matched):
                return True
        return False
    raise _Fail(f"unsupported JSON type '{typ if typ is not None else ''}'")


def _filter_data(filters: Any, operator: Any, data: Any) -> tuple[bool, str | None, str]:
    """(passed, Argo's error, reason): data filters as filterData does."""
    if not filters:
        return True, None, ""
    is_or = _is_or(operator)
    errors: list[str] = []
    reasons: list[str] = []
    for i, f in enumerate(filters if isinstance(filters, list) else []):
        f = f if isinstance(f, Mapping) else {}
        seen: list[str] = []
        try:
            ok = _one_data_filter(f, data, seen)
        except _Fail as e:
            reasons.append(f"{_data_label(i, f)}: {e}")
            if is_or:
                errors.append(str(e))
                continue
            return False, f"data filter error ({e})", reasons[-1]
        if ok and is_or:
            return True, None, ""
        if not ok:
            reasons.append(f"{_data_label(i, f)}: got {_shown(seen[-1]) if seen else 'nothing'}")
            if not is_or:
                return False, None, reasons[-1]
    if is_or:
        reason = _or_reason("data", "dataLogicalOperator", reasons) if reasons else "no data filter matched"
        if errors:
            return False, f"data filter errors [{_SEP.join(errors)}]", reason
        return False, None, reason
    return True, None, ""


def apply_filters(filters: Mapping[str, Any] | None, event: Any, operator: str = "and") -> FilterResult:
    """Filter(event, filters, filtersLogicalOperator) over the event data.

    `filters` is an EventDependencyFilter (`data`, `exprs`, `dataLogicalOperator`,
    `exprLogicalOperator`); `event` is the event data as decoded JSON (use
    `tagpilot.events.paths.loads` to keep number texts exact); `operator` is the dependency's
    `filtersLogicalOperator`. Context and time filters are not evaluated (they pass).
    """
    if filters is None:
        return FilterResult(True)
    if event is None:  # Argo: a nil payload passes data and expr filters
        return FilterResult(True)
    is_or = _is_or(operator)
    errors: list[str] = []
    reasons: list[str] = []
    expr_ok, expr_err, expr_why = _filter_expr(filters.get("exprs"), filters.get("exprLogicalOperator"), event)
    if expr_err is not None:
        if not is_or:
            return FilterResult(False, [expr_err], expr_why)
        errors.append(expr_err)
        reasons.append(expr_why)
    data_ok, data_err, data_why = _filter_data(filters.get("data"), filters.get("dataLogicalOperator"), event)
    if data_err is not None:
        if not is_or:
            return FilterResult(False, [data_err], data_why)
        errors.append(data_err)
        reasons.append(data_why)
    if is_or:
        if errors:  # Filter() turns any error into "not passed"
            why = "filtersLogicalOperator or: an error fails the event: " + "; ".join(reasons)
            return FilterResult(False, [_SEP.join(errors)], why)
        return FilterResult(True)
    if not expr_ok:
        return FilterResult(False, reason=expr_why)
    return FilterResult(data_ok, reason="" if data_ok else data_why)
