"""Go's value encodings, in one place: `strconv.ParseFloat`, `FormatFloat`, `Quote`, encoding/json.

Why a top-level module: three ports read or write values the way Go does — the Go template engine
(`gotemplate/`: number literals, `toJson`, `%v`), the gjson/sensor code (`events/paths.py`: event
data bytes, `Result.Float()`, `Result.String()`) and Flux's numerical policy (`policy/gonum.py`) and
scan revision (`engine/scan.py`). Each once had its own copy and the copies disagreed in corners
(`1e400`, `1e-07`, `+nan`, lone surrogates). This module depends on nothing else in tagpilot, so
every package can import it without pulling in another port.

Python's own functions are not used directly because they differ from Go:
- `float()` accepts surrounding spaces, non-ASCII digits, `+nan`, `1_000` with other rules, and
  returns `inf` for `1e400` where Go reports `value out of range` (alongside ±Inf).
- `repr(float)` writes `1e-07` and `1e+16` where encoding/json writes `1e-7` and
  `10000000000000000`.
- `json.dumps` does not escape `<`, `>`, `&`, U+2028/U+2029 and keeps lone surrogates.

Where Go versions differ, we follow the Go that current Flux and Argo releases are built with
(≥ 1.22: `\\b` and `\\f` are short escapes in encoding/json).
"""

from __future__ import annotations

import math
import re

from tagpilot.errors import TagpilotError

__all__ = [
    "ERR_RANGE",
    "ERR_SYNTAX",
    "NumError",
    "can_backquote",
    "format_float",
    "json_float",
    "json_string",
    "parse_float",
    "parse_float_or_none",
    "quote",
]

# ---------------------------------------------------------------- strconv.ParseFloat

ERR_SYNTAX = "invalid syntax"
ERR_RANGE = "value out of range"


class NumError(TagpilotError):
    """Go's `*strconv.NumError`: returned by `parse_float` (like Go's error value), raisable as is.

    `str()` is Go's `Error()` text, e.g. `strconv.ParseFloat: parsing "1e400": value out of range`,
    which Argo Events puts into a filter's error message.
    """

    def __init__(self, func: str, num: str, err: str) -> None:
        self.func = func
        self.num = num
        self.err = err
        super().__init__(f"strconv.{func}: parsing {quote(num)}: {err}")


# The grammar of readFloat with underscores allowed anywhere in digit runs; where they may stand
# is checked afterwards by `_underscore_ok`, as Go does. Written without nested or adjacent
# overlapping repeats, so matching stays linear on hostile input.
_DEC = re.compile(r"[+-]?(?:[0-9_]+(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][+-]?[0-9][0-9_]*)?")
_HEX = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F_]+(?:\.[0-9a-fA-F_]*)?|\.[0-9a-fA-F_]+)[pP][+-]?[0-9][0-9_]*")
_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _special(s: str) -> float | None:
    """strconv's `special`: [+-]inf, [+-]infinity, nan (no sign), ASCII case-insensitive."""
    if not s.isascii():
        return None
    low = s.lower()
    body = low[1:] if low[:1] in ("+", "-") else low
    if body in ("inf", "infinity"):
        return -math.inf if low[0] == "-" else math.inf
    if low == "nan":
        return math.nan
    return None


def _underscore_ok(s: str) -> bool:
    """strconv's underscoreOK: `_` only between digits, or between a base prefix and a digit."""
    saw = "^"
    if s[:1] in ("+", "-"):
        s = s[1:]
    i = 0
    digits = _DIGITS
    if len(s) >= 2 and s[0] == "0" and s[1] in "bBoOxX":
        i, saw = 2, "0"
        if s[1] in "xX":
            digits = _HEX_DIGITS
    for c in s[i:]:
        if c in digits:
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def parse_float(s: str) -> tuple[float, NumError | None]:
    """strconv.ParseFloat(s, 64): `(value, error)` exactly as Go returns them.

    On a syntax error the value is 0; on overflow it is ±Inf with a `value out of range` error
    (callers that ignore the error, like gjson, use that ±Inf). Underflow rounds to 0 without error.
    """
    special = _special(s)
    if special is not None:
        return special, None
    if _HEX.fullmatch(s):
        hexa = True
    elif _DEC.fullmatch(s):
        hexa = False
    else:
        return 0.0, NumError("ParseFloat", s, ERR_SYNTAX)
    if "_" in s:
        if not _underscore_ok(s):
            return 0.0, NumError("ParseFloat", s, ERR_SYNTAX)
        s_clean = s.replace("_", "")
    else:
        s_clean = s
    try:
        value = float.fromhex(s_clean) if hexa else float(s_clean)
    except OverflowError:
        value = -math.inf if s_clean[0] == "-" else math.inf
    if math.isinf(value):
        return value, NumError("ParseFloat", s, ERR_RANGE)
    return value, None


def parse_float_or_none(s: str) -> float | None:
    """The float Go's ParseFloat returns, or None where it returns any error (syntax or range)."""
    value, err = parse_float(s)
    return None if err is not None else value


