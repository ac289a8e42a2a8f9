"""A port of Knetic/govaluate (v3), the expression language of Argo Events `exprs` filters.

Sensors copied from upstream rely on govaluate's exact behaviour: every number is a float64,
`=~`/`!~` are unanchored RE2 searches, `in` wants a parenthesised list, type errors read "Value 'x'
cannot be used with the comparator '>', it is not a number", and `body.ref` is an *accessor*
(rejected: "Unable to access unexported field"). No Python implementation exists, so this module
ports the lexer (parsing.go), the syntax check (lexerState.go), the stage planner including its
right-recursive planning and `reorderStages` mirroring (stagePlanner.go), and the operators and
type checks (evaluationStage.go). No functions are registered, as in Argo.

Not exact: date literals are read in UTC (govaluate uses the local zone) and only the RFC 3339 /
ISO 8601 formats are recognised (not ANSIC, UnixDate, RubyDate, Kitchen); regex error texts are
translated from RE2's to Go's codes, but the quoted fragment is RE2's.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tagpilot.errors import TagpilotError
from tagpilot.gotemplate.gofmt import sprintf
from tagpilot.regex import RegexError, compile_regex


class ExprError(TagpilotError):
    """A govaluate expression failed to parse or evaluate; the message is govaluate's own."""


# token kinds (TokenKind.String())
UNKNOWN, PREFIX, NUMERIC, BOOLEAN, STRING, PATTERN, TIME, VARIABLE, FUNCTION, SEPARATOR, ACCESSOR, \
    COMPARATOR, LOGICALOP, MODIFIER, CLAUSE, CLAUSE_CLOSE, TERNARY = (
        "UNKNOWN", "PREFIX", "NUMERIC", "BOOLEAN", "STRING", "PATTERN", "TIME", "VARIABLE", "FUNCTION",
        "SEPARATOR", "ACCESSOR", "COMPARATOR", "LOGICALOP", "MODIFIER", "CLAUSE", "CLAUSE_CLOSE",
        "TERNARY")

_PREFIX_SYMBOLS = {"-": "NEGATE", "!": "INVERT", "~": "BITWISE_NOT"}
_MODIFIER_SYMBOLS = {"+": "PLUS", "-": "MINUS", "*": "MULTIPLY", "/": "DIVIDE", "%": "MODULUS",
                     "**": "EXPONENT", "&": "BITWISE_AND", "|": "BITWISE_OR", "^": "BITWISE_XOR",
                     ">>": "BITWISE_RSHIFT", "<<": "BITWISE_LSHIFT"}
_LOGICAL_SYMBOLS = {"&&": "AND", "||": "OR"}
_COMPARATOR_SYMBOLS = {"==": "EQ", "!=": "NEQ", ">": "GT", ">=": "GTE", "<": "LT", "<=": "LTE",
                       "=~": "REQ", "!~": "NREQ", "in": "IN"}
_TERNARY_SYMBOLS = {"?": "TERNARY_TRUE", ":": "TERNARY_FALSE", "??": "COALESCE"}

# OperatorSymbol.String()
_SYMBOL_TEXT = {"EQ": "=", "NEQ": "!=", "GT": ">", "LT": "<", "GTE": ">=", "LTE": "<=", "REQ": "=~",
                "NREQ": "!~", "AND": "&&", "OR": "||", "IN": "in", "BITWISE_AND": "&", "BITWISE_OR": "|",
                "BITWISE_XOR": "^", "BITWISE_LSHIFT": "<<", "BITWISE_RSHIFT": ">>", "PLUS": "+",
                "MINUS": "-", "MULTIPLY": "*", "DIVIDE": "/", "MODULUS": "%", "EXPONENT": "**",
                "NEGATE": "-", "INVERT": "!", "BITWISE_NOT": "~", "TERNARY_TRUE": "?",
                "TERNARY_FALSE": ":", "COALESCE": "??", "SEPARATE": ",", "VALUE": "VALUE",
                "LITERAL": "LITERAL", "NOOP": "NOOP", "ACCESS": "ACCESS"}

