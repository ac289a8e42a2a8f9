"""Argo Events sensors in tagpilot: which triggers an event fires, with what, and firing them.

`evaluate` is pure: it matches an event to each Sensor's dependencies (by `eventSourceName` and
`eventName`), runs the dependency filters (`events.filters`), decides each trigger (`conditions`, or
every dependency as Argo does without them) and resolves trigger parameters into the request the
trigger would send. `execute` does the I/O for one plan: the HTTP request (httpx), the log line, or
tagpilot's own reconcile call. Keeping the decision pure is what lets `tagpilot sensor test` explain
to a person exactly what the daemon would do.

Parameters follow sensors/triggers/params.go: `dataKey` is a gjson path over the event data,
`dataTemplate` a Go template over `{"Input": data}` tried first (empty or `<no value>` falls back to
the key, then to `value`), `operation` appends or prepends to the value at `dest`, and `dest` is an
sjson path. sjson has no Python port either; `set_path` implements the part sensors use (dotted
keys, `\\.` escapes, numeric keys for arrays, `-1` to append, `:` to force an object key).
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from tagpilot.config.argo_events import (
    UNSUPPORTED_TRIGGERS,
    Conditions,
    EventDependency,
    HTTPTrigger,
    SecretKeySelector,
    Sensor,
    Trigger,
    TriggerParameter,
    TriggerParameterSource,
    TriggerTemplate,
)
from tagpilot.errors import TagpilotError
from tagpilot.events.filters import apply_filters
from tagpilot.events.paths import PathError, dumps, get, loads
from tagpilot.gotemplate import TemplateError, from_json, render
from tagpilot.jsonsafe import JSONTooDeep, check_depth

MAX_JSON_DEPTH = 64  # webhook bodies nested deeper are refused (400) before parsing

__all__ = [
    "DependencyResult",
    "Event",
    "LogThrottle",
    "ParameterError",
    "TriggerOutcome",
    "TriggerPlan",
    "WebhookPayloadError",
    "canonical_header",
    "evaluate",
    "event_from_webhook",
    "execute",
    "match_dependencies",
    "safe_url",
    "set_path",
    "webhook_reply",
]

log = logging.getLogger(__name__)

DEFAULT_HTTP_TIMEOUT = 60.0  # seconds; Argo's http trigger default
RESPONSE_EXCERPT = 2048


class WebhookPayloadError(TagpilotError):
    """A webhook request whose body Argo's webhook event source would reject (not JSON, bad form)."""

    reason = "InvalidPayload"


class ParameterError(TagpilotError):
    """A trigger parameter could not be resolved or set (params.go's errors)."""

    reason = "TriggerFailed"


# ---------------------------------------------------------------------------------------------
# events


@dataclass
class Event:
    """One event from an event source: `data` is what filters and parameters see.

    For a webhook, `data` is `{"header": {Name: [values]}, "body": <JSON>}` (see
    `event_from_webhook`). `id` and `time` feed the CloudEvents context; pass them in (no clock here).
    """

    source: str  # the EventSource's name (a dependency's eventSourceName)
    name: str  # the event name inside it (a dependency's eventName)
    data: Any
    type: str = "webhook"
    id: str = ""
    time: str = ""

    def context(self) -> dict[str, Any]:
        """The CloudEvents context Argo attaches (what `contextKey` paths read)."""
        return {
            "datacontenttype": "application/json",
            "id": self.id,
            "source": self.source,
            "specversion": "1.0",
            "subject": self.name,
            "time": self.time,
            "type": self.type,
        }

    def data_json(self) -> str:
        return dumps(self.data)


def canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: `x-gitlab-token` → `X-Gitlab-Token`.

    Filters address headers by their canonical name (`header.X-Gitlab-Event`), because Go's
    http.Header stores them so; a name with a byte Go refuses to canonicalize is kept as is.
    """
    if not name or any(not (c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~")) for c in name):
        return name
    out, upper = [], True
    for c in name:
        out.append(c.upper() if upper else c.lower())
        upper = c == "-"
    return "".join(out)


def _header_map(headers: Mapping[str, Any] | Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    items: Iterable[tuple[str, Any]]
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, list[str]] = {}
    for name, value in items:
        values = value if isinstance(value, (list, tuple)) else [value]
        out.setdefault(canonical_header(str(name)), []).extend(str(v) for v in values)
    return out


def event_from_webhook(
    headers: Mapping[str, Any] | Iterable[tuple[str, str]],
    body_bytes: bytes,
    *,
    method: str = "POST",
    query: str = "",
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The event data Argo's webhook event source builds from a request (webhook/start.go).

    POST: the body is JSON (kept with its number texts), except `application/x-www-form-urlencoded`,
    which becomes `{field: [values]}`; GET: the query string as `{name: [values]}`. A body that is
    not JSON is rejected, as Argo fails to marshal the event. `metadata` is the event source's.
    """
    header = _header_map(headers)
    if method == "GET":
        body: Any = {k: v for k, v in parse_qs(query, keep_blank_values=True).items()}
    elif method == "POST":
        content_type = header.get("Content-Type", [""])[0]
        if content_type == "application/x-www-form-urlencoded":
            try:
                text = body_bytes.decode("utf-8")
            except UnicodeDecodeError:
                raise WebhookPayloadError("the form body is not UTF-8") from None
            body = {k: v for k, v in parse_qs(text, keep_blank_values=True).items()}
        else:
            try:
                text = body_bytes.decode("utf-8")
                check_depth(text, MAX_JSON_DEPTH)  # the parser and gjson paths recurse: refuse first
                body = loads(text)
            except JSONTooDeep as exc:
                raise WebhookPayloadError(f"the request body is not accepted: {exc}") from None
            except (UnicodeDecodeError, PathError) as exc:
                reason = "empty body" if not body_bytes.strip() else str(exc)
                raise WebhookPayloadError(f"the request body is not JSON ({reason})") from None
    else:
        raise WebhookPayloadError(f"unsupported method: {method}")
    data: dict[str, Any] = {"header": header, "body": body}
    if metadata:
        data["metadata"] = dict(metadata)
    return data


# ---------------------------------------------------------------------------------------------
# sjson-style destination paths


def _split_dest(path: str) -> list[tuple[str, bool]]:
    """(key, forced object key) parts of an sjson path; `\\` escapes the next character."""
    parts: list[tuple[str, bool]] = []
    cur: list[str] = []
    i = 0
    while i < len(path):
        c = path[i]
        if c == "\\" and i + 1 < len(path):
            cur.append(path[i + 1])
            i += 2
            continue
        if c == ".":
            parts.append(("".join(cur), False))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append(("".join(cur), False))
    out = []
    for key, _ in parts:
        if key.startswith(":") and len(key) > 1:
            out.append((key[1:], True))
        else:
            out.append((key, False))
    return out


def _is_index(key: str) -> bool:
    return key == "-1" or (key.isdigit() and key.isascii())


def set_path(doc: Any, path: str, value: Any) -> Any:
    """sjson.Set over a decoded value: returns the new document (containers are updated in place).

    A missing numeric key creates an array (padded with nulls), `-1` appends, `:123` forces an
    object key; a scalar in the way is replaced. An empty path is an error, as in sjson.
    """
    if path == "":
        raise ParameterError("path cannot be empty")
    parts = _split_dest(path)
    root = doc if isinstance(doc, (dict, list)) else {}

    def assign(container: Any, key: str, forced: bool, new: Any) -> Any:
        if isinstance(container, list) and not forced and _is_index(key):
            if key == "-1":
                container.append(new)
                return container
            idx = int(key)
            while len(container) <= idx:
                container.append(None)
            container[idx] = new
            return container
        if isinstance(container, list):  # an object key on an array: sjson replaces nothing → error
            raise ParameterError(f"cannot set {path!r}: {key!r} is not an index of an array")
        container[key] = new
        return container

    def fresh(key: str, forced: bool) -> Any:
        return [] if _is_index(key) and not forced else {}

    node = root
    for n, (key, forced) in enumerate(parts):
        last = n == len(parts) - 1
        if last:
            assign(node, key, forced, value)
            break
        nxt_key, nxt_forced = parts[n + 1]
        if isinstance(node, list) and not forced and _is_index(key):
            idx = len(node) if key == "-1" else int(key)
            child = node[idx] if idx < len(node) else None
        elif isinstance(node, dict):
            child = node.get(key)
        else:
            child = None
        if not isinstance(child, (dict, list)):
            child = fresh(nxt_key, nxt_forced)
            assign(node, key, forced, child)
        node = child
    return root


