"""The hermetic Sprig functions (no env, no clock, no randomness), with Sprig's Go signatures.

Flux renders commit messages with Sprig minus its non-hermetic functions; the same set serves
notification templates. Each function keeps Sprig's argument order (`trimPrefix "v" .tag`), its
Go parameter types (so `trunc` rejects an int64 as Go does) and its treatment of nil and
non-string values (`strval`, `strslice`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
import zlib
from typing import Any

import re2

from tagpilot.gotemplate.errors import FuncError
from tagpilot.gotemplate.funcs import GoFunc
from tagpilot.gotemplate.gofmt import quote, sprint, sprintf
from tagpilot.gotemplate.jsondata import JSONEncodeError, from_json, to_json
from tagpilot.gotemplate.limits import charge, charge_bytes
from tagpilot.gotemplate.values import MISSING, GoSlice, Int64, is_struct, kind, stringer, type_name
from tagpilot.regex import RegexError, compile_regex

# ---------------------------------------------------------------- conversions


def strval(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).decode("utf-8", "replace")
    m = stringer(v)
    if m is not None:
        return str(m())
    return sprintf("%v", v)


def strslice(v: Any) -> list[str]:
    if isinstance(v, GoSlice) and v.elem == "string":
        return list(v)
    if isinstance(v, (list, tuple)):
        return [strval(s) for s in v if s is not None and s is not MISSING]
    if v is None or v is MISSING:
        return []
    return [strval(v)]


def to_int64(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return -(1 << 63)
        return int(v)
    if isinstance(v, str):
        s = v
        if "." in s:
            head, _, tail = s.partition(".")
            if tail.strip("0") == "":
                s = head
        try:
            return int(s, 0) if s.strip() == s else 0
        except ValueError:
            return 0
    return 0


def to_float64(v: Any) -> float:
    if isinstance(v, (bool, int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return 0.0
    return 0.0


def empty(v: Any) -> bool:
    if v is None or v is MISSING:
        return True
    k = kind(v)
    if k in ("slice", "map", "string"):
        return len(v) == 0
    if k in ("bool", "int", "float", "complex"):
        return v == 0
    return False


def _list_of(v: Any, fname: str) -> list[Any]:
    if kind(v) == "slice":
        return list(v)
    raise FuncError(f"Cannot find {fname} on type {type_name(v)}")


def _title(s: str) -> str:
    out = []
    prev_sep = True
    for ch in s:
        out.append(ch.upper() if prev_sep else ch)
        prev_sep = not (ch.isalnum() or ch == "_") if ch.isascii() else ch.isspace()
    return "".join(out)


def _untitle(s: str) -> str:
    out = []
    prev_space = True
    for ch in s:
        out.append(ch.lower() if prev_space else ch)
        prev_space = ch.isspace()
    return "".join(out)


def _bslice(s: str, a: int, b: int | None) -> str:
    bs = s.encode("utf-8", "surrogatepass")
    if a < 0 or (b is not None and (b > len(bs) or b < a)) or a > len(bs):
        raise FuncError(f"runtime error: slice bounds out of range [{a}:{b if b is not None else len(bs)}]")
    return bs[a:b].decode("utf-8", "replace")


def _trunc(c: int, s: str) -> str:
    n = len(s.encode("utf-8", "surrogatepass"))
    if c < 0 and n + c > 0:
        return _bslice(s, n + c, None)
    if c >= 0 and n > c:
        return _bslice(s, 0, c)
    return s


def _substr(start: int, end: int, s: str) -> str:
    n = len(s.encode("utf-8", "surrogatepass"))
    if start < 0:
        return _bslice(s, 0, end)
    if end < 0 or end > n:
        return _bslice(s, start, None)
    return _bslice(s, start, end)


def _abbrev(width: int, s: str) -> str:
    if width < 4 or len(s) <= width:
        return s
    return s[: width - 3] + "..."


def _quote(*args: Any) -> str:
    return " ".join(quote(strval(a)) for a in args if a is not None and a is not MISSING)


def _squote(*args: Any) -> str:
    return " ".join("'" + strval(a) + "'" for a in args if a is not None and a is not MISSING)


def _cat(*args: Any) -> str:
    vals = [a for a in args if a is not None and a is not MISSING]
    return sprintf(" ".join(["%v"] * len(vals)), *vals)


def _indent(spaces: int, v: str) -> str:
    charge_bytes(max(spaces, 0) * (v.count("\n") + 1) + len(v))
    pad = " " * spaces
    return pad + v.replace("\n", "\n" + pad)


def _repeat(count: int, s: str) -> str:
    if count < 0:
        raise FuncError("strings: negative Repeat count")
    charge_bytes(count * len(s))
    return s * count


def _default(d: Any, *given: Any) -> Any:
    if not given or empty(given[0]):
        return d
    return given[0]


def _coalesce(*args: Any) -> Any:
    for a in args:
        if not empty(a):
            return a
    return None


def _ternary(vt: Any, vf: Any, v: bool) -> Any:
    return vt if v else vf


def _to_json(v: Any) -> str:
    try:
        return to_json(v)
    except JSONEncodeError:
        return ""


def _to_pretty_json(v: Any) -> str:
    try:
        return to_json(v, indent="  ")
    except JSONEncodeError:
        return ""


def _to_raw_json(v: Any) -> str:
    try:
        return to_json(v, escape_html=False)
    except JSONEncodeError as e:
        raise FuncError(str(e)) from None


def _from_json(s: str) -> Any:
    try:
        return from_json(s)
    except Exception:
        return {}


def _b64dec(s: str) -> str:
    try:
        return base64.b64decode(s.encode(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as e:
        return str(e)


def _b32dec(s: str) -> str:
    try:
        return base64.b32decode(s.encode()).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as e:
        return str(e)


def _dict(*args: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(0, len(args), 2):
        key = strval(args[i])
        out[key] = args[i + 1] if i + 1 < len(args) else ""
    return out


def _get(d: dict | None, key: str) -> Any:
    if d is None or key not in d:
        return ""
    return d[key]


def _set(d: dict | None, key: str, value: Any) -> dict:
    if d is None:
        d = {}
    d[key] = value
    return d


def _unset(d: dict | None, key: str) -> dict:
    if d is None:
        return {}
    d.pop(key, None)
    return d


def _has_key(d: dict | None, key: str) -> bool:
    return d is not None and key in d


def _keys(*dicts: dict | None) -> GoSlice:
    out = GoSlice(elem="string")
    for d in dicts:
        out.extend(sorted((d or {}).keys()))
    return out


def _values(d: dict | None) -> list[Any]:
    return [v for _, v in sorted((d or {}).items())]


def _pick(d: dict | None, *keys: str) -> dict:
    return {k: (d or {})[k] for k in keys if k in (d or {})}


def _omit(d: dict | None, *keys: str) -> dict:
    return {k: v for k, v in (d or {}).items() if k not in keys}


def _first(v: Any) -> Any:
    lst = _list_of(v, "first")
    return lst[0] if lst else None


def _last(v: Any) -> Any:
    lst = _list_of(v, "last")
    return lst[-1] if lst else None


def _rest(v: Any) -> Any:
    lst = _list_of(v, "rest")
    return lst[1:] if lst else None


def _initial(v: Any) -> Any:
    lst = _list_of(v, "initial")
    return lst[:-1] if lst else None


def _append(v: Any, x: Any) -> list[Any]:
    return [*_list_of(v, "append"), x]


def _prepend(v: Any, x: Any) -> list[Any]:
    return [x, *_list_of(v, "prepend")]


def _concat(*lists: Any) -> list[Any]:
    out: list[Any] = []
    for v in lists:
        out.extend(_list_of(v, "concat"))
    return out


def _reverse(v: Any) -> list[Any]:
    return list(reversed(_list_of(v, "reverse")))


def _uniq(v: Any) -> list[Any]:
    out: list[Any] = []
    for x in _list_of(v, "uniq"):
        if not any(_deep_equal(x, y) for y in out):
            out.append(x)
    return out


def _compact(v: Any) -> list[Any]:
    return [x for x in _list_of(v, "compact") if not empty(x)]


def _without(v: Any, *omit: Any) -> list[Any]:
    return [x for x in _list_of(v, "without") if not any(_deep_equal(x, o) for o in omit)]


def _has(needle: Any, haystack: Any) -> bool:
    if haystack is None:
        return False
    return any(_deep_equal(needle, x) for x in _list_of(haystack, "has"))


def _deep_equal(a: Any, b: Any) -> bool:
    return type_name(a) == type_name(b) and a == b


def _sort_alpha(v: Any) -> GoSlice:
    if kind(v) in ("slice",):
        return GoSlice(sorted(strslice(v), key=lambda s: s.encode("utf-8", "surrogatepass")), elem="string")
    return GoSlice([strval(v)], elem="string")


def _split_list(sep: str, orig: str) -> GoSlice:
    if sep == "":
        return GoSlice(list(orig), elem="string")
    return GoSlice(orig.split(sep), elem="string")


def _split(sep: str, orig: str) -> dict[str, Any]:
    parts = list(orig) if sep == "" else orig.split(sep)
    return {f"_{i}": p for i, p in enumerate(parts)}


def _join(sep: str, v: Any) -> str:
    return sep.join(strslice(v))


def _compile(regex: str) -> Any:
    try:
        return compile_regex(regex)
    except RegexError as e:
        raise FuncError(f"regexp: Compile({quote(regex)}): error parsing regexp: {e.detail}") from None


def _matches(rx: Any, s: str, n: int = -1) -> list[Any]:
    """Go's FindAll semantics: empty matches abutting a previous match are dropped."""
    out = []
    prev_end = -1
    for m in rx.finditer(s):
        if m.start() == m.end() and m.start() == prev_end:
            continue
        out.append(m)
        prev_end = m.end()
        if 0 <= n <= len(out):
            break
    return out


