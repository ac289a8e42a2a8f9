"""Flux image automation objects (`image.toolkit.fluxcd.io`): ImageRepository, and the kinds that
build on it. Field names, defaults and limits follow the Flux CRDs (see shared/reference)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from tagpilot.config.base import Duration, LocalObjectReference, Model, Object, seconds
from tagpilot.regex import RegexError, compile_regex

IMAGE_API_VERSIONS = ("image.toolkit.fluxcd.io/v1", "image.toolkit.fluxcd.io/v1beta2")
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
    interval: Duration
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
    api_version: Literal["image.toolkit.fluxcd.io/v1", "image.toolkit.fluxcd.io/v1beta2"]
    kind: Literal["ImageRepository"]
    spec: ImageRepositorySpec
