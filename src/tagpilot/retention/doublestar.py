"""Harbor's tag patterns: github.com/bmatcuk/doublestar `Match(pattern, tag)`.

Why not `policy/goglob.py` (Go's `path.Match`): doublestar adds `{a,b}` alternation (Harbor's UI turns
a comma list into one) and `**`; Harbor matches tags with it. Semantics kept: `*` any run of
non-`/` characters, `**` any run including `/`, `?` one non-`/` character, `[abc]`, `[a-z]`, `[^a]`
one non-`/` character of (not of) a class, `{a,b}` alternatives (nested allowed), `\\` escapes the
next character. An empty pattern matches everything (Harbor's selector rule). A malformed pattern
(unterminated `[` or `{`, trailing `\\`) is an error (doublestar's ErrBadPattern), never a literal.
Translated once to an anchored RE2 expression, so matching is linear.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from tagpilot.regex import compile_regex

__all__ = ["DoublestarError", "compile_doublestar", "doublestar_match"]

_SPECIAL = set("\\.+*?()|[]{}^$")


class DoublestarError(ValueError):
    """doublestar.ErrBadPattern, with what is wrong."""


def _lit(ch: str) -> str:
    return "\\" + ch if ch in _SPECIAL or ch in "-/" else ch


def _translate(pattern: str, i: int, in_braces: int) -> tuple[str, int]:
    """Translate from `i` until the end (or, inside braces, an unescaped `,` or `}`)."""
    out: list[str] = []
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if in_braces and ch in ",}":
            return "".join(out), i
        if ch == "\\":
            if i + 1 >= n:
                raise DoublestarError("trailing backslash")
            out.append(_lit(pattern[i + 1]))
            i += 2
        elif ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                out.append(".*")
                i += 2
            else:
                out.append("[^/]*")
                i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            cls, i = _class(pattern, i + 1)
            out.append(cls)
        elif ch == "{":
            alternatives: list[str] = []
            i += 1
            while True:
                alt, i = _translate(pattern, i, in_braces + 1)
                alternatives.append(alt)
                if i >= n:
                    raise DoublestarError("unterminated '{'")
                if pattern[i] == "}":
                    i += 1
                    break
                i += 1  # ','
            out.append("(?:" + "|".join(alternatives) + ")")
        else:
            out.append(_lit(ch))
            i += 1
    if in_braces:
        return "".join(out), i
    return "".join(out), i


def _class(pattern: str, i: int) -> tuple[str, int]:
    n = len(pattern)
    negate = i < n and pattern[i] == "^"
    if negate:
        i += 1
    items: list[str] = []
    while True:
        if i >= n:
            raise DoublestarError("unterminated '['")
        if pattern[i] == "]" and items:
            i += 1
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < n and pattern[i] == "-" and i + 1 < n and pattern[i + 1] != "]":
            hi, i = _class_char(pattern, i + 1)
            if hi < lo:
                raise DoublestarError(f"bad range {lo}-{hi} in character class")
        items.append(_lit(lo) if lo == hi else f"{_lit(lo)}-{_lit(hi)}")
    body = "".join(items)
    # a class never matches the separator in doublestar
    return (f"[^/{body}]" if negate else f"[{body}]"), i


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if pattern[i] == "\\":
        i += 1
        if i >= len(pattern):
            raise DoublestarError("trailing backslash in character class")
    return pattern[i], i + 1


@lru_cache(maxsize=1024)
def compile_doublestar(pattern: str) -> Callable[[str], bool]:
    """A matcher for `pattern` (whole-string match). Raises DoublestarError for a malformed pattern."""
    if pattern == "":
        return lambda _name: True
    regex, _ = _translate(pattern, 0, 0)
    compiled = compile_regex(f"^(?s:{regex})$")
    return lambda name: compiled.fullmatch(name) is not None


def doublestar_match(pattern: str, name: str) -> bool:
    return compile_doublestar(pattern)(name)
