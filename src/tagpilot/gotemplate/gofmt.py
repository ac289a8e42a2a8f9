"""Go's `fmt` printing (Sprint, Sprintln, Sprintf) and `strconv` float/quote formatting.

Templates print values through fmt, so every detail shows in commit messages: `%v` of a float64
uses the shortest representation with an exponent from 1e+06 up (`fmt.Sprint(1000000.0)` is
`1e+06`), maps print as `map[k:v]` in sorted key order, a wrong verb prints `%!d(string=x)`.
Python's own formatting differs in all of these, hence this module.
"""

from __future__ import annotations

from typing import Any

from tagpilot.golang import can_backquote, format_float, quote
from tagpilot.gotemplate.values import (
    MISSING,
    GoSlice,
    is_struct,
    kind,
    sorted_items,
    stringer,
    struct_fields,
    type_name,
)

# strconv's FormatFloat, Quote and CanBackquote are shared with the JSON, gjson and govaluate
# ports: they live in tagpilot.golang (which imports nothing from here) and are re-exported.

# ---------------------------------------------------------------- fmt


class _Printer:
    def __init__(self) -> None:
        self.buf: list[str] = []
        self.erroring = False
        self.clear()

    def clear(self) -> None:
        self.plus = self.minus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid: int | None = None
        self.prec: int | None = None

    # -- padding
    def _padding(self, n: int) -> str:
        if n <= 0:
            return ""
        return ("0" if self.zero else " ") * n

    def pad(self, s: str) -> None:
        if self.wid is None or self.wid == 0:
            self.buf.append(s)
            return
        width = self.wid - len(s)
        if not self.minus:
            self.buf.append(self._padding(width) + s)
        else:
            self.buf.append(s + (" " * width if width > 0 else ""))

    # -- basic formatters
    def fmt_bool(self, v: bool, verb: str) -> None:
        if verb in "tv":
            self.pad("true" if v else "false")
        else:
            self.bad_verb(verb, v)

    def fmt_integer(self, v: int, verb: str, arg: Any) -> None:
        if verb in "vd":
            self._integer(v, 10, verb, "0123456789abcdefx")
        elif verb == "b":
            self._integer(v, 2, verb, "0123456789abcdefx")
        elif verb in "oO":
            self._integer(v, 8, verb, "0123456789abcdefx")
        elif verb == "x":
            self._integer(v, 16, verb, "0123456789abcdefx")
        elif verb == "X":
            self._integer(v, 16, verb, "0123456789ABCDEFX")
        elif verb == "c":
            self.pad(_rune(v))
        elif verb == "q":
            r = _rune(v)
            self.pad(quote(r, self.plus, "'"))
        elif verb == "U":
            s = f"U+{v:04X}" if v >= 0 else f"U+{v & 0xFFFFFFFFFFFFFFFF:04X}"
            if self.sharp and 0 <= v <= 0x10FFFF and chr(v).isprintable():
                s += " '" + chr(v) + "'"
            old = self.zero
            self.zero = False
            self.pad(s)
            self.zero = old
        else:
            self.bad_verb(verb, arg)

    def _integer(self, v: int, base: int, verb: str, digits: str) -> None:
        negative = v < 0
        u = -v if negative else v
        prec = 0
        if self.prec is not None:
            prec = self.prec
            if prec == 0 and u == 0:
                old = self.zero
                self.zero = False
                self.buf.append(self._padding(self.wid or 0))
                self.zero = old
                return
        elif self.zero and not self.minus and self.wid is not None:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        s = ""
        while True:
            s = digits[u % base] + s
            u //= base
            if u == 0:
                break
        if len(s) < prec:
            s = "0" * (prec - len(s)) + s
        if self.sharp:
            if base == 2:
                s = "0b" + s
            elif base == 8 and not s.startswith("0"):
                s = "0" + s
            elif base == 16:
                s = "0" + digits[16] + s
        if verb == "O":
            s = "0o" + s
        if negative:
            s = "-" + s
        elif self.plus:
            s = "+" + s
        elif self.space:
            s = " " + s
        old = self.zero
        self.zero = False
        self.pad(s)
        self.zero = old

    def fmt_float(self, v: float, verb: str) -> None:
        if verb == "v":
            self._float(v, "g", -1)
        elif verb in "gGxXb":
            self._float(v, verb, -1)
        elif verb in "feEF":
            self._float(v, verb, 6)
        else:
            self.bad_verb(verb, v)

    def _float(self, v: float, verb: str, prec: int) -> None:
        if self.prec is not None:
            prec = self.prec
        if verb in "xXb":
            num = v.hex()
        else:
            num = format_float(v, verb, prec)
            if self.sharp and verb in "gG" and "." not in num and "e" not in num.lower() and num[-1:].isdigit():
                num += "."
        if num[0] not in "+-":
            num = "+" + num
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1:2] in ("I", "N"):
            old = self.zero
            self.zero = False
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad(num)
            self.zero = old
            return
        if self.plus or num[0] != "+":
            if self.zero and self.wid is not None and self.wid > len(num) and not self.minus:
                self.buf.append(num[0] + "0" * (self.wid - len(num)) + num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    def fmt_complex(self, v: complex, verb: str) -> None:
        if verb not in "vbgGxXfFeE":
            self.bad_verb(verb, v)
            return
        old_plus = self.plus
        self.buf.append("(")
        self.fmt_float(v.real, verb)
        self.plus = True
        self.fmt_float(v.imag, verb)
        self.buf.append("i)")
        self.plus = old_plus

    def fmt_string(self, s: str, verb: str, arg: Any) -> None:
        if verb == "v":
            if self.sharp_v:
                self._q(s)
            else:
                self._s(s)
        elif verb == "s":
            self._s(s)
        elif verb == "x":
            self._sx(s.encode("utf-8", "surrogatepass"), "0123456789abcdefx")
        elif verb == "X":
            self._sx(s.encode("utf-8", "surrogatepass"), "0123456789ABCDEFX")
        elif verb == "q":
            self._q(s)
        else:
            self.bad_verb(verb, arg)

    def _trunc(self, s: str) -> str:
        if self.prec is not None and len(s) > self.prec:
            return s[: self.prec]
        return s

    def _s(self, s: str) -> None:
        self.pad(self._trunc(s))

    def _q(self, s: str) -> None:
        s = self._trunc(s)
        if self.sharp and can_backquote(s):
            self.pad("`" + s + "`")
        else:
            self.pad(quote(s, self.plus))

    def _sx(self, b: bytes, digits: str) -> None:
        length = len(b)
        if self.prec is not None and self.prec < length:
            length = self.prec
        width = 2 * length
        if width > 0:
            if self.space:
                if self.sharp:
                    width *= 2
                width += length - 1
            elif self.sharp:
                width += 2
        else:
            if self.wid is not None:
                self.buf.append(self._padding(self.wid))
            return
        if self.wid is not None and self.wid > width and not self.minus:
            self.buf.append(self._padding(self.wid - width))
        out = []
        if self.sharp:
            out.append("0" + digits[16])
        for i in range(length):
            if self.space and i > 0:
                out.append(" ")
                if self.sharp:
                    out.append("0" + digits[16])
            c = b[i]
            out.append(digits[c >> 4] + digits[c & 0xF])
        self.buf.append("".join(out))
        if self.wid is not None and self.wid > width and self.minus:
            self.buf.append(" " * (self.wid - width))

    # -- errors
    def bad_verb(self, verb: str, arg: Any) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        if arg is None or arg is MISSING:
            self.buf.append("<nil>")
        else:
            self.buf.append(type_name(arg) + "=")
            self.print_arg(arg, "v")
        self.buf.append(")")
        self.erroring = False

    # -- dispatch
    def handle_methods(self, arg: Any, verb: str) -> bool:
        if self.erroring or self.sharp_v:
            return False
        if verb in "vsxXq":
            m = stringer(arg)
            if m is not None:
                self.fmt_string(str(m()), verb, arg)
                return True
        return False

    def print_arg(self, arg: Any, verb: str) -> None:
        if arg is None or arg is MISSING:
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, None)
            return
        if verb == "T":
            self._s(type_name(arg))
            return
        if verb == "p":
            self.bad_verb(verb, arg)
            return
        if isinstance(arg, bool):
            self.fmt_bool(arg, verb)
        elif isinstance(arg, int):
            self.fmt_integer(arg, verb, arg)
        elif isinstance(arg, float):
            self.fmt_float(arg, verb)
        elif isinstance(arg, complex):
            self.fmt_complex(arg, verb)
        elif isinstance(arg, str):
            self.fmt_string(arg, verb, arg)
        elif isinstance(arg, (bytes, bytearray)):
            self.fmt_bytes(bytes(arg), verb)
        else:
            if self.handle_methods(arg, verb):
                return
            self.print_value(arg, verb, 0)

    def fmt_bytes(self, b: bytes, verb: str) -> None:
        if verb in "sq":
            self.fmt_string(b.decode("utf-8", "replace"), verb, b)
        elif verb == "x":
            self._sx(b, "0123456789abcdefx")
        elif verb == "X":
            self._sx(b, "0123456789ABCDEFX")
        elif verb in "vd":
            self.buf.append("[")
            for i, c in enumerate(b):
                if i:
                    self.buf.append(" ")
                self.fmt_integer(c, verb, c)
            self.buf.append("]")
        else:
            self.print_value(list(b), verb, 0)

    def print_value(self, value: Any, verb: str, depth: int) -> None:
        if depth > 0 and value is not None and value is not MISSING and self.handle_methods(value, verb):
            return
        k = kind(value)
        if k in ("invalid", "nil"):
            if depth == 0 and k == "invalid":
                self.buf.append("<invalid reflect.Value>")
            elif verb == "v":
                self.buf.append("<nil>")
            else:
                self.bad_verb(verb, None)
            return
        if k in ("bool", "int", "float", "complex", "string"):
            self.print_arg(value, verb)
            return
        if isinstance(value, (bytes, bytearray)):
            self.fmt_bytes(bytes(value), verb)
            return
        if k == "map":
            if self.sharp_v:
                self.buf.append(type_name(value) + "{")
            else:
                self.buf.append("map[")
            for i, (key, val) in enumerate(sorted_items(value)):
                if i > 0:
                    self.buf.append(", " if self.sharp_v else " ")
                self.print_value(key, verb, depth + 1)
                self.buf.append(":")
                self.print_value(val, verb, depth + 1)
            self.buf.append("}" if self.sharp_v else "]")
            return
        if k == "slice":
            if self.sharp_v:
                self.buf.append(type_name(value) + "{")
            else:
                self.buf.append("[")
            for i, el in enumerate(value):
                if i > 0:
                    self.buf.append(", " if self.sharp_v else " ")
                self.print_value(el, verb, depth + 1)
            self.buf.append("}" if self.sharp_v else "]")
            return
        if k == "struct" and is_struct(value):
            if self.sharp_v:
                self.buf.append(type_name(value))
            self.buf.append("{")
            for i, (name, val) in enumerate(struct_fields(value)):
                if i > 0:
                    self.buf.append(", " if self.sharp_v else " ")
                if self.plus_v or self.sharp_v:
                    self.buf.append(name + ":")
                self.print_value(val, verb, depth + 1)
            self.buf.append("}")
            return
        if k == "func":
            self.buf.append("0xc000010000")
            return
        self._s(str(value))


