"""The `argocd-notifications-cm` ConfigMap, parsed into services, templates, triggers, subscriptions.

Keys as notifications-engine reads them (docs: shared reference A.1): `service.<type>[.<name>]`
(YAML options; `$name` strings replaced from `argocd-notifications-secret`), `template.<name>`
(YAML: `message` + per-service blocks), `trigger.<name>` (a YAML list of conditions with `when`,
`send`, `oncePer`, `description`), `defaultTriggers[.<service>]`, `subscriptions` and `context`.

`parse_entry` checks one key on its own (used at load, so an error names the key and its line);
`parse_notifications` builds the whole configuration once the Secret is known. Pure.

Service types this version delivers: `webhook` (argocd style), `slack`, `teams`, `teams-workflows`,
`telegram`, `email`, `googlechat`, and `feishu` (alias `lark`), `dingtalk`, `wecom` (the first two signed
as those services document). Every other type of notifications-engine is refused at load with the list of
supported types, never silently dropped.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from tagpilot.expr.exprlang import ExprLangError, Program, compile_expr
from tagpilot.gotemplate import TemplateError, parse

CONFIGMAP_NAME = "argocd-notifications-cm"
SECRET_NAME = "argocd-notifications-secret"
SUPPORTED_SERVICES = ("webhook", "feishu", "lark", "dingtalk", "wecom", "slack", "teams", "teams-workflows",
                      "telegram", "email", "googlechat")
# options a service cannot work without (checked at load, naming the key)
REQUIRED_OPTIONS = {"webhook": ("url",), "feishu": ("url",), "dingtalk": ("url",), "wecom": ("url",),
                    "slack": ("token",), "teams": ("recipientUrls",), "teams-workflows": ("recipientUrls",),
                    "telegram": ("token",), "email": ("host", "from"), "googlechat": ("webhooks",)}
SIGNED_SERVICES = ("feishu", "dingtalk")
KNOWN_UPSTREAM_SERVICES = (
    "awssqs", "email", "slack", "mattermost", "rocketchat", "grafana", "opsgenie", "telegram", "github",
    "teams", "teams-workflows", "googlechat", "pushover", "alertmanager", "pagerduty", "pagerdutyv2",
    "newrelic", "webex", "nats", "gcppubsub", "wecom",
)
_SECRET_REF = re.compile(r"^\$([\w-]+)$")
_Loader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BATCH_ANNOTATION = "tagpilot.dev/batch"


class NotifyConfigError(ValueError):
    """A key of the ConfigMap is wrong; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.detail = message


@dataclass(frozen=True)
class Service:
    type: str  # webhook, feishu, dingtalk (lark is feishu)
    name: str  # the name subscriptions use: <name> for service.<type>.<name>, else <type>
    options: dict[str, Any]
    secret_values: tuple[str, ...] = ()  # resolved secret values, to redact from anything written

    def __repr__(self) -> str:  # options hold tokens and signing secrets
        return f"Service(type={self.type!r}, name={self.name!r})"


@dataclass(frozen=True)
class Template:
    name: str
    message: str
    blocks: dict[str, Any]  # per-service blocks as written: {"webhook": {"feishu": {...}}, "feishu": {...}}


@dataclass(frozen=True)
class Condition:
    index: int
    when: str
    send: tuple[str, ...]
    once_per: str
    description: str
    when_program: Program | None
    once_per_program: Program | None
    batch: bool = False

    @property
    def key(self) -> str:
        """notifications-engine's condition key: `[<index>].<base64url(sha1(when))>`."""
        digest = base64.urlsafe_b64encode(hashlib.sha1(self.when.encode()).digest()).decode().rstrip("=")
        return f"[{self.index}].{digest}"


@dataclass(frozen=True)
class Trigger:
    name: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Destination:
    service: str
    recipient: str


@dataclass(frozen=True)
class Subscription:
    destinations: tuple[Destination, ...]
    triggers: tuple[str, ...]
    selector: str = ""
    batch: bool = False


@dataclass
class NotificationConfig:
    namespace: str = "default"
    services: dict[str, Service] = field(default_factory=dict)
    templates: dict[str, Template] = field(default_factory=dict)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    default_triggers: tuple[str, ...] = ()
    default_triggers_by_service: dict[str, tuple[str, ...]] = field(default_factory=dict)
    subscriptions: list[Subscription] = field(default_factory=list)
    context: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)  # `.secrets` of templates and triggers

    def secret_values(self) -> set[str]:
        return {v for s in self.services.values() for v in s.secret_values if v}


