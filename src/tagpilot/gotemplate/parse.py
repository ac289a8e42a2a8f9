"""Parser for Go text/template: a port of text/template/parse (parse.go and node.go).

The parser checks what Go checks at parse time (defined functions, declared variables,
`break` outside `range`, `else` placement, non-executable pipeline stages) and yields the same
messages, `template: NAME:LINE: ...`. Node `str()` is Go's `String()`, used in error contexts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tagpilot.golang import parse_float_or_none
from tagpilot.gotemplate.errors import TemplateParseError
from tagpilot.gotemplate.lex import Item, Lexer, T

# ---------------------------------------------------------------- nodes


@dataclass
class Node:
    pos: int

    def __str__(self) -> str:  # pragma: no cover - overridden
        return ""


@dataclass
class TextNode(Node):
    text: str = ""

    def __str__(self) -> str:
        return self.text


@dataclass
class CommentNode(Node):
    text: str = ""

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@dataclass
class DotNode(Node):
    def __str__(self) -> str:
        return "."


@dataclass
class NilNode(Node):
    def __str__(self) -> str:
        return "nil"


@dataclass
class BoolNode(Node):
    value: bool = False

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass
class NumberNode(Node):
    text: str = ""
    is_int: bool = False
    is_uint: bool = False
    is_float: bool = False
    is_complex: bool = False
    int_val: int = 0
    float_val: float = 0.0
    complex_val: complex = 0j

    def __str__(self) -> str:
        return self.text


@dataclass
class StringNode(Node):
    quoted: str = ""
    text: str = ""

    def __str__(self) -> str:
        return self.quoted


@dataclass
class IdentifierNode(Node):
    ident: str = ""

    def __str__(self) -> str:
        return self.ident


@dataclass
class VariableNode(Node):
    ident: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return ".".join(self.ident)


@dataclass
class FieldNode(Node):
    ident: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


@dataclass
class ChainNode(Node):
    node: Node | None = None
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        s = str(self.node)
        if isinstance(self.node, PipeNode):
            s = "(" + s + ")"
        return s + "".join("." + f for f in self.fields)


@dataclass
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        parts = []
        for a in self.args:
            parts.append("(" + str(a) + ")" if isinstance(a, PipeNode) else str(a))
        return " ".join(parts)


@dataclass
class PipeNode(Node):
    line: int = 0
    is_assign: bool = False
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)

    def __str__(self) -> str:
        s = ""
        if self.decl:
            s = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return s + " | ".join(str(c) for c in self.cmds)


@dataclass
class ActionNode(Node):
    line: int = 0
    pipe: PipeNode | None = None

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass
class BranchNode(Node):
    line: int = 0
    pipe: PipeNode | None = None
    list: ListNode | None = None
    else_list: ListNode | None = None
    keyword: str = ""

    def __str__(self) -> str:
        s = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            s += "{{else}}" + str(self.else_list)
        return s + "{{end}}"


class IfNode(BranchNode):
    pass


class RangeNode(BranchNode):
    pass


class WithNode(BranchNode):
    pass


@dataclass
class TemplateNode(Node):
    line: int = 0
    name: str = ""
    pipe: PipeNode | None = None

    def __str__(self) -> str:
        from tagpilot.gotemplate.gofmt import quote

        if self.pipe is None:
            return "{{template " + quote(self.name) + "}}"
        return "{{template " + quote(self.name) + " " + str(self.pipe) + "}}"


@dataclass
class BreakNode(Node):
    line: int = 0

    def __str__(self) -> str:
        return "{{break}}"


@dataclass
class ContinueNode(Node):
    line: int = 0

    def __str__(self) -> str:
        return "{{continue}}"


@dataclass
class EndNode(Node):
    def __str__(self) -> str:
        return "{{end}}"


@dataclass
class ElseNode(Node):
    line: int = 0

    def __str__(self) -> str:
        return "{{else}}"


# ---------------------------------------------------------------- literal decoding

_SIMPLE_ESC = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


class _SyntaxError(Exception):
    pass


def unquote_char(s: str, i: int, quote: str) -> tuple[str, int]:
    """strconv.UnquoteChar on s[i:]; returns (char, next index)."""
    c = s[i]
    if c == quote and quote in "'\"":
        raise _SyntaxError
    if c != "\\":
        return c, i + 1
    if i + 1 >= len(s):
        raise _SyntaxError
    c = s[i + 1]
    i += 2
    if c in _SIMPLE_ESC:
        return _SIMPLE_ESC[c], i
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        h = s[i : i + n]
        if len(h) < n or any(ch not in "0123456789abcdefABCDEF" for ch in h):
            raise _SyntaxError
        v = int(h, 16)
        if c == "x":
            # a byte; in a Go string it may be invalid UTF-8: map to the code point
            return chr(v), i + n
        if v > 0x10FFFF or 0xD800 <= v < 0xE000:
            raise _SyntaxError
        return chr(v), i + n
    if "0" <= c <= "7":
        o = s[i - 1 : i + 2]
        if len(o) < 3 or any(ch not in "01234567" for ch in o):
            raise _SyntaxError
        v = int(o, 8)
        if v > 255:
            raise _SyntaxError
        return chr(v), i + 2
    if c == quote and quote in "'\"":
        return c, i
    raise _SyntaxError


def unquote(s: str) -> str:
    """strconv.Unquote for "..." and `...` strings."""
    if len(s) < 2:
        raise _SyntaxError
    q = s[0]
    if q != s[-1]:
        raise _SyntaxError
    body = s[1:-1]
    if q == "`":
        if "`" in body:
            raise _SyntaxError
        return body.replace("\r", "")
    if q != '"':
        raise _SyntaxError
    if "\n" in body:
        raise _SyntaxError
    out = []
    i = 0
    while i < len(body):
        ch, i = unquote_char(body, i, '"')
        out.append(ch)
    return "".join(out)


def _parse_go_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64)-like, without range check; None when not an integer literal."""
    t = text
    neg = False
    if t[:1] in "+-":
        neg = t[0] == "-"
        t = t[1:]
    if not t:
        return None
    base = 10
    body = t
    low = t.lower()
    if low.startswith("0x"):
        base, body = 16, t[2:]
    elif low.startswith("0o"):
        base, body = 8, t[2:]
    elif low.startswith("0b"):
        base, body = 2, t[2:]
    elif len(t) > 1 and t[0] == "0":
        base, body = 8, t[1:]
    if "_" in body:
        # underscores only between digits, or right after a base prefix
        prefixed = base != 10 and not (base == 8 and t[1:2] not in "oO")
        if (body.startswith("_") and not prefixed) or body.endswith("_") or "__" in body:
            return None
        body = body.replace("_", "")
    if not body:
        return None
    try:
        v = int(body, base)
    except ValueError:
        return None
    return -v if neg else v