_LOGICAL_FMT = "Value '%v' cannot be used with the logical operator '%v', it is not a bool"
_MODIFIER_FMT = "Value '%v' cannot be used with the modifier '%v', it is not a number"
_COMPARATOR_FMT = "Value '%v' cannot be used with the comparator '%v', it is not a number"
_TERNARY_FMT = "Value '%v' cannot be used with the ternary operator '%v', it is not a bool"
_PREFIX_FMT = "Value '%v' cannot be used with the prefix '%v'"

# lexerState.go: which token kind may follow which, and which kinds may end an expression
_ALL_VALUES = [NUMERIC, BOOLEAN, VARIABLE, PATTERN, FUNCTION, ACCESSOR, STRING, TIME, CLAUSE]
_STATES: dict[str, tuple[bool, list[str]]] = {
    UNKNOWN: (False, [PREFIX, *_ALL_VALUES]),
    CLAUSE: (False, [PREFIX, *_ALL_VALUES, CLAUSE_CLOSE]),
    CLAUSE_CLOSE: (True, [COMPARATOR, MODIFIER, NUMERIC, BOOLEAN, VARIABLE, STRING, PATTERN, TIME, CLAUSE,
                          CLAUSE_CLOSE, LOGICALOP, TERNARY, SEPARATOR]),
    NUMERIC: (True, [MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR]),
    BOOLEAN: (True, [MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR]),
    STRING: (True, [MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR]),
    TIME: (True, [MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, SEPARATOR]),
    PATTERN: (True, [MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, SEPARATOR]),
    VARIABLE: (True, [MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR]),
    MODIFIER: (False, [PREFIX, NUMERIC, VARIABLE, FUNCTION, ACCESSOR, STRING, BOOLEAN, CLAUSE, CLAUSE_CLOSE]),
    COMPARATOR: (False, [PREFIX, NUMERIC, BOOLEAN, VARIABLE, FUNCTION, ACCESSOR, STRING, TIME, CLAUSE,
                         CLAUSE_CLOSE, PATTERN]),
    LOGICALOP: (False, [PREFIX, NUMERIC, BOOLEAN, VARIABLE, FUNCTION, ACCESSOR, STRING, TIME, CLAUSE,
                        CLAUSE_CLOSE]),
    PREFIX: (False, [NUMERIC, BOOLEAN, VARIABLE, FUNCTION, ACCESSOR, CLAUSE, CLAUSE_CLOSE]),
    TERNARY: (False, [PREFIX, NUMERIC, BOOLEAN, STRING, TIME, VARIABLE, FUNCTION, ACCESSOR, CLAUSE,
                      SEPARATOR]),
    FUNCTION: (False, [CLAUSE]),
    ACCESSOR: (True, [CLAUSE, MODIFIER, COMPARATOR, LOGICALOP, CLAUSE_CLOSE, TERNARY, SEPARATOR]),
    SEPARATOR: (False, [PREFIX, NUMERIC, BOOLEAN, STRING, TIME, VARIABLE, FUNCTION, ACCESSOR, CLAUSE]),
}


@dataclass
class Token:
    kind: str
    value: Any


def gov(value: Any) -> str:
    """fmt's %v of a govaluate value (float64 shortest %g, <nil>, [a b], map[k:v])."""
    if isinstance(value, _Pattern):
        return value.source
    return sprintf("%v", value)


class _Pattern:
    """A constant regex after `=~` / `!~`, compiled at parse time like optimizeTokens does."""

    def __init__(self, source: str, compiled: Any) -> None:
        self.source = source
        self.compiled = compiled


# ---------------------------------------------------------------- lexer (parsing.go)

# Go's unicode.IsDigit is the Nd category, which is Python's isdecimal (isdigit also admits
# superscripts and other No digits).
def _is_numeric(ch: str) -> bool:
    return ch.isdecimal() or ch == "."


def _is_hex_digit(ch: str) -> bool:
    return ch.isdecimal() or ch in "abcdefABCDEF"


def _is_letter(ch: str) -> bool:
    return ch.isalpha()


