"""Flux `Provider` and `Alert` (`notification.toolkit.fluxcd.io/v1beta3`, also `v1beta2`/`v1beta1`).

They are read unchanged and deliver tagpilot's own events (`tagpilot.notify.flux`). Every field of
Flux's schema loads; a field or type tagpilot cannot honour is refused at load with the reason,
never dropped silently:
- provider types tagpilot delivers: `PROVIDER_TYPES`; Flux's other types (datadog, opsgenie, the
  commit-status and PR-comment providers, ...) are refused naming the supported list;
- `serviceAccountName` (workload identity) and `commitStatusExpr` (CEL) need a cluster / CEL;
- tagpilot adds the types `feishu`, `dingtalk` and `wecom` (Flux has none) and the Secret key
  `signingSecret` for `lark`/`feishu`/`dingtalk`, signed as each service documents it.

`check_alerts(config)` runs after every object loaded: an Alert naming a missing Provider, a Provider
naming a missing Secret, or a Provider without an address (spec or Secret) is an error with file:line.
"""

from __future__ import annotations

from typing import Any, Literal

import re2
from pydantic import Field, field_validator, model_validator

from tagpilot.config.base import Duration, LocalObjectReference, Model, Object

API_VERSIONS = Literal[
    "notification.toolkit.fluxcd.io/v1beta3",
    "notification.toolkit.fluxcd.io/v1beta2",
    "notification.toolkit.fluxcd.io/v1beta1",
]

# Flux's alerting and git provider types (v1.9), for the message naming what is not supported
FLUX_TYPES = (
    "generic", "generic-hmac", "azureeventhub", "datadog", "discord", "githubdispatch", "googlechat",
    "googlepubsub", "grafana", "incident.io", "lark", "matrix", "msteams", "opsgenie", "pagerduty",
    "alertmanager", "rocket", "sentry", "slack", "telegram", "webex", "nats", "zulip", "otel", "zoom",
    "github", "gitlab", "gitea", "bitbucket", "bitbucketserver", "azuredevops", "githubpullrequestcomment",
    "giteapullrequestcomment", "gitlabmergerequestcomment",
)
PROVIDER_TYPES = (
    "generic", "generic-hmac", "slack", "msteams", "discord", "googlechat", "telegram", "matrix", "lark",
    "alertmanager", "feishu", "dingtalk", "wecom",
)
SIGNED_TYPES = ("lark", "feishu", "dingtalk")
NEEDS_ADDRESS = tuple(t for t in PROVIDER_TYPES if t != "telegram")
NEEDS_TOKEN = ("generic-hmac", "telegram", "matrix")
EVENT_SOURCE_KINDS = (
    "Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart", "HelmRepository", "ImageRepository",
    "ImagePolicy", "ImageUpdateAutomation", "OCIRepository", "ArtifactGenerator", "ExternalArtifact",
)
# kinds whose events tagpilot publishes (an Alert may also watch tagpilot's own kinds)
TAGPILOT_KINDS = ("ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "GitRepository", "Application",
                  "ImageUpdater", "RetentionPolicy")
WILDCARD = "*"


class ProviderSpec(Model):
    type: str
    interval: Duration | None = None  # deprecated in Flux, no effect there either
    channel: str | None = Field(default=None, max_length=2048)
    username: str | None = Field(default=None, max_length=2048)
    address: str | None = Field(default=None, max_length=2048)
    timeout: Duration | None = None
    proxy: str | None = Field(default=None, max_length=2048)
    proxy_secret_ref: LocalObjectReference | None = None
    secret_ref: LocalObjectReference | None = None
    cert_secret_ref: LocalObjectReference | None = None
    service_account_name: str | None = None
    commit_status_expr: str | None = None
    suspend: bool = False

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value in PROVIDER_TYPES:
            return value
        what = "a Flux provider type" if value in FLUX_TYPES else "not a Flux provider type"
        raise ValueError(f"provider type {value!r} ({what}) is not delivered by tagpilot; supported: "
                         f"{', '.join(PROVIDER_TYPES)}")

    @model_validator(mode="after")
    def _refusals(self) -> ProviderSpec:
        if self.service_account_name:
            raise ValueError("spec.serviceAccountName (workload identity) needs a Kubernetes cluster; put the "
                             "credentials in the Secret named by spec.secretRef")
        if self.commit_status_expr:
            raise ValueError("spec.commitStatusExpr only applies to commit-status providers, which tagpilot "
                             "does not deliver; remove it")
        if self.channel and self.type in ("generic", "generic-hmac", "googlechat", "msteams", "alertmanager",
                                          "lark", "feishu", "dingtalk", "wecom"):
            raise ValueError(f"spec.channel is not used by a {self.type} provider; remove it")
        return self


