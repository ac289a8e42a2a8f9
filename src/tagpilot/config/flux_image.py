"""Flux image automation objects (`image.toolkit.fluxcd.io`): ImageRepository, and the kinds that
build on it. Field names, defaults and limits follow the Flux CRDs (see shared/reference)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tagpilot.config.base import (
    Duration,
    Interval,
    LocalObjectReference,
    Model,
    NamespacedObjectReference,
    Object,
    seconds,
)
from tagpilot.regex import RegexError, compile_regex

DEFAULT_EXCLUSION_LIST = ["^.*\\.sig$"]


def check_regex(pattern: str) -> str:
    """Compile a user regex with RE2 (the dialect Flux uses); raise ValueError with RE2's reason."""
    try:
        compile_regex(pattern)
    except RegexError as exc:
        raise ValueError(str(exc)) from None
    return pattern


class ImageRepositorySpec(Model):
    image: str = Field(min_length=1)
    interval: Interval
    timeout: Duration | None = None
    secret_ref: LocalObjectReference | None = None
    cert_secret_ref: LocalObjectReference | None = None
    proxy_secret_ref: LocalObjectReference | None = None
    service_account_name: str | None = None
    exclusion_list: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUSION_LIST), max_length=25)
    suspend: bool = False
    provider: Literal["generic", "aws", "azure", "gcp"] = "generic"
    insecure: bool = False
    access_from: dict[str, Any] | None = None

    @field_validator("exclusion_list")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            check_regex(pattern)
        return patterns

    @property
    def interval_seconds(self) -> float:
        return seconds(self.interval)

    @property
    def timeout_seconds(self) -> float:
        """Flux: the timeout defaults to the interval; never below one second."""
        value = seconds(self.timeout) if self.timeout else self.interval_seconds
        return max(value, 1.0)


class ImageRepository(Object):
    # v1beta1 is not in Flux's current API, but tutorials (and our users' files) still use it unchanged
    api_version: Literal[
        "image.toolkit.fluxcd.io/v1", "image.toolkit.fluxcd.io/v1beta2", "image.toolkit.fluxcd.io/v1beta1"
    ]
    kind: Literal["ImageRepository"]
    spec: ImageRepositorySpec


class SemVerPolicy(Model):
    range: str = Field(min_length=1)


class OrderPolicy(Model):
    order: Literal["asc", "desc"] = "asc"


class ImagePolicyChoice(Model):
    """Exactly one of `semver`, `alphabetical`, `numerical` (as the Flux CRD requires)."""

    semver: SemVerPolicy | None = None
    alphabetical: OrderPolicy | None = None
    numerical: OrderPolicy | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ImagePolicyChoice:
        chosen = [name for name in ("semver", "alphabetical", "numerical") if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(
                "exactly one of semver, alphabetical or numerical must be set"
                + (f" (found {', '.join(chosen)})" if chosen else "")
            )
        return self


class TagFilter(Model):
    pattern: str = ""
    extract: str = ""


class ImagePolicySpec(Model):
    image_repository_ref: NamespacedObjectReference
    policy: ImagePolicyChoice
    filter_tags: TagFilter | None = None
    digest_reflection_policy: Literal["Never", "IfNotPresent", "Always"] = "Never"
    interval: Interval | None = None
    suspend: bool = False

    @model_validator(mode="after")
    def _interval_for_always(self) -> ImagePolicySpec:
        if self.digest_reflection_policy == "Always" and not self.interval:
            raise ValueError("spec.interval must be set when digestReflectionPolicy is Always")
        if self.interval and self.digest_reflection_policy != "Always":
            raise ValueError("spec.interval is only allowed when digestReflectionPolicy is Always")
        return self

    def policy_dict(self) -> dict[str, Any]:
        """`{"policy": ..., "filterTags": ...}`: the shape the policy engine and `policy eval --batch` take."""
        return _policy_part(self.to_yaml_dict())


def _policy_part(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: spec[key] for key in ("policy", "filterTags") if key in spec}


class ImagePolicy(Object):
    # v1beta1 is not in Flux's current API, but tutorials (and our users' files) still use it unchanged
    api_version: Literal[
        "image.toolkit.fluxcd.io/v1", "image.toolkit.fluxcd.io/v1beta2", "image.toolkit.fluxcd.io/v1beta1"
    ]
    kind: Literal["ImagePolicy"]
    spec: ImagePolicySpec

    def policy_dict(self) -> dict[str, Any]:
        """`spec.policy_dict()` through this object's serializer (`spec_yaml_dict`: no second schema
        build for the spec model, ~1.5 ms of every process that evaluates a policy)."""
        return _policy_part(self.spec_yaml_dict())