def _is_variable_name(ch: str) -> bool:
    return ch.isalpha() or ch.isdecimal() or ch == "_" or ch == "."


def _is_not_quote(ch: str) -> bool:
    return ch not in "'\""


def _is_not_alphanumeric(ch: str) -> bool:
    return not (ch.isdecimal() or ch.isalpha() or ch in "()[]" or not _is_not_quote(ch))


class _Stream:
    def __init__(self, text: str) -> None:
        self.s = text
        self.pos = 0

    def can_read(self) -> bool:
        return self.pos < len(self.s)

    def read(self) -> str:
        ch = self.s[self.pos]
        self.pos += 1
        return ch


def _read_until_false(st: _Stream, include_ws: bool, break_ws: bool, cond: Callable[[str], bool]
                      ) -> tuple[str, bool]:
    buf: list[str] = []
    conditioned = False
    while st.can_read():
        ch = st.read()
        if ch == "\\":  # backslash escapes anything
            if not st.can_read():
                break
            buf.append(st.read())
            continue
        if ch.isspace():
            if break_ws and buf:
                conditioned = True
                break
            if not include_ws:
                continue
        if cond(ch):
            buf.append(ch)
        else:
            conditioned = True
            st.pos -= 1
            break
    return "".join(buf), conditioned


def _read_token_until_false(st: _Stream, cond: Callable[[str], bool]) -> str:
    st.pos -= 1
    return _read_until_false(st, False, True, cond)[0]


_TIME_FORMATS = (
    ("%Y-%m-%d", False), ("%Y-%m-%d %H:%M", False), ("%Y-%m-%d %H:%M:%S", False),
    ("%Y-%m-%d %H:%M:%S%z", True), ("%Y-%m-%dT%H%z", True), ("%Y-%m-%dT%H:%M%z", True),
    ("%Y-%m-%dT%H:%M:%S%z", True), ("%Y-%m-%dT%H:%M:%S.%f%z", True),
)


def _try_parse_time(s: str) -> float | None:
    """tryParseTime, restricted to the RFC 3339 / ISO 8601 layouts; the unix time as float64."""
    if not (len(s) >= 10 and s[:4].isdigit() and s[4] == "-" and s[7] == "-"):
        return None
    cand = s[:-1] + "+0000" if s.endswith("Z") else s
    for fmt, _ in _TIME_FORMATS:
        try:
            t = _dt.datetime.strptime(cand, fmt)
        except ValueError:
            continue
        if t.tzinfo is None:
            t = t.replace(tzinfo=_dt.UTC)
        return float(math.floor(t.timestamp()))
    return None


def _read_number(st: _Stream, first: str) -> Token:
    """A numeric literal; `first` was just read. `0x` starts a hexadecimal one, as in govaluate.

    Quirks kept from upstream: the `x` only counts when something follows it (a trailing `0x` is
    the number 0 then the variable `x`), blanks between `0x` and the digits are skipped, and the
    hex digits stop at the first non-hex character (`0x1.1` is 1 followed by .1).
    """
    if first == "0" and st.can_read():
        if st.read() == "x" and st.can_read():
            digits, _ = _read_until_false(st, False, True, _is_hex_digit)
            value = _parse_uint(digits, 16)
            if value is None:
                raise ExprError(f"Unable to parse hex value '{digits}' to uint64\n")
            return Token(NUMERIC, float(value))
        st.pos -= 1
    text = _read_token_until_false(st, _is_numeric)
    if text.isascii() and any(c.isdigit() for c in text) and text.count(".") <= 1:
        return Token(NUMERIC, float(text))
    raise ExprError(f"Unable to parse numeric value '{text}' to float64\n")


def _parse_uint(digits: str, base: int) -> int | None:
    """strconv.ParseUint(digits, base, 64): ASCII digits only, no sign, no underscores, < 2**64."""
    if not digits or not digits.isascii() or not digits.isalnum():
        return None
    try:
        value = int(digits, base)
    except ValueError:
        return None
    return value if value < 1 << 64 else None


