"""Resource limits for one template execution: output size and evaluation steps.

Templates come from configuration (commit messages, notifications, sensor triggers) and run inside
the daemon, so `{{range until 30000000}}x{{end}}` must fail with a template error instead of
building 300 MB. Go has no such limits; ours are far above what a real message needs.

The budget is deterministic (steps, not wall time) so the same template fails the same way every
time and the pure core takes no clock; a step is one node walked or one list element built, which
bounds the time as well. Functions that build values proportional to an argument (`until`,
`repeat`, `indent`) charge the budget *before* allocating, through `charge`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from tagpilot.gotemplate.errors import FuncError

__all__ = ["DEFAULT_LIMITS", "Budget", "Limits", "charge", "charge_bytes"]


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one execution may produce: `max_output` bytes (UTF-8) and `max_steps` steps."""

    max_output: int = 1 << 20
    max_steps: int = 1_000_000


DEFAULT_LIMITS = Limits()


class LimitExceeded(FuncError):
    """A function's result would exceed the execution's budget (reported as `error calling F`)."""


class Budget:
    """The running counters of one execution; shared with the templates it calls."""

    __slots__ = ("limits", "max_output", "max_steps", "size", "steps")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.max_output = limits.max_output  # copied: read on every node walked
        self.max_steps = limits.max_steps
        self.size = 0
        self.steps = 0

    def steps_message(self) -> str:
        return (f"template execution exceeds {self.limits.max_steps} steps; "
                "simplify the template or raise the step limit")

    def output_message(self) -> str:
        return (f"template output exceeds {self.limits.max_output} bytes; "
                "shorten the template's output or raise the output limit")


_CURRENT: ContextVar[Budget | None] = ContextVar("tagpilot_template_budget", default=None)


def current() -> Budget | None:
    return _CURRENT.get()


def activate(budget: Budget) -> object:
    """Make `budget` the one functions charge; returns the token for `deactivate`."""
    return _CURRENT.set(budget)


def deactivate(token: object) -> None:
    _CURRENT.reset(token)  # type: ignore[arg-type]


def charge(elements: int) -> None:
    """Spend `elements` steps before building a list of that many elements."""
    budget = _CURRENT.get()
    if budget is None or elements <= 0:
        return
    budget.steps += elements
    if budget.steps > budget.max_steps:
        raise LimitExceeded(budget.steps_message())


def charge_bytes(size: int) -> None:
    """Refuse to build a single string larger than the whole output may be."""
    budget = _CURRENT.get()
    if budget is not None and size > budget.max_output:
        raise LimitExceeded(
            f"result of {size} bytes exceeds the template output limit of {budget.limits.max_output} bytes"
        )