# ---------------------------------------------------------------------------------------------
# parameters (params.go)

_STRING, _JSON = "String", "JSON"


# request headers that carry credentials: never written to a log line (Argo logs them; we do not)
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-gitlab-token",
                            "x-hub-signature", "x-hub-signature-256", "x-signature"})


def _redacted_json(data: Any) -> str:
    """Event data as JSON for a log line, with credential headers replaced by `<redacted>`."""
    if isinstance(data, dict) and isinstance(data.get("header"), dict):
        headers = {k: (["<redacted>"] if k.lower() in SECRET_HEADERS else v) for k, v in data["header"].items()}
        data = {**data, "header": headers}
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _template_value(data_json: str, template: str) -> str:
    out = render(template, {"Input": from_json(data_json)}, name="param")
    if out in ("", "<no value>"):
        raise ParameterError(f"template evaluated to empty string or no value: {template}")
    return out


def resolve_param(src: TriggerParameterSource, events: Mapping[str, Event]) -> tuple[str | None, str]:
    """ResolveParamValue: (value or None, "String"|"JSON"|gjson type). Raises ParameterError.

    None means: the dependency has no event and no default, which Argo skips silently (it happens
    with `||` conditions).
    """
    event = events.get(src.dependency_name)
    if event is None:
        return (src.value, _STRING) if src.value is not None else (None, _STRING)
    if not (src.context_key or src.data_key or src.data_template or src.context_template):
        if src.value is not None:
            return src.value, _STRING
        whole = {"context": event.context(), "data": base64.b64encode(event.data_json().encode()).decode()}
        return json.dumps(whole, separators=(",", ":")), _STRING
    key, template, payload = "", "", ""
    if src.context_key or src.context_template:
        key, template, payload = src.context_key, src.context_template, json.dumps(event.context())
    if src.data_key or src.data_template:
        key, template, payload = src.data_key, src.data_template, event.data_json()
    problems: list[str] = []
    if template:
        try:
            return _template_value(payload, template), _STRING
        except (TemplateError, ParameterError) as exc:
            problems.append(f"template: {exc}")
    if key:
        res = get(loads(payload), key)
        if res.exists:
            if res.kind in (_JSON, "Null"):
                return res.raw, res.kind
            return res.string(), res.kind
        problems.append(f"key {key} does not exist in the event payload")
    if src.value is not None:
        return src.value, _STRING
    raise ParameterError(
        f"unable to resolve {src.dependency_name!r} parameter value: {'; '.join(problems) or 'no key'}"
    )


def _set_value(doc: Any, dest: str, value: str, typ: str, raw: bool) -> Any:
    if typ != _STRING and raw:
        try:
            return set_path(doc, dest, loads(value))
        except PathError:
            return set_path(doc, dest, value)
    return set_path(doc, dest, value)


def apply_params(doc: Any, params: Sequence[TriggerParameter], events: Mapping[str, Event]) -> Any:
    """ApplyParams: set each parameter's value at `dest` in `doc` (with append/prepend)."""
    for param in params:
        if param.src is None:
            continue
        value, typ = resolve_param(param.src, events)
        if value is None:
            continue
        if param.operation in ("append", "prepend"):
            current = get(doc, param.dest) if param.dest else None
            if current is not None and current.exists:
                typ = _STRING
                value = current.string() + value if param.operation == "append" else value + current.string()
        doc = _set_value(doc, param.dest, value, typ, param.src.use_raw_data)
    return doc


