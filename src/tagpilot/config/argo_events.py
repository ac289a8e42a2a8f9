"""Argo Events objects (`argoproj.io/v1alpha1`): `EventSource` and `Sensor`.

tagpilot runs Argo Events-style sensors inside its daemon, so users bring the Sensors they already
have. Field names follow `pkg/apis/events/v1alpha1` (sensor_types.go, eventsource_types.go,
webhook_context.go). The house rule holds: an unknown field is an error. Argo has many trigger and
event-source types tagpilot cannot run (Argo Workflows, Kafka, Lambda...); they are accepted under
their upstream names only, as opaque mappings, so an existing Sensor loads, and the sensor engine
reports them as unsupported with the reason instead of ignoring them silently.

Our extension: a `tagpilot` trigger that reconciles tagpilot objects when the sensor fires::

    triggers:
      - template:
          name: refresh
          tagpilot:
            reconcile:
              - {kind: ImageRepository, name: podinfo}          # namespace: the Sensor's
              - {kind: ImageUpdateAutomation, name: apps, namespace: flux-system}
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tagpilot.config.base import Model, Object
from tagpilot.errors import ConfigError, Location

API_VERSION = "argoproj.io/v1alpha1"

# Trigger types of Argo's TriggerTemplate that tagpilot accepts but cannot run (field name → reason).
UNSUPPORTED_TRIGGERS: dict[str, str] = {
    "k8s": "creates Kubernetes resources; tagpilot runs without a cluster",
    "argoWorkflow": "submits Argo Workflows; tagpilot runs without a cluster (use an http trigger to the "
    "Argo Server API, or a tagpilot trigger)",
    "awsLambda": "AWS Lambda triggers are not implemented",
    "custom": "custom gRPC triggers are not implemented",
    "kafka": "Kafka triggers are not implemented",
    "nats": "NATS triggers are not implemented",
    "slack": "Slack triggers are not implemented (use tagpilot notifications)",
    "openWhisk": "OpenWhisk triggers are not implemented",
    "azureEventHubs": "Azure Event Hubs triggers are not implemented",
    "pulsar": "Pulsar triggers are not implemented",
    "azureServiceBus": "Azure Service Bus triggers are not implemented",
    "email": "email triggers are not implemented (use tagpilot notifications)",
}
SUPPORTED_TRIGGERS = ("http", "log", "tagpilot")

# Event source types of EventSourceSpec other than `webhook`: accepted, opaque, not served.
OPAQUE_EVENT_SOURCES = (
    "minio", "calendar", "file", "resource", "amqp", "kafka", "mqtt", "nats", "sns", "sqs", "pubSub",
    "github", "gitlab", "hdfs", "slack", "storageGrid", "azureEventsHub", "stripe", "emitter", "redis",
    "nsq", "pulsar", "generic", "bitbucketserver", "bitbucket", "redisStream", "azureServiceBus",
    "azureQueueStorage", "sftp", "gerrit", "mns",
)

HTTP_METHODS = ("GET", "DELETE", "PATCH", "POST", "PUT")  # what Argo's validateHTTPTrigger allows
DEFAULT_MAX_PAYLOAD_SIZE = 1048576  # webhook_context.go: 1 MiB


class SecretKeySelector(Model):
    """A key of a Secret in the object's namespace (Kubernetes `SecretKeySelector`)."""

    name: str = Field(min_length=1)
    key: str = Field(min_length=1)
    optional: bool | None = None


class BasicAuth(Model):
    username: SecretKeySelector | None = None
    password: SecretKeySelector | None = None


# ---------------------------------------------------------------------------------------------
# EventSource


class EventSourceFilter(Model):
    expression: str = ""