def _read_token(st: _Stream, state: str) -> tuple[Token | None]:
    while st.can_read():
        ch = st.read()
        if ch.isspace():
            continue
        if _is_numeric(ch):
            return (_read_number(st, ch),)
        if ch == ",":
            return (Token(SEPARATOR, ","),)
        if ch == "[":
            text, completed = _read_until_false(st, True, False, lambda c: c != "]")
            if not completed:
                raise ExprError("Unclosed parameter bracket")
            st.pos += 1
            return (Token(VARIABLE, text),)
        if _is_letter(ch):
            text = _read_token_until_false(st, _is_variable_name)
            kind, value = VARIABLE, text
            if text == "true":
                kind, value = BOOLEAN, True
            elif text == "false":
                kind, value = BOOLEAN, False
            if text in ("in", "IN"):
                kind, value = COMPARATOR, "in"
            if text.find(".") > 0:
                if text.endswith("."):
                    raise ExprError(f"Hanging accessor on token '{text}'")
                splits = text.split(".")
                for part in splits[1:]:
                    first = part[:1]
                    if first.upper() != first:
                        raise ExprError(f"Unable to access unexported field '{part}' in token '{text}'")
                kind, value = ACCESSOR, splits
            return (Token(kind, value),)
        if not _is_not_quote(ch):
            text, completed = _read_until_false(st, True, False, _is_not_quote)
            if not completed:
                raise ExprError("Unclosed string literal")
            st.pos += 1
            t = _try_parse_time(text)
            return (Token(TIME, t) if t is not None else Token(STRING, text),)
        if ch == "(":
            return (Token(CLAUSE, "("),)
        if ch == ")":
            return (Token(CLAUSE_CLOSE, ")"),)
        text = _read_token_until_false(st, _is_not_alphanumeric)
        if PREFIX in _STATES[state][1] and text in _PREFIX_SYMBOLS:
            return (Token(PREFIX, text),)
        for kind, table in ((MODIFIER, _MODIFIER_SYMBOLS), (LOGICALOP, _LOGICAL_SYMBOLS),
                            (COMPARATOR, _COMPARATOR_SYMBOLS), (TERNARY, _TERNARY_SYMBOLS)):
            if text in table:
                return (Token(kind, text),)
        raise ExprError(f"Invalid token: '{text}'")
    return (None,)


def _token_text(tok: Token | None) -> str:
    if tok is None:
        return "<nil>"
    if tok.kind in (CLAUSE, CLAUSE_CLOSE):
        return str(ord(tok.value))  # a rune prints as its number with %v
    if tok.kind == ACCESSOR:
        return "[" + " ".join(tok.value) + "]"
    return gov(tok.value)


# RE2's error texts → Go regexp/syntax's ErrorCode texts (the rest are spelled the same).
_GO_REGEXP_CODES = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid named capture group": "invalid named capture",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "trailing \\": "trailing backslash at end of expression",
}


def _go_regexp_error(detail: str, pattern: str) -> str:
    """Go's `*syntax.Error` text (`error parsing regexp: CODE: `ARG``) from RE2's `CODE: ARG`."""
    code, sep, arg = detail.partition(": ")
    if code in _GO_REGEXP_CODES:
        return f"error parsing regexp: {_GO_REGEXP_CODES[code]}: `{arg}`"
    return f"error parsing regexp: {code}: `{arg if sep else pattern}`"


def tokenize(expression: str) -> list[Token]:
    """parseTokens + checkBalance + checkExpressionSyntax + optimizeTokens."""
    st = _Stream(expression)
    tokens: list[Token] = []
    state = UNKNOWN
    while st.can_read():
        (tok,) = _read_token(st, state)
        if tok is None:
            break
        state = tok.kind
        tokens.append(tok)
    depth = sum(1 if t.kind == CLAUSE else -1 if t.kind == CLAUSE_CLOSE else 0 for t in tokens)
    if depth != 0:
        raise ExprError("Unbalanced parenthesis")
    state, last = UNKNOWN, None
    for tok in tokens:
        if tok.kind not in _STATES[state][1]:
            if last is not None and last.kind == VARIABLE and tok.kind == CLAUSE:
                raise ExprError("Undefined function " + last.value)
            raise ExprError(f"Cannot transition token types from {state} [{_token_text(last)}] "
                            f"to {tok.kind} [{_token_text(tok)}]")
        state, last = tok.kind, tok
    if not _STATES[state][0]:
        raise ExprError("Unexpected end of expression")
    for i, tok in enumerate(tokens):
        if tok.kind == COMPARATOR and tok.value in ("=~", "!~") and i + 1 < len(tokens) \
                and tokens[i + 1].kind == STRING:
            src = tokens[i + 1].value
            try:
                tokens[i + 1] = Token(PATTERN, _Pattern(src, compile_regex(src)))
            except RegexError as e:
                raise ExprError(_go_regexp_error(e.detail, src)) from None
    return tokens