def construct_payload(params: Sequence[TriggerParameter], events: Mapping[str, Event]) -> bytes:
    """ConstructPayload: the HTTP body. A parameter without `dest` is the whole body (and ends it).

    `operation` is not applied here, as in Argo (only resource parameters use it).
    """
    doc: Any = None
    for param in params:
        if param.src is None:
            continue
        value, typ = resolve_param(param.src, events)
        if not param.dest:
            if value is not None:
                return value.encode("utf-8")
            continue
        if value is None:  # Argo would dereference nil here; skip instead
            continue
        doc = _set_value(doc, param.dest, value, typ, param.src.use_raw_data)
    return b"" if doc is None else dumps(doc).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# evaluation


@dataclass
class DependencyResult:
    """How one dependency of a sensor saw the event."""

    name: str
    matched: bool  # eventSourceName and eventName are the event's
    passed: bool  # matched and the filters passed
    why: list[str] = field(default_factory=list)
    reason: str = ""  # when matched but rejected: which filter said no, and what it saw


@dataclass
class TriggerPlan:
    """What one trigger of one sensor would do with the event, and why."""

    sensor: str  # "Sensor/namespace/name"
    trigger: str
    kind: str  # "http" | "log" | "tagpilot" | "unsupported"
    fires: bool
    why: list[str] = field(default_factory=list)
    request: dict[str, Any] | None = None  # {url, method, headers, payload: bytes, host}
    reconcile: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, namespace, name)
    trigger_type: str = ""  # the Argo trigger type (argoWorkflow, k8s, ...) for unsupported ones
    error: str | None = None  # the trigger would fire but cannot be built (a parameter failed)
    namespace: str = "default"
    timeout: float = DEFAULT_HTTP_TIMEOUT
    basic_auth: Any = None  # BasicAuth selectors, resolved by execute() through `secret`
    secure_headers: list[dict[str, Any]] = field(default_factory=list)
    status_allow: list[int] | None = None  # trigger policy: allowed response codes
    log_interval: int = 0
    log_lines: list[str] = field(default_factory=list)


def match_dependencies(sensor: Sensor, event: Event) -> list[DependencyResult]:
    """Every dependency of `sensor` against `event`: matched by source and name, then filtered."""
    results = []
    for dep in sensor.spec.dependencies:
        results.append(_match(dep, event))
    return results


def _match(dep: EventDependency, event: Event) -> DependencyResult:
    if dep.event_source_name != event.source or dep.event_name != event.name:
        return DependencyResult(
            dep.name,
            False,
            False,
            [f"waits for {dep.event_source_name}/{dep.event_name}, this event is {event.source}/{event.name}"],
        )
    why: list[str] = []
    if dep.transform is not None:
        why.append("transform (jq/script) is not supported by tagpilot: the event is used untransformed")
    if dep.filters is None:
        return DependencyResult(dep.name, True, True, [*why, "no filters: every event passes"])
    filters = dep.filters
    ignored = [n for n in ("time", "context") if getattr(filters, n) is not None]
    if filters.script:
        ignored.append("script")
    if ignored:
        why.append(f"{', '.join(ignored)} filters are not evaluated by tagpilot (they pass)")
    result = apply_filters(filters.as_mapping(), event.data, operator=dep.filters_logical_operator or "and")
    counts = f"{len(filters.data)} data, {len(filters.exprs)} expr filter(s)"
    if result.passed:
        why.append(f"filters passed ({counts})")
    else:
        why.append(f"filters failed ({counts})")
        if result.reason:
            why.append(f"rejected by {result.reason}")
        why.extend(f"error: {e}" for e in result.errors)
        why.extend(_path_hints(filters, event.data))
        if not result.errors and not result.reason:
            why.append("a filter did not match")
    return DependencyResult(dep.name, True, result.passed, why, result.reason)


def _path_hints(filters: Any, data: Any) -> list[str]:
    """Hints for the two path mistakes people copy from tutorials (gjson has neither `[0]` nor roots)."""
    paths = [f.path for f in filters.data] + [fld.path for e in filters.exprs for fld in e.fields]
    hints = []
    is_webhook = isinstance(data, dict) and "body" in data
    for path in paths:
        if get(data, path).exists:
            continue
        fixed = re.sub(r"\[(\d+)\]", r".\1", path)
        if is_webhook and not fixed.startswith(("body", "header", "metadata")) and get(data["body"], fixed).exists:
            fixed = "body." + fixed
        if fixed == path or not get(data, fixed).exists:
            continue
        reasons = []
        if "[" in path:
            reasons.append("gjson has no [n] indexing (it reads a key named like that)")
        if fixed.startswith("body.") and not path.startswith("body"):
            reasons.append("webhook event data is {header, body}")
        hints.append(f"hint: {' and '.join(reasons)}: write {fixed!r} instead of {path!r}")
    return hints


