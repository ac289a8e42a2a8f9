"""The Go value model used by the template engine.

Python values stand for Go values so that the template semantics (printing, comparison, truth)
match Go's: `int` is Go `int`, `float` is `float64`, `str` is `string`, `bool` is `bool`, `None` is a
nil interface, `dict` is `map[string]interface {}` and `list`/`tuple` is `[]interface {}`.
`MISSING` is Go's invalid `reflect.Value` (a missing map key), which prints as `<no value>`.

Typed data from tagpilot itself (Flux's `.AutomationObject`, `.Updated.Images`...) is passed as
`GoStruct` instances or dataclasses: exported (capitalised) attributes are fields, capitalised
methods are Go methods, and a `String()` method makes the value a `fmt.Stringer`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, ClassVar


class _Missing:
    """Go's invalid reflect.Value: what a missing map key evaluates to."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class GoStruct:
    """Base for Python objects that templates see as Go structs.

    Fields are the dataclass fields (or the public instance attributes) in declaration order;
    capitalised methods are callable from templates (`.Method arg1 arg2`), and `String()` is used
    when the value is printed, as with Go's fmt.Stringer.
    """

    go_type: ClassVar[str] = ""


class Int64(int):
    """A Go int64 (what Sprig's arithmetic returns); behaves as int in comparisons."""

    go_type = "int64"


class GoSlice(list):
    """A slice with a Go element type other than interface{} (e.g. `[]string` from splitList)."""

    def __init__(self, items: Any = (), elem: str = "interface {}") -> None:
        super().__init__(items)
        self.elem = elem


class GoMap(dict):
    """A map with Go key/element types other than map[string]interface{}."""

    def __init__(self, items: Any = (), key: str = "string", elem: str = "interface {}") -> None:
        super().__init__(items)
        self.key = key
        self.elem = elem


def is_struct(v: Any) -> bool:
    """True for values that templates see as Go structs."""
    return isinstance(v, GoStruct) or (dataclasses.is_dataclass(v) and not isinstance(v, type))


def struct_fields(v: Any) -> list[tuple[str, Any]]:
    """The (name, value) fields of a struct-like value, in declaration order."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return [(f.name, getattr(v, f.name)) for f in dataclasses.fields(v)]
    return [(k, val) for k, val in vars(v).items() if not k.startswith("_")]


def struct_type_name(v: Any) -> str:
    name = getattr(type(v), "go_type", "") or ""
    return name or f"main.{type(v).__name__}"


def go_method(v: Any, name: str) -> Callable[..., Any] | None:
    """The bound Go method `name` of a struct-like value, if it has one."""
    if not name[:1].isupper():
        return None
    attr = inspect.getattr_static(type(v), name, None)
    if attr is None or not callable(attr) or isinstance(attr, (staticmethod, type)):
        return None
    if dataclasses.is_dataclass(v) and name in {f.name for f in dataclasses.fields(v)}:
        return None
    return getattr(v, name)


def stringer(v: Any) -> Callable[[], str] | None:
    """The String() (or Error()) method of a value, as fmt would find it."""
    if is_struct(v) or isinstance(v, BaseException):
        m = go_method(v, "Error") or go_method(v, "String")
        if m is not None:
            return m
    if isinstance(v, BaseException):
        return lambda: str(v)
    return None


def kind(v: Any) -> str:
    """The reflect.Kind of a value, reduced to what the engine needs."""
    if v is MISSING:
        return "invalid"
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, complex):
        return "complex"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (bytes, bytearray)):
        return "slice"
    if isinstance(v, (list, tuple)):
        return "slice"
    if isinstance(v, dict):
        return "map"
    if is_struct(v):
        return "struct"
    if callable(v):
        return "func"
    return "struct"


def _dict_key_type(d: dict) -> str:
    if isinstance(d, GoMap):
        return d.key
    if d and all(isinstance(k, int) and not isinstance(k, bool) for k in d):
        return "int"
    return "string"


def type_name(v: Any) -> str:
    """Go's reflect.Type.String() of a value (`%T`); nil prints as `<nil>`."""
    if v is MISSING or v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return getattr(type(v), "go_type", "int")
    if isinstance(v, float):
        return "float64"
    if isinstance(v, complex):
        return "complex128"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (bytes, bytearray)):
        return "[]uint8"
    if isinstance(v, GoSlice):
        return f"[]{v.elem}"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if isinstance(v, dict):
        elem = v.elem if isinstance(v, GoMap) else "interface {}"
        return f"map[{_dict_key_type(v)}]{elem}"
    if is_struct(v):
        return struct_type_name(v)
    if callable(v):
        return "func(...) interface {}"
    return f"main.{type(v).__name__}"


def map_key_type(d: dict) -> str:
    return _dict_key_type(d)


def sort_key(k: Any) -> tuple:
    """Go's fmtsort ordering of map keys (numbers numerically, strings bytewise, false<true)."""
    if isinstance(k, bool):
        return (0, int(k))
    if isinstance(k, (int, float)):
        if isinstance(k, float) and k != k:
            return (1, float("-inf"), 0)
        return (1, k, 1)
    if isinstance(k, str):
        return (2, k)
    return (3, str(k))


def sorted_items(d: dict) -> list[tuple[Any, Any]]:
    return sorted(d.items(), key=lambda kv: sort_key(kv[0]))


def is_true(v: Any) -> tuple[bool, bool]:
    """text/template's isTrue: (truth, ok) — the zero value of a type is false."""
    k = kind(v)
    if k in ("invalid", "nil"):
        return False, True
    if k in ("string", "slice", "map"):
        return len(v) > 0, True
    if k in ("bool", "int", "float", "complex"):
        return v != 0, True
    if k == "func":
        return True, True
    return True, True
