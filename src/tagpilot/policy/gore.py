"""Go `regexp` behaviour on RE2: compiling user patterns and Go's `Regexp.Expand` template rules.

Why: Flux's `filterTags.extract` and Argo's `allow-tags: regexp:` are Go regexps. RE2 (google-re2)
is the same engine and dialect; what Python lacks is Go's template expansion (`$1`, `${1}`,
`$name`, `${name}`, `$$`), whose edge cases matter: `$1x` names a group called `1x` (empty), `$01`
is not group 1, a malformed `$` stays literal.
"""

from __future__ import annotations

from dataclasses import dataclass

from tagpilot.errors import InvalidPolicy
from tagpilot.regex import RegexError, compile_regex

__all__ = ["GoRegexp", "compile_go", "expand"]

@dataclass(frozen=True)
class GoRegexp:
    """A compiled pattern plus what expansion needs (group names → indices)."""

    pattern: str
    regexp: object  # re2._Regexp
    names: dict[str, int]
    groups: int


def compile_go(pattern: str, *, what: str = "regular expression pattern") -> GoRegexp:
    """Compile with RE2; InvalidPolicy with Flux's wording ("invalid regular expression pattern '<p>': ...")."""
    try:
        rx = compile_regex(pattern)
    except RegexError as e:
        raise InvalidPolicy(f"invalid {what} '{pattern}': {e.detail}") from None
    return GoRegexp(pattern, rx, dict(rx.groupindex), rx.groups)


def _is_name_char(ch: str) -> bool:
    # Go: unicode.IsLetter || unicode.IsDigit (Nd) || '_'
    return ch.isalpha() or ch.isdecimal() or ch == "_"


def _extract(s: str) -> tuple[str, int, str] | None:
    """Go's regexp.extract: parse a name after `$`; (name, num or -1, rest) or None if malformed."""
    if not s:
        return None
    brace = s[0] == "{"
    if brace:
        s = s[1:]
    i = 0
    while i < len(s) and _is_name_char(s[i]):
        i += 1
    if i == 0:
        return None
    name = s[:i]
    if brace:
        if i >= len(s) or s[i] != "}":
            return None
        i += 1
    num = 0
    for ch in name:
        if not ("0" <= ch <= "9") or num >= 100_000_000:
            num = -1
            break
        num = num * 10 + ord(ch) - 48
    if name[0] == "0" and len(name) > 1:
        num = -1
    return name, num, s[i:]


def parse_template(template: str) -> list[str | int]:
    """Pre-parse a template into literal strings, group numbers (int) and names (prefixed by NUL)."""
    out: list[str | int] = []
    lit: list[str] = []
    while template:
        before, sep, after = template.partition("$")
        if not sep:
            break
        lit.append(before)
        template = after
        if template.startswith("$"):
            lit.append("$")
            template = template[1:]
            continue
        ext = _extract(template)
        if ext is None:
            lit.append("$")
            continue
        name, num, template = ext
        if lit:
            out.append("".join(lit))
            lit = []
        out.append(num if num >= 0 else "\0" + name)
    lit.append(template)
    if any(lit):
        out.append("".join(lit))
    return out


def expand_parsed(rx: GoRegexp, parts: list[str | int], match: object) -> str:
    """Expand a pre-parsed template against a match of `rx` (unknown groups expand to nothing)."""
    buf: list[str] = []
    for p in parts:
        if isinstance(p, int):
            if p <= rx.groups:
                g = match.group(p)  # type: ignore[attr-defined]
                if g is not None:
                    buf.append(g)
        elif p.startswith("\0"):
            idx = rx.names.get(p[1:])
            if idx is not None:
                g = match.group(idx)  # type: ignore[attr-defined]
                if g is not None:
                    buf.append(g)
        else:
            buf.append(p)
    return "".join(buf)


def expand(rx: GoRegexp, template: str, match: object) -> str:
    """Go `Regexp.ExpandString(nil, template, src, match)`."""
    return expand_parsed(rx, parse_template(template), match)