def evaluate(
    sensors: Sequence[Sensor],
    event: Event,
    *,
    earlier: Mapping[str, Mapping[str, Event]] | None = None,
) -> list[TriggerPlan]:
    """The plan of every trigger of every sensor for `event` (pure).

    `earlier` holds, per sensor ref, events that already satisfied other dependencies (a daemon
    keeps them as Argo's sensor does between events); without it each event is judged alone, so a
    trigger that needs two dependencies waits.
    """
    plans: list[TriggerPlan] = []
    for sensor in sensors:
        deps = match_dependencies(sensor, event)
        satisfied: dict[str, Event] = dict((earlier or {}).get(sensor.ref, {}))
        for dep in deps:
            if dep.passed:
                satisfied[dep.name] = event
        for trigger in sensor.spec.triggers:
            plans.append(_plan(sensor, trigger, deps, satisfied))
    return plans


def _plan(sensor: Sensor, trigger: Trigger, deps: list[DependencyResult], satisfied: dict[str, Event]) -> TriggerPlan:
    template = trigger.template
    kind = template.type
    plan = TriggerPlan(
        sensor=sensor.ref,
        trigger=template.name,
        kind=kind if kind in ("http", "log", "tagpilot") else "unsupported",
        trigger_type=kind,
        fires=False,
        namespace=sensor.namespace,
    )
    names = [d.name for d in sensor.spec.dependencies]
    if template.conditions:
        fires = Conditions(template.conditions).evaluate(set(satisfied))
        plan.why.append(
            f"conditions {template.conditions!r} {'hold' if fires else 'do not hold'} "
            f"(satisfied: {', '.join(sorted(satisfied)) or 'none'})"
        )
        rejected_here = [d for d in deps if d.matched and not d.passed and d.reason]
        if not fires and rejected_here:
            plan.why.append("rejected: " + "; ".join(f"{d.name} ({d.reason})" for d in rejected_here))
    else:
        missing = [n for n in names if n not in satisfied]
        fires = not missing
        if fires:
            plan.why.append(f"all dependencies satisfied ({', '.join(names)})")
        else:
            seen = {d.name: d for d in deps}
            rejected = [n for n in missing if seen.get(n) is not None and seen[n].matched]
            waiting = [n for n in missing if n not in rejected]
            if rejected:
                named = [f"{n} ({seen[n].reason})" if seen[n].reason else n for n in rejected]
                plan.why.append(f"dependencies rejected this event: {'; '.join(named)}")
            if waiting:
                plan.why.append(f"waiting for dependencies: {', '.join(waiting)}")
    plan.fires = fires
    if not fires:
        return plan
    if plan.kind == "unsupported":
        plan.error = f"{kind} triggers are not supported by tagpilot: {UNSUPPORTED_TRIGGERS[kind]}"
        plan.why.append(plan.error)
        return plan
    try:
        template = _apply_template_params(template, trigger.parameters, satisfied)
        if template.http is not None:
            _plan_http(plan, trigger, template.http, satisfied)
        elif template.log is not None:
            plan.log_interval = template.log.interval_seconds
            plan.log_lines = [
                f"dependency={name} source={ev.source}/{ev.name} data={_redacted_json(ev.data)}"
                for name, ev in sorted(satisfied.items())
            ]
            plan.why.append(f"would log {len(plan.log_lines)} event(s)")
        elif template.tagpilot is not None:
            plan.reconcile = [(r.kind, r.namespace or sensor.namespace, r.name) for r in template.tagpilot.reconcile]
            plan.why.append("would reconcile " + ", ".join(f"{k}/{ns}/{n}" for k, ns, n in plan.reconcile))
    except (ParameterError, TemplateError, PathError, ValueError) as exc:
        plan.error = f"trigger cannot be built: {exc}"
        plan.why.append(plan.error)
    return plan


