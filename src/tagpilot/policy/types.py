"""Result types shared by the Flux and Argo selections.

A selection answers two questions: which tag wins, and (when asked) why every other tag lost.
The second powers `policy eval --explain` and the dashboard, so each verdict carries a machine
outcome and a sentence for people.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagpilot.errors import PolicyError

__all__ = [
    "EXCLUDED",
    "IGNORED",
    "LOWER",
    "NOT_ALLOWED",
    "NOT_NUMERIC",
    "NOT_SEMVER",
    "NO_METADATA",
    "OUTCOMES",
    "OUT_OF_RANGE",
    "PRERELEASE",
    "SELECTED",
    "WRONG_PLATFORM",
    "Selection",
    "SelectionFailed",
    "TagVerdict",
]

SELECTED = "selected"
EXCLUDED = "excluded"  # filterTags.pattern did not match
NOT_SEMVER = "not-semver"
OUT_OF_RANGE = "out-of-range"
PRERELEASE = "prerelease"
LOWER = "lower"  # a valid candidate that lost the ordering (or was shadowed by an equal one)
NOT_NUMERIC = "not-numeric"
WRONG_PLATFORM = "wrong-platform"
NO_METADATA = "no-metadata"
IGNORED = "ignored"  # Argo ignore-tags glob matched
NOT_ALLOWED = "not-allowed"  # Argo allow-tags did not match
OUTCOMES = (
    SELECTED,
    EXCLUDED,
    NOT_SEMVER,
    OUT_OF_RANGE,
    PRERELEASE,
    LOWER,
    NOT_NUMERIC,
    WRONG_PLATFORM,
    NO_METADATA,
    IGNORED,
    NOT_ALLOWED,
)


@dataclass(frozen=True)
class TagVerdict:
    """What happened to one tag: `outcome` is one of OUTCOMES, `detail` a sentence for people."""

    tag: str
    outcome: str
    detail: str


@dataclass(frozen=True)
class Selection:
    """The winning tag, the value the policy ordered (after extract; `tag@digest` for Argo's
    digest strategy) and, with explain=True, one verdict per input tag in input order."""

    tag: str
    value: str
    verdicts: list[TagVerdict] | None = None


class SelectionFailed(PolicyError):
    """No tag could be selected. With explain=True, `verdicts` says why each tag lost."""

    def __init__(self, message: str, verdicts: list[TagVerdict] | None = None) -> None:
        super().__init__(message)
        self.verdicts = verdicts