class WebhookEventSource(Model):
    """`WebhookContext` (inlined) plus `filter`. Argo keeps `port` as a string; YAML ints are accepted."""

    endpoint: str = Field(min_length=1)
    method: str = Field(min_length=1)
    port: str = Field(min_length=1)
    url: str = ""
    server_cert_secret: SecretKeySelector | None = None
    server_key_secret: SecretKeySelector | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    auth_secret: SecretKeySelector | None = None
    max_payload_size: int | None = Field(default=None, gt=0)
    basic_auth: BasicAuth | None = None
    filter: EventSourceFilter | None = None

    @field_validator("port", mode="before")
    @classmethod
    def _port(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and not (value.isdigit() and 0 < int(value) < 65536):
            raise ValueError(f"port {value!r} is not a TCP port number (1-65535)")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"endpoint {value!r} must start with '/'")
        return value

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value != value.upper() or not value.isalpha():
            raise ValueError(f"method {value!r} must be an HTTP method in capitals (POST, GET, ...)")
        return value

    @property
    def payload_cap(self) -> int:
        return self.max_payload_size or DEFAULT_MAX_PAYLOAD_SIZE


class EventSourceSpec(Model):
    event_bus_name: str = ""
    template: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    replicas: int | None = None
    webhook: dict[str, WebhookEventSource] = Field(default_factory=dict)
    # the other source types, opaque (tagpilot serves webhooks only)
    minio: dict[str, Any] | None = None
    calendar: dict[str, Any] | None = None
    file: dict[str, Any] | None = None
    resource: dict[str, Any] | None = None
    amqp: dict[str, Any] | None = None
    kafka: dict[str, Any] | None = None
    mqtt: dict[str, Any] | None = None
    nats: dict[str, Any] | None = None
    sns: dict[str, Any] | None = None
    sqs: dict[str, Any] | None = None
    pub_sub: dict[str, Any] | None = None
    github: dict[str, Any] | None = None
    gitlab: dict[str, Any] | None = None
    hdfs: dict[str, Any] | None = None
    slack: dict[str, Any] | None = None
    storage_grid: dict[str, Any] | None = None
    azure_events_hub: dict[str, Any] | None = None
    stripe: dict[str, Any] | None = None
    emitter: dict[str, Any] | None = None
    redis: dict[str, Any] | None = None
    nsq: dict[str, Any] | None = None
    pulsar: dict[str, Any] | None = None
    generic: dict[str, Any] | None = None
    bitbucketserver: dict[str, Any] | None = None
    bitbucket: dict[str, Any] | None = None
    redis_stream: dict[str, Any] | None = None
    azure_service_bus: dict[str, Any] | None = None
    azure_queue_storage: dict[str, Any] | None = None
    sftp: dict[str, Any] | None = None
    gerrit: dict[str, Any] | None = None
    mns: dict[str, Any] | None = None

    def unsupported_sources(self) -> list[str]:
        """`type/eventName` of every event source tagpilot does not serve."""
        data = self.model_dump(by_alias=True, exclude_none=True)
        return [f"{kind}/{name}" for kind in OPAQUE_EVENT_SOURCES for name in (data.get(kind) or {})]


class EventSource(Object):
    """An Argo Events EventSource. tagpilot serves its `webhook` event sources (one route per event
    name); an event from one is `Event(source=<EventSource name>, name=<event name>)`."""

    api_version: Literal["argoproj.io/v1alpha1"]
    kind: Literal["EventSource"]
    spec: EventSourceSpec


# ---------------------------------------------------------------------------------------------
# Sensor: dependencies and filters

LogicalOperator = Literal["and", "or", ""]


class DataFilter(Model):
    path: str = Field(min_length=1)
    type: Literal["string", "number", "bool"]
    value: list[str] = Field(default_factory=list)
    comparator: Literal[">=", ">", "=", "!=", "<", "<=", ""] = ""
    template: str = ""


class PayloadField(Model):
    path: str = Field(min_length=1)
    name: str = Field(min_length=1)


class ExprFilter(Model):
    expr: str = Field(min_length=1)
    fields: list[PayloadField] = Field(default_factory=list)


class TimeFilter(Model):
    start: str
    stop: str


class EventContextFilter(Model):
    """Filter on the CloudEvents context of the event (all fields optional)."""

    id: str | None = None
    source: str | None = None
    specversion: str | None = None
    type: str | None = None
    datacontenttype: str | None = None
    subject: str | None = None
    time: Any = None


