"""Function values for templates: Go signatures for argument checking, and the builtins.

Go checks every argument against the function's parameter types before the call
(`wrong type for value; expected string; got int`), and untyped constants take the type of the
parameter. `GoFunc` carries the Go parameter types so the executor can do the same.
Parameter types: any (interface{}), value (reflect.Value), string, int, int64, float64, bool,
[]any, []string, map (map[string]interface{}).
"""

from __future__ import annotations

import inspect
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tagpilot.gotemplate.errors import FuncError
from tagpilot.gotemplate.gofmt import sprint, sprintf, sprintln
from tagpilot.gotemplate.values import MISSING, GoMap, is_true, kind, map_key_type, type_name

GO_TYPE_NAMES = {
    "any": "interface {}",
    "value": "reflect.Value",
    "map": "map[string]interface {}",
    "[]any": "[]interface {}",
}

NILABLE = {"any", "value", "map", "[]any", "[]string", "func"}


def go_type_display(t: str) -> str:
    return GO_TYPE_NAMES.get(t, t)


@dataclass(frozen=True)
class GoFunc:
    """A template function: the callable plus its Go parameter types."""

    name: str
    fn: Callable[..., Any]
    params: tuple[str, ...] = ()
    variadic: bool = False
    builtin: bool = False


_ANN = {"str": "string", "int": "int", "float": "float64", "bool": "bool", "dict": "map", "list": "[]any"}


def wrap_callable(name: str, fn: Callable[..., Any]) -> GoFunc:
    """Describe a Python callable as a Go function: annotations str/int/float/bool give the types."""
    if isinstance(fn, GoFunc):
        return fn
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return GoFunc(name, fn, ("any",), True)
    params: list[str] = []
    variadic = False
    for p in sig.parameters.values():
        ann = p.annotation
        ann_name = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
        t = _ANN.get(ann_name, "any")
        if p.kind == p.VAR_POSITIONAL:
            params.append(t)
            variadic = True
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if p.default is not p.empty:
                continue
            params.append(t)
    return GoFunc(name, fn, tuple(params), variadic)


# ---------------------------------------------------------------- helpers


def indirect_interface(v: Any) -> Any:
    return MISSING if v is None else v


def printable(v: Any) -> Any:
    return "<no value>" if v is None or v is MISSING else v


def eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*(printable(a) for a in args))


# ---------------------------------------------------------------- builtins


def _not(arg: Any) -> bool:
    return not is_true(indirect_interface(arg))[0]


def _len(item: Any) -> int:
    if item is None:
        raise FuncError("len of nil pointer")
    if item is MISSING:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))
    if kind(item) in ("slice", "map"):
        return len(item)
    raise FuncError(f"len of type {type_name(item)}")


def _index_arg(index: Any, cap: int) -> int:
    index = indirect_interface(index)
    if index is MISSING:
        raise FuncError("cannot index slice/array with nil")
    if kind(index) != "int":
        raise FuncError(f"cannot index slice/array with type {type_name(index)}")
    x = int(index)
    if x < 0 or x > cap:
        raise FuncError(f"index out of range: {x}")
    return x


def _index(item: Any, *indexes: Any) -> Any:
    item = indirect_interface(item)
    if item is MISSING:
        raise FuncError("index of untyped nil")
    for index in indexes:
        index = indirect_interface(index)
        if item is None or item is MISSING:
            raise FuncError("index of nil pointer")
        k = kind(item)
        if k in ("slice", "string"):
            seq = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else item
            x = _index_arg(index, len(seq))
            if x >= len(seq):
                raise FuncError("reflect: slice index out of range" if k == "slice"
                                else "reflect: string index out of range")
            item = seq[x]
        elif k == "map":
            key_t = map_key_type(item)
            if index is MISSING:
                raise FuncError(f"value is nil; should be of type {key_t}")
            it = type_name(index)
            if it != key_t:
                raise FuncError(f"value has type {it}; should be {key_t}")
            zero = _zero(item.elem) if isinstance(item, GoMap) else None
            item = item.get(index, zero)
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
    return item


def _zero(t: str) -> Any:
    return {"string": "", "int": 0, "int64": 0, "float64": 0.0, "bool": False}.get(t)


def _slice(item: Any, *indexes: Any) -> Any:
    item = indirect_interface(item)
    if item is MISSING:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    k = kind(item)
    if k == "string":
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode("utf-8", "surrogatepass")
    elif k == "slice":
        seq = item
    else:
        raise FuncError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(seq), len(seq)]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, len(seq))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = seq[idx[0] : idx[1]]
    if k == "string":
        return out.decode("utf-8", "replace")
    return type(item)(out) if not hasattr(item, "elem") else item.__class__(out, elem=item.elem)


