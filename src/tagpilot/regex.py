"""The one way tagpilot compiles a user-supplied regular expression: RE2, like the Go tools.

Flux, Argo CD Image Updater and Argo Events are written in Go, whose `regexp` package is RE2: no
backreferences, no lookaround, linear time on any input. google-re2 gives us the same dialect and the
same guarantee against hostile patterns from configuration files and webhook payloads. This wrapper
turns RE2's byte-string errors into readable messages and stops RE2 from logging to stderr.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

from tagpilot.errors import TagpilotError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


class RegexError(TagpilotError):
    """A pattern that RE2 rejects; the message quotes the pattern and RE2's reason (`detail`)."""

    reason = "InvalidPolicy"

    def __init__(self, pattern: str, detail: str) -> None:
        self.pattern = pattern
        self.detail = detail
        super().__init__(f"invalid regular expression {pattern!r}: {detail}")


def _reason(exc: Exception) -> str:
    arg = exc.args[0] if exc.args else exc
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


MAX_NESTING = 1000  # Go's regexp/syntax refuses deeper patterns ("expression nests too deeply")


def _nesting(pattern: str) -> int:
    """The deepest group nesting, ignoring escaped characters and character classes."""
    depth = deepest = 0
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]":
                i += 1  # a literal ] first in a class
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
        i += 1
    return deepest


@functools.lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> Any:
    """Compile `pattern` with RE2 (cached). Raises RegexError with RE2's reason."""
    if isinstance(pattern, str) and pattern.count("(") > MAX_NESTING and _nesting(pattern) > MAX_NESTING:
        # the same limit as Go, whose configurations we read: what Flux refuses, we refuse
        raise RegexError(pattern[:80] + ("..." if len(pattern) > 80 else ""), "expression nests too deeply")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raise RegexError(pattern, _reason(exc)) from None
    except (TypeError, ValueError) as exc:  # non-str input from a hostile document
        raise RegexError(str(pattern), str(exc)) from None
