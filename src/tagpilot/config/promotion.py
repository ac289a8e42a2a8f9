"""`Promotion` (`tagpilot.dev/v1alpha1`): move what one environment runs into the next one.

Kargo's Stage idea without a cluster (shared/reference/promotion.md §1, §5-6): the candidate is what the
source last wrote to git for one image (an ImageUpdateAutomation's or another Promotion's setters
markers, read back from the repository), or an ImagePolicy's latest image; gates decide when; the image
is optionally copied to the next environment's registry (same digest) and the target branch/path gets
the new reference through setters markers naming the promotion (``{"$imagepolicy": "NS:PROMOTION"}``).

``push.pullRequest`` commits to a head branch and opens (or updates) a pull/merge request into the
target branch instead (engine/promotion_pr.py). An Argo CD ``Application`` can be the source (what its
write-back target says) or the target (its write-back target is written, directly or through a pull
request into the Application's branch), engine/promotion_argo.py. What is not built is refused at load,
naming the field: a promotion that silently did less than it says would be worse than one that does not load.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from tagpilot.config.base import (
    Duration,
    Interval,
    LocalObjectReference,
    Model,
    NamespacedObjectReference,
    Object,
    PlainText,
    seconds,
)
from tagpilot.config.flux_automation import CommitUser, SigningKey

SOURCE_KINDS = ("ImageUpdateAutomation", "Application", "Promotion")


class PromotionSource(Model):
    """`{kind, name}` of the object whose last write is the candidate, or `{imagePolicyRef: {name}}`."""

    kind: Literal["ImageUpdateAutomation", "Application", "Promotion"] | None = None
    name: PlainText | None = None
    namespace: PlainText | None = None  # an Application's (Argo CD keeps them in `argocd`); default: the Promotion's
    image_policy_ref: LocalObjectReference | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PromotionSource:
        if self.image_policy_ref is not None:
            if self.kind or self.name:
                raise ValueError("give either kind and name, or imagePolicyRef, not both")
            return self
        if not self.kind or not self.name:
            raise ValueError("needs kind and name (ImageUpdateAutomation, Application or Promotion), or "
                             "imagePolicyRef: {name}")
        if self.namespace and self.kind != "Application":
            raise ValueError(f"namespace is for an Application source; a {self.kind} is read from the Promotion's "
                             "own namespace")
        return self

    def describe(self) -> str:
        if self.image_policy_ref is not None:
            return f"ImagePolicy/{self.image_policy_ref.name}"
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
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
    """Where the promoted reference is written: a branch and path of a GitRepository (setters markers), or
    the write-back target of an Argo CD Application (`applicationRef`, `image` = its image-list alias)."""

    git_repository_ref: LocalObjectReference | None = None
    branch: PlainText | None = None
    path: PlainText = "."
    strategy: Literal["Setters"] = "Setters"
    application_ref: NamespacedObjectReference | None = None
    image: PlainText | None = None  # the Application's image-list alias; default: spec.image

    @model_validator(mode="after")
    def _git(self) -> PromotionTarget:
        if self.application_ref is not None:
            if self.git_repository_ref is not None or self.branch or self.path != ".":
                raise ValueError("applicationRef writes where the Application writes back (its repository, branch "
                                 "and write-back target); leave out gitRepositoryRef, branch and path")
            return self
        if self.image is not None:
            raise ValueError("image names an Application's image-list alias: only with applicationRef")
        if self.git_repository_ref is None or not self.branch:
            raise ValueError("needs gitRepositoryRef: {name} and branch (the environment's branch), or "
                             "applicationRef: {name, namespace} (an Argo CD Application)")
        return self

    def describe(self) -> str:
        if self.application_ref is not None:
            ref = self.application_ref
            return f"Application/{ref.namespace + '/' if ref.namespace else ''}{ref.name}"
        return f"{self.branch}:{self.path}"


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


class _Forge(Model):
    """`github: {}` / `gitlab: {}` / `gitea: {}`: which forge API opens the request (no settings of its own)."""


class PromotionPullRequest(Model):
    """Push to a head branch and open (or update) a pull/merge request into `target.branch` (the manual path's
    forge client, approvals/forge.py): Argo's `pullRequest` shape, plus Gitea and the API base URL."""

    github: _Forge | None = None
    gitlab: _Forge | None = None
    gitea: _Forge | None = None
    labels: list[PlainText] | None = Field(default=None, max_length=100)
    api: PlainText | None = None  # the forge API's base URL; default derived from the repository URL

    @model_validator(mode="after")
    def _one_forge(self) -> PromotionPullRequest:
        if sum(f is not None for f in (self.github, self.gitlab, self.gitea)) != 1:
            raise ValueError("pullRequest needs exactly one of github: {}, gitlab: {} or gitea: {}")
        for label in self.labels or []:
            if not 1 <= len(label) <= 255 or "," in label:
                raise ValueError(f"pullRequest label {label[:40]!r} must be 1 to 255 characters long, without ','")
        if self.api is not None and not self.api.startswith(("http://", "https://")):
            raise ValueError(f"pullRequest api {self.api!r} must be an http(s) URL (the forge API's base URL)")
        return self

    @property
    def forge(self) -> str:
        return "github" if self.github is not None else "gitlab" if self.gitlab is not None else "gitea"


class PromotionPush(Model):
    branch: PlainText | None = None  # default: target.branch; with pullRequest the head branch
    pull_request: PromotionPullRequest | None = None


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
        """Where the commit goes: `push.branch`, else the target branch (with a pull request, `head_branch`)."""
        return self.push.branch or self.target.branch or ""

    @property
    def deployed_branch(self) -> str:
        """The branch that holds what this environment runs: with a pull request the target branch (the
        head branch only proposes), else the branch pushed to."""
        return (self.target.branch or "") if self.push.pull_request is not None else self.push_branch

    @model_validator(mode="after")
    def _head_is_not_the_base(self) -> PromotionSpec:
        if self.push.pull_request is not None and self.push.branch and self.push.branch == self.target.branch:
            raise ValueError(f"push.branch {self.push.branch!r} is the target branch: a pull request needs a head "
                             "branch of its own (leave push.branch out for promote/<name>)")
        return self


class Promotion(Object):
    api_version: Literal["tagpilot.dev/v1alpha1"]
    kind: Literal["Promotion"]
    spec: PromotionSpec

    @property
    def push_branch(self) -> str:
        """The branch commits go to; with a pull request and no `push.branch`, ``promote/<name>``."""
        if self.spec.push.pull_request is not None and not self.spec.push.branch:
            return f"promote/{self.name}"
        return self.spec.push_branch
