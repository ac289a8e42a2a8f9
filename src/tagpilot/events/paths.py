"""gjson paths over decoded JSON, as Argo Events resolves sensor filter paths.

Argo Events resolves every `path` of a data or expr filter with tidwall/gjson against the event
data (`{"header": {...}, "body": ...}` for a webhook). Sensors copied from upstream depend on
gjson's exact rules (`body.commits.0.message`, `body.commits.#`, `#(action=="push")#.tag`,
wildcards, `\\.` escapes, `|` pipes) and on `Result.String()` formatting, and no maintained Python
port exists, so this module ports the parts of gjson.go that sensors use. It walks decoded values
instead of bytes; `loads` keeps each number's JSON text so that `raw` and `string()` match Go.
Go's number parsing and JSON encoding come from `tagpilot.golang`, shared with the template engine.

Every gjson modifier is here with its arguments (@pretty, @ugly, @reverse, @this, @flatten,
@join, @valid, @keys, @values, @tostr, @fromstr, @group, @dig), and so are static literals
(`!true`, `!"x"`, `!123`, `!{...}`). Because values are decoded, a result's `raw` is compact JSON
(gjson keeps the source's whitespace inside an object or array), @fromstr and `!{...}` need valid
JSON (gjson takes a broken container as is), and the `..` JSON-lines prefix is not ported. Like
gjson, `commits[0]` is a key name, not an index (use `commits.0`). Work is bounded: walks are
iterative where a document is deep (@dig, @flatten), and `get` answers "no result" where a path
or document nests past Python's recursion limit.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

from tagpilot.errors import TagpilotError
from tagpilot.events.jsonpretty import PrettyOptions, pretty
from tagpilot.golang import format_float, json_float, json_string, parse_float, parse_float_or_none

__all__ = ["GoNumber", "PathResult", "dumps", "get", "go_parse_float", "loads"]


class PathError(TagpilotError):
    """A document given to `loads` is not JSON."""


class GoNumber(float):
    """A JSON number that remembers its source text (gjson's `Raw`)."""

    raw: str

    def __new__(cls, text: str) -> GoNumber:
        obj = super().__new__(cls, float(text))
        obj.raw = text
        return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def loads(text: str) -> Any:
    """Decode JSON keeping number text (objects keep their key order, like gjson's scan)."""
    try:
        return json.loads(text, parse_int=GoNumber, parse_float=GoNumber, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise PathError(f"invalid JSON: {e}") from None


def _number_raw(v: float | int) -> str:
    """A number's JSON text: its source text if it has one, else what json.Marshal would write."""
    raw = getattr(v, "raw", None)
    if raw is not None:
        return raw
    if isinstance(v, int):
        return str(v)
    if math.isfinite(v):
        return json_float(v)
    return repr(v).replace("inf", "Infinity")  # not JSON at all; only reachable from Python data


def dumps(v: Any) -> str:
    """Compact JSON text of a decoded value, as Go's json.Compact leaves it (key order kept)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return _number_raw(v)
    if isinstance(v, str):
        return json_string(v)
    if isinstance(v, dict):
        return "{" + ",".join(json_string(str(k)) + ":" + dumps(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(dumps(x) for x in v) + "]"
    return json_string(str(v))


def go_parse_float(s: str) -> float | None:
    """strconv.ParseFloat(s, 64), or None where Go returns an error (syntax, or `1e400` out of range).

    For a caller that fails on the error, as Argo's data filter does with a filter's `value`.
    """
    return parse_float_or_none(s)


def _gjson_float(s: str) -> float:
    # gjson calls strconv.ParseFloat and drops the error: 0 on bad syntax, ±Inf on overflow
    return parse_float(s)[0]


_NULL, _FALSE, _NUMBER, _STRING, _TRUE, _JSON = "Null", "False", "Number", "String", "True", "JSON"


@dataclass
class PathResult:
    """gjson's Result: `exists`, `value` (Result.Value(): str, float, bool, None, dict, list), `raw`."""

    exists: bool
    value: Any = None
    raw: str = ""
    kind: str = _NULL
    num: float = 0.0
    str_: str = ""
    _doc: Any = field(default=None, repr=False)  # walkable value for pipes and sub-paths

    def string(self) -> str:
        """Result.String(): numbers as Go formats them, strings unquoted, objects/arrays raw."""
        if self.kind == _FALSE:
            return "false"
        if self.kind == _TRUE:
            return "true"
        if self.kind == _STRING:
            return self.str_
        if self.kind == _JSON:
            return self.raw
        if self.kind == _NUMBER:
            raw = self.raw
            digits = raw[1:] if raw.startswith("-") else raw
            if raw and digits.isdigit() and digits.isascii():
                return raw
            return format_float(self.num, "f", -1)
        return ""

    def bool(self) -> bool:
        """Result.Bool()."""
        if self.kind == _TRUE:
            return True
        if self.kind == _STRING:
            s = self.str_.lower()
            return s in ("1", "t", "true") and len(self.str_) in (1, 4)
        if self.kind == _NUMBER:
            return self.num != 0
        return False

    def float(self) -> float:
        """Result.Float()."""
        if self.kind == _TRUE:
            return 1.0
        if self.kind == _STRING:
            return _gjson_float(self.str_)
        if self.kind == _NUMBER:
            return self.num
        return 0.0


_MISSING_RESULT = PathResult(False)


def _go_value(v: Any) -> Any:
    """Result.Value(): numbers become float64 (plain float), containers recursively."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dict):
        out: dict[str, Any] = {}
        for k, x in v.items():
            out.setdefault(str(k), _go_value(x))
        return out
    if isinstance(v, (list, tuple)):
        return [_go_value(x) for x in v]
    return str(v)


def _result_of(v: Any) -> PathResult:
    if v is None:
        return PathResult(True, None, "null", _NULL, _doc=None)
    if v is True:
        return PathResult(True, True, "true", _TRUE, _doc=True)
    if v is False:
        return PathResult(True, False, "false", _FALSE, _doc=False)
    if isinstance(v, (int, float)):
        return PathResult(True, float(v), _number_raw(v), _NUMBER, num=float(v), _doc=v)
    if isinstance(v, str):
        return PathResult(True, v, json_string(v), _STRING, str_=v, _doc=v)
    if isinstance(v, (dict, list, tuple)):
        return PathResult(True, _go_value(v), dumps(v), _JSON, _doc=v)
    return _result_of(str(v))


def _array_result(items: list[PathResult]) -> PathResult:
    """A JSON array assembled from results, as gjson joins their raw texts."""
    docs = [r._doc for r in items]
    raw = "[" + ",".join(r.raw or r.string() for r in items) + "]"
    return PathResult(True, [r.value for r in items], raw, _JSON, _doc=docs)


class _Ctx:
    __slots__ = ("pipe", "piped", "value")

    def __init__(self) -> None:
        self.value: PathResult = _MISSING_RESULT
        self.pipe = ""
        self.piped = False


def _is_dot_piper(s: str) -> bool:
    c = s[0]
    if c == "@":
        i = 1
        while i < len(s) and s[i] not in ".|:":
            i += 1
        return s[1:i] in _MODIFIER_FUNCS
    return c in "[{"


@dataclass
class _ObjPath:
    part: str = ""
    path: str = ""
    pipe: str = ""
    piped: bool = False
    wild: bool = False
    more: bool = False


def _parse_object_path(path: str) -> _ObjPath:
    r = _ObjPath()
    n = len(path)
    i = 0
    while i < n:
        c = path[i]
        if c == "|":
            r.part, r.pipe, r.piped = path[:i], path[i + 1 :], True
            return r
        if c == ".":
            r.part = path[:i]
            if i < n - 1 and _is_dot_piper(path[i + 1 :]):
                r.pipe, r.piped = path[i + 1 :], True
                return r
            r.path, r.more = path[i + 1 :], True
            return r
        if c in "*?":
            r.wild = True
        elif c == "\\":
            epart = [path[:i]]
            i += 1
            if i < n:
                epart.append(path[i])
                i += 1
                while i < n:
                    c = path[i]
                    if c == "\\":
                        i += 1
                        if i < n:
                            epart.append(path[i])
                        i += 1
                        continue
                    if c == ".":
                        r.part = "".join(epart)
                        if i < n - 1 and _is_dot_piper(path[i + 1 :]):
                            r.pipe, r.piped = path[i + 1 :], True
                            return r
                        r.path, r.more = path[i + 1 :], True
                        return r
                    if c == "|":
                        r.part, r.pipe, r.piped = "".join(epart), path[i + 1 :], True
                        return r
                    if c in "*?":
                        r.wild = True
                    epart.append(c)
                    i += 1
            r.part = "".join(epart)
            return r
        i += 1
    r.part = path
    return r


@dataclass
class _Query:
    on: bool = False
    all: bool = False
    path: str = ""
    op: str = ""
    value: str = ""


@dataclass
class _ArrPath:
    part: str = ""
    path: str = ""
    pipe: str = ""
    alogkey: str = ""
    piped: bool = False
    more: bool = False
    alogok: bool = False
    arrch: bool = False
    query: _Query = field(default_factory=_Query)


def _trim(s: str) -> str:
    i, j = 0, len(s)
    while i < j and s[i] <= " ":
        i += 1
    while j > i and s[j - 1] <= " ":
        j -= 1
    return s[i:j]


def _parse_query(query: str) -> tuple[str, str, str, int, bool, bool]:
    """gjson parseQuery: (path, op, value, index after the query, value had escapes, ok)."""
    if len(query) < 2 or query[0] != "#" or query[1] not in "([":
        return "", "", "", 0, False, False
    i, j, depth, vesc = 2, 0, 1, False
    n = len(query)
    while i < n:
        c = query[i]
        if depth == 1 and j == 0 and c in "!=<>%":
            j = i
            i += 1
            continue
        if c == "\\":
            i += 1
        elif c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
            if depth == 0:
                break
        elif c == '"':
            i += 1
            while i < n:
                if query[i] == "\\":
                    vesc = True
                    i += 1
                elif query[i] == '"':
                    break
                i += 1
        i += 1
    if depth > 0:
        return "", "", "", i, False, False
    if j > 0:
        path = _trim(query[2:j])
        value = _trim(query[j:i])
        opsz = 0
        if len(value) == 1:
            opsz = 1
        elif value[:2] in ("!=", "!%", "<=", ">="):
            opsz = 2
        elif value[:2] == "==":
            value = value[1:]
            opsz = 1
        elif value[0] in "<>=%":
            opsz = 1
        return path, value[:opsz], _trim(value[opsz:]), i + 1, vesc, True
    return _trim(query[2:i]), "", "", i + 1, vesc, True


def _unescape(s: str) -> str:
    try:
        return json.loads('"' + s + '"')
    except ValueError:
        out, i = [], 0
        while i < len(s):
            if s[i] == "\\" and i + 1 < len(s):
                out.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(s[i + 1], s[i + 1]))
                i += 2
            else:
                out.append(s[i])
                i += 1
        return "".join(out)


def _parse_array_path(path: str) -> _ArrPath:
    r = _ArrPath()
    n = len(path)
    i = 0
    while i < n:
        c = path[i]
        if c == "|":
            r.part, r.pipe, r.piped = path[:i], path[i + 1 :], True
            return r
        if c == ".":
            r.part = path[:i]
            if not r.arrch and i < n - 1 and _is_dot_piper(path[i + 1 :]):
                r.pipe, r.piped = path[i + 1 :], True
                return r
            r.path, r.more = path[i + 1 :], True
            return r
        if c == "#":
            r.arrch = True
            if i == 0 and n > 1:
                if path[1] == ".":
                    r.alogok, r.alogkey, r.path = True, path[2:], path[:1]
                elif path[1] in "[(":
                    r.query.on = True
                    qpath, op, value, fi, vesc, ok = _parse_query(path[i:])
                    if not ok:
                        break
                    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
                        value = value[1:-1]
                        if vesc:
                            value = _unescape(value)
                    r.query.path, r.query.op, r.query.value = qpath, op, value
                    i = fi - 1
                    if i + 1 < n and path[i + 1] == "#":
                        r.query.all = True
        i += 1
    r.part = path
    r.path = ""
    return r


def _split_possible_pipe(path: str) -> tuple[str, str, bool]:
    if "|" not in path:
        return "", "", False
    if path.startswith("{"):
        return "", "", False  # multipath followed by a pipe: not needed by sensors
    n = len(path)
    i = 0
    while i < n:
        c = path[i]
        if c == "\\":
            i += 1
        elif c == ".":
            if i == n - 1:
                return "", "", False
            if path[i + 1] == "#":
                i += 2
                if i == n:
                    return "", "", False
                if path[i] in "[(":
                    start, end = (path[i], "]" if path[i] == "[" else ")")
                    i += 1
                    depth = 1
                    while i < n:
                        if path[i] == "\\":
                            i += 1
                        elif path[i] == start:
                            depth += 1
                        elif path[i] == end:
                            depth -= 1
                            if depth == 0:
                                break
                        elif path[i] == '"':
                            i += 1
                            while i < n:
                                if path[i] == "\\":
                                    i += 1
                                elif path[i] == '"':
                                    break
                                i += 1
                        i += 1
                    continue
                continue
        elif c == "|":
            return path[:i], path[i + 1 :], True
        i += 1
    return "", "", False


def wildcard_match(s: str, pattern: str) -> bool:
    """tidwall/match: `*` any run of characters, `?` exactly one, `\\` escapes the next."""
    # iterative matcher with single backtrack point: linear in practice, no recursion
    si = pi = 0
    star_p, star_s = -1, 0
    while si < len(s):
        if pi < len(pattern):
            pc = pattern[pi]
            if pc == "*":
                star_p, star_s = pi, si
                pi += 1
                continue
            if pc == "?":
                si += 1
                pi += 1
                continue
            lit = pc
            step = 1
            if pc == "\\" and pi + 1 < len(pattern):
                lit, step = pattern[pi + 1], 2
            if lit == s[si]:
                si += 1
                pi += step
                continue
        if star_p >= 0:
            star_s += 1
            si, pi = star_s, star_p + 1
            continue
        return False
    while pi < len(pattern) and pattern[pi] == "*":
        pi += 1
    return pi == len(pattern)


def _trueish(r: PathResult) -> bool:
    if r.kind == _TRUE:
        return True
    if r.kind == _STRING:
        return r.str_.lower() in ("1", "t", "true")
    if r.kind == _NUMBER:
        return r.num != 0
    return False


def _falseish(r: PathResult) -> bool:
    if r.kind in (_NULL, _FALSE):
        return True
    if r.kind == _STRING:
        return r.str_.lower() in ("0", "f", "false")
    if r.kind == _NUMBER:
        return r.num == 0
    return False


_TRUE_RESULT = PathResult(True, True, "", _TRUE)
_FALSE_RESULT = PathResult(True, False, "", _FALSE)


def _query_matches(q: _Query, value: PathResult) -> bool:
    rpv = q.value
    if rpv.startswith("~"):
        rpv = rpv[1:]
        ish: bool | None = None
        if rpv == "*":
            ish = value.exists
        elif rpv == "null":
            ish = value.kind == _NULL  # gjson's nullish: a missing value is null too
        elif rpv == "true":
            ish = _trueish(value)
        elif rpv == "false":
            ish = not value.exists or _falseish(value)
        if ish is None:
            rpv, value = "", _MISSING_RESULT
        else:
            rpv, value = "true", (_TRUE_RESULT if ish else _FALSE_RESULT)
    if not value.exists:
        return False
    op = q.op
    if op == "":
        return True
    if value.kind == _STRING:
        s = value.str_
        return {
            "=": lambda: s == rpv,
            "!=": lambda: s != rpv,
            "<": lambda: s < rpv,
            "<=": lambda: s <= rpv,
            ">": lambda: s > rpv,
            ">=": lambda: s >= rpv,
            "%": lambda: wildcard_match(s, rpv),
            "!%": lambda: not wildcard_match(s, rpv),
        }.get(op, lambda: False)()
    if value.kind == _NUMBER:
        n = _gjson_float(rpv)
        x = value.num
        return {"=": x == n, "!=": x != n, "<": x < n, "<=": x <= n, ">": x > n, ">=": x >= n}.get(op, False)
    if value.kind == _TRUE:
        return {"=": rpv == "true", "!=": rpv != "true", ">": rpv == "false", ">=": True}.get(op, False)
    if value.kind == _FALSE:
        return {"=": rpv == "false", "!=": rpv != "false", "<": rpv == "true", "<=": True}.get(op, False)
    return False


def _parse_object(c: _Ctx, obj: dict[str, Any], path: str) -> bool:
    rp = _parse_object_path(path)
    if not rp.more and rp.piped:
        c.pipe, c.piped = rp.pipe, True
    for key, val in obj.items():
        k = str(key)
        pmatch = wildcard_match(k, rp.part) if rp.wild else k == rp.part
        if not pmatch:
            continue
        if not rp.more:
            c.value = _result_of(val)
            return True
        if isinstance(val, dict):
            if _parse_object(c, val, rp.path):
                return True
        elif isinstance(val, (list, tuple)) and _parse_array(c, list(val), rp.path):
            return True
    return False


def _parse_uint(s: str) -> int:
    return int(s) if s and s.isascii() and s.isdigit() else -1


def _parse_array(c: _Ctx, arr: list[Any], path: str) -> bool:
    rp = _parse_array_path(path)
    if not rp.more and rp.piped:
        c.pipe, c.piped = rp.pipe, True
    if rp.query.on:
        matches: list[PathResult] = []
        for el in arr:
            qval = _result_of(el)
            if isinstance(el, (dict, list, tuple)):
                res = _walk(el, rp.query.path)
            elif rp.query.path != "":
                continue
            else:
                res = qval
            if not _query_matches(rp.query, res):
                continue
            if rp.more:
                left, right, ok = _split_possible_pipe(rp.path)
                if ok:
                    rp.path, c.pipe, c.piped = left, right, True
                res = _walk(el, rp.path)
            else:
                res = qval
            if not rp.query.all:
                c.value = res
                return True
            if res.raw or res.string():
                matches.append(res)
        if matches or rp.query.all:
            c.value = _array_result(matches)
            return True
        return False
    if rp.arrch:
        if rp.part != "#":
            return False
        if rp.alogok:
            key = rp.alogkey
            left, right, ok = _split_possible_pipe(key)
            if ok:
                key, c.pipe, c.piped = left, right, True
            found = [r for r in (_walk(el, key) for el in arr) if r.exists]
            c.value = _array_result(found)
            return True
        if rp.piped or not rp.more:
            c.value = PathResult(True, float(len(arr)), str(len(arr)), _NUMBER, num=float(len(arr)), _doc=len(arr))
            return True
        return False
    idx = _parse_uint(rp.part)
    if 0 <= idx < len(arr):
        el = arr[idx]
        if not rp.more:
            c.value = _result_of(el)
            return True
        if isinstance(el, dict):
            return _parse_object(c, el, rp.path)
        if isinstance(el, (list, tuple)):
            return _parse_array(c, list(el), rp.path)
    return False


def _parse_sub_selectors(path: str) -> tuple[list[tuple[str, str]], str, bool]:
    sels: list[tuple[str, str]] = []
    modifier = colon = 0
    depth = start = i = 1

    def push(i: int) -> None:
        nonlocal colon, modifier, start
        sels.append((path[start:colon], path[colon + 1 : i]) if colon else ("", path[start:i]))
        colon = modifier = 0
        start = i + 1

    n = len(path)
    while i < n:
        ch = path[i]
        if ch == "\\":
            i += 1
        elif ch == "@":
            if modifier == 0 and path[i - 1] in ".|":
                modifier = i
        elif ch == ":":
            if modifier == 0 and colon == 0 and depth == 1:
                colon = i
        elif ch == ",":
            if depth == 1:
                push(i)
        elif ch == '"':
            i += 1
            while i < n:
                if path[i] == "\\":
                    i += 1
                elif path[i] == '"':
                    break
                i += 1
        elif ch in "[({":
            depth += 1
        elif ch in "])}":
            depth -= 1
            if depth == 0:
                push(i)
                return sels, path[i + 1 :], True
        i += 1
    return [], path, False


def _name_of_last(path: str) -> str:
    for i in range(len(path) - 1, -1, -1):
        if path[i] in "|." and not (i > 0 and path[i - 1] == "\\"):
            return path[i + 1 :]
    return path


class _Absent:
    """The empty JSON text gjson walks after a value that does not exist (`missing|@keys` is `[]`)."""


_ABSENT: Any = _Absent()


def _doc_of(r: PathResult) -> Any:
    return r._doc if r.exists else _ABSENT


def _squash(s: str) -> str:
    """gjson squash: the leading `[`/`{`/`(` value or `"` string of `s`, nested ones skipped."""
    depth, i = (0, 0) if s[:1] == '"' else (1, 1)
    n = len(s)
    while i < n:
        c = s[i]
        if c == '"':
            i += 1
            while i < n and s[i] != '"':
                i += 2 if s[i] == "\\" else 1
            if depth == 0:
                return s if i >= n else s[: i + 1]
        elif c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
            if depth == 0:
                return s[: i + 1]
        i += 1
    return s


def _parse_squash(s: str) -> str:
    """gjson parseSquash from the first character: up to its closing bracket, else all of `s`."""
    depth, i, n = 1, 1, len(s)
    while i < n:
        c = s[i]
        if c == '"':
            i += 1
            while i < n and s[i] != '"':
                i += 2 if s[i] == "\\" else 1
        elif c in "{[(":
            depth += 1
        elif c in "}])":
            depth -= 1
            if depth == 0:
                return s[: i + 1]
        i += 1
    return s


def _number_prefix(s: str) -> str:
    """gjson tonum: a number runs to whitespace, `,`, `]` or `}`."""
    for i in range(1, len(s)):
        if s[i] <= " " or s[i] in ",]}":
            return s[:i]
    return s


def _literal_prefix(s: str) -> str:
    for i in range(1, len(s)):
        if not "a" <= s[i] <= "z":
            return s[:i]
    return s


def _number_result(raw: str) -> PathResult:
    num = _gjson_float(raw)
    return PathResult(True, num, raw, _NUMBER, num=num, _doc=GoNumber(raw) if _is_float_text(raw) else num)


def _is_float_text(raw: str) -> bool:
    try:
        float(raw)
    except ValueError:
        return False
    return True


def parse_text(text: str) -> PathResult:
    """gjson.Parse of a JSON text; a container must be valid JSON here (gjson keeps any rest)."""
    s = text.lstrip(" \t\r\n")
    if not s:
        return PathResult(False, _doc=_ABSENT)
    c = s[0]
    if c in "{[":
        try:
            return _result_of(loads(s))
        except PathError:
            return PathResult(False, _doc=_ABSENT)
    if c == '"':
        raw = _squash(s)
        text = _unescape(raw[1:-1] if len(raw) > 1 and raw.endswith('"') else raw[1:])
        return PathResult(True, text, raw, _STRING, str_=text, _doc=text)
    if c.isdigit() or c in "-+iIN" or (c == "n" and s[1:2] not in ("u", "")):
        return _number_result(_number_prefix(s))
    kinds = {"t": (_TRUE, True), "f": (_FALSE, False), "n": (_NULL, None)}
    if c in kinds:
        kind, value = kinds[c]
        return PathResult(True, value, _literal_prefix(s), kind, _doc=value)
    return PathResult(False, _doc=_ABSENT)


def _static(path: str) -> tuple[str, PathResult] | None:
    """gjson execStatic: `!true`, `!"x"`, `!123`, `!{...}` are values of their own."""
    name = path[1:]
    if name[:1] in ("{", "[", '"', "+", "-") or name[:1].isdigit():
        lit = _parse_squash(name)
        return name[len(lit) :], parse_text(lit)
    rest = ""
    for i in range(1, len(path)):
        if path[i] in "|.":
            name, rest = path[1:i], path[i:]
            break
    if name.lower() in ("true", "false", "null", "nan", "inf"):
        return rest, parse_text(name)
    return None


def _split_modifier(path: str) -> tuple[str, str, str] | None:
    """gjson execModifier's parsing: (name, argument, rest of the path), or None if no modifier."""
    name, rest, has_args = path[1:], "", False
    for i in range(1, len(path)):
        if path[i] == ":":
            name, rest = path[1:i], path[i + 1 :]
            has_args = bool(rest)
            break
        if path[i] in "|.":
            name, rest = path[1:i], path[i:]
            break
    if name not in _MODIFIER_FUNCS:
        return None
    arg = ""
    if has_args:
        if rest[0] in '{["':
            arg = _squash(rest)
            rest = rest[len(arg) :]
        else:
            bar = rest.find("|")
            arg, rest = (rest, "") if bar < 0 else (rest[:bar], rest[bar:])
    return name, arg, rest


def _options(arg: str) -> dict[str, PathResult]:
    """A modifier's JSON object argument, key by key (later keys win, as ForEach visits them)."""
    parsed = parse_text(arg) if arg else _MISSING_RESULT
    if not parsed.exists or not isinstance(parsed._doc, dict):
        return {}
    return {str(k): _result_of(v) for k, v in parsed._doc.items()}


def _mod_pretty(doc: Any, arg: str) -> PathResult:
    if doc is _ABSENT:
        return PathResult(False, _doc=_ABSENT)
    opts = PrettyOptions()
    for key, value in _options(arg).items():
        if key == "sortKeys":
            opts = replace(opts, sort_keys=value.bool())
        elif key == "indent":
            opts = replace(opts, indent=_only_space(value.string()))
        elif key == "prefix":
            opts = replace(opts, prefix=_only_space(value.string()))
        elif key == "width":
            opts = replace(opts, width=int(value.float()))
    res = _result_of(doc)
    if res.kind == _JSON:
        res.raw = pretty(dumps(doc), opts)
    return res


def _only_space(s: str) -> str:
    """gjson cleanWS: an indent or prefix keeps only its whitespace characters."""
    return "".join(c for c in s if c in " \t\n\r")


def _mod_same(doc: Any, arg: str) -> PathResult:
    """@this, @ugly, @valid: the value itself (decoded values are valid and carry no whitespace)."""
    return _result_of(doc) if doc is not _ABSENT else PathResult(False, _doc=_ABSENT)


def _mod_reverse(doc: Any, arg: str) -> PathResult:
    if isinstance(doc, (list, tuple)):
        return _result_of(list(reversed(doc)))
    if isinstance(doc, dict):
        return _result_of(dict(reversed(list(doc.items()))))
    return _mod_same(doc, arg)


def _mod_flatten(doc: Any, arg: str) -> PathResult:
    """@flatten: child arrays spliced in (all levels with {"deep":true}); a non-array is unchanged."""
    if not isinstance(doc, (list, tuple)):
        return _mod_same(doc, arg)
    opt = _options(arg).get("deep")
    deep = opt is not None and opt.bool()
    flat: list[Any] = []
    stack: list[tuple[Any, int]] = [(doc, 0)]  # (array, next index), iterative for deep nesting
    while stack:
        arr, idx = stack.pop()
        if idx >= len(arr):
            continue
        stack.append((arr, idx + 1))
        item = arr[idx]
        if isinstance(item, (list, tuple)) and (deep or len(stack) == 1):
            stack.append((item, 0))
        else:
            flat.append(item)
    return _result_of(flat)


def _mod_join(doc: Any, arg: str) -> PathResult:
    """@join: an array's objects merged (last value wins; {"preserve":true} keeps every key)."""
    if not isinstance(doc, (list, tuple)):
        return _mod_same(doc, arg)
    opt = _options(arg).get("preserve")
    objects = [x for x in doc if isinstance(x, dict)]
    if opt is not None and opt.bool():
        items = [(str(k), v) for obj in objects for k, v in obj.items()]
        merged: dict[str, Any] = {}
        for k, v in items:
            merged.setdefault(k, v)  # gjson reads the first of duplicate keys
        res = _result_of(merged)
        res.raw = "{" + ",".join(json_string(k) + ":" + dumps(v) for k, v in items) + "}"
        return res
    joined: dict[str, Any] = {}
    for obj in objects:
        for k, v in obj.items():
            joined[str(k)] = v
    return _result_of(joined)


def _mod_keys(doc: Any, arg: str) -> PathResult:
    if doc is _ABSENT:
        return _result_of([])
    if isinstance(doc, dict):
        return _result_of([str(k) for k in doc])
    return _result_of([None] * (len(doc) if isinstance(doc, (list, tuple)) else 1))


def _mod_values(doc: Any, arg: str) -> PathResult:
    if doc is _ABSENT:
        return _result_of([])
    if isinstance(doc, dict):
        return _result_of(list(doc.values()))
    return _result_of(doc if isinstance(doc, (list, tuple)) else [doc])


def _mod_tostr(doc: Any, arg: str) -> PathResult:
    """@tostr: the value's JSON text as a JSON string."""
    return _result_of("" if doc is _ABSENT else _result_of(doc).raw)


def _mod_fromstr(doc: Any, arg: str) -> PathResult:
    """@fromstr: a string's content parsed as JSON (other values parse as themselves)."""
    if doc is _ABSENT:
        return PathResult(False, _doc=_ABSENT)
    return parse_text(_result_of(doc).string())


def _mod_group(doc: Any, arg: str) -> PathResult:
    """@group: {"a":[1,2],"b":[3]} → [{"a":1,"b":3},{"a":2}]; not an object → nothing."""
    if not isinstance(doc, dict):
        return PathResult(False, _doc=_ABSENT)
    rows: list[dict[str, Any]] = []
    for key, arr in doc.items():
        if not isinstance(arr, (list, tuple)):
            continue
        for idx, value in enumerate(arr):
            if idx == len(rows):
                rows.append({})
            rows[idx].setdefault(str(key), value)
    return _result_of(rows)


def _mod_dig(doc: Any, arg: str) -> PathResult:
    """@dig:PATH: every value PATH finds at any depth, in document order (iterative walk)."""
    found: list[PathResult] = []
    stack = [] if doc is _ABSENT else [doc]
    while stack:
        node = stack.pop()
        res = _walk(node, arg)
        if res.exists:
            found.append(res)
        if isinstance(node, dict):
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, (list, tuple)):
            stack.extend(reversed(node))
    return _array_result(found)


_MODIFIER_FUNCS = {
    "pretty": _mod_pretty,
    "ugly": _mod_same,
    "reverse": _mod_reverse,
    "this": _mod_same,
    "flatten": _mod_flatten,
    "join": _mod_join,
    "valid": _mod_same,
    "keys": _mod_keys,
    "values": _mod_values,
    "tostr": _mod_tostr,
    "fromstr": _mod_fromstr,
    "group": _mod_group,
    "dig": _mod_dig,
}


def _modifier_or_static(doc: Any, path: str) -> PathResult | None:
    """Get's first step: a `@modifier` or a `!literal` and the rest of the path, or None."""
    if path[0] == "@":
        split = _split_modifier(path)
        if split is None:
            return None
        name, arg, rest = split
        res = _MODIFIER_FUNCS[name](doc, arg)
    else:
        static = _static(path)
        if static is None:
            return None
        rest, res = static
    if rest and rest[0] in "|.":
        return _walk(_doc_of(res), rest[1:])
    return res


def _walk(doc: Any, path: str) -> PathResult:
    if len(path) > 1:
        if path[0] in "@!":
            res = _modifier_or_static(doc, path)
            if res is not None:
                return res
        if path[0] in "[{":
            kind = path[0]
            subs, rest, ok = _parse_sub_selectors(path)
            if ok and (not rest or rest[0] in "|."):
                results: list[tuple[str, PathResult]] = []
                for name, sub in subs:
                    res = _walk(doc, sub)
                    if not res.exists:
                        continue
                    if name.startswith('"'):
                        with contextlib.suppress(ValueError):
                            name = json.loads(name)
                    elif not name:
                        last = _name_of_last(sub)
                        simple = all(ch >= " " and ch not in "[]{}()#|!" for ch in last)
                        name = last if simple else "_"
                    results.append((name, res))
                if kind == "[":
                    out = _array_result([r for _, r in results])
                else:
                    d = {}
                    for name, r in results:
                        d.setdefault(name, r._doc)
                    out = _result_of(d)
                    out.raw = (
                        "{"
                        + ",".join(json_string(nm) + ":" + (r.raw or r.string() or "null") for nm, r in results)
                        + "}"
                    )
                return _walk(out._doc, rest[1:]) if rest else out
    c = _Ctx()
    if isinstance(doc, dict):
        _parse_object(c, doc, path)
    elif isinstance(doc, (list, tuple)):
        _parse_array(c, list(doc), path)
    if c.piped:
        return _walk(_doc_of(c.value), c.pipe)
    return c.value


def get(json_value: Any, path: str) -> PathResult:
    """gjson.Get over a decoded JSON value (use `loads` to keep number text exact).

    A path or document nested past Python's recursion limit (gjson would recurse as deep) finds
    nothing rather than raising: paths come from configuration and documents from webhooks.
    """
    try:
        return _walk(json_value, path)
    except RecursionError:
        return PathResult(False)
