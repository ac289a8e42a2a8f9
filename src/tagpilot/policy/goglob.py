"""Go `path/filepath.Match` for Argo CD Image Updater's `ignore-tags` globs.

Why not `fnmatch`: fnmatch negates classes with `!`, lets `*` cross `/`, treats a malformed
class as literal text and has no `\\` escape. Go negates with `^`, stops `*`/`?` at `/`, and reports
a malformed pattern as an error (Argo then does not ignore the tag). Translated to an anchored
regex once per pattern; matching is then linear.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from tagpilot.regex import compile_regex

__all__ = ["GlobError", "compile_glob", "glob_match"]


class GlobError(ValueError):
    """filepath.ErrBadPattern."""


def _class(pattern: str, i: int) -> tuple[str, int]:
    """Translate a `[...]` class starting after `[`; returns (regex, index after `]`)."""
    n = len(pattern)
    negate = i < n and pattern[i] == "^"
    if negate:
        i += 1
    items: list[str] = []
    first = True
    while True:
        if i >= n:
            raise GlobError("unterminated character class")
        if pattern[i] == "]" and not first:
            i += 1
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < n and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
            if hi < lo:
                raise GlobError("bad range in character class")
        items.append(_lit(lo) if lo == hi else f"{_lit(lo)}-{_lit(hi)}")
        first = False
    body = "".join(items)
    # unlike `*` and `?`, a class may match the separator in Go
    return (f"[^{body}]" if negate else f"[{body}]"), i


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    n = len(pattern)
    if i >= n or pattern[i] in "-]":
        raise GlobError("bad character class")
    if pattern[i] == "\\":
        i += 1
        if i >= n:
            raise GlobError("trailing backslash")
    return pattern[i], i + 1


@lru_cache(maxsize=1024)
def _lit(ch: str) -> str:
    """One character as an RE2 literal (escaped by code point: RE2 rejects some backslash escapes)."""
    return ch if ch.isalnum() or ch == "_" else f"\\x{{{ord(ch):x}}}"


def compile_glob(pattern: str) -> Any:
    """Translate a Go glob to a compiled regex; GlobError if Go would say ErrBadPattern."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            while i < n and pattern[i] == "*":
                i += 1
            out.append("[^/]*")
            continue
        if ch == "?":
            out.append("[^/]")
        elif ch == "[":
            cls, i = _class(pattern, i + 1)
            out.append(cls)
            continue
        elif ch == "\\":
            i += 1
            if i >= n:
                raise GlobError("trailing backslash")
            out.append(_lit(pattern[i]))
        else:
            out.append(_lit(ch))
        i += 1
    # RE2 (linear time): a glob like `*a*a*a*a*b` must not backtrack on a long tag
    return compile_regex("(?s)" + "".join(out))


def glob_match(pattern: str, name: str) -> bool:
    """filepath.Match(pattern, name) == (true, nil). A malformed pattern matches nothing."""
    try:
        rx = compile_glob(pattern)
    except GlobError:
        return False
    return rx.fullmatch(name) is not None