def _expand(template: str, m: Any, rx: Any) -> str:
    out = []
    i = 0
    groups = rx.groupindex
    while i < len(template):
        c = template[i]
        if c != "$" or i + 1 >= len(template):
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            j = template.find("}", i + 2)
            name = template[i + 2 : j] if j > 0 else ""
            if j < 0 or not name or not all(ch.isalnum() or ch == "_" for ch in name):
                out.append(c)
                i += 1
                continue
            i = j + 1
        else:
            j = i + 1
            while j < len(template) and (template[j].isalnum() or template[j] == "_"):
                j += 1
            name = template[i + 1 : j]
            if not name:
                out.append(c)
                i += 1
                continue
            i = j
        if name.isdigit():
            idx = int(name)
            if idx <= rx.groups:
                out.append(m.group(idx) or "")
        elif name in groups:
            out.append(m.group(name) or "")
    return "".join(out)


def _replace_all(regex: str, s: str, repl: str, literal: bool) -> str:
    rx = _compile(regex)
    out = []
    last = 0
    for m in _matches(rx, s):
        out.append(s[last : m.start()])
        out.append(repl if literal else _expand(repl, m, rx))
        last = m.end()
    out.append(s[last:])
    return "".join(out)


def _regex_split(regex: str, s: str, n: int) -> GoSlice:
    rx = _compile(regex)
    if n == 0:
        return GoSlice(elem="string")
    if regex and s == "":
        return GoSlice([""], elem="string")
    ms = _matches(rx, s)
    out = []
    beg = 0
    for m in ms:
        if n > 0 and len(out) == n - 1:
            break
        end = m.start()
        if m.end() == 0:
            continue
        out.append(s[beg:end])
        beg = m.end()
    out.append(s[beg:])
    return GoSlice(out, elem="string")