# ---------------------------------------------------------------- planner (stagePlanner.go)

_PRECEDENCE = {"NOOP": 0, "VALUE": 1, "LITERAL": 1, "FUNCTIONAL": 2, "ACCESS": 2, "PREFIX": 3,
               "EXPONENT": 4, "MULTIPLY": 5, "DIVIDE": 5, "MODULUS": 5, "PLUS": 6, "MINUS": 6,
               "BITWISE_LSHIFT": 7, "BITWISE_RSHIFT": 7, "BITWISE_AND": 8, "BITWISE_OR": 8,
               "BITWISE_XOR": 8, "EQ": 9, "NEQ": 9, "GT": 9, "LT": 9, "GTE": 9, "LTE": 9, "REQ": 9,
               "NREQ": 9, "IN": 9, "AND": 10, "OR": 11, "TERNARY_TRUE": 12, "TERNARY_FALSE": 12,
               "COALESCE": 12, "SEPARATE": 13, "NEGATE": 3, "INVERT": 3, "BITWISE_NOT": 3}


class Stage:
    """One evaluation stage: an operator symbol with optional left and right stages."""

    __slots__ = ("error_format", "left", "right", "symbol", "value")

    def __init__(self, symbol: str, left: Stage | None = None, right: Stage | None = None,
                 value: Any = None, error_format: str = "") -> None:
        self.symbol = symbol
        self.left = left
        self.right = right
        self.value = value
        self.error_format = error_format

    def swap_with(self, other: Stage) -> None:
        for attr in ("symbol", "value", "error_format"):
            a, b = getattr(self, attr), getattr(other, attr)
            setattr(self, attr, b)
            setattr(other, attr, a)


class _TokStream:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    def has_next(self) -> bool:
        return self.i < len(self.tokens)

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def rewind(self) -> None:
        self.i -= 1


_Planner = Callable[[_TokStream], "Stage | None"]

# (symbols, token kinds, error format, next (left/right) precedent, nextRight)
_LEVELS: dict[str, tuple[dict[str, str], str, str, str | None, str | None]] = {
    "prefix": (_PREFIX_SYMBOLS, PREFIX, _PREFIX_FMT, None, "function"),
    "exponential": ({"**": "EXPONENT"}, MODIFIER, _MODIFIER_FMT, "function", None),
    "multiplicative": ({"*": "MULTIPLY", "/": "DIVIDE", "%": "MODULUS"}, MODIFIER, _MODIFIER_FMT,
                       "exponential", None),
    "additive": ({"+": "PLUS", "-": "MINUS"}, MODIFIER, _MODIFIER_FMT, "multiplicative", None),
    "shift": ({"<<": "BITWISE_LSHIFT", ">>": "BITWISE_RSHIFT"}, MODIFIER, _MODIFIER_FMT, "additive", None),
    "bitwise": ({"&": "BITWISE_AND", "|": "BITWISE_OR", "^": "BITWISE_XOR"}, MODIFIER, _MODIFIER_FMT,
                "shift", None),
    "comparator": (_COMPARATOR_SYMBOLS, COMPARATOR, _COMPARATOR_FMT, "bitwise", None),
    "and": ({"&&": "AND"}, LOGICALOP, _LOGICAL_FMT, "comparator", None),
    "or": ({"||": "OR"}, LOGICALOP, _LOGICAL_FMT, "and", None),
    "ternary": (_TERNARY_SYMBOLS, TERNARY, _TERNARY_FMT, "or", None),
    "separator": ({",": "SEPARATE"}, SEPARATOR, "", "ternary", None),
}