def webhook_reply(plans: Sequence[TriggerPlan]) -> dict[str, list[str]]:
    """What the webhook answers about its triggers: `fired` lists only triggers that run.

    A trigger whose dependencies are satisfied but that tagpilot cannot run (an `argoWorkflow`
    trigger) is `unsupported`, and one that cannot be built (a parameter failed) is `failed`;
    saying either "fired" would be a silent failure for whoever sent the event.
    """
    reply: dict[str, list[str]] = {"fired": [p.trigger for p in plans if p.fires and p.error is None]}
    unsupported = [p.trigger for p in plans if p.fires and p.kind == "unsupported"]
    failed = [p.trigger for p in plans if p.fires and p.error is not None and p.kind != "unsupported"]
    if unsupported:
        reply["unsupported"] = unsupported
    if failed:
        reply["failed"] = failed
    return reply


def _apply_template_params(
    template: TriggerTemplate, params: Sequence[TriggerParameter], events: Mapping[str, Event]
) -> TriggerTemplate:
    """ApplyTemplateParameters: trigger-level parameters rewrite the template (`dest: http.url`)."""
    if not params:
        return template
    doc = apply_params(loads(json.dumps(template.model_dump(by_alias=True, exclude_none=True))), params, events)
    return TriggerTemplate.model_validate(_plain(doc))