class Provider(Object):
    api_version: API_VERSIONS
    kind: Literal["Provider"]
    spec: ProviderSpec


class CrossNamespaceObjectReference(Model):
    api_version: str | None = None
    kind: str
    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = Field(default=None, min_length=1, max_length=253)
    match_labels: dict[str, str] | None = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in EVENT_SOURCE_KINDS and value not in TAGPILOT_KINDS:
            raise ValueError(f"kind {value!r} is not a kind Flux or tagpilot emits events for; one of "
                             f"{', '.join(sorted(set(EVENT_SOURCE_KINDS) | set(TAGPILOT_KINDS)))}")
        return value

    @model_validator(mode="after")
    def _labels(self) -> CrossNamespaceObjectReference:
        if self.match_labels is not None and self.name != WILDCARD:
            raise ValueError("matchLabels is only used with name '*'")
        return self


def _regexes(values: list[str], field_name: str) -> list[str]:
    for i, pattern in enumerate(values):
        try:
            re2.compile(pattern)
        except re2.error as exc:
            raise ValueError(f"{field_name}[{i}]: invalid regular expression {pattern!r}: {exc}") from None
    return values


class AlertSpec(Model):
    provider_ref: LocalObjectReference
    event_sources: list[CrossNamespaceObjectReference] = Field(min_length=1)
    event_severity: Literal["info", "error"] = "info"
    inclusion_list: list[str] = Field(default_factory=list)
    exclusion_list: list[str] = Field(default_factory=list)
    event_metadata: dict[str, str] = Field(default_factory=dict)
    summary: str | None = Field(default=None, max_length=255)
    suspend: bool = False

    @field_validator("inclusion_list")
    @classmethod
    def _inclusion(cls, value: list[str]) -> list[str]:
        return _regexes(value, "inclusionList")

    @field_validator("exclusion_list")
    @classmethod
    def _exclusion(cls, value: list[str]) -> list[str]:
        return _regexes(value, "exclusionList")


class Alert(Object):
    api_version: API_VERSIONS
    kind: Literal["Alert"]
    spec: AlertSpec


def check_alerts(config: Any) -> list[Any]:
    """Cross-object checks, after every object loaded (errors with the object's file:line)."""
    from tagpilot.config.core import Secret
    from tagpilot.errors import ConfigError

    errors = []
    for alert in config.of_kind(Alert):
        if config.get(Provider, alert.namespace, alert.spec.provider_ref.name) is None:
            errors.append(ConfigError(f"spec.providerRef: Provider {alert.namespace}/{alert.spec.provider_ref.name} "
                                      "is not in the configuration; add it to a file passed with -f",
                                      config.origins[alert.key]))
    for provider in config.of_kind(Provider):
        spec = provider.spec
        values: dict[str, bytes] = {}
        for field_name, ref in (("secretRef", spec.secret_ref), ("certSecretRef", spec.cert_secret_ref),
                                ("proxySecretRef", spec.proxy_secret_ref)):
            if ref is None:
                continue
            secret = config.get(Secret, provider.namespace, ref.name)
            if secret is None:
                errors.append(ConfigError(f"spec.{field_name}: Secret {provider.namespace}/{ref.name} is not in the "
                                          "configuration; add it to a file passed with -f",
                                          config.origins[provider.key]))
            elif field_name == "secretRef":
                values = secret.values()
        if spec.type in NEEDS_ADDRESS and not (spec.address or values.get("address")):
            errors.append(ConfigError(f"a {spec.type} provider needs an address: set spec.address or the key "
                                      "`address` of the Secret named by spec.secretRef", config.origins[provider.key]))
        if spec.type in NEEDS_TOKEN and not values.get("token"):
            errors.append(ConfigError(f"a {spec.type} provider needs the key `token` in the Secret named by "
                                      "spec.secretRef", config.origins[provider.key]))
        if spec.type == "matrix" and not spec.channel:
            errors.append(ConfigError("a matrix provider needs spec.channel (the room id, such as "
                                      "!abcdef:matrix.example)", config.origins[provider.key]))
        if spec.type == "telegram" and not spec.channel:
            errors.append(ConfigError("a telegram provider needs spec.channel (a chat id such as -123, -123:1 for a "
                                      "forum topic, or @name)", config.origins[provider.key]))
        if values.get("signingSecret") and spec.type not in SIGNED_TYPES:
            errors.append(ConfigError(f"the Secret key `signingSecret` is only used by {', '.join(SIGNED_TYPES)} "
                                      f"providers, not {spec.type}; remove it", config.origins[provider.key]))
    return errors
