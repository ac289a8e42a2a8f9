"""`Promotion` (`tagpilot.dev/v1alpha1`): move what one environment runs into the next one.

Kargo's Stage idea without a cluster (shared/reference/promotion.md §1, §5-6): the candidate is what the
source last wrote to git for one image (an ImageUpdateAutomation's or another Promotion's setters
markers, read back from the repository), or an ImagePolicy's latest image; gates decide when; the image
is optionally copied to the next environment's registry (same digest) and the target branch/path gets
the new reference through setters markers naming the promotion (``{"$imagepolicy": "NS:PROMOTION"}``).

Fields nobody reads yet are refused at load (``push.pullRequest``, an Argo
``Application`` source or target), naming the field: a promotion that silently skipped its approval
would be worse than one that does not load.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tagpilot.config.base import Duration, Interval, LocalObjectReference, Model, Object, PlainText, seconds
from tagpilot.config.flux_automation import CommitUser, SigningKey

SOURCE_KINDS = ("ImageUpdateAutomation", "Promotion")


class PromotionSource(Model):
    """`{kind, name}` of the object whose last write is the candidate, or `{imagePolicyRef: {name}}`."""

    kind: Literal["ImageUpdateAutomation", "Application", "Promotion"] | None = None
    name: PlainText | None = None
    image_policy_ref: LocalObjectReference | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PromotionSource:
        if self.image_policy_ref is not None:
            if self.kind or self.name:
                raise ValueError("give either kind and name, or imagePolicyRef, not both")
            return self
        if not self.kind or not self.name:
            raise ValueError("needs kind and name (ImageUpdateAutomation or Promotion), or imagePolicyRef: {name}")
        if self.kind == "Application":
            raise ValueError("kind Application (Argo CD) is not supported as a promotion source yet; use "
                             "ImageUpdateAutomation, Promotion or imagePolicyRef")
        return self

    def describe(self) -> str:
        if self.image_policy_ref is not None:
            return f"ImagePolicy/{self.image_policy_ref.name}"
        return f"{self.kind}/{self.name}"


class PromotionCopy(Model):
    """Copy the image to `to` (``REGISTRY/REPO``) first; the target then names that repository."""

    to: PlainText
    insecure: bool = False  # plain HTTP or unverified TLS (local registries)
    signatures: bool = True  # cosign .sig/.att/.sbom tags travel with the image

    @field_validator("to")
    @classmethod
    def _repository(cls, value: str) -> str:
        from tagpilot.errors import InvalidReference
        from tagpilot.registry.reference import parse_repository

        try:
            parse_repository(value)
        except InvalidReference as exc:
            raise ValueError(str(exc).replace(".spec.image", "copy.to")) from None
        return value


class PromotionTarget(Model):
    """Where the promoted reference is written: a branch and path of a GitRepository (setters markers)."""

    git_repository_ref: LocalObjectReference | None = None
    branch: PlainText | None = None
    path: PlainText = "."
    strategy: Literal["Setters"] = "Setters"
    application_ref: Any = None  # an Argo CD Application of the Argo issue: refused below

    @model_validator(mode="after")
    def _git(self) -> PromotionTarget:
        if self.application_ref is not None:
            raise ValueError("applicationRef (an Argo CD Application target) is not supported yet; use "
                             "gitRepositoryRef, branch and path")
        if self.git_repository_ref is None or not self.branch:
            raise ValueError("needs gitRepositoryRef: {name} and branch (the environment's branch)")
        return self


class VerifyGate(Model):
    """An HTTP check (a smoke-test endpoint) that must answer `expectStatus` before promoting."""

    url: PlainText
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: int = Field(default=200, ge=100, le=599)
    timeout: Duration = "10s"

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"url {value!r} must start with http:// or https://")
        return value


class PromotionGate(Model):
    soak: Duration | None = None  # the source must have held the candidate this long
    require_ready: bool = False  # the source object's Ready condition must be True
    verify: VerifyGate | None = None
    # N distinct people approve each promotion (tagpilot.approvals: `tagpilot approve`, the API, the
    # dashboard); the same as the annotation `tagpilot.dev/approvals: "N"`, whose companions
    # `tagpilot.dev/approvers` and `tagpilot.dev/approval-deadline` apply to it too
    approvals: int | None = Field(default=None, ge=1, le=100)

    @property
    def soak_seconds(self) -> float:
        return seconds(self.soak) if self.soak else 0.0


class PromotionCommit(Model):
    author: CommitUser = Field(default_factory=lambda: CommitUser(name="tagpilot", email="tagpilot@localhost"))
    signing_key: SigningKey | None = None
    message_template: str | None = None


class PromotionPush(Model):
    branch: PlainText | None = None  # default: target.branch
    pull_request: Any = None

    @model_validator(mode="after")
    def _no_pr(self) -> PromotionPush:
        if self.pull_request is not None:
            raise ValueError("pullRequest is not supported yet; push to a branch")
        return self


class PromotionSpec(Model):
    source: PromotionSource
    image: PlainText = Field(min_length=1)  # the source's ImagePolicy name (its setters markers' policy)
    copy_: PromotionCopy | None = Field(default=None, alias="copy")
    target: PromotionTarget
    gate: PromotionGate = Field(default_factory=PromotionGate)
    commit: PromotionCommit = Field(default_factory=PromotionCommit)
    push: PromotionPush = Field(default_factory=PromotionPush)
    interval: Interval = "5m"
    suspend: bool = False

    @property
    def interval_seconds(self) -> float:
        return seconds(self.interval)

    @property
    def push_branch(self) -> str:
        return self.push.branch or self.target.branch or ""


class Promotion(Object):
    api_version: Literal["tagpilot.dev/v1alpha1"]
    kind: Literal["Promotion"]
    spec: PromotionSpec
