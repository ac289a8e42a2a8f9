"""Argo Events Sensors in tagpilot: config, evaluation, parameters (params.go), triggers, the CLI."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tagpilot.cli.sensor_person import run_person
from tagpilot.config.argo_events import Conditions, EventSource, Sensor, TriggerParameterSource
from tagpilot.events.paths import get, loads
from tagpilot.events.sensors import (
    Event,
    LogThrottle,
    ParameterError,
    WebhookPayloadError,
    apply_params,
    canonical_header,
    construct_payload,
    evaluate,
    event_from_webhook,
    execute,
    match_dependencies,
    resolve_param,
    set_path,
    webhook_reply,
)
from tests.fixtures.http import RecordingServer, Reply

# The Sensor from seed 000_1b66ad8dcc1f6aeb (devops-ws/image-update-guide), verbatim.
SEED_SENSOR = """\
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: dev-docs-release
  namespace: default
spec:
  dependencies:
    - name: push
      eventSourceName: default
      eventName: push
      filters:
        exprLogicalOperator: "and"
        data:
          - path: body.object_kind
            type: string
            value:
              - push
          - path: body.project.name
            type: string
            value:
              - dev-docs
        exprs:
          - expr: ref =~ "refs/heads/release-" || ref == "refs/heads/main"
            fields:
              - name: ref
                path: body.ref
          - expr: msg !~ "skip-ci"
            fields:
              - name: msg
                path: commits[0].message

  triggers:
    - template:
        name: trigger
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata:
                generateName: dev-docs-push-
              spec:
                arguments:
                  parameters:
                    - name: branch
                workflowTemplateRef:
                  name: dev-docs
          parameters:
            - src:
                dependencyName: push
                dataKey: body.ref
              dest: spec.arguments.parameters.0.value
"""

# The same Sensor with the message path gjson can resolve (as in the reference notes).
FIXED_SENSOR = SEED_SENSOR.replace("path: commits[0].message", "path: body.commits.0.message")


def gitlab_push(message: str = "docs: fix typo\n", ref: str = "refs/heads/main", project: str = "dev-docs") -> bytes:
    body = {
        "object_kind": "push",
        "ref": ref,
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "project": {"name": project, "path_with_namespace": f"devops-ws/{project}"},
        "commits": [{"id": "da15608", "message": message, "author": {"name": "someone"}}],
        "total_commits_count": 1,
    }
    return json.dumps(body).encode()


def push_event(**kw: Any) -> Event:
    headers = {"x-gitlab-event": "Push Hook", "content-type": "application/json"}
    return Event("default", "push", event_from_webhook(headers, gitlab_push(**kw)))


def sensor(text: str) -> Sensor:
    return Sensor.model_validate(yaml.safe_load(text))


def make_sensor(dependencies: list[dict], triggers: list[dict], name: str = "s") -> Sensor:
    return Sensor.model_validate(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Sensor",
            "metadata": {"name": name, "namespace": "apps"},
            "spec": {"dependencies": dependencies, "triggers": triggers},
        }
    )


DEP = {"name": "push", "eventSourceName": "default", "eventName": "push"}


# --------------------------------------------------------------------------------------------- config


def test_seed_sensor_loads_with_its_argo_workflow_trigger():
    s = sensor(SEED_SENSOR)
    assert s.ref == "Sensor/default/dev-docs-release"
    template = s.spec.triggers[0].template
    assert template.type == "argoWorkflow"
    assert template.argo_workflow["parameters"][0]["dest"] == "spec.arguments.parameters.0.value"
    filters = s.spec.dependencies[0].filters.as_mapping()
    assert filters["exprLogicalOperator"] == "and"
    assert [f["path"] for f in filters["data"]] == ["body.object_kind", "body.project.name"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["spec"]["triggers"][0]["template"].update(colour="red"), "colour"),
        (lambda d: d["spec"]["triggers"][0]["template"].update(log={}), "exactly one trigger type"),
        (lambda d: d["spec"]["triggers"][0]["template"].pop("argoWorkflow"), "exactly one trigger type"),
        (lambda d: d["spec"]["dependencies"][0].update(eventname="x"), "eventname"),
        (lambda d: d["spec"]["dependencies"].append(dict(d["spec"]["dependencies"][0])), "unique"),
        (lambda d: d["spec"]["dependencies"][0]["filters"]["data"][0].update(type="text"), "type"),
        (lambda d: d["spec"]["triggers"][0]["template"].update(conditions="push && pull"), "pull"),
        (lambda d: d.update(apiVersion="argoproj.io/v1"), "apiVersion"),
    ],
)
def test_sensor_errors(change, message):
    data = yaml.safe_load(SEED_SENSOR)
    change(data)
    with pytest.raises(ValidationError) as exc:
        Sensor.model_validate(data)
    assert message.lower() in str(exc.value).lower()


def test_parameter_must_name_a_dependency():
    trig = {
        "template": {"name": "t", "log": {}},
        "parameters": [{"src": {"dependencyName": "nope", "dataKey": "body"}, "dest": "x"}],
    }
    with pytest.raises(ValidationError, match="refers to dependency 'nope'"):
        make_sensor([DEP], [trig])


def test_http_method_is_checked_like_argo():
    trig = {"template": {"name": "t", "http": {"url": "http://x", "method": "TRACE"}}}
    with pytest.raises(ValidationError, match="only GET, DELETE, PATCH, POST, PUT"):
        make_sensor([DEP], [trig])


def test_tagpilot_trigger_needs_objects():
    with pytest.raises(ValidationError):
        make_sensor([DEP], [{"template": {"name": "t", "tagpilot": {"reconcile": []}}}])


def test_event_source_webhook():
    es = EventSource.model_validate(
        yaml.safe_load("""
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {name: default}
spec:
  service:
    ports: [{port: 12000, targetPort: 12000}]
  webhook:
    push:
      port: "12000"
      endpoint: /push
      method: POST
      authSecret: {name: webhook-token, key: token}
    other: {port: 13000, endpoint: /other, method: POST, maxPayloadSize: 2048}
  calendar:
    tick: {interval: 10s}