class EventDependencyFilter(Model):
    time: TimeFilter | None = None
    context: EventContextFilter | None = None
    data: list[DataFilter] = Field(default_factory=list)
    exprs: list[ExprFilter] = Field(default_factory=list)
    data_logical_operator: LogicalOperator = ""
    expr_logical_operator: LogicalOperator = ""
    script: str = ""

    def as_mapping(self) -> dict[str, Any]:
        """The filters as the user wrote them (camelCase), the shape `events.filters` evaluates."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)


class EventDependencyTransformer(Model):
    jq: str = ""
    script: str = ""


class EventDependency(Model):
    name: str = Field(min_length=1)
    event_source_name: str = Field(min_length=1)
    event_name: str = Field(min_length=1)
    filters: EventDependencyFilter | None = None
    transform: EventDependencyTransformer | None = None
    filters_logical_operator: LogicalOperator = ""


# ---------------------------------------------------------------------------------------------
# Sensor: triggers


class TriggerParameterSource(Model):
    dependency_name: str = Field(min_length=1)
    context_key: str = ""
    context_template: str = ""
    data_key: str = ""
    data_template: str = ""
    value: str | None = None
    use_raw_data: bool = False


class TriggerParameter(Model):
    src: TriggerParameterSource | None = None
    dest: str = ""
    operation: Literal["", "overwrite", "append", "prepend"] = ""


class HTTPTrigger(Model):
    url: str = Field(min_length=1)
    payload: list[TriggerParameter] = Field(default_factory=list)
    tls: dict[str, Any] | None = None
    method: str = ""
    parameters: list[TriggerParameter] = Field(default_factory=list)
    timeout: int = Field(default=0, ge=0)  # seconds; 0 → 60, as Argo
    basic_auth: BasicAuth | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    secure_headers: list[dict[str, Any]] = Field(default_factory=list)
    dynamic_headers: list[TriggerParameter] = Field(default_factory=list)
    host: str = ""

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if value and value not in HTTP_METHODS:
            raise ValueError(f"method {value!r}: only {', '.join(HTTP_METHODS)} are supported (as in Argo Events)")
        return value


class LogTrigger(Model):
    interval_seconds: int = Field(default=0, ge=0)


class ReconcileRef(Model):
    """A tagpilot object to reconcile; the namespace defaults to the Sensor's."""

    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    namespace: str | None = None


class TagpilotTrigger(Model):
    """tagpilot's own trigger: reconcile the named objects now (a scan, a policy, an automation)."""

    reconcile: list[ReconcileRef] = Field(min_length=1)


class TriggerTemplate(Model):
    name: str = Field(min_length=1)
    conditions: str = ""
    conditions_reset: list[dict[str, Any]] | None = None
    http: HTTPTrigger | None = None
    log: LogTrigger | None = None
    tagpilot: TagpilotTrigger | None = None
    # Argo's other trigger types: accepted, opaque, reported unsupported at run time
    k8s: dict[str, Any] | None = None
    argo_workflow: dict[str, Any] | None = None
    aws_lambda: dict[str, Any] | None = None
    custom: dict[str, Any] | None = None
    kafka: dict[str, Any] | None = None
    nats: dict[str, Any] | None = None
    slack: dict[str, Any] | None = None
    open_whisk: dict[str, Any] | None = None
    azure_event_hubs: dict[str, Any] | None = None
    pulsar: dict[str, Any] | None = None
    azure_service_bus: dict[str, Any] | None = None
    email: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _exactly_one_type(self) -> TriggerTemplate:
        kinds = self.trigger_types()
        if len(kinds) != 1:
            names = ", ".join((*SUPPORTED_TRIGGERS, *UNSUPPORTED_TRIGGERS))
            found = f" (found {', '.join(kinds)})" if kinds else ""
            raise ValueError(f"trigger {self.name!r} must set exactly one trigger type of {names}{found}")
        return self

    def trigger_types(self) -> list[str]:
        """The camelCase names of the trigger types set (exactly one once validated)."""
        return [
            alias
            for alias in (*SUPPORTED_TRIGGERS, *UNSUPPORTED_TRIGGERS)
            if getattr(self, _field_for(alias)) is not None
        ]

    @property
    def type(self) -> str:
        return self.trigger_types()[0]