def _plan_level(name: str, stream: _TokStream) -> Stage | None:
    symbols, kind, fmt, nxt, next_right = _LEVELS[name]
    left = _plan(nxt, stream) if nxt else None
    if stream.has_next():
        tok = stream.next()
        if tok.kind == kind and isinstance(tok.value, str) and tok.value in symbols:
            right = _plan(next_right or name, stream)
            return Stage(symbols[tok.value], left, right, error_format=fmt)
        stream.rewind()
    return left


def _plan(name: str, stream: _TokStream) -> Stage | None:
    if name == "function":
        return _plan_accessor(stream)
    return _plan_level(name, stream)


def _plan_tokens(stream: _TokStream) -> Stage | None:
    if not stream.has_next():
        return None
    return _plan_level("separator", stream)


def _plan_accessor(stream: _TokStream) -> Stage | None:
    if not stream.has_next():
        return None
    tok = stream.next()
    if tok.kind != ACCESSOR:
        stream.rewind()
        return _plan_value(stream)
    right = None
    if stream.has_next():
        other = stream.next()
        stream.rewind()
        if other.kind == CLAUSE:
            right = _plan_tokens(stream)
    return Stage("ACCESS", None, right, value=tok.value)


def _plan_value(stream: _TokStream) -> Stage | None:
    if not stream.has_next():
        return None
    tok = stream.next()
    if tok.kind == CLAUSE:
        inner = _plan_tokens(stream)
        if stream.has_next():
            stream.next()  # the CLAUSE_CLOSE (balance was checked when lexing)
        return Stage("NOOP", None, inner)
    if tok.kind == CLAUSE_CLOSE:
        stream.rewind()
        return None
    if tok.kind == VARIABLE:
        return Stage("VALUE", value=tok.value)
    if tok.kind in (NUMERIC, STRING, PATTERN, BOOLEAN, TIME):
        return Stage("LITERAL", value=tok.value)
    if tok.kind == PREFIX:
        stream.rewind()
        return _plan_level("prefix", stream)
    raise ExprError(f"Unable to plan token kind: '{tok.kind}', value: '{_token_text(tok)}'")


def _reorder(root: Stage | None) -> None:
    """reorderStages: make runs of same-precedence operators left-associative, govaluate's way."""
    if root is None:
        return
    identical: list[Stage] = []
    nxt: Stage | None = root
    precedence = _PRECEDENCE.get(root.symbol, 1)
    while nxt is not None:
        cur = nxt
        nxt = cur.right
        if cur.left is not None:
            _reorder(cur.left)
        cur_prec = _PRECEDENCE.get(cur.symbol, 1)
        if cur_prec == precedence:
            identical.append(cur)
            continue
        if len(identical) > 1:
            _mirror(identical)
        identical = [cur]
        precedence = cur_prec
    if len(identical) > 1:
        _mirror(identical)