def _fail(msg: str) -> str:
    raise FuncError(msg)


def _kind_of(v: Any) -> str:
    k = kind(v)
    return {"invalid": "invalid", "nil": "invalid", "float": "float64", "slice": "slice", "map": "map",
            "struct": "struct", "func": "func", "complex": "complex128"}.get(
        k, type_name(v) if k in ("int", "bool", "string") else k)


def _max(a: Any, *rest: Any) -> int:
    return Int64(max([to_int64(a), *(to_int64(x) for x in rest)]))


def _min(a: Any, *rest: Any) -> int:
    return Int64(min([to_int64(a), *(to_int64(x) for x in rest)]))


def _div(a: Any, b: Any) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    q = abs(x) // abs(y)
    return Int64(q if (x >= 0) == (y >= 0) else -q)


def _mod(a: Any, b: Any) -> int:
    x, y = to_int64(a), to_int64(b)
    if y == 0:
        raise FuncError("runtime error: integer divide by zero")
    r = abs(x) % abs(y)
    return Int64(r if x >= 0 else -r)


def _mul(a: Any, *v: Any) -> int:
    r = to_int64(a)
    for x in v:
        r *= to_int64(x)
    return Int64(r)


def _until(count: int) -> list[int]:
    charge(abs(count))  # before allocating: `until 30000000` fails at once
    step = 1 if count >= 0 else -1
    return list(range(0, count, step))