def _field_for(alias: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in alias)


class TriggerPolicyStatus(Model):
    allow: list[int] = Field(min_length=1)


class TriggerPolicy(Model):
    k8s: dict[str, Any] | None = None
    status: TriggerPolicyStatus | None = None


class Trigger(Model):
    template: TriggerTemplate
    parameters: list[TriggerParameter] = Field(default_factory=list)
    policy: TriggerPolicy | None = None
    retry_strategy: dict[str, Any] | None = None
    rate_limit: dict[str, Any] | None = None
    at_least_once: bool = False
    dlq_trigger: Trigger | None = None


class SensorSpec(Model):
    dependencies: list[EventDependency] = Field(min_length=1)
    triggers: list[Trigger] = Field(min_length=1)
    template: dict[str, Any] | None = None
    error_on_failed_round: bool = False
    event_bus_name: str = ""
    replicas: int | None = None
    revision_history_limit: int | None = None
    logging_fields: dict[str, str] | None = None

    @model_validator(mode="after")
    def _references(self) -> SensorSpec:
        names = [d.name for d in self.dependencies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"dependency names must be unique (repeated: {', '.join(dupes)})")
        known = set(names)
        triggers = [t.template.name for t in self.triggers]
        dupes = sorted({n for n in triggers if triggers.count(n) > 1})
        if dupes:
            raise ValueError(f"trigger names must be unique (repeated: {', '.join(dupes)})")
        for trigger in self.triggers:
            if trigger.template.conditions:
                unknown = sorted(Conditions(trigger.template.conditions).names - known)
                if unknown:
                    raise ValueError(
                        f"trigger {trigger.template.name!r}: conditions name unknown dependencies "
                        f"{', '.join(unknown)} (known: {', '.join(names)})"
                    )
            for where, param in _all_parameters(trigger):
                if param.src is not None and param.src.dependency_name not in known:
                    raise ValueError(
                        f"trigger {trigger.template.name!r}: {where} refers to dependency "
                        f"{param.src.dependency_name!r}, which is not in spec.dependencies ({', '.join(names)})"
                    )
        return self


class Conditions:
    """A trigger's `conditions`: dependency names joined with `&&`, `||`, `!` and parentheses.

    Argo evaluates them with govaluate over one boolean per dependency (`"(dep01 || dep02) &&
    dep04"`). Only that boolean subset is meaningful, so this is a small recursive-descent parser
    rather than the whole expression engine; dependency names may contain `-` and `.` as in Argo.
    """

    _TOKEN = re.compile(r"\s*(&&|\|\||!|\(|\)|[A-Za-z0-9_][A-Za-z0-9_.\-]*)")

    def __init__(self, text: str) -> None:
        self.text = text
        self._tokens = self._tokenize(text)
        self._pos = 0
        self.names: set[str] = set()
        self._tree = self._or()
        if self._pos != len(self._tokens):
            raise ValueError(f"conditions {text!r}: unexpected {self._tokens[self._pos]!r}")

    def _tokenize(self, text: str) -> list[str]:
        tokens, pos = [], 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = self._TOKEN.match(text, pos)
            if m is None:
                raise ValueError(f"conditions {text!r}: cannot parse at {text[pos:].strip()[:20]!r}")
            tokens.append(m.group(1))
            pos = m.end()
        if not tokens:
            raise ValueError("conditions is empty")
        return tokens

    def _peek(self) -> str | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _or(self) -> Any:
        node = self._and()
        while self._peek() == "||":
            self._pos += 1
            node = ("or", node, self._and())
        return node

    def _and(self) -> Any:
        node = self._unary()
        while self._peek() == "&&":
            self._pos += 1
            node = ("and", node, self._unary())
        return node

    def _unary(self) -> Any:
        tok = self._peek()
        if tok is None:
            raise ValueError(f"conditions {self.text!r}: unexpected end")
        self._pos += 1
        if tok == "!":
            return ("not", self._unary())
        if tok == "(":
            node = self._or()
            if self._peek() != ")":
                raise ValueError(f"conditions {self.text!r}: missing ')'")
            self._pos += 1
            return node
        if tok in ("&&", "||", ")"):
            raise ValueError(f"conditions {self.text!r}: unexpected {tok!r}")
        self.names.add(tok)
        return ("name", tok)

    def evaluate(self, satisfied: set[str]) -> bool:
        """True when the dependencies in `satisfied` make the condition hold."""

        def ev(node: Any) -> bool:
            op = node[0]
            if op == "name":
                return node[1] in satisfied
            if op == "not":
                return not ev(node[1])
            if op == "and":
                return ev(node[1]) and ev(node[2])
            return ev(node[1]) or ev(node[2])

        return ev(self._tree)


