"""The subset of expr-lang (github.com/expr-lang/expr) that argocd-notifications conditions use.

argocd-notifications evaluates a trigger's `when` and `oncePer` with expr-lang, a different language
from govaluate (`expr/govaluate.py`, Argo Events): `and`/`or`/`not` words, `in` over arrays and maps,
`matches`/`contains`/`startsWith`/`endsWith`, optional chaining `?.`, `??`, the ternary, array
literals, member and method calls (`time.Now().Sub(t).Minutes()`), and builtins with closures
(`all(list, {# > 1})`, `filter`, `map`, `any`, `none`, `one`, `len`). No Python implementation
exists, so this module implements that subset against expr-lang's runtime rules:

- a missing map key is nil; fetching from nil fails with "cannot fetch <key> from <nil>" unless the
  access is optional (`?.`), which yields nil for the rest of the chain;
- `==` compares numbers by value across int and float, everything else by deep equality;
- `and`/`or` need bools ("interface conversion" otherwise), `/` always gives a float.

Pure: the environment (including `time`, whose `Now()` is bound to a given instant) is passed in.
Not supported (parse error naming the token): pipes `|`, `let`, pointer `.` outside closures, ranges
`..`, slices `[a:b]`, map literals.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tagpilot.errors import TagpilotError
from tagpilot.regex import RegexError, compile_regex


class ExprLangError(TagpilotError):
    """An expression failed to parse or evaluate; the message names the position (line:column)."""


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>0[xX][0-9a-fA-F_]+|\d[\d_]*\.\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*[eE][+-]?\d+|\d[\d_]*)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>\?\.|\?\?|==|!=|<=|>=|&&|\|\||\*\*|\.\.|[-+*/%<>!?:.,()\[\]{}\#|^])
""", re.VERBOSE)

_WORD_OPS = {"and", "or", "not", "in", "matches", "contains", "startsWith", "endsWith"}
_BINARY = {  # precedence, right associative
    "or": (10, False), "||": (10, False), "and": (15, False), "&&": (15, False),
    "==": (20, False), "!=": (20, False), "<": (20, False), ">": (20, False), "<=": (20, False),
    ">=": (20, False), "in": (20, False), "not in": (20, False), "matches": (20, False),
    "contains": (20, False), "startsWith": (20, False), "endsWith": (20, False),
    "+": (30, False), "-": (30, False), "*": (60, False), "/": (60, False), "%": (60, False),
    "**": (100, True), "^": (100, True), "??": (500, False),
}
_UNARY_PRECEDENCE = 50
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}


@dataclass
class _Tok:
    kind: str  # num, str, name, op, eof
    text: str
    pos: int


def _position(src: str, pos: int) -> str:
    line = src.count("\n", 0, pos) + 1
    col = pos - (src.rfind("\n", 0, pos) + 1) + 1
    return f"({line}:{col})"


