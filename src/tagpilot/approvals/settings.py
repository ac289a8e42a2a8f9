"""The annotations that put an object on the manual path, parsed and checked (pure).

A gate is opt-in per object: `tagpilot.dev/approvals: "N"` (N >= 1), with
`tagpilot.dev/approval-deadline` (a Go duration, default 24h, Keel's default) and
`tagpilot.dev/approvers: "alice,bob"` (empty: anyone may approve). `tagpilot.dev/respect-manual-changes:
"true"` makes tagpilot keep a value a person wrote in git. A value nobody can mean (`approvals: "two"`,
a deadline without a unit, a misspelt `tagpilot.dev/aprovals`) is an error naming the object and the
annotation, never a silently ungated object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tagpilot.config.duration import DurationError, parse_duration_ns
from tagpilot.errors import TagpilotError

PREFIX = "tagpilot.dev/"
APPROVALS = PREFIX + "approvals"
DEADLINE = PREFIX + "approval-deadline"
APPROVERS = PREFIX + "approvers"
RESPECT_MANUAL = PREFIX + "respect-manual-changes"
PULL_REQUEST = PREFIX + "pull-request"
DEFAULT_DEADLINE = 24 * 3600.0
MAX_APPROVALS = 100  # Keel's bound on votesRequired
# the annotations of this module; others with the prefix belong to other features (batch, notify, ...)
OURS = frozenset({APPROVALS, DEADLINE, APPROVERS, RESPECT_MANUAL})
_CLOSE = ("approv", "aprov", "respect", "manual", "deadline")


class InvalidAnnotation(TagpilotError):
    """An approvals annotation with a value that means nothing; the object is not reconciled."""

    reason = "InvalidAnnotation"


@dataclass(frozen=True)
class GateSettings:
    """What an object's annotations ask for; `required == 0` means no gate."""

    required: int = 0
    deadline_seconds: float = DEFAULT_DEADLINE
    approvers: tuple[str, ...] = ()
    respect_manual_changes: bool = False

    @property
    def gated(self) -> bool:
        return self.required > 0


def _where(obj: Any, config: Any) -> str:
    origin = getattr(config, "origins", {}).get(obj.key)
    at = f" ({origin.file}:{origin.line})" if origin is not None and getattr(origin, "file", None) else ""
    return f"{obj.ref}{at}"


def settings_of(obj: Any, config: Any = None) -> GateSettings:
    """The object's gate settings from `metadata.annotations`; InvalidAnnotation names what to fix
    (the object and, with the loaded `config`, its file:line)."""
    annotations: dict[str, str] = dict(obj.metadata.annotations or {})
    for key in annotations:
        if key.startswith(PREFIX) and key not in OURS and any(word in key for word in _CLOSE):
            raise InvalidAnnotation(f"{_where(obj, config)}: unknown annotation {key!r}; did you mean one of "
                                    f"{', '.join(sorted(OURS))}?")
    required = 0
    if APPROVALS in annotations:
        text = str(annotations[APPROVALS]).strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_APPROVALS:
            raise InvalidAnnotation(f"{_where(obj, config)}: {APPROVALS}: {text!r} is not a number of approvals "
                                    f"from 1 to {MAX_APPROVALS}; write e.g. \"2\" (remove it for no gate)")
        required = int(text)
    deadline = DEFAULT_DEADLINE
    if DEADLINE in annotations:
        text = str(annotations[DEADLINE]).strip()
        try:
            nanos = parse_duration_ns(text)
        except DurationError as exc:
            where = _where(obj, config)
            raise InvalidAnnotation(f"{where}: {DEADLINE}: {exc}; write e.g. \"24h\" or \"90m\"") from None
        if nanos <= 0:
            raise InvalidAnnotation(f"{_where(obj, config)}: {DEADLINE}: {text!r} must be positive, e.g. \"24h\"")
        deadline = nanos / 1e9
    approvers: tuple[str, ...] = ()
    if APPROVERS in annotations:
        approvers = tuple(dict.fromkeys(a.strip() for a in str(annotations[APPROVERS]).split(",") if a.strip()))
        if not approvers:
            raise InvalidAnnotation(f"{_where(obj, config)}: {APPROVERS} is empty; list names (\"alice,bob\") "
                                    "or remove it")
    if not required and (DEADLINE in annotations or APPROVERS in annotations):
        raise InvalidAnnotation(f"{_where(obj, config)}: {DEADLINE if DEADLINE in annotations else APPROVERS} does "
                                f"nothing without {APPROVALS}: \"N\"; add it or remove the annotation")
    if required and approvers and required > len(approvers):
        raise InvalidAnnotation(f"{_where(obj, config)}: {APPROVALS}: {required} approvals can never be given by the "
                                f"{len(approvers)} approver(s) of {APPROVERS}; lower N or add approvers")
    respect = False
    if RESPECT_MANUAL in annotations:
        text = str(annotations[RESPECT_MANUAL]).strip().lower()
        if text not in ("true", "false"):
            raise InvalidAnnotation(f"{_where(obj, config)}: {RESPECT_MANUAL}: {text!r}; write \"true\" or \"false\"")
        respect = text == "true"
    return GateSettings(required, deadline, approvers, respect)
