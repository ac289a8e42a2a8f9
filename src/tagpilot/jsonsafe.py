"""JSON from strangers, with a bound on nesting depth.

Why: the standard `json` module parses arrays and objects recursively, so a webhook body or a
registry answer of 200,000 `[` raises `RecursionError` deep inside the parser (an HTTP 500, or a
traceback), and anything that walks the decoded value afterwards recurses as deep. No maintained
library offers a depth limit for the standard decoder, so this module scans the text first: one
linear pass over the brackets outside strings (`check_depth`), then `json.loads`. Payloads we read
(webhooks, registry manifests and configs) are a handful of levels deep; 64 leaves ample room.
"""

from __future__ import annotations

import json
import re
from typing import Any

DEFAULT_MAX_DEPTH = 64

# a JSON string (the unrolled form: linear, no backtracking), or one bracket; everything else is skipped
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class JSONTooDeep(ValueError):
    """The document nests arrays/objects deeper than allowed; refused before parsing."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"JSON nested deeper than {max_depth} levels")
        self.max_depth = max_depth


def _text(data: bytes | bytearray | str) -> str:
    """The text `json.loads` would parse: bytes decoded with the encoding it detects (UTF-8/16/32)."""
    if isinstance(data, str):
        return data
    return bytes(data).decode(json.detect_encoding(data), "surrogatepass")


def check_depth(text: str, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise `JSONTooDeep` when `text` opens more than `max_depth` arrays/objects at once.

    Brackets inside strings do not count. Linear in the length of `text`; stops at the first level
    too deep. Malformed text is not diagnosed here (the parser reports it afterwards).
    """
    depth = 0
    for match in _TOKENS.finditer(text):
        first = match.group()[0]
        if first == "[" or first == "{":
            depth += 1
            if depth > max_depth:
                raise JSONTooDeep(max_depth)
        elif first == "]" or first == "}":
            depth = max(depth - 1, 0)


def loads_bounded(data: bytes | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """`json.loads(data)`, refusing documents nested deeper than `max_depth` with `JSONTooDeep`.

    Raises `ValueError` (`json.JSONDecodeError`, `UnicodeDecodeError`, `JSONTooDeep`) for anything
    that is not acceptable JSON, never `RecursionError`.
    """
    text = _text(data)
    check_depth(text, max_depth)
    try:
        return json.loads(text)
    except RecursionError:  # unreachable with a sane max_depth; never let it escape as a crash
        raise JSONTooDeep(max_depth) from None
