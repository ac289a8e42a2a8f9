"""Flux `ImageUpdateAutomation` (`image.toolkit.fluxcd.io/v1`, also `v1beta2` and `v1beta1`).

One model serves the three versions: their schemas differ only in fields a later version added
(`messageTemplateValues`, `policySelector`), and tagpilot accepts those on every version so a user
can upgrade the apiVersion line without touching the rest. The commit message template data differs
by version (`.Updated` before v1, `.Changed` in v1); that is the engine's business, `template_data_version`
says which the object asked for.

`selector_matches` implements Kubernetes label-selector semantics for `spec.policySelector`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from tagpilot.config.base import Interval, LocalObjectReference, Model, Object, PlainText, seconds
from tagpilot.config.flux_source import GitRepositoryRef

DEFAULT_MESSAGE = "Update from image update automation"
COMMIT_TEMPLATE_NAME = "commit message"  # Flux's template.New("commit message"), as the engine names it


class SourceReference(Model):
    """`spec.sourceRef` (CrossNamespaceSourceReference); only GitRepository is a valid kind."""

    api_version: str | None = None
    kind: Literal["GitRepository"]
    name: str = Field(min_length=1)
    namespace: str | None = None


class CommitUser(Model):
    name: PlainText | None = None
    email: PlainText = Field(min_length=1)


class SigningKey(Model):
    """`git.commit.signingKey`. Flux reads an ASCII-armoured OpenPGP key from key `git.asc` (and an
    optional `passphrase`). tagpilot: `type: ssh` signs with an OpenSSH private key (key `identity`),
    which Flux has no field for; `type` defaults to `gpg`, so Flux objects keep their meaning."""

    secret_ref: LocalObjectReference
    type: Literal["gpg", "ssh"] = "gpg"


class CommitSpec(Model):
    author: CommitUser
    signing_key: SigningKey | None = None
    message_template: str | None = None
    message_template_values: dict[str, str] = Field(default_factory=dict)

    @field_validator("message_template")
    @classmethod
    def _template_parses(cls, value: str | None) -> str | None:
        """Parse the template now, with the functions the commit will have (builtins and hermetic
        Sprig): a syntax error found only when an update is due would hold back that update and
        reach nobody at load time. The template is parsed again at commit time (cheap)."""
        if value:
            from tagpilot.gotemplate import TemplateParseError, parse  # only when a template is set

            try:
                parse(value, COMMIT_TEMPLATE_NAME)
            except TemplateParseError as exc:
                raise ValueError(f"the commit message template does not parse: {exc}") from None
        return value


class GitCheckoutSpec(Model):
    ref: GitRepositoryRef


class PushSpec(Model):
    """`git.push`: `options` is a map in Flux (`merge_request.create: ""`); see `option_list()`."""

    branch: PlainText | None = None
    refspec: PlainText | None = None
    options: dict[PlainText, PlainText] = Field(default_factory=dict)

    def option_list(self) -> list[str]:
        """`git push -o` values: `key=value`, or `key` when the value is empty (as Flux sends them)."""
        return [f"{key}={value}" if value else key for key, value in self.options.items()]


class GitSpec(Model):
    checkout: GitCheckoutSpec | None = None
    commit: CommitSpec
    push: PushSpec | None = None


class UpdateStrategy(Model):
    """`spec.update`. `path` is relative to the repository root; empty means the root."""

    path: PlainText | None = None
    strategy: Literal["Setters"] = "Setters"


class LabelSelectorRequirement(Model):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values(self) -> LabelSelectorRequirement:
        # the same rule the Kubernetes API server enforces on label selectors
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs a non-empty values list")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(Model):
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)


def selector_matches(selector: LabelSelector | None, labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics: every matchLabels pair and every expression must hold.

    An absent selector (None) and an empty one (`{}`) both select everything, as in Flux, where a
    missing `policySelector` means all ImagePolicies of the namespace. `NotIn` matches objects
    without the label, `In` does not.
    """
    if selector is None:
        return True
    for key, value in selector.match_labels.items():
        if labels.get(key) != value:
            return False
    for req in selector.match_expressions:
        present = req.key in labels
        if req.operator == "In":
            ok = present and labels[req.key] in req.values
        elif req.operator == "NotIn":
            ok = not present or labels[req.key] not in req.values
        elif req.operator == "Exists":
            ok = present
        else:
            ok = not present
        if not ok:
            return False
    return True


class ImageUpdateAutomationSpec(Model):
    source_ref: SourceReference
    interval: Interval
    git: GitSpec | None = None
    update: UpdateStrategy = Field(default_factory=UpdateStrategy)
    policy_selector: LabelSelector | None = None
    suspend: bool = False

    @property
    def interval_seconds(self) -> float:
        return seconds(self.interval)

    @property
    def update_path(self) -> str:
        return self.update.path or "."

    def push_targets(self, checkout_branch: str | None) -> tuple[str | None, str | None]:
        """(branch, refspec) to push, following Flux: no `push` → the checkout branch; `push.branch`
        → that branch; only `push.refspec` → only the refspec. A checkout of a tag or commit has no
        branch to push to, so it needs `push.branch` or `push.refspec` (ValueError otherwise)."""
        push = self.git.push if self.git else None
        if push is None or (push.branch is None and push.refspec is None):
            if checkout_branch is None:
                raise ValueError("spec.git.push.branch is required when the checkout reference is not a branch")
            return checkout_branch, None
        return push.branch, push.refspec


class ImageUpdateAutomation(Object):
    api_version: Literal[
        "image.toolkit.fluxcd.io/v1", "image.toolkit.fluxcd.io/v1beta2", "image.toolkit.fluxcd.io/v1beta1"
    ]
    kind: Literal["ImageUpdateAutomation"]
    spec: ImageUpdateAutomationSpec

    @property
    def template_data_version(self) -> Literal["v1", "v1beta"]:
        """Which commit template data Flux gives this apiVersion: `.Changed` (v1) or `.Updated`."""
        return "v1" if self.api_version.endswith("/v1") else "v1beta"