def _rune(v: int) -> str:
    if 0 <= v <= 0x10FFFF and not 0xD800 <= v < 0xE000:
        return chr(v)
    return "\ufffd"


def sprint(*args: Any) -> str:
    """fmt.Sprint: spaces between operands when neither side is a string."""
    p = _Printer()
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            p.buf.append(" ")
        p.print_arg(arg, "v")
        prev_string = is_string
    return "".join(p.buf)


def sprintln(*args: Any) -> str:
    """fmt.Sprintln: spaces between all operands and a trailing newline."""
    p = _Printer()
    for i, arg in enumerate(args):
        if i > 0:
            p.buf.append(" ")
        p.print_arg(arg, "v")
    p.buf.append("\n")
    return "".join(p.buf)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


_MAX_WIDTH = 1_000_000  # fmt's tooLarge: widths and precisions beyond this are refused


def _too_large(n: int) -> bool:
    return n > _MAX_WIDTH or n < -_MAX_WIDTH


def _parsenum(format: str, i: int) -> tuple[int | None, int]:
    """fmt's parsenum: ASCII digits at i → (number, next index); (None, i) if there are none.

    Like Go, a number that grows past 1e6 before its last digit is an overflow that swallows the
    rest of the format ((None, end) → "%!(NOVERB)"), so `%999999999d` cannot pad to gigabytes.
    """
    end = len(format)
    num: int | None = None
    while i < end and "0" <= format[i] <= "9":
        if num is not None and _too_large(num):
            return None, end
        num = (num or 0) * 10 + ord(format[i]) - 48
        i += 1
    return num, i


