"""`RetentionPolicy` (`tagpilot.dev/v1alpha1`): registry cleanup with Harbor's rule vocabulary.

Harbor's rule JSON, in Kubernetes shape: `template`, `params` keyed by the template id (as Harbor's
API has it: `params: {latestPushedK: 10}`), `tagSelectors` of `{decoration, kind, pattern, untagged}`
(Harbor's `extras: {"untagged": ...}` as a plain field). Every rule, selector and pattern is checked at
load with the planner's own code, so a typo is a file:line error and nothing runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictInt, ValidationInfo, field_validator, model_validator

from tagpilot.config.base import Interval, LocalObjectReference, Model, Object, seconds
from tagpilot.retention.planner import (
    DEFAULT_MAX_DELETE_PERCENT,
    PULL_TEMPLATES,
    TEMPLATES,
    PlanError,
    Rule,
    TagSelector,
)


class TagSelectorSpec(Model):
    decoration: Literal["matches", "excludes"] = "matches"
    kind: Literal["doublestar", "regexp"] = "doublestar"
    pattern: str = ""
    untagged: bool | None = None  # Harbor's default: true for matches, false for excludes

    @model_validator(mode="after")
    def _pattern_compiles(self) -> TagSelectorSpec:
        try:
            self.to_selector().matcher()
        except PlanError as exc:
            raise ValueError(f"pattern: {exc}") from None
        return self

    def to_selector(self) -> TagSelector:
        return TagSelector(self.decoration, self.kind, self.pattern, self.untagged)


class RetentionRuleSpec(Model):
    template: str
    params: dict[str, StrictInt] = Field(default_factory=dict)
    tag_selectors: list[TagSelectorSpec] = Field(default_factory=list)
    disabled: bool = False

    @field_validator("template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        if value in PULL_TEMPLATES:
            raise ValueError(f"{value} needs pull times, which plain registries do not report; use "
                             f"latestPushedK or nDaysSinceLastPush")
        if value not in TEMPLATES:
            raise ValueError(f"unknown template {value!r}; use one of {', '.join(TEMPLATES)}")
        return value

    @field_validator("params")
    @classmethod
    def _params_fit(cls, params: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        template = info.data.get("template")
        if template is None:  # already reported
            return params
        default, bound = TEMPLATES[template]
        for key, value in params.items():
            if key != template or default is None:
                expected = f"only params.{template}" if default is not None else "no params"
                raise ValueError(f"params.{key}: template {template} takes {expected}")
            if value < 0 or (bound is not None and value >= bound):
                raise ValueError(f"params.{key}: {value} must be an integer from 0 to {bound - 1 if bound else 0}")
        return params

    def to_rule(self) -> Rule:
        return Rule(self.template, self.params.get(self.template),
                    tuple(s.to_selector() for s in self.tag_selectors))


class TagPattern(Model):
    kind: Literal["doublestar", "regexp"] = "doublestar"
    pattern: str = Field(min_length=1)

    @model_validator(mode="after")
    def _compiles(self) -> TagPattern:
        try:
            self.to_selector().matcher()
        except PlanError as exc:
            raise ValueError(f"pattern: {exc}") from None
        return self

    def to_selector(self) -> TagSelector:
        return TagSelector("matches", self.kind, self.pattern, False)


class ProtectSpec(Model):
    """What survives whatever the rules say. Index children and cosign signatures of retained digests
    are always retained (no switch: turning them off only ever breaks images)."""

    deployed: bool = True  # tags in the latest commit of every git repository automations/Applications write to
    policy_refs: bool = True  # every ImagePolicy's latestRef and observedPreviousRef
    holds: bool = True  # pins and pending approvals (tagpilot.approvals; nothing until it exists)
    tags: list[TagPattern] = Field(default_factory=list)


class RetentionPolicySpec(Model):
    image_repository_refs: list[LocalObjectReference] = Field(min_length=1)
    rules: list[RetentionRuleSpec] = Field(min_length=1)
    dry_run: bool = True
    suspend: bool = False
    interval: Interval | None = None
    max_delete_percent: int = Field(default=DEFAULT_MAX_DELETE_PERCENT, ge=0, le=100)
    protect: ProtectSpec = Field(default_factory=ProtectSpec)

    @property
    def interval_seconds(self) -> float | None:
        return seconds(self.interval) if self.interval else None

    def planner_rules(self) -> list[Rule]:
        return [r.to_rule() for r in self.rules if not r.disabled]


class RetentionPolicy(Object):
    api_version: Literal["tagpilot.dev/v1alpha1"]
    kind: Literal["RetentionPolicy"]
    spec: RetentionPolicySpec