def _plural(one: str, many: str, count: int) -> str:
    return one if count == 1 else many


def _swapcase(s: str) -> str:
    return s.swapcase()


def _snakecase(s: str) -> str:
    s1 = re2.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", s)
    return re2.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s1).lower()


def _kebabcase(s: str) -> str:
    return _snakecase(s).replace("_", "-")


def _camelcase(s: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in s.split("_"))


def _initials(s: str) -> str:
    return "".join(w[0] for w in s.split() if w)


def _nospace(s: str) -> str:
    return "".join(s.split())


def _to_strings(v: Any) -> GoSlice:
    if isinstance(v, (list, tuple)):
        return GoSlice([strval(x) for x in v], elem="string")
    return GoSlice(strslice(v), elem="string")


def _f(name: str, fn: Any, params: tuple[str, ...], variadic: bool = False) -> GoFunc:
    return GoFunc(name, fn, params, variadic)


_S, _A, _I, _M = "string", "any", "int", "map"

SPRIG: dict[str, GoFunc] = {
    f.name: f
    for f in [
        _f("hello", lambda: "Hello!", ()),
        _f("lower", str.lower, (_S,)),
        _f("upper", str.upper, (_S,)),
        _f("title", _title, (_S,)),
        _f("untitle", _untitle, (_S,)),
        _f("trim", lambda s: s.strip(" \t\n\r\v\f\x85\xa0\u2028\u2029\u3000"), (_S,)),
        _f("trimAll", lambda a, b: b.strip(a), (_S, _S)),
        _f("trimPrefix", lambda a, b: b[len(a):] if b.startswith(a) else b, (_S, _S)),
        _f("trimSuffix", lambda a, b: b[: len(b) - len(a)] if a and b.endswith(a) else b, (_S, _S)),
        _f("contains", lambda sub, s: sub in s, (_S, _S)),
        _f("hasPrefix", lambda sub, s: s.startswith(sub), (_S, _S)),
        _f("hasSuffix", lambda sub, s: s.endswith(sub), (_S, _S)),
        _f("replace", lambda o, n, s: s.replace(o, n) if o else n.join(["", *list(s), ""]), (_S, _S, _S)),
        _f("repeat", _repeat, (_I, _S)),
        _f("trunc", _trunc, (_I, _S)),
        _f("substr", _substr, (_I, _I, _S)),
        _f("abbrev", _abbrev, (_I, _S)),
        _f("quote", _quote, (_A,), True),
        _f("squote", _squote, (_A,), True),
        _f("cat", _cat, (_A,), True),
        _f("indent", _indent, (_I, _S)),
        _f("nindent", lambda n, v: "\n" + _indent(n, v), (_I, _S)),
        _f("nospace", _nospace, (_S,)),
        _f("initials", _initials, (_S,)),
        _f("swapcase", _swapcase, (_S,)),
        _f("snakecase", _snakecase, (_S,)),
        _f("kebabcase", _kebabcase, (_S,)),
        _f("camelcase", _camelcase, (_S,)),
        _f("plural", _plural, (_S, _S, _I)),
        _f("splitList", _split_list, (_S, _S)),
        _f("split", _split, (_S, _S)),
        _f("join", _join, (_S, _A)),
        _f("sortAlpha", _sort_alpha, (_A,)),
        _f("toString", strval, (_A,)),
        _f("toStrings", _to_strings, (_A,)),
        _f("atoi", lambda s: to_int64(s) if s.strip().lstrip("+-").isdigit() else 0, (_S,)),
        _f("int", lambda v: int(to_int64(v)), (_A,)),
        _f("int64", lambda v: Int64(to_int64(v)), (_A,)),
        _f("float64", to_float64, (_A,)),
        _f("add1", lambda v: Int64(to_int64(v) + 1), (_A,)),
        _f("add", lambda *v: Int64(sum(to_int64(x) for x in v)), (_A,), True),
        _f("sub", lambda a, b: Int64(to_int64(a) - to_int64(b)), (_A, _A)),
        _f("mul", _mul, (_A, _A), True),
        _f("div", _div, (_A, _A)),
        _f("mod", _mod, (_A, _A)),
        _f("max", _max, (_A, _A), True),
        _f("biggest", _max, (_A, _A), True),
        _f("min", _min, (_A, _A), True),
        _f("until", _until, (_I,)),
        _f("default", _default, (_A, _A), True),
        _f("empty", empty, (_A,)),
        _f("coalesce", _coalesce, (_A,), True),
        _f("all", lambda *v: all(not empty(x) for x in v), (_A,), True),
        _f("any", lambda *v: any(not empty(x) for x in v), (_A,), True),
        _f("ternary", _ternary, (_A, _A, "bool")),
        _f("toJson", _to_json, (_A,)),
        _f("mustToJson", _to_raw_json, (_A,)),
        _f("toPrettyJson", _to_pretty_json, (_A,)),
        _f("toRawJson", _to_raw_json, (_A,)),
        _f("fromJson", _from_json, (_S,)),
        _f("b64enc", lambda s: base64.b64encode(s.encode("utf-8", "surrogatepass")).decode(), (_S,)),
        _f("b64dec", _b64dec, (_S,)),
        _f("b32enc", lambda s: base64.b32encode(s.encode("utf-8", "surrogatepass")).decode(), (_S,)),
        _f("b32dec", _b32dec, (_S,)),
        _f("sha1sum", lambda s: hashlib.sha1(s.encode()).hexdigest(), (_S,)),
        _f("sha256sum", lambda s: hashlib.sha256(s.encode()).hexdigest(), (_S,)),
        _f("adler32sum", lambda s: str(zlib.adler32(s.encode())), (_S,)),
        _f("list", lambda *v: list(v), (_A,), True),
        _f("dict", _dict, (_A,), True),
        _f("get", _get, (_M, _S)),
        _f("set", _set, (_M, _S, _A)),
        _f("unset", _unset, (_M, _S)),
        _f("hasKey", _has_key, (_M, _S)),
        _f("keys", _keys, (_M,), True),
        _f("values", _values, (_M,)),
        _f("pick", _pick, (_M, _S), True),
        _f("omit", _omit, (_M, _S), True),
        _f("first", _first, (_A,)),
        _f("last", _last, (_A,)),
        _f("rest", _rest, (_A,)),
        _f("initial", _initial, (_A,)),
        _f("append", _append, (_A, _A)),
        _f("push", _append, (_A, _A)),
        _f("prepend", _prepend, (_A, _A)),
        _f("concat", _concat, (_A,), True),
        _f("reverse", _reverse, (_A,)),
        _f("uniq", _uniq, (_A,)),
        _f("compact", _compact, (_A,)),
        _f("without", _without, (_A, _A), True),
        _f("has", _has, (_A, _A)),
        _f("regexMatch", lambda r, s: bool(_matches(_compile(r), s, 1)), (_S, _S)),
        _f("regexFind", lambda r, s: (lambda ms: ms[0].group(0) if ms else "")(_matches(_compile(r), s, 1)),
           (_S, _S)),
        _f("regexFindAll", lambda r, s, n: GoSlice([m.group(0) for m in _matches(_compile(r), s, n)],
                                                   elem="string"), (_S, _S, _I)),
        _f("regexReplaceAll", lambda r, s, repl: _replace_all(r, s, repl, False), (_S, _S, _S)),
        _f("regexReplaceAllLiteral", lambda r, s, repl: _replace_all(r, s, repl, True), (_S, _S, _S)),
        _f("regexSplit", _regex_split, (_S, _S, _I)),
        _f("regexQuoteMeta", lambda s: re2.escape(s), (_S,)),
        _f("typeOf", lambda v: sprintf("%T", v), (_A,)),
        _f("typeIs", lambda t, v: t == sprintf("%T", v), (_S, _A)),
        _f("kindOf", _kind_of, (_A,)),
        _f("kindIs", lambda t, v: t == _kind_of(v), (_S, _A)),
        _f("deepEqual", _deep_equal, (_A, _A)),
        _f("base", posixpath.basename, (_S,)),
        _f("dir", lambda s: posixpath.dirname(s) or ".", (_S,)),
        _f("clean", lambda s: posixpath.normpath(s) if s else ".", (_S,)),
        _f("ext", lambda s: posixpath.splitext(posixpath.basename(s))[1], (_S,)),
        _f("isAbs", lambda s: s.startswith("/"), (_S,)),
        _f("fail", _fail, (_S,)),
    ]
}

_ = (sprint, is_struct)