def _unquote(text: str) -> str:
    if text[0] == "`":
        return text[1:-1]
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt in "uU" or nxt == "x":
                width = {"x": 2, "u": 4, "U": 8}[nxt]
                out.append(chr(int(body[i + 2:i + 2 + width], 16)))
                i += 2 + width
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _tokens(src: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise ExprLangError(f"unexpected token {src[pos]!r} {_position(src, pos)}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    out.append(_Tok("eof", "", len(src)))
    return out


# --- AST: tuples (op, ...) with a position ---------------------------------------------------------

@dataclass
class Node:
    op: str
    args: tuple[Any, ...]
    pos: int


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.toks = _tokens(src)
        self.i = 0
        self.closure_depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def next(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def error(self, tok: _Tok, what: str | None = None) -> ExprLangError:
        text = what or (f"unexpected token {tok.text!r}" if tok.kind != "eof" else "unexpected end of expression")
        return ExprLangError(f"{text} {_position(self.src, tok.pos)}")

    def expect(self, text: str) -> _Tok:
        tok = self.next()
        if tok.text != text or tok.kind == "str":
            raise self.error(tok, f"expected {text!r}, got {tok.text or 'end of expression'!r}")
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "eof":
            raise self.error(self.peek())
        node = self.expression()
        if self.peek().kind != "eof":
            raise self.error(self.peek())
        return node

    def expression(self, min_prec: int = 0) -> Node:
        left = self.unary()
        while True:
            tok = self.peek()
            op = tok.text if tok.kind in ("op", "name") else ""
            if op == "not" and self.toks[self.i + 1].text == "in":
                op = "not in"
            if op == "?" and min_prec == 0:
                self.next()
                yes = self.expression()
                self.expect(":")
                no = self.expression()
                left = Node("?:", (left, yes, no), tok.pos)
                continue
            if op in ("|", "..") :
                raise self.error(tok, f"{op!r} is not supported by tagpilot's expr-lang subset")
            if op not in _BINARY or (tok.kind == "name" and op.split()[0] not in _WORD_OPS):
                return left
            prec, right_assoc = _BINARY[op]
            if prec < min_prec or (prec == min_prec and not right_assoc):
                return left
            self.next()
            if op == "not in":
                self.next()
            right = self.expression(prec if right_assoc else prec + 1)
            left = Node("bin", (op, left, right), tok.pos)

    def unary(self) -> Node:
        tok = self.peek()
        if tok.text in ("not", "!", "-", "+") and tok.kind in ("op", "name"):
            self.next()
            operand = self.expression(_UNARY_PRECEDENCE)
            return Node("unary", (tok.text, operand), tok.pos)
        return self.postfix(self.primary())

    def primary(self) -> Node:
        tok = self.next()
        if tok.kind == "num":
            text = tok.text.replace("_", "")
            if text[:2] in ("0x", "0X"):
                return Node("lit", (int(text, 16),), tok.pos)
            return Node("lit", (float(text) if any(c in text for c in ".eE") else int(text),), tok.pos)
        if tok.kind == "str":
            return Node("lit", (_unquote(tok.text),), tok.pos)
        if tok.kind == "name":
            if tok.text in ("true", "false"):
                return Node("lit", (tok.text == "true",), tok.pos)
            if tok.text == "nil":
                return Node("lit", (None,), tok.pos)
            if self.peek().text == "(" and self.peek().kind == "op":
                return self.call(Node("builtin", (tok.text,), tok.pos), tok.text)
            return Node("var", (tok.text,), tok.pos)
        if tok.text == "#" and tok.kind == "op":
            if not self.closure_depth:
                raise self.error(tok, "# is only allowed in a closure")
            return Node("pointer", (), tok.pos)
        if tok.text == "(" and tok.kind == "op":
            node = self.expression()
            self.expect(")")
            return node
        if tok.text == "[" and tok.kind == "op":
            items = []
            while self.peek().text != "]":
                items.append(self.expression())
                if self.peek().text == ",":
                    self.next()
                elif self.peek().text != "]":
                    raise self.error(self.peek())
            self.next()
            return Node("array", tuple(items), tok.pos)
        if tok.text == "{" and tok.kind == "op":
            raise self.error(tok, "map literals are not supported by tagpilot's expr-lang subset")
        raise self.error(tok)

    def call(self, callee: Node, name: str) -> Node:
        self.expect("(")
        args: list[Node] = []
        closure_builtin = callee.op == "builtin" and name in _CLOSURE_BUILTINS
        while self.peek().text != ")":
            if closure_builtin and len(args) == 1 and self.peek().text == "{":
                self.next()
                self.closure_depth += 1
                body = self.expression()
                self.closure_depth -= 1
                self.expect("}")
                args.append(Node("closure", (body,), body.pos))
            else:
                args.append(self.expression())
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != ")":
                raise self.error(self.peek())
        self.next()
        return Node("call", (callee, tuple(args)), callee.pos)

    def postfix(self, node: Node) -> Node:
        while True:
            tok = self.peek()
            if tok.kind != "op" or tok.text not in (".", "?.", "["):
                return node
            self.next()
            optional = tok.text == "?."
            if tok.text == "[" or (optional and self.peek().text == "["):
                if optional:
                    self.next()
                if self.peek().text == ":":
                    raise self.error(self.peek(), "slices are not supported by tagpilot's expr-lang subset")
                index = self.expression()
                self.expect("]")
                node = Node("member", (node, index, optional), tok.pos)
                continue
            name = self.next()
            if name.kind != "name":
                raise self.error(name)
            node = Node("member", (node, Node("lit", (name.text,), name.pos), optional), name.pos)
            if self.peek().text == "(" and self.peek().kind == "op":
                node = self.call(node, name.text)


_CLOSURE_BUILTINS = {"all", "any", "none", "one", "filter", "map", "count", "find", "findIndex"}


@dataclass(frozen=True)
class Program:
    """A parsed expression and its source (for error positions)."""

    src: str
    node: Node


def compile_expr(src: str) -> Program:
    """Parse an expression (raises ExprLangError with the position)."""
    return Program(src, _Parser(src).parse())


# --- evaluation -------------------------------------------------------------------------------------

class _Nil:
    """The rest of an optional chain after a nil (`a?.b.c` is nil when a is nil)."""


_CHAIN_NIL = _Nil()


def _type_name(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    return getattr(type(v), "go_type", "") or type(v).__name__


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def equal(a: Any, b: Any) -> bool:
    """expr-lang's runtime.Equal: numbers by value, the rest by deep equality."""
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b) and not (isinstance(a, Mapping) and isinstance(b, Mapping)):
        return False
    return bool(a == b)


def _fetch(obj: Any, key: Any) -> Any:
    if obj is None:
        raise _Fail(f"cannot fetch {key} from <nil>")
    if isinstance(obj, Mapping):
        return obj.get(key)
    if isinstance(obj, (list, tuple, str)):
        if not _is_number(key) or isinstance(key, float):
            raise _Fail(f"cannot fetch {key} from {_type_name(obj)}")
        index = key + len(obj) if key < 0 else key
        if not 0 <= index < len(obj):
            raise _Fail(f"index out of range: {key} (array length is {len(obj)})")
        return obj[index]
    if isinstance(key, str) and key[:1].isupper() and hasattr(obj, key):
        return getattr(obj, key)
    raise _Fail(f"cannot fetch {key} from {_type_name(obj)}")


class _Fail(Exception):
    pass


def _truth(v: Any, op: str) -> bool:
    if not isinstance(v, bool):
        raise _Fail(f"interface conversion: interface {{}} is {_type_name(v)}, not bool (operator {op})")
    return v


def _arith(op: str, a: Any, b: Any) -> Any:
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if op in ("+", "-") and hasattr(a, "_expr_" + ("add" if op == "+" else "sub")):
        return getattr(a, "_expr_" + ("add" if op == "+" else "sub"))(b)
    if not (_is_number(a) and _is_number(b)):
        raise _Fail(f"invalid operation: {_type_name(a)} {op} {_type_name(b)}")
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return float("inf") if a > 0 else float("-inf") if a < 0 else float("nan")
        return float(a) / float(b)
    if op == "%":
        if not (isinstance(a, int) and isinstance(b, int)):
            raise _Fail(f"invalid operation: {_type_name(a)} % {_type_name(b)}")
        if b == 0:
            raise _Fail("integer divide by zero")
        return int(abs(a) % abs(b)) * (1 if a >= 0 else -1)
    return float(a) ** float(b)


def _compare(op: str, a: Any, b: Any) -> bool:
    if (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
        pass
    elif hasattr(a, "_expr_cmp") and type(a) is type(b):
        a, b = a._expr_cmp(), b._expr_cmp()
    else:
        raise _Fail(f"invalid operation: {_type_name(a)} {op} {_type_name(b)}")
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def _in(a: Any, b: Any) -> bool:
    if isinstance(b, Mapping):
        return a in b
    if isinstance(b, (list, tuple)):
        return any(equal(a, item) for item in b)
    if b is None:
        raise _Fail("operator in not defined on <nil>")
    raise _Fail(f"operator in not defined on {_type_name(b)}")


def _strings(op: str, a: Any, b: Any) -> bool:
    if not (isinstance(a, str) and isinstance(b, str)):
        raise _Fail(f"invalid operation: {_type_name(a)} {op} {_type_name(b)}")
    if op == "contains":
        return b in a
    if op == "startsWith":
        return a.startswith(b)
    if op == "endsWith":
        return a.endswith(b)
    try:
        return compile_regex(b).search(a) is not None
    except RegexError as exc:
        raise _Fail(f"error parsing regexp: {exc}") from None


def _length(v: Any) -> int:
    if isinstance(v, (str, list, tuple, Mapping)):
        return len(v)
    raise _Fail(f"invalid argument for len (type {_type_name(v)})")


class _Evaluator:
    def __init__(self, src: str, env: Mapping[str, Any]) -> None:
        self.src = src
        self.env = env
        self.pointers: list[Any] = []

    def run(self, node: Node) -> Any:
        try:
            value = self.eval(node)
        except _Fail as exc:
            raise ExprLangError(str(exc)) from None
        return None if value is _CHAIN_NIL else value

    def fail_at(self, node: Node, message: str) -> _Fail:
        return _Fail(f"{message} {_position(self.src, node.pos)}")

    def eval(self, node: Node) -> Any:
        try:
            return self._eval(node)
        except _Fail as exc:
            if re.search(r"\(\d+:\d+\)$", str(exc)):
                raise
            raise self.fail_at(node, str(exc)) from None

    def _eval(self, node: Node) -> Any:
        op, args = node.op, node.args
        if op == "lit":
            return args[0]
        if op == "var":
            name = args[0]
            if name not in self.env:
                if name in _BUILTIN_FUNCS:
                    return _BUILTIN_FUNCS[name]
                raise _Fail(f"unknown name {name}")
            return self.env[name]
        if op == "pointer":
            return self.pointers[-1]
        if op == "array":
            return [self.value(item) for item in args]
        if op == "member":
            obj_node, key_node, optional = args
            obj = self.eval(obj_node)
            if obj is _CHAIN_NIL or (optional and obj is None):
                return _CHAIN_NIL
            return _fetch(obj, self.value(key_node))
        if op == "call":
            return self.call(node, *args)
        if op == "unary":
            sym, operand = args
            value = self.value(operand)
            if sym in ("not", "!"):
                return not _truth(value, sym)
            if not _is_number(value):
                raise _Fail(f"invalid operation: {sym}{_type_name(value)}")
            return -value if sym == "-" else value
        if op == "?:":
            return self.value(args[1]) if _truth(self.value(args[0]), "?:") else self.value(args[2])
        sym, left_node, right_node = args
        left = self.value(left_node)
        if sym in ("and", "&&"):
            return _truth(left, sym) and _truth(self.value(right_node), sym)
        if sym in ("or", "||"):
            return _truth(left, sym) or _truth(self.value(right_node), sym)
        if sym == "??":
            return left if left is not None else self.value(right_node)
        right = self.value(right_node)
        if sym == "==":
            return equal(left, right)
        if sym == "!=":
            return not equal(left, right)
        if sym in ("<", ">", "<=", ">="):
            return _compare(sym, left, right)
        if sym == "in":
            return _in(left, right)
        if sym == "not in":
            return not _in(left, right)
        if sym in ("matches", "contains", "startsWith", "endsWith"):
            return _strings(sym, left, right)
        return _arith(sym, left, right)

    def value(self, node: Node) -> Any:
        value = self.eval(node)
        return None if value is _CHAIN_NIL else value

    def call(self, node: Node, callee: Node, args: tuple[Node, ...]) -> Any:
        if callee.op == "builtin":
            name = callee.args[0]
            if name in _CLOSURE_BUILTINS:
                return self.closure_builtin(name, args)
            fn = self.env.get(name) if name in self.env else _BUILTIN_FUNCS.get(name)
            if fn is None:
                raise _Fail(f"unknown func {name}")
        else:
            fn = self.eval(callee)
            if fn is _CHAIN_NIL:
                return _CHAIN_NIL
        if not callable(fn):
            raise _Fail(f"{_type_name(fn)} is not callable")
        values = [self.value(a) for a in args]
        try:
            return fn(*values)
        except _Fail:
            raise
        except (TypeError, ValueError) as exc:
            raise _Fail(str(exc)) from None

    def closure_builtin(self, name: str, args: tuple[Node, ...]) -> Any:
        if len(args) != 2 or args[1].op != "closure":
            raise _Fail(f"{name} expects a list and a closure ({{...}})")
        items = self.value(args[0])
        if isinstance(items, Mapping):
            items = list(items.values())
        if not isinstance(items, (list, tuple)):
            raise _Fail(f"cannot iterate over {_type_name(items)}")
        body = args[1].args[0]
        results = []
        for item in items:
            self.pointers.append(item)
            try:
                results.append((item, self.value(body)))
            finally:
                self.pointers.pop()
        if name == "map":
            return [r for _, r in results]
        flags = [_truth(r, name) for _, r in results]
        if name == "all":
            return all(flags)
        if name == "any":
            return any(flags)
        if name == "none":
            return not any(flags)
        if name == "one":
            return sum(flags) == 1
        if name == "count":
            return sum(flags)
        if name == "filter":
            return [item for (item, _), f in zip(results, flags, strict=True) if f]
        if name == "find":
            return next((item for (item, _), f in zip(results, flags, strict=True) if f), None)
        return next((i for i, f in enumerate(flags) if f), -1)


_BUILTIN_FUNCS: dict[str, Callable[..., Any]] = {
    "len": _length,
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "trim": lambda s, cut=None: s.strip(cut),
    "string": lambda v: v if isinstance(v, str) else str(v),
    "int": lambda v: int(float(v)) if isinstance(v, str) else int(v),
    "float": float,
    "abs": abs,
    "split": lambda s, sep: s.split(sep),
    "join": lambda items, sep="": sep.join(items),
    "hasPrefix": lambda s, p: s.startswith(p),
    "hasSuffix": lambda s, p: s.endswith(p),
}


def evaluate(src: str | Program, env: Mapping[str, Any]) -> Any:
    """Evaluate an expression (source or compiled) with `env`; raises ExprLangError."""
    program = compile_expr(src) if isinstance(src, str) else src
    return _Evaluator(program.src, env).run(program.node)