def sprintf(format: str, *args: Any) -> str:
    """fmt.Sprintf with Go's verbs, flags, argument indexes and error forms."""
    p = _Printer()
    buf = p.buf
    end = len(format)
    argnum = 0
    reordered = False
    i = 0
    while i < end:
        lasti = i
        while i < end and format[i] != "%":
            i += 1
        if i > lasti:
            buf.append(format[lasti:i])
        if i >= end:
            break
        i += 1  # skip %
        p.clear()
        while i < end:
            c = format[i]
            if c == "#":
                p.sharp = True
            elif c == "0":
                p.zero = not p.minus
            elif c == "+":
                p.plus = True
            elif c == "-":
                p.minus = True
                p.zero = False
            elif c == " ":
                p.space = True
            else:
                break
            i += 1
        good_argnum = True

        def arg_number(argnum: int, i: int) -> tuple[int, int, bool, bool]:
            # returns (argnum, i, found, ok)
            if i >= end or format[i] != "[":
                return argnum, i, False, True
            j = i + 1
            while j < end and format[j] != "]":
                j += 1
            if j >= end:
                return argnum, i + 1, True, False
            txt = format[i + 1 : j]
            if not txt.isdigit():
                return argnum, j + 1, True, False
            n = int(txt) - 1
            if n < 0 or n >= len(args):
                return argnum, j + 1, True, False
            return n, j + 1, True, True

        argnum, i, found, ok = arg_number(argnum, i)
        if found:
            reordered = True
            good_argnum = good_argnum and ok
        after_index = found
        # width
        if i < end and format[i] == "*":
            i += 1
            if argnum < len(args) and _is_int(args[argnum]) and not _too_large(args[argnum]):
                p.wid = args[argnum]
                if p.wid < 0:
                    p.minus = True
                    p.zero = False
                    p.wid = -p.wid
            else:
                buf.append("%!(BADWIDTH)")
            argnum += 1
            after_index = False
        else:
            wid, i = _parsenum(format, i)
            if wid is not None:
                p.wid = wid
                if after_index:
                    good_argnum = False
        # precision
        if i + 1 <= end and i < end and format[i] == ".":
            i += 1
            if after_index:
                good_argnum = False
            argnum, i, found, ok = arg_number(argnum, i)
            if found:
                reordered = True
                good_argnum = good_argnum and ok
            if i < end and format[i] == "*":
                i += 1
                if argnum < len(args) and _is_int(args[argnum]) and 0 <= args[argnum] <= _MAX_WIDTH:
                    p.prec = args[argnum]
                else:  # Go: a missing, non-int, negative or too large precision
                    buf.append("%!(BADPREC)")
                argnum += 1
                after_index = False
            else:
                prec, i = _parsenum(format, i)
                p.prec = prec or 0
        if not after_index:
            argnum, i, found, ok = arg_number(argnum, i)
            if found:
                reordered = True
                good_argnum = good_argnum and ok
        if i >= end:
            buf.append("%!(NOVERB)")
            break
        verb = format[i]
        i += 1
        if verb == "%":
            buf.append("%")
        elif not good_argnum:
            buf.append("%!" + verb + "(BADINDEX)")
        elif argnum >= len(args):
            buf.append("%!" + verb + "(MISSING)")
        else:
            if verb == "v":
                p.sharp_v = p.sharp
                p.sharp = False
                p.plus_v = p.plus
                p.plus = False
            p.print_arg(args[argnum], verb)
            argnum += 1
    if not reordered and argnum < len(args):
        p.clear()
        buf.append("%!(EXTRA ")
        for j, arg in enumerate(args[argnum:]):
            if j > 0:
                buf.append(", ")
            if arg is None or arg is MISSING:
                buf.append("<nil>")
            else:
                buf.append(type_name(arg) + "=")
                p.print_arg(arg, "v")
        buf.append(")")
    return "".join(buf)


__all__ = ["GoSlice", "can_backquote", "format_float", "quote", "sprint", "sprintf", "sprintln"]