# ---------------------------------------------------------------- strconv.FormatFloat


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest decimal digits d1d2... and dp such that |f| = 0.d1d2... x 10^dp (0 → ('', 0))."""
    if f == 0:
        return "", 0
    s = repr(abs(f))  # Python's repr is the shortest round-tripping form, like Go's -1 precision
    if "e" in s:
        mant, exp_s = s.split("e")
        exp = int(exp_s)
    else:
        mant, exp = s, 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = ip + fp
    dp = len(ip) + exp
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    return digits, dp


def _fmt_e(neg: bool, digits: str, dp: int, prec: int, ch: str) -> str:
    out = ["-" if neg else ""]
    out.append(digits[0] if digits else "0")
    if prec > 0:
        frac = digits[1 : 1 + prec]
        out.append("." + frac + "0" * (prec - len(frac)))
    exp = dp - 1 if digits else 0
    sign = "-" if exp < 0 else "+"
    exp = abs(exp)
    out.append(f"{ch}{sign}{exp:02d}")
    return "".join(out)


def _fmt_f(neg: bool, digits: str, dp: int, prec: int) -> str:
    out = ["-" if neg else ""]
    if dp > 0:
        ip = digits[:dp]
        out.append(ip + "0" * (dp - len(ip)))
    else:
        out.append("0")
    if prec > 0:
        frac = []
        for i in range(prec):
            j = dp + i
            frac.append(digits[j] if 0 <= j < len(digits) else "0")
        out.append("." + "".join(frac))
    return "".join(out)


def format_float(f: float, fmt: str = "g", prec: int = -1) -> str:
    """strconv.FormatFloat(f, fmt, prec, 64) for fmt in e E f F g G."""
    if f != f:
        return "NaN"
    if f in (math.inf, -math.inf):
        return "+Inf" if f > 0 else "-Inf"
    neg = f < 0 or (f == 0 and math.copysign(1.0, f) < 0)
    if prec < 0:
        digits, dp = _shortest_digits(f)
        nd = len(digits)
        if fmt in "eE":
            return _fmt_e(neg, digits, dp, max(nd - 1, 0), fmt)
        if fmt in "fF":
            return _fmt_f(neg, digits, dp, max(nd - dp, 0))
        exp = dp - 1 if digits else 0
        if digits and (exp < -4 or exp >= 6):
            return _fmt_e(neg, digits, dp, max(nd - 1, 0), "e" if fmt == "g" else "E")
        return _fmt_f(neg, digits, dp, max(nd - dp, 0))
    if fmt in "fF":
        return ("%." + str(prec) + "f") % f
    if fmt in "eE":
        return ("%." + str(prec) + fmt) % f
    return ("%." + str(prec) + fmt) % f


# ---------------------------------------------------------------- encoding/json


def json_float(f: float) -> str:
    """How encoding/json writes a float64: 'f' form, 'e' form below 1e-6 or from 1e21 (`1e-7`).

    Raises ValueError with Go's message for NaN and ±Inf, which JSON cannot carry.
    """
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"json: unsupported value: {format_float(f)}")
    a = abs(f)
    fmt = "e" if a != 0 and (a < 1e-6 or a >= 1e21) else "f"
    s = format_float(f, fmt, -1)
    if fmt == "e" and len(s) >= 4 and s[-4] == "e" and s[-3] == "-" and s[-2] == "0":
        s = s[:-2] + s[-1]  # Go cleans e-07 to e-7
    return s


def _json_escapes(escape_html: bool) -> dict[int, str]:
    table = {o: f"\\u{o:04x}" for o in range(0x20)}
    table.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t",
                  0x08: "\\b", 0x0C: "\\f", 0x2028: "\\u2028", 0x2029: "\\u2029"})
    if escape_html:
        table.update({ord(c): f"\\u{ord(c):04x}" for c in "<>&"})
    # a lone surrogate is what invalid UTF-8 becomes in a Python str; Go writes \ufffd for it
    table.update(dict.fromkeys(range(0xD800, 0xE000), "\\ufffd"))
    return table


_ESCAPES_HTML = _json_escapes(True)
_ESCAPES_PLAIN = _json_escapes(False)


def json_string(s: str, escape_html: bool = True) -> str:
    """A JSON string literal as encoding/json writes it (json.Marshal escapes HTML; an Encoder
    with SetEscapeHTML(false), e.g. Sprig's `toRawJson`, does not)."""
    return '"' + s.translate(_ESCAPES_HTML if escape_html else _ESCAPES_PLAIN) + '"'


# ---------------------------------------------------------------- strconv.Quote

def quote(s: str, ascii_only: bool = False, q: str = '"') -> str:
    """strconv.Quote / QuoteToASCII / QuoteRune."""
    out = [q]
    for ch in s:
        o = ord(ch)
        if ch == q or ch == "\\":
            out.append("\\" + ch)
        elif (not ascii_only or o < 0x80) and ch.isprintable():
            out.append(ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                        "\t": "\\t", "\v": "\\v"}[ch])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o < 0xE000:
            out.append("\\ufffd")
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append(q)
    return "".join(out)


def can_backquote(s: str) -> bool:
    """strconv.CanBackquote: `s` fits in a raw string literal unchanged."""
    for ch in s:
        if ch == "`" or ch == "\ufeff":
            return False
        if ch != "\t" and (ord(ch) < 0x20 or ord(ch) == 0x7F):
            return False
    return True