def new_number(pos: int, text: str, typ: T) -> NumberNode:
    n = NumberNode(pos, text=text)
    if typ == T.CHAR_CONSTANT:
        try:
            if len(text) < 3 or text[0] != "'" or text[-1] != "'":
                raise _SyntaxError
            ch, i = unquote_char(text[1:-1], 0, "'")
            if i != len(text) - 2:
                raise _SyntaxError
        except _SyntaxError:
            raise ValueError(f"malformed character constant: {text}") from None
        r = ord(ch)
        n.int_val = r
        n.is_int = n.is_uint = n.is_float = True
        n.float_val = float(r)
        return n
    if typ == T.COMPLEX:
        try:
            c = complex(text.replace("i", "j").replace("_", ""))
        except ValueError:
            raise ValueError(f"illegal number syntax: {_quote(text)}") from None
        n.is_complex = True
        n.complex_val = c
        n.simplify_complex()
        return n
    if len(text) > 0 and text[-1] == "i":
        f = parse_float_or_none(text[:-1])
        if f is None:
            iv = _parse_go_int(text[:-1])
            f = float(iv) if iv is not None else None
        if f is not None:
            n.is_complex = True
            n.complex_val = complex(0, f)
            n.simplify_complex()
            return n
    iv = _parse_go_int(text)
    if iv is not None:
        if 0 <= iv < 1 << 64:
            n.is_uint = True
        if -(1 << 63) <= iv < 1 << 63:
            n.is_int = True
            n.int_val = iv
            if iv == 0:
                n.is_uint = True
    if n.is_int:
        n.is_float = True
        n.float_val = float(n.int_val)
    elif n.is_uint:
        n.is_float = True
        n.int_val = iv or 0
        n.float_val = float(iv or 0)
    else:
        f = parse_float_or_none(text)
        if f is not None and math.isfinite(f):  # the lexer never yields inf/nan; guard int() anyway
            if not any(c in text for c in ".eEpP"):
                raise ValueError(f"integer overflow: {_quote(text)}")
            n.is_float = True
            n.float_val = f
            if f == int(f) and -(1 << 63) <= int(f) < 1 << 63:
                n.is_int = True
                n.int_val = int(f)
            if f == int(f) and 0 <= int(f) < 1 << 64:
                n.is_uint = True
    if not (n.is_int or n.is_uint or n.is_float):
        raise ValueError(f"illegal number syntax: {_quote(text)}")
    return n