def _plain(v: Any) -> Any:
    """Decoded JSON with GoNumbers back to int/float (for re-validating models)."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, float) and not isinstance(v, bool):
        return int(v) if v == int(v) and "." not in getattr(v, "raw", ".") else float(v)
    return v


def _plan_http(plan: TriggerPlan, trigger: Trigger, http: HTTPTrigger, events: Mapping[str, Event]) -> None:
    if http.parameters:
        doc = loads(json.dumps(http.model_dump(by_alias=True, exclude_none=True)))
        doc = apply_params(doc, http.parameters, events)
        http = HTTPTrigger.model_validate(_plain(doc))
    method = http.method or "POST"
    payload = construct_payload(http.payload, events) if http.payload else b""
    headers = dict(http.headers)
    for dyn in http.dynamic_headers:
        if dyn.src is None:
            continue
        value, _ = resolve_param(dyn.src, events)
        if value is not None:
            headers[dyn.dest] = value
    plan.request = {"url": http.url, "method": method, "headers": headers, "payload": payload, "host": http.host}
    plan.timeout = float(http.timeout) if http.timeout > 0 else DEFAULT_HTTP_TIMEOUT
    plan.basic_auth = http.basic_auth
    plan.secure_headers = list(http.secure_headers)
    if trigger.policy is not None and trigger.policy.status is not None:
        plan.status_allow = list(trigger.policy.status.allow)
    plan.why.append(f"would send {method} {safe_url(http.url)} with a {len(payload)}-byte payload")
    if http.tls:
        plan.why.append("tls settings are not applied per trigger; the daemon's HTTP client settings are used")


# ---------------------------------------------------------------------------------------------
# execution


@dataclass
class TriggerOutcome:
    """What happened when a plan was executed."""

    sensor: str
    trigger: str
    kind: str
    ok: bool
    detail: str
    status_code: int | None = None
    response_excerpt: str = ""
    reconciled: list[tuple[str, str, str]] = field(default_factory=list)


class LogThrottle:
    """Remembers when each log trigger last logged, for `intervalSeconds` (the caller passes `now`)."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], float] = {}

    def allow(self, key: tuple[str, str], interval: float, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and now < last + interval:
            return False
        self._last[key] = now
        return True


SecretLookup = Callable[[str, str, str], "str | None"]  # (namespace, secret name, key) → value


def _secret_value(secret: SecretLookup | None, namespace: str, sel: SecretKeySelector, what: str) -> str:
    if secret is None:
        raise ParameterError(f"{what} refers to Secret {namespace}/{sel.name}, but no secrets were given")
    value = secret(namespace, sel.name, sel.key)
    if value is None:
        raise ParameterError(f"{what}: Secret {namespace}/{sel.name} has no key {sel.key!r}")
    return value


async def execute(
    plan: TriggerPlan,
    *,
    http_client: httpx.AsyncClient,
    reconcile: Callable[[str, str, str], Any],
    secret: SecretLookup | None = None,
    logger: logging.Logger | None = None,
    throttle: LogThrottle | None = None,
    now: float | None = None,
) -> TriggerOutcome:
    """Run one plan. Never raises for an expected failure: the outcome says what went wrong.

    `reconcile(kind, namespace, name)` may be sync or async. `secret(namespace, name, key)` gives
    the values of basicAuth and secureHeaders selectors; they never appear in the outcome.
    """
    out = TriggerOutcome(plan.sensor, plan.trigger, plan.kind, ok=False, detail="")
    if not plan.fires:
        out.detail = "not fired"
        return out
    if plan.error is not None:
        out.detail = plan.error
        return out
    try:
        if plan.kind == "http":
            await _execute_http(plan, out, http_client, secret)
        elif plan.kind == "log":
            lg = logger or log
            throttled = throttle is not None and now is not None and plan.log_interval > 0
            if throttled and not throttle.allow((plan.sensor, plan.trigger), plan.log_interval, now):  # type: ignore[union-attr,arg-type]
                out.ok, out.detail = True, f"skipped: logged less than {plan.log_interval}s ago"
                return out
            for line in plan.log_lines:
                lg.info("sensor %s trigger %s: %s", plan.sensor, plan.trigger, line)
            out.ok, out.detail = True, f"logged {len(plan.log_lines)} event(s)"
        elif plan.kind == "tagpilot":
            for kind, ns, name in plan.reconcile:
                result = reconcile(kind, ns, name)
                if inspect.isawaitable(result):
                    await result
                out.reconciled.append((kind, ns, name))
            out.ok, out.detail = True, f"reconciled {len(out.reconciled)} object(s)"
        else:
            out.detail = f"{plan.trigger_type} triggers are not supported"
    except TagpilotError as exc:
        out.detail = str(exc)
    return out


async def _execute_http(
    plan: TriggerPlan, out: TriggerOutcome, client: httpx.AsyncClient, secret: SecretLookup | None
) -> None:
    assert plan.request is not None
    req = plan.request
    headers = dict(req["headers"])
    if req.get("host"):
        headers["Host"] = req["host"]
    for sh in plan.secure_headers:
        name = sh.get("name", "")
        ref = (sh.get("valueFrom") or {}).get("secretKeyRef")
        if not ref:
            raise ParameterError(f"secureHeaders {name!r}: only valueFrom.secretKeyRef is supported")
        sel = SecretKeySelector.model_validate(ref)
        headers[name] = _secret_value(secret, plan.namespace, sel, f"secureHeaders {name!r}")
    auth = None
    if plan.basic_auth is not None:
        user = pw = ""
        if plan.basic_auth.username is not None:
            user = _secret_value(secret, plan.namespace, plan.basic_auth.username, "basicAuth.username")
        if plan.basic_auth.password is not None:
            pw = _secret_value(secret, plan.namespace, plan.basic_auth.password, "basicAuth.password")
        auth = httpx.BasicAuth(user, pw)
    try:
        response = await client.request(
            req["method"], req["url"], content=req["payload"], headers=headers, auth=auth, timeout=plan.timeout
        )
    except httpx.TimeoutException:
        out.detail = f"{req['method']} {safe_url(req['url'])}: no response within {plan.timeout:g}s"
        return
    except httpx.HTTPError as exc:
        out.detail = f"{req['method']} {safe_url(req['url'])}: {exc.__class__.__name__}"
        return
    out.status_code = response.status_code
    out.response_excerpt = response.text[:RESPONSE_EXCERPT]
    if plan.status_allow is not None and response.status_code not in plan.status_allow:
        out.detail = (
            f"{req['method']} {safe_url(req['url'])}: status {response.status_code} is not in the "
            f"trigger policy's allowed statuses {plan.status_allow}"
        )
        return
    out.ok = True
    out.detail = f"{req['method']} {safe_url(req['url'])}: status {response.status_code}"


def safe_url(url: str) -> str:
    """The URL without userinfo (a password in a URL must not reach logs or status)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid url>"
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed)
