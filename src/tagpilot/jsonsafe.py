"""JSON from strangers, parsed with a bound on nesting depth.

``json.loads`` recurses once per ``[`` or ``{``: 200,000 of them raise ``RecursionError`` (an
unexpected traceback, not a ``ValueError``) and a deep enough document costs stack and time before
that. Registries and webhook senders are strangers, so their bodies go through `loads_bounded`,
which measures the nesting depth first (outside string literals) and refuses a document deeper
than `max_depth` with `JSONTooDeep`, a ``ValueError`` like every other "not valid JSON" outcome.

The standard library has no depth limit and no well-kept small library adds one to it, hence this
module. It imports nothing from tagpilot so any layer (registry client, webhook receivers) can use it.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["DEFAULT_MAX_DEPTH", "JSONTooDeep", "check_depth", "json_depth_exceeds", "loads_bounded"]

DEFAULT_MAX_DEPTH = 64

# A JSON string literal (the "unrolled loop" form: linear, no backtracking between alternatives).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class JSONTooDeep(ValueError):
    """A JSON document nests arrays/objects deeper than allowed."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        super().__init__(f"JSON nested deeper than {max_depth} levels")


def json_depth_exceeds(text: str, max_depth: int) -> bool:
    """True when `text` opens more than `max_depth` arrays/objects at once (string contents ignored).

    Malformed text is measured as well as it can be; it fails ``json.loads`` afterwards anyway.
    """
    if text.count("[") + text.count("{") <= max_depth:  # fast path: too few brackets to be too deep
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = 0
    for char in brackets:
        if char == "[" or char == "{":
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False


def check_depth(text: str, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise `JSONTooDeep` when `text` nests deeper than `max_depth` (for callers with their own parser)."""
    if json_depth_exceeds(text, max_depth):
        raise JSONTooDeep(max_depth)


def loads_bounded(data: bytes | bytearray | str, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """``json.loads`` that raises `JSONTooDeep` (a ``ValueError``) for documents nested too deeply.

    Bytes are decoded as ``json.loads`` decodes them (UTF-8, -16 or -32, detected); undecodable bytes
    raise ``UnicodeDecodeError``, invalid JSON ``json.JSONDecodeError`` (both ``ValueError``).
    """
    if isinstance(data, bytes | bytearray):
        text = bytes(data).decode(json.detect_encoding(data), "surrogatepass")
    else:
        text = data
    if json_depth_exceeds(text, max_depth):
        raise JSONTooDeep(max_depth)
    try:
        return json.loads(text)
    except RecursionError:  # unreachable with a sane max_depth; a ValueError all the same
        raise JSONTooDeep(max_depth) from None
