"""tidwall/pretty's `Pretty` layout, for gjson's `@pretty` modifier (`tagpilot.events.paths`).

gjson formats `@pretty` output with tidwall/pretty, whose layout is its own (an array goes on one
line when it fits `width` and holds no object; keys sorted by `sortKeys` compare unescaped, ties by
value), so a sensor copying `@pretty` output into a trigger payload needs this exact text. No
Python library writes it, hence this port of pretty.go's `PrettyOptions` over JSON text.

The input is well-formed JSON text (the caller serialises a decoded value); nesting depth is the
caller's bound (`paths.get` turns a RecursionError into "no result").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from tagpilot.golang import parse_float

__all__ = ["PrettyOptions", "pretty"]


@dataclass(frozen=True)
class PrettyOptions:
    """pretty.Options: `width` for single-line arrays, `prefix` of every line, `indent`, `sort_keys`."""

    width: int = 80
    prefix: str = ""
    indent: str = "  "
    sort_keys: bool = False


def pretty(text: str, opts: PrettyOptions | None = None) -> str:
    """pretty.PrettyOptions(text, opts): the layout, ending with a newline (empty input stays empty)."""
    o = opts or PrettyOptions()
    buf = _Buf()
    if o.prefix:
        buf.add(o.prefix)
    _Formatter(text, o).any(buf, 0, True, 0, 0, -1)
    out = buf.text()
    return out + "\n" if out else out


class _Buf:
    """pretty.go's byte buffer: text pieces with their running length (positions are lengths)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        self.size += len(piece)

    def mark(self) -> tuple[int, int]:
        return len(self.parts), self.size

    def cut(self, mark: tuple[int, int]) -> None:
        del self.parts[mark[0] :]
        self.size = mark[1]

    def last(self) -> str:
        for piece in reversed(self.parts):
            if piece:
                return piece[-1]
        return ""

    def newline(self) -> None:
        """pretty.go turns a trailing separator space into the newline."""
        if self.parts and self.parts[-1] == " ":
            self.parts[-1] = "\n"
        else:
            self.add("\n")

    def text(self) -> str:
        return "".join(self.parts)


class _Formatter:
    """The appendPretty* functions of pretty.go."""

    def __init__(self, text: str, opts: PrettyOptions) -> None:
        self.s = text
        self.o = opts

    def any(self, buf: _Buf, i: int, pp: bool, tabs: int, nl: int, mx: int) -> tuple[int, int, bool]:
        s = self.s
        while i < len(s):
            c = s[i]
            if c <= " ":
                i += 1
                continue
            if c == '"':
                return self._string(buf, i), nl, True
            if c in "{[":
                return self._container(buf, i, c, pp, tabs, nl, mx)
            if c.isdigit() or c == "-" or _nan_or_inf(s, i):
                j = i + 1
                while j < len(s) and not (s[j] <= " " or s[j] in ",:]}"):
                    j += 1
                buf.add(s[i:j])
                return j, nl, True
            lit = {"t": "true", "f": "false", "n": "null"}.get(c)
            if lit is not None:
                buf.add(lit)
                return i + len(lit), nl, True
            i += 1
        return i, nl, True

    def _string(self, buf: _Buf, i: int) -> int:
        s, start = self.s, i
        i += 1
        while i < len(s):
            if s[i] == '"':
                k = i - 1
                while k > start and s[k] == "\\":
                    k -= 1
                if (i - 1 - k) % 2 == 0:
                    i += 1
                    break
            i += 1
        buf.add(s[start:i])
        return i

    def _tabs(self, buf: _Buf, tabs: int) -> None:
        if self.o.prefix:
            buf.add(self.o.prefix)
        buf.add(self.o.indent * tabs)

    def _single_line(self, buf: _Buf, i: int, nl: int) -> int | None:
        """An array on one line if it fits what is left of the line and holds no object."""
        room = self.o.width - (buf.size - nl)
        if room <= 3:
            return None
        mark = buf.mark()
        end, _, ok = self._container(buf, i, "[", False, 0, 0, room)
        if ok and buf.size - mark[1] <= room:
            return end
        buf.cut(mark)
        return None

    def _container(
        self, buf: _Buf, i: int, open_: str, pp: bool, tabs: int, nl: int, mx: int
    ) -> tuple[int, int, bool]:
        o = self.o
        if o.width > 0:
            if pp and open_ == "[" and mx == -1:
                end = self._single_line(buf, i, nl)
                if end is not None:
                    return end, nl, True
            elif mx != -1 and open_ == "{":
                return i, nl, False
        close = "]" if open_ == "[" else "}"
        start = buf.size
        buf.add(open_)
        i += 1
        sorting = pp and open_ == "{" and o.sort_keys
        pairs: list[tuple[str, int, int]] = []  # (key text, first piece, end piece) when sorting
        n = 0
        s = self.s
        while i < len(s):
            c = s[i]
            if c <= " ":
                i += 1
                continue
            if c == close:
                if pp:
                    if sorting:
                        _sort_pairs(buf, pairs)
                    if n > 0:
                        nl = buf.size
                        buf.newline()
                    if buf.last() != open_:
                        self._tabs(buf, tabs)
                buf.add(close)
                return i + 1, nl, open_ != "{"
            if open_ == "[" or c == '"':
                if n > 0:
                    buf.add(",")
                    if o.width != -1 and open_ == "[":
                        buf.add(" ")
                if pp:
                    nl = buf.size
                    buf.newline()
                first = len(buf.parts)
                if pp:
                    self._tabs(buf, tabs + 1)
                key = ""
                if open_ == "{":
                    k_start = i
                    i = self._string(buf, i)
                    key = s[k_start:i]
                    buf.add(": " if pp else ":")
                i, nl, ok = self.any(buf, i, pp, tabs + 1, nl, mx)
                if mx != -1 and (not ok or buf.size - start > mx):
                    return i, nl, False  # a failed single-line attempt stops early, same result
                if sorting:
                    pairs.append((key, first, len(buf.parts)))
                n += 1
                continue
            i += 1
        return i, nl, open_ != "{"


def _nan_or_inf(s: str, i: int) -> bool:
    c = s[i]
    return c in "iI+N" or (c == "n" and i + 1 < len(s) and s[i + 1] != "u")


def _jtype(v: str) -> int:
    if not v or v[0] == "n":
        return 0
    return {"f": 1, '"': 3, "t": 4, "[": 5, "{": 5}.get(v[0], 2)


def _comparable(v: str) -> tuple[int, object]:
    """byKeyVal.isLess's order: by JSON type, strings unescaped, numbers by value, else bytes."""
    t = _jtype(v)
    if t == 3:
        try:
            return t, json.loads(v)
        except ValueError:
            return t, v
    if t == 2:
        return t, parse_float(v)[0]
    return t, v


def _sort_pairs(buf: _Buf, pairs: list[tuple[str, int, int]]) -> None:
    """sortPairs: a stable sort by key, ties by value; the pairs are rejoined with ",\\n"."""
    if not pairs:
        return
    segments = []
    for key, first, end in pairs:
        text = "".join(buf.parts[first:end])
        body = text.strip()
        value = body[len(key) + 1 :].strip() if len(body) >= len(key) + 1 else body
        segments.append(((_comparable(key), _comparable(value)), text))
    segments.sort(key=lambda seg: seg[0])
    first_piece = pairs[0][1]
    kept = buf.parts[:first_piece]
    buf.parts = kept
    buf.size = sum(len(p) for p in kept)
    buf.add(",\n".join(text for _, text in segments))
