"""Flux `Receiver` (`notification.toolkit.fluxcd.io/v1`, also `v1beta2` and `v1beta1`).

A Receiver turns an incoming webhook into "reconcile these objects now". The model keeps Flux's
fields; the request checks per `type` live in `tagpilot.events.receivers` (pure functions the
server calls), so this module only validates the shape of the configuration.

tagpilot adds one `type`, `distribution`: the CNCF distribution registry's notification envelope,
authenticated with `Authorization: Bearer <token>`, which reconciles only the ImageRepositories an
event's repository names (Flux's registry receivers reconcile every listed resource whatever the
payload says).

Checks Flux only makes when a request arrives (a wildcard name without `matchLabels`, a wildcard
namespace without a wildcard name) are load-time errors here: such a Receiver can never work, and the
user should learn it from `tagpilot validate`, not from a 500 on the first delivery. Flux's newer
`resourceFilter` (a CEL expression) is accepted by the schema and refused with a clear message,
because tagpilot has no CEL evaluator and silently reconciling everything would be wrong.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field, model_validator

from tagpilot.config.base import Interval, LocalObjectReference, Model, Object, seconds

WEBHOOK_PATH_PREFIX = "/hook/"
TOKEN_KEY = "token"  # the Secret key Flux reads the receiver token from
DEFAULT_INTERVAL = "10m"

# Flux's `spec.type` enum, in Flux's order, then tagpilot's own `distribution`.
ReceiverType = Literal[
    "generic",
    "generic-hmac",
    "github",
    "gitlab",
    "bitbucket",
    "harbor",
    "dockerhub",
    "quay",
    "gcr",
    "nexus",
    "acr",
    "cdevents",
    "distribution",
]

# Flux's `CrossNamespaceObjectReference.kind` enum. Kinds tagpilot has no reconciler for
# (Kustomization, HelmRelease, ...) are accepted so Flux Receivers load unchanged; they resolve to
# nothing and `tagpilot.events.receivers` reports them as ignored.
ResourceKind = Literal[
    "Bucket",
    "GitRepository",
    "Kustomization",
    "HelmRelease",
    "HelmChart",
    "HelmRepository",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "OCIRepository",
    "ArtifactGenerator",
    "ExternalArtifact",
]

WILDCARD = "*"


class ReceiverResource(Model):
    """`spec.resources[]` (Flux's CrossNamespaceObjectReference).

    `namespace` defaults to the Receiver's. `name: "*"` selects by `matchLabels` (Flux requires the
    labels with the wildcard; an empty map selects every object of the kind). `namespace: "*"`
    (with `name: "*"`) looks in every namespace.
    """

    api_version: str | None = None
    kind: ResourceKind
    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = Field(default=None, min_length=1, max_length=253)
    match_labels: dict[str, str] | None = None

    @model_validator(mode="after")
    def _wildcards(self) -> ReceiverResource:
        if self.name == WILDCARD and self.match_labels is None:
            # Flux: "matchLabels field not set when using wildcard '*' as name" (at request time)
            raise ValueError("matchLabels must be set when name is '*' (use {} to select every object)")
        if self.name != WILDCARD and self.match_labels is not None:
            raise ValueError("matchLabels is only used with name '*'")
        if self.namespace == WILDCARD and self.name != WILDCARD:
            raise ValueError("namespace '*' requires name '*'")
        return self

    @property
    def group(self) -> str | None:
        """The API group of `apiVersion` (`image.toolkit.fluxcd.io`), or None when not given."""
        if not self.api_version:
            return None
        group, slash, _version = self.api_version.partition("/")
        return group if slash else ""


class ReceiverSpec(Model):
    type: ReceiverType
    interval: Interval | None = None
    events: list[str] = Field(default_factory=list)
    resources: list[ReceiverResource] = Field(default_factory=list)
    resource_filter: str | None = None
    secret_ref: LocalObjectReference
    suspend: bool = False

    @model_validator(mode="after")
    def _check(self) -> ReceiverSpec:
        if self.resource_filter:
            raise ValueError(
                "spec.resourceFilter (a CEL expression) is not supported by tagpilot; "
                "select the resources with name '*' and matchLabels instead"
            )
        if not self.resources and self.type != "distribution":
            raise ValueError(f"spec.resources must list at least one object for a {self.type} receiver")
        return self

    @property
    def interval_seconds(self) -> float:
        return seconds(self.interval or DEFAULT_INTERVAL)


class Receiver(Object):
    # v1beta1 and v1beta2 Receivers have the same fields tagpilot reads; v1beta3 has no Receiver
    api_version: Literal[
        "notification.toolkit.fluxcd.io/v1",
        "notification.toolkit.fluxcd.io/v1beta2",
        "notification.toolkit.fluxcd.io/v1beta1",
    ]
    kind: Literal["Receiver"]
    spec: ReceiverSpec

    def webhook_path(self, token: str) -> str:
        """`/hook/<sha256(token + name + namespace)>`, the path Flux writes to `status.webhookPath`."""
        return webhook_path(token, self.metadata.name, self.metadata.namespace)


def webhook_path(token: str, name: str, namespace: str) -> str:
    """Flux's `GetWebhookPath`: the token is part of the hash, so the path itself is unguessable."""
    digest = hashlib.sha256((token + name + namespace).encode("utf-8")).hexdigest()
    return WEBHOOK_PATH_PREFIX + digest
