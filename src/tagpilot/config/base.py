"""Shared pieces of the configuration models: the strict base model, object metadata, durations.

Models keep the upstream field names: camelCase in YAML (through an alias generator), snake_case
attributes in Python, so a reader who knows Flux or Argo recognises them. Unknown fields are errors.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from tagpilot.config.duration import DurationError, parse_flux_duration


class Model(BaseModel):
    """Base of every configuration model: camelCase aliases, unknown fields forbidden."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, alias_generator=to_camel, validate_default=True, defer_build=True
    )

    def to_yaml_dict(self) -> dict[str, Any]:
        """The object as the user would write it (camelCase, no unset optional fields)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def _check_duration(value: str) -> str:
    try:
        parse_flux_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
"""A Flux duration kept as written (`5m`, `1h30m`); `seconds(value)` converts it."""


def _check_interval(value: str) -> str:
    """An object whose interval is zero would be due again the moment it ran (or, as the scheduler
    reads it, never again): refused, as every Flux controller needs a positive interval."""
    if parse_flux_duration(value) <= 0:
        raise ValueError(f"interval {value!r} must be positive: set how often to run, e.g. 1m or 5m")
    return value


Interval = Annotated[Duration, AfterValidator(_check_interval)]
"""A Flux `interval`: a Duration greater than zero."""


def _check_no_control(value: str) -> str:
    """Paths, ref names, URLs and identities end up in file system calls, git's arguments and its
    environment, none of which can carry a NUL (Python raises ValueError deep inside an update); git
    refuses control characters in ref names anyway. Refused at load, naming the field."""
    for char in value:
        if char < " " or char == "\x7f":
            raise ValueError(f"control character U+{ord(char):04X} not allowed in this field; remove it")
    return value


PlainText = Annotated[str, AfterValidator(_check_no_control)]
"""A string without control characters (tab and newline included): paths, ref names, URLs."""


def seconds(duration: str) -> float:
    return parse_flux_duration(duration)


class ObjectMeta(Model):
    """Kubernetes metadata. Fields a cluster adds (uid, resourceVersion...) are accepted and ignored,
    so objects exported with `kubectl get -o yaml` load as they are."""

    # Kubernetes' rules: a DNS-1123 subdomain for names, a DNS-1123 label for namespaces. They also
    # keep `:` and `/` out, which the `NS:NAME` marker syntax and `Kind/NS/NAME` references rely on.
    name: str = Field(min_length=1, max_length=253,
                      pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    namespace: str = Field(default="default", min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: Any = None
    generate_name: str | None = None
    finalizers: list[str] | None = None
    owner_references: list[Any] | None = None
    managed_fields: list[Any] | None = None


class LocalObjectReference(Model):
    name: str = Field(min_length=1)


class NamespacedObjectReference(Model):
    name: str = Field(min_length=1)
    namespace: str | None = None


class Object(Model):
    """A top-level configuration object. `status` from an exported object is accepted and ignored."""

    api_version: str
    kind: str
    metadata: ObjectMeta
    status: Any = Field(default=None, exclude=True)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.metadata.namespace, self.metadata.name)

    @property
    def ref(self) -> str:
        """`Kind/namespace/name`, the way tagpilot names objects in messages and commands."""
        return f"{self.kind}/{self.metadata.namespace}/{self.metadata.name}"

    def spec_yaml_dict(self) -> dict[str, Any]:
        """`spec.to_yaml_dict()`, serialised through this object's own serializer. Pydantic builds a
        model's schema on first use, and a nested model used on its own gets a second one: dumping
        `spec` by itself cost each kind's spec model a schema build per process (~1-3 ms each, ~8 ms of
        a Flux reconcile's three), for the same dict."""
        if "spec" not in type(self).model_fields:
            return self.spec.to_yaml_dict()  # type: ignore[attr-defined,no-any-return]  # a derived `spec`
        dumped = self.model_dump(by_alias=True, exclude_none=True, mode="json", include={"spec"})
        return dumped.get("spec") or {}

    def with_annotations(self, extra: dict[str, str]) -> Any:
        """A copy with `extra` added to `metadata.annotations` (a setting another object or field implies,
        e.g. an ImageUpdater's approval gate on the Applications it matches); `self` when there is none."""
        if not extra:
            return self
        annotations = {**(self.metadata.annotations or {}), **extra}
        return self.model_copy(update={"metadata": self.metadata.model_copy(update={"annotations": annotations})})