def _all_parameters(trigger: Trigger) -> list[tuple[str, TriggerParameter]]:
    out = [("parameters", p) for p in trigger.parameters]
    http = trigger.template.http
    if http is not None:
        out += [("http.payload", p) for p in http.payload]
        out += [("http.parameters", p) for p in http.parameters]
        out += [("http.dynamicHeaders", p) for p in http.dynamic_headers]
    return out


class Sensor(Object):
    """An Argo Events Sensor: dependencies on events (with filters) and the triggers they fire.

    Supported triggers: `http`, `log` and tagpilot's own `tagpilot: {reconcile: [{kind, name,
    namespace?}]}` (see the module docstring). Argo's other trigger types load and are reported as
    unsupported when the sensor would fire them.
    """

    api_version: Literal["argoproj.io/v1alpha1"]
    kind: Literal["Sensor"]
    spec: SensorSpec

    def dependency(self, name: str) -> EventDependency | None:
        return next((d for d in self.spec.dependencies if d.name == name), None)


def missing_event_sources(config: Any) -> list[ConfigError]:
    """Sensor dependencies that wait for an event no EventSource of the configuration produces.

    Argo accepts such a Sensor and it waits forever; with tagpilot the configuration is the whole
    world, so nothing will ever create that EventSource and the Sensor would never fire without a
    word. `config` is a `loader.Config` (its `objects` and `origins`); each problem names the
    Sensor's file:line, the dependency and the fix.
    """
    sources = {(o.namespace, o.name): o for o in config.objects.values() if isinstance(o, EventSource)}
    problems: list[ConfigError] = []
    for sensor in (o for o in config.objects.values() if isinstance(o, Sensor)):
        origin = config.origins.get(sensor.key) or Location(obj=sensor.ref)
        for i, dep in enumerate(sensor.spec.dependencies):
            message = _missing_source(sensor, dep, sources)
            if message is not None:
                where = replace(origin, obj=sensor.ref, field=f"spec.dependencies[{i}]")
                problems.append(ConfigError(message, where))
    return problems


def _missing_source(sensor: Sensor, dep: EventDependency, sources: dict[tuple[str, str], EventSource]) -> str | None:
    source = sources.get((sensor.namespace, dep.event_source_name))
    if source is None:
        elsewhere = sorted(ns for ns, name in sources if name == dep.event_source_name)
        hint = f" (there is one in namespace {', '.join(elsewhere)}: a Sensor sees its own namespace only)"
        return (
            f"dependency {dep.name!r} waits for EventSource {dep.event_source_name!r}, which is not defined in "
            f"namespace {sensor.namespace}{hint if elsewhere else ''}; the Sensor would never fire: define "
            f"EventSource {sensor.namespace}/{dep.event_source_name} or fix eventSourceName"
        )
    events = set(source.spec.webhook) | {s.split("/", 1)[1] for s in source.spec.unsupported_sources()}
    if dep.event_name not in events:
        return (
            f"dependency {dep.name!r} waits for event {dep.event_name!r} of EventSource {source.ref}, which "
            f"has no such event (it has: {', '.join(sorted(events)) or 'none'}); the Sensor would never fire: "
            f"fix eventName or add the event to the EventSource"
        )
    return None