def _simplify_complex(self: NumberNode) -> None:
    if self.complex_val.imag == 0:
        self.is_float = True
        self.float_val = self.complex_val.real
        if self.float_val == int(self.float_val):
            self.is_int = True
            self.int_val = int(self.float_val)
            if self.int_val >= 0:
                self.is_uint = True


NumberNode.simplify_complex = _simplify_complex  # type: ignore[attr-defined]


def _quote(s: str) -> str:
    from tagpilot.gotemplate.gofmt import quote

    return quote(s)


# ---------------------------------------------------------------- trees


@dataclass
class Tree:
    name: str
    parse_name: str
    text: str
    root: ListNode | None = None

    def error_context(self, node: Node) -> tuple[str, str]:
        pos = node.pos
        before = self.text[:pos]
        nl = before.rfind("\n")
        col_text = before if nl == -1 else before[nl + 1 :]
        col = len(col_text.encode("utf-8", "surrogatepass"))
        line = 1 + before.count("\n")
        return f"{self.parse_name}:{line}:{col}", str(node)


def is_empty_tree(n: Node | None) -> bool:
    if n is None:
        return True
    if isinstance(n, CommentNode):
        return True
    if isinstance(n, ListNode):
        return all(is_empty_tree(x) for x in n.nodes)
    if isinstance(n, TextNode):
        return n.text.strip(" \t\n\r\v\f\x85\xa0") == ""
    return False