""")
    )
    assert es.spec.webhook["push"].port == "12000"
    assert es.spec.webhook["push"].payload_cap == 1048576
    assert es.spec.webhook["other"].port == "13000"
    assert es.spec.webhook["other"].payload_cap == 2048
    assert es.spec.webhook["push"].auth_secret.key == "token"
    assert es.spec.unsupported_sources() == ["calendar/tick"]


@pytest.mark.parametrize(
    "webhook",
    [
        {"port": "12000", "endpoint": "push", "method": "POST"},
        {"port": "99999", "endpoint": "/push", "method": "POST"},
        {"port": "12000", "endpoint": "/push", "method": "post"},
        {"port": "12000", "endpoint": "/push", "method": "POST", "authsecret": {}},
    ],
)
def test_event_source_errors(webhook):
    with pytest.raises(ValidationError):
        EventSource.model_validate(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "EventSource",
                "metadata": {"name": "x"},
                "spec": {"webhook": {"push": webhook}},
            }
        )


@pytest.mark.parametrize(
    ("text", "satisfied", "expected"),
    [
        ("a", {"a"}, True),
        ("a && b", {"a"}, False),
        ("a || b", {"b"}, True),
        ("(dep01 || dep-02) && dep04", {"dep-02", "dep04"}, True),
        ("(dep01 || dep-02) && dep04", {"dep01"}, False),
        ("!a && b", {"b"}, True),
        ("a || b && c", {"a"}, True),  # && binds tighter
    ],
)
def test_conditions(text, satisfied, expected):
    assert Conditions(text).evaluate(satisfied) is expected


# --------------------------------------------------------------------------------------------- events


def test_webhook_event_data_shape():
    data = event_from_webhook(
        [("x-gitlab-token", "t"), ("X-GITLAB-EVENT", "Push Hook"), ("accept", "a"), ("Accept", "b")],
        b'{"n": 1.50, "s": "x"}',
    )
    assert data["header"] == {"X-Gitlab-Token": ["t"], "X-Gitlab-Event": ["Push Hook"], "Accept": ["a", "b"]}
    assert get(data, "body.n").raw == "1.50"  # number text kept, as gjson sees it
    assert get(data, "header.X-Gitlab-Event.0").string() == "Push Hook"
    assert "metadata" not in data


def test_webhook_form_and_get():
    form = event_from_webhook({"Content-Type": "application/x-www-form-urlencoded"}, b"a=1&a=2&b=")
    assert form["body"] == {"a": ["1", "2"], "b": [""]}
    query = event_from_webhook({}, b"", method="GET", query="tag=v1")
    assert query["body"] == {"tag": ["v1"]}


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe"])
def test_webhook_body_must_be_json(body):
    with pytest.raises(WebhookPayloadError, match="not JSON"):
        event_from_webhook({}, body)


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("x-gitlab-token", "X-Gitlab-Token"), ("CONTENT-TYPE", "Content-Type"), ("x_y", "X_y"), ("a b", "a b"), ("", "")],
)
def test_canonical_header(name, canonical):
    assert canonical_header(name) == canonical


@given(st.text(alphabet="abcXYZ-019_", min_size=1, max_size=20))
def test_canonical_header_is_idempotent(name):
    once = canonical_header(name)
    assert canonical_header(once) == once
    assert once.lower() == name.lower()


# --------------------------------------------------------------------------------------------- seed


def test_seed_as_written_never_fires_and_says_why():
    """gjson reads `commits[0].message` as a key name at the top level: the expr filter errors."""
    s = sensor(SEED_SENSOR)
    [dep] = match_dependencies(s, push_event())
    assert dep.matched and not dep.passed
    assert any("commits[0].message" in w and "does not exist" in w for w in dep.why)
    assert any("'body.commits.0.message'" in w for w in dep.why)  # the hint
    [plan] = evaluate([s], push_event())
    assert not plan.fires


@pytest.mark.parametrize(
    ("kw", "fires"),
    [
        ({}, True),
        ({"ref": "refs/heads/release-1.2"}, True),
        ({"message": "skip-ci: dev-docs:20240101\n"}, False),  # the loop stopper
        ({"message": "fix\n\nskip-ci"}, False),
        ({"ref": "refs/heads/feature"}, False),
        ({"project": "other"}, False),
        ({"project": "dev-docs-2"}, True),  # string values are unanchored regexes, as in Argo
    ],
)
def test_fixed_seed_fires_on_main_push_and_stops_the_loop(kw, fires):
    s = sensor(FIXED_SENSOR)
    [plan] = evaluate([s], push_event(**kw))
    assert plan.fires is fires
    if fires:
        assert plan.kind == "unsupported" and plan.trigger_type == "argoWorkflow"
        assert plan.error is not None and "argoWorkflow triggers are not supported" in plan.error


def test_event_of_another_source_waits():
    s = sensor(FIXED_SENSOR)
    other = Event("github", "push", event_from_webhook({}, gitlab_push()))
    [dep] = match_dependencies(s, other)
    assert not dep.matched
    [plan] = evaluate([s], other)
    assert not plan.fires and plan.why == ["waiting for dependencies: push"]


def test_two_dependencies_need_both_unless_conditions_say_otherwise():
    deps = [DEP, {"name": "tag", "eventSourceName": "registry", "eventName": "push"}]
    s = make_sensor(
        deps,
        [
            {"template": {"name": "both", "log": {}}},
            {"template": {"name": "either", "conditions": "push || tag", "log": {}}},
        ],
    )
    plans = {p.trigger: p for p in evaluate([s], push_event())}
    assert not plans["both"].fires and plans["either"].fires
    registry = Event("registry", "push", {"header": {}, "body": {"tag": "v1"}})
    plans = {p.trigger: p for p in evaluate([s], push_event(), earlier={s.ref: {"tag": registry}})}
    assert plans["both"].fires
    assert len(plans["both"].log_lines) == 2


# --------------------------------------------------------------------------------------------- parameters


def src(**kw: Any) -> TriggerParameterSource:
    return TriggerParameterSource.model_validate({"dependencyName": "push", **kw})


EVENTS = {
    "push": Event(
        "default",
        "push",
        {
            "header": {},
            "body": loads(
                '{"ref": "refs/heads/main", "n": 1.50, "big": 12345678901234567890, "ok": true, "nil": null,'
                ' "project": {"name": "dev-docs"},'
                ' "commits": [{"message": "one"}, {"message": "two"}]}'
            ),
        },
    )
}


@pytest.mark.parametrize(
    ("kw", "value", "typ"),
    [
        ({"dataKey": "body.ref"}, "refs/heads/main", "String"),
        ({"dataKey": "body.n"}, "1.5", "Number"),  # Result.String(): FormatFloat unless all digits
        ({"dataKey": "body.big"}, "12345678901234567890", "Number"),  # all digits: the JSON text
        ({"dataKey": "body.ok"}, "true", "True"),
        ({"dataKey": "body.nil"}, "null", "Null"),
        ({"dataKey": "body.project"}, '{"name":"dev-docs"}', "JSON"),
        ({"dataKey": "body.commits.#.message"}, '["one","two"]', "JSON"),
        ({"dataKey": "body.missing", "value": "fallback"}, "fallback", "String"),
        ({"dataTemplate": "{{ .Input.body.project.name | upper }}"}, "DEV-DOCS", "String"),
        ({"dataTemplate": "{{ .Input.body.nothing }}", "dataKey": "body.ref"}, "refs/heads/main", "String"),
        ({"dataTemplate": "{{ .Input.body.nothing }}", "value": "dflt"}, "dflt", "String"),
        ({"dataTemplate": "{{ .Input.body.n }}"}, "1.5", "String"),  # float64 in the template, as Go
        ({"value": "literal"}, "literal", "String"),
        ({"contextKey": "subject"}, "push", "String"),
    ],
)
def test_resolve_param(kw, value, typ):
    assert resolve_param(src(**kw), EVENTS) == (value, typ)


def test_resolve_param_missing_key_without_default_is_an_error():
    with pytest.raises(ParameterError, match="unable to resolve 'push' parameter value"):
        resolve_param(src(dataKey="body.nope"), EVENTS)


def test_resolve_param_without_event():
    assert resolve_param(src(dataKey="body.ref"), {}) == (None, "String")
    assert resolve_param(src(dataKey="body.ref", value="d"), {}) == ("d", "String")


def test_resolve_param_whole_event():
    value, _ = resolve_param(src(), EVENTS)
    whole = json.loads(value)
    assert whole["context"]["source"] == "default" and whole["context"]["subject"] == "push"
    assert json.loads(base64.b64decode(whole["data"]))["body"]["ref"] == "refs/heads/main"


def param(dest: str, operation: str = "", **kw: Any) -> Any:
    from tagpilot.config.argo_events import TriggerParameter

    return TriggerParameter.model_validate(
        {"src": {"dependencyName": "push", **kw}, "dest": dest, "operation": operation}
    )


@pytest.mark.parametrize(
    ("doc", "p", "expected"),
    [
        ({"a": "x"}, param("a", dataKey="body.ref"), {"a": "refs/heads/main"}),
        ({"a": "x-"}, param("a", "append", dataKey="body.project.name"), {"a": "x-dev-docs"}),
        ({"a": "-x"}, param("a", "prepend", dataKey="body.project.name"), {"a": "dev-docs-x"}),
        ({}, param("a", "append", value="v"), {"a": "v"}),
        ({"a": 1}, param("a", "append", value="v"), {"a": "1v"}),
        (
            {},
            param("spec.arguments.parameters.0.value", dataKey="body.ref"),
            {"spec": {"arguments": {"parameters": [{"value": "refs/heads/main"}]}}},
        ),
        ({}, param("obj", dataKey="body.project"), {"obj": '{"name":"dev-docs"}'}),
        ({}, param("obj", dataKey="body.project", useRawData=True), {"obj": {"name": "dev-docs"}}),
        ({}, param("n", dataKey="body.n", useRawData=True), {"n": 1.5}),
        ({}, param("n", dataKey="body.n"), {"n": "1.5"}),
    ],
)
def test_apply_params(doc, p, expected):
    assert json.loads(json.dumps(apply_params(doc, [p], EVENTS))) == expected


def test_apply_params_rejects_unknown_operation_at_load():
    with pytest.raises(ValidationError):
        param("a", "replace", value="v")


@pytest.mark.parametrize(
    ("doc", "path", "value", "expected"),
    [  # sjson's README examples
        (
            {"name": {"first": "Janet", "last": "Prichard"}, "age": 47},
            "name.last",
            "Anderson",
            {"name": {"first": "Janet", "last": "Anderson"}, "age": 47},
        ),
        (None, "name", "Tom", {"name": "Tom"}),
        (None, "name.last", "Anderson", {"name": {"last": "Anderson"}}),
        ({"friends": ["Andy", "Carol"]}, "friends.2", "Sara", {"friends": ["Andy", "Carol", "Sara"]}),
        ({"friends": ["Andy", "Carol"]}, "friends.-1", "Sara", {"friends": ["Andy", "Carol", "Sara"]}),
        ({"friends": ["Andy", "Carol"]}, "friends.4", "Sara", {"friends": ["Andy", "Carol", None, None, "Sara"]}),
        ({"users": {}}, "users.:2313.name", "Sara", {"users": {"2313": {"name": "Sara"}}}),
        (None, "fav\\.movie", "Deer Hunter", {"fav.movie": "Deer Hunter"}),
        ({"a": "scalar"}, "a.b", 1, {"a": {"b": 1}}),
    ],
)
def test_set_path(doc, path, value, expected):
    assert set_path(doc, path, value) == expected


@given(st.lists(st.text(alphabet="abcdef", min_size=1, max_size=5), min_size=1, max_size=4), st.text(max_size=10))
def test_set_then_get(keys, value):
    path = ".".join(keys)
    doc = set_path(None, path, value)
    assert get(doc, path).string() == value


def test_construct_payload():
    params = [
        param("ref", dataKey="body.ref"),
        param("meta.count", dataKey="body.n", useRawData=True),
        param("msg", "append", value="ignored-operation"),
    ]
    assert json.loads(construct_payload(params, EVENTS)) == {
        "ref": "refs/heads/main",
        "meta": {"count": 1.5},
        "msg": "ignored-operation",
    }
    # no dest: the value is the whole body, and later parameters are not applied
    assert (
        construct_payload([param("", dataKey="body.project"), param("x", value="y")], EVENTS) == b'{"name":"dev-docs"}'
    )
    assert construct_payload([], EVENTS) == b""


# --------------------------------------------------------------------------------------------- triggers


@pytest.fixture
def receiver(http_recorder: RecordingServer):
    """A real HTTP server on 127.0.0.1 that records what triggers send: `/fail` answers 500, the rest 200."""
    http_recorder.default = Reply(200, "ok", headers={"Content-Type": "text/plain"})
    http_recorder.route("/fail", Reply(500, "boom", headers={"Content-Type": "text/plain"}))
    return http_recorder.url, http_recorder.requests


def http_sensor(url: str, **http: Any) -> Sensor:
    return make_sensor(
        [{**DEP, "filters": {"data": [{"path": "body.object_kind", "type": "string", "value": ["push"]}]}}],
        [
            {
                "template": {
                    "name": "notify",
                    "http": {
                        "url": url,
                        "payload": [
                            {"src": {"dependencyName": "push", "dataKey": "body.ref"}, "dest": "ref"},
                            {"src": {"dependencyName": "push", "dataKey": "body.project.name"}, "dest": "project.name"},
                            {
                                "src": {
                                    "dependencyName": "push",
                                    "dataTemplate": '{{ index .Input.header "X-Gitlab-Event" 0 }}',
                                },
                                "dest": "hook",
                            },
                        ],
                        "headers": {"X-Static": "yes"},
                        **http,
                    },
                },
                "policy": {"status": {"allow": [200]}},
            }
        ],
    )


async def test_http_trigger_delivers_payload(receiver):
    url, received = receiver
    s = http_sensor(
        f"{url}/hook",
        basicAuth={"username": {"name": "creds", "key": "user"}, "password": {"name": "creds", "key": "pass"}},
        timeout=5,
    )
    [plan] = evaluate([s], push_event())
    assert plan.fires and plan.kind == "http" and plan.error is None
    assert plan.request["method"] == "POST" and plan.timeout == 5
    secrets = {("apps", "creds", "user"): "bot", ("apps", "creds", "pass"): "s3cret"}
    async with httpx.AsyncClient() as client:
        outcome = await execute(
            plan,
            http_client=client,
            reconcile=lambda *a: None,
            secret=lambda ns, name, key: secrets.get((ns, name, key)),
        )
    assert outcome.ok and outcome.status_code == 200, outcome.detail
    assert "s3cret" not in outcome.detail
    [req] = received
    assert req.method == "POST" and req.target == "/hook"
    assert json.loads(req.body) == {"ref": "refs/heads/main", "project": {"name": "dev-docs"}, "hook": "Push Hook"}
    assert req.headers["x-static"] == "yes"
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"bot:s3cret").decode()


async def test_http_trigger_policy_and_missing_secret(receiver):
    url, received = receiver
    [plan] = evaluate([http_sensor(f"{url}/fail", method="PUT")], push_event())
    async with httpx.AsyncClient() as client:
        outcome = await execute(plan, http_client=client, reconcile=lambda *a: None)
    assert not outcome.ok and outcome.status_code == 500
    assert "not in the trigger policy's allowed statuses [200]" in outcome.detail
    assert received[0].method == "PUT"

    [plan] = evaluate(
        [http_sensor(f"{url}/hook", basicAuth={"password": {"name": "creds", "key": "pass"}})], push_event()
    )
    async with httpx.AsyncClient() as client:
        outcome = await execute(plan, http_client=client, reconcile=lambda *a: None, secret=lambda *a: None)
    assert not outcome.ok and "Secret apps/creds has no key 'pass'" in outcome.detail
    assert len(received) == 1  # nothing sent without the credentials


async def test_http_trigger_parameters_rewrite_url(receiver):
    url, received = receiver
    s = http_sensor(
        f"{url}/placeholder",
        parameters=[
            {"src": {"dependencyName": "push", "dataKey": "body.project.name"}, "dest": "url", "operation": "append"},
        ],
    )
    [plan] = evaluate([s], push_event())
    assert plan.request["url"] == f"{url}/placeholderdev-docs"
    async with httpx.AsyncClient() as client:
        outcome = await execute(plan, http_client=client, reconcile=lambda *a: None)
    assert outcome.ok and received[0].target == "/placeholderdev-docs"


async def test_http_trigger_unreachable():
    [plan] = evaluate([http_sensor("http://127.0.0.1:9/x")], push_event())
    async with httpx.AsyncClient() as client:
        outcome = await execute(plan, http_client=client, reconcile=lambda *a: None)
    assert not outcome.ok and outcome.detail.startswith("POST http://127.0.0.1:9/x: ")


def test_http_trigger_parameter_failure_is_reported():
    s = make_sensor(
        [DEP],
        [
            {
                "template": {
                    "name": "t",
                    "http": {
                        "url": "http://x",
                        "payload": [{"src": {"dependencyName": "push", "dataKey": "body.nope"}, "dest": "a"}],
                    },
                }
            }
        ],
    )
    [plan] = evaluate([s], push_event())
    assert plan.fires and plan.error is not None and "unable to resolve 'push'" in plan.error


async def test_log_trigger(caplog):
    s = make_sensor([DEP], [{"template": {"name": "audit", "log": {"intervalSeconds": 60}}}])
    [plan] = evaluate([s], push_event())
    assert plan.kind == "log" and plan.fires
    throttle = LogThrottle()
    with caplog.at_level(logging.INFO, logger="tagpilot.events.sensors"):
        first = await execute(plan, http_client=None, reconcile=lambda *a: None, throttle=throttle, now=1000.0)
        second = await execute(plan, http_client=None, reconcile=lambda *a: None, throttle=throttle, now=1030.0)
        third = await execute(plan, http_client=None, reconcile=lambda *a: None, throttle=throttle, now=1060.0)
    assert first.ok and third.ok and second.ok and second.detail.startswith("skipped")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert "dependency=push" in lines[0] and '"object_kind":"push"' in lines[0]


async def test_tagpilot_trigger_reconciles():
    s = make_sensor(
        [DEP],
        [
            {
                "template": {
                    "name": "refresh",
                    "tagpilot": {
                        "reconcile": [
                            {"kind": "ImageRepository", "name": "podinfo"},
                            {"kind": "ImageUpdateAutomation", "name": "apps", "namespace": "flux-system"},
                        ]
                    },
                }
            }
        ],
    )
    [plan] = evaluate([s], push_event())
    assert plan.reconcile == [("ImageRepository", "apps", "podinfo"), ("ImageUpdateAutomation", "flux-system", "apps")]
    calls = []

    async def reconcile(kind, ns, name):
        calls.append((kind, ns, name))

    outcome = await execute(plan, http_client=None, reconcile=reconcile)
    assert outcome.ok and calls == plan.reconcile and outcome.reconciled == plan.reconcile


async def test_unsupported_and_unfired_plans_do_nothing():
    s = sensor(FIXED_SENSOR)
    [fired] = evaluate([s], push_event())
    [not_fired] = evaluate([s], push_event(message="skip-ci: x"))
    for plan in (fired, not_fired):
        outcome = await execute(plan, http_client=None, reconcile=lambda *a: pytest.fail("called"))
        assert not outcome.ok
    [fired_outcome] = [await execute(fired, http_client=None, reconcile=lambda *a: None)]
    assert "argoWorkflow" in fired_outcome.detail


# --------------------------------------------------------------------------------------------- CLI


def test_person_cli_explains_the_seed(tmp_path: Path):
    (tmp_path / "sensor.yaml").write_text(SEED_SENSOR)
    (tmp_path / "push.json").write_bytes(gitlab_push())
    code, out = run_person([tmp_path / "sensor.yaml"], tmp_path / "push.json", ["X-Gitlab-Event: Push Hook"])
    assert code == 0
    assert "event default/push" in out
    assert "dependency push: rejects" in out
    assert "path 'commits[0].message' does not exist" in out
    assert "write 'body.commits.0.message'" in out
    assert "trigger trigger (argoWorkflow): would not fire" in out
    assert out.rstrip().endswith("0 of 1 trigger(s) would fire")


def test_person_cli_with_event_source_and_http_trigger(tmp_path: Path):
    (tmp_path / "sensor.yaml").write_text(
        FIXED_SENSOR
        + "---\n"
        + yaml.safe_dump(
            http_sensor("http://hooks.example/x", basicAuth={"password": {"name": "c", "key": "p"}}).model_dump(
                by_alias=True, exclude_none=True
            )
        )
    )
    (tmp_path / "es.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: EventSource\nmetadata: {name: default}\n"
        "spec:\n  webhook:\n    push: {port: '12000', endpoint: /push, method: POST, "
        "authSecret: {name: tok, key: t}}\n"
    )
    (tmp_path / "push.json").write_bytes(gitlab_push())
    code, out = run_person([tmp_path], tmp_path / "push.json", ["X-Gitlab-Event: Push Hook"])
    assert code == 0, out
    assert "the only webhook of the EventSources given" in out
    assert "requires 'Authorization: Bearer <token from Secret tok>'" in out
    assert "trigger trigger (argoWorkflow): would fire but FAILS" in out
    assert "trigger notify (http): WOULD FIRE" in out
    assert "request: POST http://hooks.example/x (timeout 60s)" in out
    assert 'payload: {"ref":"refs/heads/main","project":{"name":"dev-docs"},"hook":"Push Hook"}' in out
    assert "basic auth from Secret(s) (value not shown)" in out
    assert "1 of 2 trigger(s) would fire" in out


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        (["no-colon"], b"{}", "expected NAME:VALUE"),
        ([], b"not json", "not JSON"),
    ],
)
def test_person_cli_errors(tmp_path: Path, headers, body, message):
    (tmp_path / "sensor.yaml").write_text(SEED_SENSOR)
    (tmp_path / "push.json").write_bytes(body)
    code, out = run_person([tmp_path / "sensor.yaml"], tmp_path / "push.json", headers)
    assert code != 0 and message in out


def test_person_cli_needs_the_event_when_ambiguous(tmp_path: Path):
    two = make_sensor(
        [DEP, {"name": "tag", "eventSourceName": "registry", "eventName": "push"}],
        [{"template": {"name": "t", "log": {}}}],
    )
    (tmp_path / "sensor.yaml").write_text(yaml.safe_dump(two.model_dump(by_alias=True, exclude_none=True)))
    (tmp_path / "push.json").write_bytes(gitlab_push())
    code, out = run_person([tmp_path / "sensor.yaml"], tmp_path / "push.json")
    assert code == 2 and "--source NAME --event-name NAME" in out and "registry/push" in out
    code, out = run_person([tmp_path / "sensor.yaml"], tmp_path / "push.json", source="default")
    assert code == 0 and "event default/push (given" not in out and "waiting for dependencies: tag" in out


def test_url_credentials_never_shown(tmp_path: Path):
    s = http_sensor("http://bot:hunter2@hooks.example/x")
    [plan] = evaluate([s], push_event())
    assert all("hunter2" not in why for why in plan.why)
    (tmp_path / "sensor.yaml").write_text(yaml.safe_dump(s.model_dump(by_alias=True, exclude_none=True)))
    (tmp_path / "push.json").write_bytes(gitlab_push())
    code, out = run_person([tmp_path / "sensor.yaml"], tmp_path / "push.json", ["X-Gitlab-Event: Push Hook"])
    assert code == 0 and "hunter2" not in out and "http://hooks.example/x" in out


def test_rejection_names_the_filter_in_the_plan_and_sensor_test(tmp_path: Path):
    s = sensor(FIXED_SENSOR)
    event = push_event(ref="refs/heads/feature")
    [dep] = match_dependencies(s, event)
    assert dep.reason.startswith('expr filter 0: `ref =~ "refs/heads/release-" || ref == "refs/heads/main"` is false')
    assert "ref=refs/heads/feature" in dep.reason
    [plan] = evaluate([s], event)
    assert plan.why == [f"dependencies rejected this event: push ({dep.reason})"]  # what the daemon records
    (tmp_path / "sensor.yaml").write_text(FIXED_SENSOR)
    (tmp_path / "push.json").write_bytes(gitlab_push(project="other"))
    code, out = run_person([tmp_path / "sensor.yaml"], tmp_path / "push.json", ["X-Gitlab-Event: Push Hook"])
    assert code == 0
    assert "rejected by data filter 1 (path body.project.name, type string, value [dev-docs]): got other" in out


# --------------------------------------------------------------------------------------------- webhook reply


def test_webhook_reply_lists_only_triggers_that_run():
    """An argoWorkflow-only sensor must not answer {"fired": ["trigger"]}: nothing ran."""
    [plan] = evaluate([sensor(FIXED_SENSOR)], push_event())
    assert plan.fires and plan.kind == "unsupported"
    assert webhook_reply([plan]) == {"fired": [], "unsupported": ["trigger"]}
    [rejected] = evaluate([sensor(FIXED_SENSOR)], push_event(ref="refs/heads/dev"))
    assert webhook_reply([rejected]) == {"fired": []}


async def test_event_source_webhook_answers_what_really_happened(tmp_path: Path):
    from tagpilot.config.loader import load_config
    from tagpilot.engine.webhooks import Webhooks
    from tagpilot.store import Store

    es = "apiVersion: argoproj.io/v1alpha1\nkind: EventSource\nmetadata: {name: default}\n"
    es += "spec:\n  webhook:\n    push: {endpoint: /push, method: POST, port: '12000'}\n"
    (tmp_path / "config.yaml").write_text(FIXED_SENSOR + "---\n" + es)
    hooks = Webhooks(Store.open(tmp_path / "state"), lambda key, why: True, lambda name, outcome: None)
    hooks.set_config(load_config([tmp_path / "config.yaml"]))
    try:
        headers = {"X-Gitlab-Event": "Push Hook", "Content-Type": "application/json"}
        delivery = await hooks.event_source("POST", "/push", headers, gitlab_push())
        assert delivery.status == 200
        assert delivery.body == {"message": "success", "fired": [], "unsupported": ["trigger"]}
    finally:
        await hooks.aclose(grace=1)
    # the recorded decision says it did not run (it used to be a Warning named "Fired")
    assert [(d["type"], d["reason"]) for d in hooks.store.deliveries()] == [("Warning", "NotRun")]


def test_webhook_body_nested_too_deep_is_a_payload_error():
    with pytest.raises(WebhookPayloadError, match="nested deeper than 64 levels"):
        event_from_webhook({}, b"[" * 200_000)
    assert event_from_webhook({}, b"[" * 64 + b"]" * 64)["body"] is not None