def _yaml(key: str, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1} of the value)" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise NotifyConfigError(key, f"invalid YAML{where}: {problem}") from None


def _str_list(key: str, value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise NotifyConfigError(key, f"{what} must be a list of strings")
    return tuple(value)


def _service_key(key: str) -> tuple[str, str]:
    parts = key.split(".")
    if len(parts) not in (2, 3) or not all(parts):
        raise NotifyConfigError(key, "invalid service key; expected 'service.<type>(.<name>)'")
    type_ = parts[1]
    name = parts[2] if len(parts) == 3 else type_
    if type_ not in SUPPORTED_SERVICES:
        known = "a notifications-engine service type" if type_ in KNOWN_UPSTREAM_SERVICES else "an unknown type"
        raise NotifyConfigError(
            key, f"service type {type_!r} ({known}) is not supported by tagpilot yet; supported: "
            f"{', '.join(SUPPORTED_SERVICES)}; remove the key or use a webhook service")
    return ("feishu" if type_ == "lark" else type_), name


def _compile(key: str, field_name: str, text: Any) -> Program | None:
    if text in (None, ""):
        return None
    if not isinstance(text, str):
        text = str(text).lower() if isinstance(text, bool) else str(text)
    try:
        return compile_expr(text)
    except ExprLangError as exc:
        raise NotifyConfigError(key, f"{field_name}: {exc}") from None


def _check_batch(key: str, where: str, value: object) -> None:
    """`tagpilot.dev/batch` is a boolean ("true"/"false"); anything else is a typo, not a silent false."""
    if value is None or isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")):
        return
    raise NotifyConfigError(key, f"{where}: {BATCH_ANNOTATION} must be \"true\" or \"false\", not {value!r}")


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _check_templates(key: str, value: Any, path: str = "") -> None:
    """Every string of a template is a Go template: parse them now so a typo fails at load."""
    if isinstance(value, str):
        try:
            parse(value, key)
        except TemplateError as exc:
            raise NotifyConfigError(key, f"{path or 'message'}: {exc}") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_templates(key, v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_templates(key, v, f"{path}[{i}]")


def parse_entry(key: str, value: str) -> Any:
    """Check and parse one key of the ConfigMap (no secrets needed); raises NotifyConfigError."""
    if key.startswith("service."):
        type_, name = _service_key(key)
        options = _yaml(key, value) or {}
        if not isinstance(options, dict):
            raise NotifyConfigError(key, "service options must be a YAML mapping")
        for option in REQUIRED_OPTIONS.get(type_, ()):
            if not options.get(option):
                raise NotifyConfigError(key, f"option {option} is required for a {type_} service")
        if options.get("rateLimit"):
            from tagpilot.notify.ratelimit import parse_limits

            try:
                parse_limits(options["rateLimit"])
            except ValueError as exc:
                raise NotifyConfigError(key, str(exc)) from None
        if options.get("signingSecret") and type_ not in SIGNED_SERVICES:
            raise NotifyConfigError(key, f"option signingSecret is only used by {' and '.join(SIGNED_SERVICES)} "
                                         f"services (a {type_} service does not sign requests); remove it")
        if type_ in ("teams", "teams-workflows", "googlechat"):
            mapping = options["webhooks" if type_ == "googlechat" else "recipientUrls"]
            if not isinstance(mapping, dict):
                raise NotifyConfigError(key, "recipientUrls/webhooks must map recipient names to URLs")
        return Service(type_, name, options)
    if key.startswith("template."):
        data = _yaml(key, value) or {}
        if not isinstance(data, dict):
            raise NotifyConfigError(key, "a template must be a YAML mapping (message and per-service blocks)")
        _check_templates(key, data)
        message = data.pop("message", "")
        return Template(key.removeprefix("template."), message if isinstance(message, str) else "", data)
    if key.startswith("trigger."):
        data = _yaml(key, value)
        if not isinstance(data, list):
            raise NotifyConfigError(key, "a trigger must be a YAML list of conditions (when, send, oncePer)")
        conditions = []
        for i, cond in enumerate(data):
            if not isinstance(cond, dict):
                raise NotifyConfigError(key, f"[{i}]: a condition must be a mapping")
            unknown = set(cond) - {"when", "send", "oncePer", "description", BATCH_ANNOTATION}
            if unknown:
                raise NotifyConfigError(key, f"[{i}]: unknown field(s) {', '.join(sorted(unknown))}")
            _check_batch(key, f"[{i}]", cond.get(BATCH_ANNOTATION))
            when = cond.get("when")
            when_text = "" if when is None else (str(when).lower() if isinstance(when, bool) else str(when))
            conditions.append(Condition(
                i, when_text, _str_list(key, cond.get("send"), f"[{i}].send"), str(cond.get("oncePer") or ""),
                str(cond.get("description") or ""), _compile(key, f"[{i}].when", when_text),
                _compile(key, f"[{i}].oncePer", cond.get("oncePer")), _is_true(cond.get(BATCH_ANNOTATION))))
        return Trigger(key.removeprefix("trigger."), tuple(conditions))
    if key == "defaultTriggers" or key.startswith("defaultTriggers."):
        return _str_list(key, _yaml(key, value), "defaultTriggers")
    if key == "subscriptions":
        data = _yaml(key, value) or []
        if not isinstance(data, list):
            raise NotifyConfigError(key, "subscriptions must be a YAML list")
        subs = []
        for i, sub in enumerate(data):
            if not isinstance(sub, dict):
                raise NotifyConfigError(key, f"[{i}]: a subscription must be a mapping")
            _check_batch(key, f"[{i}]", sub.get(BATCH_ANNOTATION))
            destinations = tuple(_destination(r) for r in _str_list(key, sub.get("recipients"), f"[{i}].recipients"))
            subs.append(Subscription(destinations, _str_list(key, sub.get("triggers"), f"[{i}].triggers"),
                                     str(sub.get("selector") or ""), _is_true(sub.get(BATCH_ANNOTATION))))
        return subs
    if key == "context":
        data = _yaml(key, value) or {}
        if not isinstance(data, dict):
            raise NotifyConfigError(key, "context must be a YAML mapping of strings")
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    return None  # other keys (e.g. resource.exclusions) are not notification settings


def _destination(text: str) -> Destination:
    """`<service>:<recipient>` or `<service>` (webhooks: empty recipient), as notifications-engine."""
    service, _, recipient = text.partition(":")
    return Destination(service.strip(), recipient.strip())


def _resolve(value: Any, secrets: Mapping[str, str], used: list[str], missing: list[str]) -> Any:
    if isinstance(value, str):
        m = _SECRET_REF.match(value)
        if m is None:
            return value
        if m.group(1) in secrets:
            used.append(secrets[m.group(1)])
            return secrets[m.group(1)]
        missing.append(m.group(1))
        return value
    if isinstance(value, dict):
        return {k: _resolve(v, secrets, used, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, secrets, used, missing) for v in value]
    return value


def parse_notifications(data: Mapping[str, str], secrets: Mapping[str, str] | None = None,
                        namespace: str = "default") -> NotificationConfig:
    """The whole configuration; `$name` references in service options come from `secrets`."""
    config = NotificationConfig(namespace=namespace)
    secrets = secrets or {}
    config.secrets = dict(secrets)
    for key, value in data.items():
        parsed = parse_entry(key, value)
        if isinstance(parsed, Service):
            used: list[str] = []
            missing: list[str] = []
            options = _resolve(parsed.options, secrets, used, missing)
            for name in missing:
                config.warnings.append(
                    f"{key}: ${name} is not a key of Secret {SECRET_NAME}; the value is used as written")
            if parsed.name in config.services:
                raise NotifyConfigError(key, f"service name {parsed.name!r} is defined twice")
            config.services[parsed.name] = Service(parsed.type, parsed.name, options, tuple(used))
        elif isinstance(parsed, Template):
            config.templates[parsed.name] = parsed
        elif isinstance(parsed, Trigger):
            config.triggers[parsed.name] = parsed
        elif key == "defaultTriggers":
            config.default_triggers = parsed
        elif key.startswith("defaultTriggers."):
            config.default_triggers_by_service[key.removeprefix("defaultTriggers.")] = parsed
        elif key == "subscriptions":
            config.subscriptions = parsed
        elif key == "context":
            config.context = parsed
    _check_references(config)
    return config


def _check_references(config: NotificationConfig) -> None:
    for trigger in config.triggers.values():
        for cond in trigger.conditions:
            for name in cond.send:
                if name not in config.templates:
                    raise NotifyConfigError(f"trigger.{trigger.name}",
                                            f"[{cond.index}].send names template {name!r}, which is not defined")
    for sub in config.subscriptions:
        for name in sub.triggers:
            if name not in config.triggers:
                raise NotifyConfigError("subscriptions", f"trigger {name!r} is not defined")
        for dest in sub.destinations:
            if dest.service not in config.services:
                raise NotifyConfigError("subscriptions", f"recipient service {dest.service!r} is not defined "
                                        f"(services: {', '.join(sorted(config.services)) or 'none'})")