def _basic_kind(v: Any) -> str:
    k = kind(v)
    if k in ("bool", "int", "float", "complex", "string"):
        return k
    return "invalid"


def _is_nil(v: Any) -> bool:
    return v is None or v is MISSING


def _eq(arg1: Any, *arg2: Any) -> bool:
    arg1 = indirect_interface(arg1)
    if not arg2:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in arg2:
        arg = indirect_interface(arg)
        k2 = _basic_kind(arg)
        truth = False
        if k1 != k2:
            if arg1 is not MISSING and arg is not MISSING:
                raise FuncError("incompatible types for comparison")
        elif k1 != "invalid":
            truth = arg1 == arg
        else:
            if _is_nil(arg1) or _is_nil(arg):
                truth = _is_nil(arg1) == _is_nil(arg)
            else:
                if type_name(arg1) != type_name(arg):
                    raise FuncError(
                        f"non-comparable types {sprint(arg1)}: {type_name(arg1)}, "
                        f"{type_name(arg)}: {sprint(arg)}"
                    )
                if kind(arg) in ("slice", "map", "func"):
                    raise FuncError(f"non-comparable type {sprint(arg)}: {type_name(arg)}")
                truth = arg1 == arg
        if truth:
            return True
    return False


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    a = indirect_interface(a)
    k1 = _basic_kind(a)
    if k1 == "invalid":
        raise FuncError("invalid type for comparison")
    b = indirect_interface(b)
    k2 = _basic_kind(b)
    if k2 == "invalid":
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise FuncError("invalid type for comparison")
    if k1 == "string":
        return a.encode("utf-8", "surrogatepass") < b.encode("utf-8", "surrogatepass")
    return a < b


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _html(*args: Any) -> str:
    s = eval_args(args)
    out = []
    for ch in s:
        out.append({'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\x00": "\ufffd"}
                   .get(ch, ch) if ch in "\"'&<>" else ch)
    return "".join(out)


def js_escape(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == '"':
            out.append('\\"')
        elif ch == "<":
            out.append("\\u003C")
        elif ch == ">":
            out.append("\\u003E")
        elif ch == "&":
            out.append("\\u0026")
        elif ch == "=":
            out.append("\\u003D")
        elif o < 0x20:
            out.append(f"\\u00{o:02X}")
        elif o >= 0x80 and not ch.isprintable():
            out.append(f"\\u{o:04X}")
        else:
            out.append(ch)
    return "".join(out)


def _js(*args: Any) -> str:
    return js_escape(eval_args(args))


def _urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(eval_args(args), safe="")


def _call(fn: Any, *args: Any) -> Any:
    if isinstance(fn, GoFunc):
        return fn.fn(*args)
    if fn is None or fn is MISSING:
        raise FuncError("call of nil")
    if not callable(fn) or kind(fn) != "func":
        raise FuncError(f"non-function of type {type_name(fn)}")
    try:
        return fn(*args)
    except FuncError:
        raise
    except TypeError as e:
        raise FuncError(f"wrong number of args: {e}") from None


def _printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, *args)


def _emptyfunc(*args: Any) -> Any:  # and/or are special-cased by the executor
    raise AssertionError


BUILTINS: dict[str, GoFunc] = {
    f.name: f
    for f in [
        GoFunc("and", _emptyfunc, ("value", "value"), True, True),
        GoFunc("or", _emptyfunc, ("value", "value"), True, True),
        GoFunc("not", _not, ("value",), False, True),
        GoFunc("len", _len, ("value",), False, True),
        GoFunc("index", _index, ("value", "value"), True, True),
        GoFunc("slice", _slice, ("value", "value"), True, True),
        GoFunc("call", _call, ("value", "value"), True, True),
        GoFunc("print", sprint, ("any",), True, True),
        GoFunc("printf", _printf, ("string", "any"), True, True),
        GoFunc("println", sprintln, ("any",), True, True),
        GoFunc("html", _html, ("any",), True, True),
        GoFunc("js", _js, ("any",), True, True),
        GoFunc("urlquery", _urlquery, ("any",), True, True),
        GoFunc("eq", _eq, ("value", "value"), True, True),
        GoFunc("ne", _ne, ("value", "value"), False, True),
        GoFunc("lt", _lt, ("value", "value"), False, True),
        GoFunc("le", _le, ("value", "value"), False, True),
        GoFunc("gt", _gt, ("value", "value"), False, True),
        GoFunc("ge", _ge, ("value", "value"), False, True),
    ]
}