def _mirror(stages: list[Stage]) -> None:
    n = len(stages)
    for st in stages:
        st.left, st.right = st.right, st.left
    root, front = stages[0], stages[n - 1]
    carry = front.left
    front.left = root.right
    root.right = carry
    for i in range((n - 2) // 2 + 1):
        front, inverse = stages[i + 1], stages[n - i - 1]
        front.right, inverse.right = inverse.right, front.right
    for i in range(n // 2):
        stages[i].swap_with(stages[n - i - 1])


# ---------------------------------------------------------------- evaluation (evaluationStage.go)

def _is_float(v: Any) -> bool:
    return isinstance(v, float)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_string(v: Any) -> bool:
    return isinstance(v, str)


def _is_regex_or_string(v: Any) -> bool:
    return isinstance(v, (str, _Pattern))


def _is_array(v: Any) -> bool:
    return isinstance(v, list)


def _comparator_check(left: Any, right: Any) -> bool:
    return (_is_float(left) and _is_float(right)) or (_is_string(left) and _is_string(right))


def _addition_check(left: Any, right: Any) -> bool:
    if _is_float(left) and _is_float(right):
        return True
    return _is_string(left) or _is_string(right)


_CheckFn = Callable[[Any], bool] | None
_TYPE_CHECKS: dict[str, tuple[_CheckFn, _CheckFn, Callable[[Any, Any], bool] | None]] = {
    **dict.fromkeys(("GT", "LT", "GTE", "LTE"), (None, None, _comparator_check)),
    **dict.fromkeys(("REQ", "NREQ"), (_is_string, _is_regex_or_string, None)),
    **dict.fromkeys(("AND", "OR"), (_is_bool, _is_bool, None)),
    "IN": (None, _is_array, None),
    **dict.fromkeys(("BITWISE_LSHIFT", "BITWISE_RSHIFT", "BITWISE_OR", "BITWISE_AND", "BITWISE_XOR",
                     "MINUS", "MULTIPLY", "DIVIDE", "MODULUS", "EXPONENT"), (_is_float, _is_float, None)),
    "PLUS": (None, None, _addition_check),
    "NEGATE": (None, _is_float, None),
    "INVERT": (None, _is_bool, None),
    "BITWISE_NOT": (None, _is_float, None),
    "TERNARY_TRUE": (_is_bool, None, None),
}


def _deep_equal(a: Any, b: Any) -> bool:
    """reflect.DeepEqual over float64 / string / bool / nil / []interface{} / map[string]interface{}."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, _Pattern):
        return a.source == b.source
    return bool(a == b)


def _to_int64(f: float) -> int:
    if not math.isfinite(f) or not -(2**63) <= f < 2**63:
        return -(2**63)  # what amd64 yields for an out-of-range conversion
    return int(f)


def _to_uint64(f: float) -> int:
    if not math.isfinite(f) or not -(2**63) <= f < 2**64:
        return 2**63
    return int(f) % 2**64


def _div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _mod(a: float, b: float) -> float:
    if b == 0 or not math.isfinite(a) or b != b:
        return math.nan
    if math.isinf(b):
        return a
    return math.fmod(a, b)


def _pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return math.inf if a > 0 or (float(b).is_integer() and int(b) % 2 == 0) else -math.inf
    except ValueError:
        if a == 0 and b < 0:
            return math.inf
        return math.nan


def _regex(left: Any, right: Any) -> bool:
    if isinstance(right, _Pattern):
        pattern = right.compiled
    else:
        try:
            pattern = compile_regex(right)
        except RegexError as e:
            raise ExprError(f"Unable to compile regexp pattern '{right}': error parsing regexp: "
                            f"{e.detail}") from None
    return pattern.search(left) is not None


def _in(left: Any, right: list[Any]) -> bool:
    return any(type(v) is type(left) and not isinstance(v, (list, dict)) and v == left for v in right)


def _separate(left: Any, right: Any) -> list[Any]:
    if isinstance(left, list):
        return [*left, right]
    return [left, right]


def _cmp(op: str, a: Any, b: Any) -> bool:
    if op == "GT":
        return bool(a > b)
    if op == "LT":
        return bool(a < b)
    if op == "GTE":
        return bool(a >= b)
    return bool(a <= b)


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "PLUS": lambda a, b: sprintf("%v%v", a, b) if _is_string(a) or _is_string(b) else a + b,
    "MINUS": lambda a, b: a - b,
    "MULTIPLY": lambda a, b: a * b,
    "DIVIDE": _div,
    "MODULUS": _mod,
    "EXPONENT": _pow,
    "BITWISE_AND": lambda a, b: float(_to_int64(a) & _to_int64(b)),
    "BITWISE_OR": lambda a, b: float(_to_int64(a) | _to_int64(b)),
    "BITWISE_XOR": lambda a, b: float(_to_int64(a) ^ _to_int64(b)),
    "BITWISE_LSHIFT": lambda a, b: float((_to_uint64(a) << _to_uint64(b)) % 2**64 if _to_uint64(b) < 64 else 0),
    "BITWISE_RSHIFT": lambda a, b: float(_to_uint64(a) >> _to_uint64(b) if _to_uint64(b) < 64 else 0),
    "EQ": lambda a, b: _deep_equal(a, b),
    "NEQ": lambda a, b: not _deep_equal(a, b),
    "GT": lambda a, b: _cmp("GT", a, b),
    "LT": lambda a, b: _cmp("LT", a, b),
    "GTE": lambda a, b: _cmp("GTE", a, b),
    "LTE": lambda a, b: _cmp("LTE", a, b),
    "REQ": _regex,
    "NREQ": lambda a, b: not _regex(a, b),
    "AND": lambda a, b: a and b,
    "OR": lambda a, b: a or b,
    "IN": _in,
    "NEGATE": lambda a, b: -b,
    "INVERT": lambda a, b: not b,
    "BITWISE_NOT": lambda a, b: float(~_to_int64(b)),
    "TERNARY_TRUE": lambda a, b: b if a is True else None,
    "TERNARY_FALSE": lambda a, b: a if a is not None else b,
    "COALESCE": lambda a, b: a if a is not None else b,
    "SEPARATE": _separate,
    "NOOP": lambda a, b: b,
}

_SHORT = object()


def _sanitize(value: Any) -> Any:
    """sanitizedParameters: every Go number kind becomes float64."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float(value)


def _type_error(fmt: str, value: Any, symbol: str) -> ExprError:
    return ExprError(fmt.replace("%v", gov(value), 1).replace("%v", _SYMBOL_TEXT.get(symbol, symbol), 1))


def _evaluate(stage: Stage, params: Mapping[str, Any]) -> Any:
    left = right = None
    if stage.left is not None:
        left = _evaluate(stage.left, params)
    sym = stage.symbol
    if sym == "AND" and left is False:
        return False
    if sym == "OR" and left is True:
        return True
    if sym == "COALESCE" and left is not None:
        return left
    if (sym == "TERNARY_TRUE" and left is False) or (sym == "TERNARY_FALSE" and left is not None):
        right = _SHORT
    if right is not _SHORT and stage.right is not None:
        right = _evaluate(stage.right, params)
    if sym == "LITERAL":
        return stage.value
    if sym == "VALUE":
        if stage.value not in params:
            raise ExprError(f"No parameter '{stage.value}' found.")
        return _sanitize(params[stage.value])
    if sym == "ACCESS":
        names = stage.value
        if names[0] not in params:
            raise ExprError(f"No parameter '{names[0]}' found.")
        raise ExprError(f"Unable to access '{names[1]}', '{names[0]}' is not a struct")
    checks = _TYPE_CHECKS.get(sym)
    if checks is not None:
        lcheck, rcheck, combined = checks
        if combined is None:
            if lcheck is not None and not lcheck(left):
                raise _type_error(stage.error_format, left, sym)
            if rcheck is not None and right is not _SHORT and not rcheck(right):
                raise _type_error(stage.error_format, right, sym)
        elif not combined(left, right):
            raise _type_error(stage.error_format, left, sym)
    if right is _SHORT:
        return None if sym == "TERNARY_TRUE" else left
    return _BINARY[sym](left, right)


class Expression:
    """A parsed govaluate expression (EvaluableExpression)."""

    def __init__(self, text: str, stage: Stage | None) -> None:
        self.text = text
        self._stage = stage

    def evaluate(self, parameters: Mapping[str, Any] | None = None) -> Any:
        """Evaluate with named parameters; raises ExprError with govaluate's message."""
        if self._stage is None:
            return None
        try:
            return _evaluate(self._stage, parameters or {})
        except RecursionError:
            raise ExprError("expression nested too deeply") from None

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def parse(expression: str) -> Expression:
    """NewEvaluableExpression: lex, check syntax, compile constant regexes, plan stages."""
    try:
        tokens = tokenize(expression)
        stage = _plan_tokens(_TokStream(tokens))
        _reorder(stage)
    except RecursionError:
        raise ExprError("expression nested too deeply") from None
    return Expression(expression, stage)


__all__ = ["ExprError", "Expression", "parse", "tokenize"]
