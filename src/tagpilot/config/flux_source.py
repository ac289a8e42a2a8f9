"""Flux source objects (`source.toolkit.fluxcd.io`): `GitRepository`.

tagpilot reads a GitRepository only to learn where an ImageUpdateAutomation writes: the URL, the
reference to check out, the credentials Secret and the timeout. Fields Flux has that tagpilot does
not act on (`include`, `verify`, `recurseSubmodules`, a cloud `provider`, a proxy) are accepted so
exported objects load unchanged; `unsupported_fields()` names those that are set, and the engine
refuses them when the object is used, rather than silently ignoring a security setting like `verify`.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from tagpilot.config.base import Duration, Interval, LocalObjectReference, Model, Object, PlainText, seconds

DEFAULT_BRANCH = "master"  # Flux's documented default when spec.ref is absent
DEFAULT_TIMEOUT = "60s"
URL_SCHEMES = ("http", "https", "ssh", "git", "file")


class GitRepositoryRef(Model):
    """`spec.ref`: Flux's precedence is commit > name > semver > tag > branch."""

    branch: PlainText | None = None
    tag: PlainText | None = None
    semver: PlainText | None = None
    name: PlainText | None = None
    commit: str | None = None

    @field_validator("commit")
    @classmethod
    def _commit_hex(cls, value: str | None) -> str | None:
        if value is not None and not (4 <= len(value) <= 64 and all(c in "0123456789abcdef" for c in value.lower())):
            raise ValueError("commit must be a hexadecimal commit id")
        return value


class GitRepositoryVerification(Model):
    mode: Literal["HEAD", "Tag", "TagAndHEAD", "head"] = "HEAD"
    secret_ref: LocalObjectReference


class GitRepositoryInclude(Model):
    repository: LocalObjectReference
    from_path: str | None = None
    to_path: str | None = None


class GitRepositorySpec(Model):
    url: PlainText = Field(min_length=1)
    ref: GitRepositoryRef | None = None
    secret_ref: LocalObjectReference | None = None
    interval: Interval
    timeout: Duration = DEFAULT_TIMEOUT
    ignore: str | None = None
    suspend: bool = False
    recurse_submodules: bool = False
    include: list[GitRepositoryInclude] = Field(default_factory=list)
    verify: GitRepositoryVerification | None = None
    proxy_secret_ref: LocalObjectReference | None = None
    provider: Literal["generic", "azure", "github"] = "generic"
    # v1beta2 only; accepted so older objects load
    git_implementation: str | None = None
    access_from: dict[str, Any] | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        """Flux accepts http(s)://, ssh:// and (tagpilot) git:// and file://; the scp form is a common
        mistake with Flux, but git understands it, so tagpilot takes `user@host:path` too."""
        scheme = urlsplit(value).scheme
        if scheme:
            if scheme not in URL_SCHEMES:
                raise ValueError(f"URL scheme {scheme!r} is not supported (use one of {', '.join(URL_SCHEMES)})")
            parts = urlsplit(value)
            if scheme in ("http", "https") and parts.password is not None:
                raise ValueError("the URL must not contain a password; put credentials in spec.secretRef")
        elif ":" not in value:
            raise ValueError("URL must be http(s)://, ssh://, git://, file:// or user@host:path")
        return value

    @property
    def timeout_seconds(self) -> float:
        return seconds(self.timeout)

    @property
    def interval_seconds(self) -> float:
        return seconds(self.interval)

    def unsupported_fields(self) -> list[str]:
        """Set fields tagpilot cannot honour; the engine reports them as an error at use time."""
        out = []
        if self.recurse_submodules:
            out.append("spec.recurseSubmodules")
        if self.include:
            out.append("spec.include")
        if self.verify is not None:
            out.append("spec.verify")
        if self.proxy_secret_ref is not None:
            out.append("spec.proxySecretRef")
        if self.provider != "generic":
            out.append("spec.provider")
        return out


class GitRepository(Object):
    api_version: Literal["source.toolkit.fluxcd.io/v1", "source.toolkit.fluxcd.io/v1beta2"]
    kind: Literal["GitRepository"]
    spec: GitRepositorySpec