class _Parser:
    def __init__(self, name: str, parse_name: str, text: str, items: list[Item],
                 funcs: set[str], tree_set: dict[str, Tree], shared: dict[str, Any]) -> None:
        self.tree = Tree(name, parse_name, text)
        self.items = items
        self.shared = shared  # {"i": index into items}
        self.funcs = funcs
        self.tree_set = tree_set
        self.vars: list[str] = ["$"]
        self.token: list[Item] = [items[0], items[0], items[0]]
        self.peek_count = 0
        self.action_line = 0
        self.range_depth = 0

    # -- token stream (shared between nested define parsers, as Go shares the lexer)
    def _next_item(self) -> Item:
        i = self.shared["i"]
        if i < len(self.items):
            self.shared["i"] = i + 1
            return self.items[i]
        return self.items[-1]

    def next(self) -> Item:
        if self.peek_count > 0:
            self.peek_count -= 1
        else:
            self.token[0] = self._next_item()
        return self.token[self.peek_count]

    def backup(self) -> None:
        self.peek_count += 1

    def backup2(self, t1: Item) -> None:
        self.token[1] = t1
        self.peek_count = 2

    def backup3(self, t2: Item, t1: Item) -> None:
        self.token[1] = t1
        self.token[2] = t2
        self.peek_count = 3

    def peek(self) -> Item:
        if self.peek_count > 0:
            return self.token[self.peek_count - 1]
        self.peek_count = 1
        self.token[0] = self._next_item()
        return self.token[0]

    def next_non_space(self) -> Item:
        while True:
            tok = self.next()
            if tok.typ != T.SPACE:
                return tok

    def peek_non_space(self) -> Item:
        tok = self.next_non_space()
        self.backup()
        return tok

    # -- errors
    def errorf(self, msg: str) -> None:
        self.tree.root = None
        raise TemplateParseError(f"template: {self.tree.parse_name}:{self.token[0].line}: {msg}")

    def expect(self, typ: T, context: str) -> Item:
        tok = self.next_non_space()
        if tok.typ != typ:
            self.unexpected(tok, context)
        return tok

    def unexpected(self, tok: Item, context: str) -> None:
        if tok.typ == T.ERROR:
            extra = ""
            if self.action_line != 0 and self.action_line != tok.line:
                extra = f" in action started at {self.tree.parse_name}:{self.action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            self.errorf(f"{tok}{extra}")
        self.errorf(f"unexpected {tok} in {context}")

    # -- grammar
    def parse(self) -> None:
        self.tree.root = ListNode(self.peek().pos)
        while self.peek().typ != T.EOF:
            if self.peek().typ == T.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().typ == T.DEFINE:
                    sub = _Parser("definition", self.tree.parse_name, self.tree.text, self.items,
                                  self.funcs, self.tree_set, self.shared)
                    sub.token = self.token
                    sub.peek_count = 0
                    sub.parse_definition()
                    continue
                self.backup2(delim)
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                self.errorf(f"unexpected {n}")
            self.tree.root.nodes.append(n)

    def add(self) -> None:
        existing = self.tree_set.get(self.tree.name)
        if existing is None or is_empty_tree(existing.root):
            self.tree_set[self.tree.name] = self.tree
            return
        if not is_empty_tree(self.tree.root):
            self.errorf(f"template: multiple definition of template {_quote(self.tree.name)}")

    def parse_definition(self) -> None:
        context = "define clause"
        tok = self.next_non_space()
        if tok.typ not in (T.STRING, T.RAW_STRING):
            self.unexpected(tok, context)
        try:
            self.tree.name = unquote(tok.val)
        except _SyntaxError:
            self.errorf("invalid syntax")
        self.expect(T.RIGHT_DELIM, context)
        root, end = self.item_list()
        self.tree.root = root
        if not isinstance(end, EndNode):
            self.errorf(f"unexpected {end} in {context}")
        self.add()

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != T.EOF:
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                return lst, n
            lst.nodes.append(n)
        self.errorf("unexpected EOF")
        raise AssertionError

    def text_or_action(self) -> Node:
        tok = self.next_non_space()
        if tok.typ == T.TEXT:
            return TextNode(tok.pos, text=tok.val)
        if tok.typ == T.LEFT_DELIM:
            self.action_line = tok.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        if tok.typ == T.COMMENT:
            return CommentNode(tok.pos, text=tok.val)
        self.unexpected(tok, "input")
        raise AssertionError

    def action(self) -> Node:
        tok = self.next_non_space()
        t = tok.typ
        if t == T.BLOCK:
            return self.block_control()
        if t == T.BREAK:
            return self.break_control(tok, "break")
        if t == T.CONTINUE:
            return self.break_control(tok, "continue")
        if t == T.ELSE:
            return self.else_control()
        if t == T.END:
            return EndNode(self.expect(T.RIGHT_DELIM, "end").pos)
        if t == T.IF:
            return self.parse_control(IfNode, "if")
        if t == T.RANGE:
            return self.parse_control(RangeNode, "range")
        if t == T.TEMPLATE:
            return self.template_control()
        if t == T.WITH:
            return self.parse_control(WithNode, "with")
        self.backup()
        tok = self.peek()
        return ActionNode(tok.pos, line=tok.line, pipe=self.pipeline("command", T.RIGHT_DELIM))

    def break_control(self, kw: Item, word: str) -> Node:
        tok = self.next_non_space()
        if tok.typ != T.RIGHT_DELIM:
            self.unexpected(tok, "{{" + word + "}}")
        if self.range_depth == 0:
            self.errorf("{{" + word + "}} outside {{range}}")
        if word == "break":
            return BreakNode(kw.pos, line=kw.line)
        return ContinueNode(kw.pos, line=kw.line)

    def pipeline(self, context: str, end: T) -> PipeNode:
        tok = self.peek_non_space()
        pipe = PipeNode(tok.pos, line=tok.line)
        while True:  # decls
            v = self.peek_non_space()
            if v.typ != T.VARIABLE:
                break
            self.next()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (T.ASSIGN, T.DECLARE):
                pipe.is_assign = nxt.typ == T.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, ident=v.val.split(".")))
                self.vars.append(v.val)
            elif nxt.typ == T.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(v.pos, ident=v.val.split(".")))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (T.VARIABLE, T.RIGHT_DELIM, T.RIGHT_PAREN):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf(f"too many declarations in {context}")
            elif after.typ == T.SPACE:
                self.backup3(v, after)
            else:
                self.backup2(v)
            break
        while True:
            tok = self.next_non_space()
            if tok.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.typ in (T.BOOL, T.CHAR_CONSTANT, T.COMPLEX, T.DOT, T.FIELD, T.IDENTIFIER, T.NUMBER,
                           T.NIL, T.RAW_STRING, T.STRING, T.VARIABLE, T.LEFT_PAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                self.errorf(f"non executable command in pipeline stage {i + 2}")

    def parse_control(self, cls: type[BranchNode], context: str) -> Node:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, T.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, ElseNode):
                if context == "if" and self.peek().typ == T.IF:
                    self.next()
                    else_list = ListNode(nxt.pos, nodes=[self.parse_control(IfNode, "if")])
                elif context == "with" and self.peek().typ == T.WITH:
                    self.next()
                    else_list = ListNode(nxt.pos, nodes=[self.parse_control(WithNode, "with")])
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, EndNode):
                        self.errorf(f"expected end; found {nxt}")
            return cls(pipe.pos, line=pipe.line, pipe=pipe, list=lst, else_list=else_list, keyword=context)
        finally:
            del self.vars[mark:]

    def else_control(self) -> Node:
        peek = self.peek_non_space()
        if peek.typ in (T.IF, T.WITH):
            return ElseNode(peek.pos, line=peek.line)
        tok = self.expect(T.RIGHT_DELIM, "else")
        return ElseNode(tok.pos, line=tok.line)

    def parse_template_name(self, tok: Item, context: str) -> str:
        if tok.typ in (T.STRING, T.RAW_STRING):
            try:
                return unquote(tok.val)
            except _SyntaxError:
                self.errorf("invalid syntax")
        self.unexpected(tok, context)
        raise AssertionError

    def block_control(self) -> Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self.parse_template_name(tok, context)
        pipe = self.pipeline(context, T.RIGHT_DELIM)
        sub = _Parser(name, self.tree.parse_name, self.tree.text, self.items, self.funcs,
                      self.tree_set, self.shared)
        sub.token = self.token
        sub.peek_count = self.peek_count
        root, end = sub.item_list()
        sub.tree.root = root
        self.peek_count = sub.peek_count
        if not isinstance(end, EndNode):
            self.errorf(f"unexpected {end} in {context}")
        sub.add()
        return TemplateNode(tok.pos, line=tok.line, name=name, pipe=pipe)

    def template_control(self) -> Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self.parse_template_name(tok, context)
        pipe = None
        if self.next_non_space().typ != T.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, T.RIGHT_DELIM)
        return TemplateNode(tok.pos, line=tok.line, name=name, pipe=pipe)

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.typ == T.SPACE:
                continue
            if tok.typ in (T.RIGHT_DELIM, T.RIGHT_PAREN):
                self.backup()
            elif tok.typ == T.PIPE:
                pass
            else:
                self.unexpected(tok, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == T.FIELD:
            chain = ChainNode(self.peek().pos, node=node)
            while self.peek().typ == T.FIELD:
                chain.fields.append(self.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(chain.pos, ident=[*node.ident, *chain.fields])
            if isinstance(node, VariableNode):
                return VariableNode(chain.pos, ident=[*node.ident, *chain.fields])
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                self.errorf(f"unexpected . after term {_quote(str(node))}")
            return chain
        return node

    def term(self) -> Node | None:
        tok = self.next_non_space()
        t = tok.typ
        if t == T.IDENTIFIER:
            if tok.val not in self.funcs:
                self.errorf(f"function {_quote(tok.val)} not defined")
            return IdentifierNode(tok.pos, ident=tok.val)
        if t == T.DOT:
            return DotNode(tok.pos)
        if t == T.NIL:
            return NilNode(tok.pos)
        if t == T.VARIABLE:
            v = VariableNode(tok.pos, ident=tok.val.split("."))
            if v.ident[0] not in self.vars:
                self.errorf(f"undefined variable {_quote(v.ident[0])}")
            return v
        if t == T.FIELD:
            return FieldNode(tok.pos, ident=tok.val[1:].split("."))
        if t == T.BOOL:
            return BoolNode(tok.pos, value=tok.val == "true")
        if t in (T.CHAR_CONSTANT, T.COMPLEX, T.NUMBER):
            try:
                return new_number(tok.pos, tok.val, t)
            except ValueError as e:
                self.errorf(str(e))
        if t == T.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", T.RIGHT_PAREN)
        if t in (T.STRING, T.RAW_STRING):
            try:
                s = unquote(tok.val)
            except _SyntaxError:
                self.errorf("invalid syntax")
            return StringNode(tok.pos, quoted=tok.val, text=s)
        self.backup()
        return None


def parse_trees(name: str, text: str, funcs: set[str]) -> dict[str, Tree]:
    """Parse `text` as template `name`; returns every tree it defines (the top-level one too)."""
    items = Lexer(text, break_ok="break" not in funcs, continue_ok="continue" not in funcs).run()
    tree_set: dict[str, Tree] = {}
    p = _Parser(name, name, text, items, funcs, tree_set, {"i": 0})
    try:
        p.parse()
        p.add()
    except RecursionError:
        raise TemplateParseError(f"template: {name}: max expression depth exceeded") from None
    return tree_set
