"""JSON in and out the way Go's encoding/json does it.

Decoding into `interface{}` makes every number a float64 (Python float), which is what gives
`{{.n}}` → `3` and `{{eq .n 3}}` → "incompatible types for comparison" in Go. Encoding (Sprig's
`toJson`) sorts map keys, escapes `<`, `>` and `&`, and formats floats as Go does (`3`, `1e+21`);
the string and float encodings themselves are `tagpilot.golang`'s, shared with the gjson port.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tagpilot.golang import json_float, json_string
from tagpilot.gotemplate.errors import TemplateError
from tagpilot.gotemplate.values import MISSING, is_struct, sorted_items, stringer, struct_fields


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _float(text: str) -> float:
    f = float(text)
    if math.isinf(f):
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return f


def from_json(text: str) -> Any:
    """Decode like json.Unmarshal into interface{}: numbers float64, objects maps, null nil."""
    try:
        return json.loads(text, parse_int=_float, parse_float=_float, parse_constant=_no_constant)
    except (ValueError, RecursionError) as e:
        raise TemplateError(f"invalid JSON data: {e}") from None


class JSONEncodeError(Exception):
    pass


def _encode_float(f: float) -> str:
    try:
        return json_float(f)
    except ValueError as e:  # NaN, ±Inf: Go's *json.UnsupportedValueError
        raise JSONEncodeError(str(e)) from None


def to_json(v: Any, *, escape_html: bool = True, indent: str = "") -> str:
    """json.Marshal (or MarshalIndent with `indent`); raises JSONEncodeError like Go's errors."""

    def enc(x: Any, level: int) -> str:
        nl = "\n" + indent * (level + 1) if indent else ""
        end = "\n" + indent * level if indent else ""
        colon = ": " if indent else ":"
        if x is None or x is MISSING:
            return "null"
        if isinstance(x, bool):
            return "true" if x else "false"
        if isinstance(x, int):
            return str(int(x))
        if isinstance(x, float):
            return _encode_float(x)
        if isinstance(x, str):
            return json_string(x, escape_html)
        if isinstance(x, (bytes, bytearray)):
            import base64

            return '"' + base64.b64encode(bytes(x)).decode() + '"'
        if isinstance(x, (list, tuple)):
            if not x:
                return "[]"
            return "[" + ",".join(nl + enc(e, level + 1) for e in x) + end + "]"
        if isinstance(x, dict):
            if not x:
                return "{}"
            items = [(str(k), val) for k, val in sorted_items(x)]
            items.sort(key=lambda kv: kv[0].encode("utf-8", "surrogatepass"))
            return "{" + ",".join(nl + json_string(k, escape_html) + colon + enc(val, level + 1)
                                  for k, val in items) + end + "}"
        if is_struct(x):
            fields = [(k, val) for k, val in struct_fields(x) if k[:1].isupper()]
            if not fields:
                return "{}"
            return "{" + ",".join(nl + json_string(k, escape_html) + colon + enc(val, level + 1)
                                  for k, val in fields) + end + "}"
        m = stringer(x)
        if m is not None:
            return json_string(str(m()), escape_html)
        raise JSONEncodeError(f"json: unsupported type: {type(x).__name__}")

    return enc(v, 0)
