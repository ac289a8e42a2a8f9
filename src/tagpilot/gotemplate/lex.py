"""Lexer for Go text/template, a port of text/template/parse/lex.go (Go 1.22 behaviour).

Trim markers (`{{- ` and ` -}}`), comments, raw strings, character constants, numbers in every Go
literal form and the `break`/`continue` keywords are handled here exactly as Go's lexer does, so
that the parser sees the same token stream and reports the same errors.
"""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass
from enum import IntEnum


class T(IntEnum):
    ERROR = 0
    BOOL = 1
    CHAR = 2
    CHAR_CONSTANT = 3
    COMMENT = 4
    COMPLEX = 5
    ASSIGN = 6
    DECLARE = 7
    EOF = 8
    FIELD = 9
    IDENTIFIER = 10
    LEFT_DELIM = 11
    LEFT_PAREN = 12
    NUMBER = 13
    PIPE = 14
    RAW_STRING = 15
    RIGHT_DELIM = 16
    RIGHT_PAREN = 17
    SPACE = 18
    STRING = 19
    TEXT = 20
    VARIABLE = 21
    KEYWORD = 22
    BLOCK = 23
    BREAK = 24
    CONTINUE = 25
    DOT = 26
    DEFINE = 27
    ELSE = 28
    END = 29
    IF = 30
    NIL = 31
    RANGE = 32
    TEMPLATE = 33
    WITH = 34


KEYWORDS = {
    ".": T.DOT,
    "block": T.BLOCK,
    "break": T.BREAK,
    "continue": T.CONTINUE,
    "define": T.DEFINE,
    "else": T.ELSE,
    "end": T.END,
    "if": T.IF,
    "range": T.RANGE,
    "nil": T.NIL,
    "template": T.TEMPLATE,
    "with": T.WITH,
}


@dataclass(frozen=True)
class Item:
    typ: T
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        from tagpilot.gotemplate.gofmt import quote

        if self.typ == T.EOF:
            return "EOF"
        if self.typ == T.ERROR:
            return self.val
        if self.typ > T.KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return quote(self.val[:10]) + "..."
        return quote(self.val)


SPACE_CHARS = " \t\r\n"


def is_space(c: str) -> bool:
    return c in (" ", "\t", "\r", "\n") and c != ""


def is_alnum(c: str) -> bool:
    if c == "":
        return False
    if c == "_":
        return True
    if c.isascii():
        return c.isalnum()
    cat = unicodedata.category(c)
    return cat.startswith("L") or cat == "Nd"


def format_U(c: str) -> str:
    """Go's %#U: U+0023 '#'."""
    o = ord(c)
    s = f"U+{o:04X}"
    if c.isprintable():
        s += f" '{c}'"
    return s


def _is_print_ascii(c: str) -> bool:
    return " " <= c <= "~"


class Lexer:
    """Scans the whole input into a list of items, stopping after the first error."""

    def __init__(self, text: str, break_ok: bool = True, continue_ok: bool = True,
                 left: str = "{{", right: str = "}}") -> None:
        self.input = text
        self.left = left
        self.right = right
        self.pos = 0
        self.start = 0
        self.items: list[Item] = []
        self.paren_depth = 0
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self._nl = [i for i, c in enumerate(text) if c == "\n"]

    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self._nl, pos) + 1

    # -- primitives
    def next(self) -> str:
        if self.pos >= len(self.input):
            self.pos += 1  # so that backup works symmetrically
            return ""
        c = self.input[self.pos]
        self.pos += 1
        return c

    def backup(self) -> None:
        self.pos -= 1

    def peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def emit(self, typ: T) -> None:
        self.items.append(Item(typ, self.start, self.input[self.start : self.pos], self.line_at(self.start)))
        self.start = self.pos

    def ignore(self) -> None:
        self.start = self.pos

    def accept(self, valid: str) -> bool:
        c = self.next()
        if c != "" and c in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            c = self.next()
            if c == "" or c not in valid:
                break
        self.backup()

    def errorf(self, msg: str) -> None:
        self.items.append(Item(T.ERROR, self.start, msg, self.line_at(self.start)))
        return None

    # -- trim helpers
    @staticmethod
    def has_left_trim(s: str) -> bool:
        return len(s) >= 2 and s[0] == "-" and is_space(s[1])

    @staticmethod
    def has_right_trim(s: str) -> bool:
        return len(s) >= 2 and is_space(s[0]) and s[1] == "-"

    def at_right_delim(self) -> tuple[bool, bool]:
        rest = self.input[self.pos :]
        if self.has_right_trim(rest) and rest[2:].startswith(self.right):
            return True, True
        if rest.startswith(self.right):
            return True, False
        return False, False

    # -- states
    def run(self) -> list[Item]:
        state = self.lex_text
        while state is not None:
            state = state()
        return self.items

    def lex_text(self):
        x = self.input.find(self.left, self.pos)
        if x >= 0:
            if x > self.pos:
                self.pos = x
                trim = 0
                delim_end = self.pos + len(self.left)
                if self.has_left_trim(self.input[delim_end:]):
                    seg = self.input[self.start : self.pos]
                    trim = len(seg) - len(seg.rstrip(SPACE_CHARS))
                self.pos -= trim
                if self.pos > self.start:
                    self.emit(T.TEXT)
                self.pos += trim
                self.ignore()
            else:
                self.pos = x
            return self.lex_left_delim
        self.pos = len(self.input)
        if self.pos > self.start:
            self.emit(T.TEXT)
        self.emit(T.EOF)
        return None

    def lex_left_delim(self):
        self.pos += len(self.left)
        trim = self.has_left_trim(self.input[self.pos :])
        after = 2 if trim else 0
        if self.input.startswith("/*", self.pos + after):
            self.pos += after
            self.ignore()
            return self.lex_comment
        self.emit(T.LEFT_DELIM)
        self.pos += after
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self):
        self.pos += 2
        x = self.input.find("*/", self.pos)
        if x < 0:
            return self.errorf("unclosed comment")
        self.pos = x + 2
        delim, trim = self.at_right_delim()
        if not delim:
            return self.errorf("comment ends before closing delimiter")
        if trim:
            self.pos += 2
        self.pos += len(self.right)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
        self.ignore()
        return self.lex_text

    def lex_right_delim(self):
        _, trim = self.at_right_delim()
        if trim:
            self.pos += 2
            self.ignore()
        self.pos += len(self.right)
        self.emit(T.RIGHT_DELIM)
        if trim:
            rest = self.input[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
            self.ignore()
        return self.lex_text

    def lex_inside_action(self):
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            return self.errorf("unclosed left paren")
        c = self.next()
        if c == "":
            return self.errorf("unclosed action")
        if is_space(c):
            self.backup()
            return self.lex_space
        if c == "=":
            self.emit(T.ASSIGN)
        elif c == ":":
            if self.next() != "=":
                return self.errorf("expected :=")
            self.emit(T.DECLARE)
        elif c == "|":
            self.emit(T.PIPE)
        elif c == '"':
            return self.lex_quote
        elif c == "`":
            return self.lex_raw_quote
        elif c == "$":
            return self.lex_variable
        elif c == "'":
            return self.lex_char
        elif c == "." and not (self.pos < len(self.input) and "0" <= self.input[self.pos] <= "9"):
            return self.lex_field
        elif c in "+-." or "0" <= c <= "9":
            self.backup()
            return self.lex_number
        elif is_alnum(c):
            self.backup()
            return self.lex_identifier
        elif c == "(":
            self.emit(T.LEFT_PAREN)
            self.paren_depth += 1
        elif c == ")":
            self.paren_depth -= 1
            if self.paren_depth < 0:
                return self.errorf("unexpected right paren")
            self.emit(T.RIGHT_PAREN)
        elif _is_print_ascii(c):
            self.emit(T.CHAR)
        else:
            return self.errorf(f"unrecognized character in action: {format_U(c)}")
        return self.lex_inside_action

    def lex_space(self):
        n = 0
        while is_space(self.peek()):
            self.pos += 1
            n += 1
        if self.has_right_trim(self.input[self.pos - 1 :]) and self.input.startswith(
            self.right, self.pos + 1
        ):
            self.pos -= 1
            if n == 1:
                return self.lex_right_delim
        self.emit(T.SPACE)
        return self.lex_inside_action

    def lex_identifier(self):
        while is_alnum(self.peek()):
            self.pos += 1
        word = self.input[self.start : self.pos]
        if not self.at_terminator():
            return self.errorf(f"bad character {format_U(self.peek())}")
        kw = KEYWORDS.get(word)
        if kw is not None and kw > T.KEYWORD:
            if (kw == T.BREAK and not self.break_ok) or (kw == T.CONTINUE and not self.continue_ok):
                self.emit(T.IDENTIFIER)
            else:
                self.emit(kw)
        elif word[0] == ".":
            self.emit(T.FIELD)
        elif word in ("true", "false"):
            self.emit(T.BOOL)
        else:
            self.emit(T.IDENTIFIER)
        return self.lex_inside_action

    def lex_field(self):
        return self._field_or_variable(T.FIELD)

    def lex_variable(self):
        if self.at_terminator():
            self.emit(T.VARIABLE)
            return self.lex_inside_action
        return self._field_or_variable(T.VARIABLE)

    def _field_or_variable(self, typ: T):
        if self.at_terminator():
            self.emit(T.VARIABLE if typ == T.VARIABLE else T.DOT)
            return self.lex_inside_action
        while is_alnum(self.peek()):
            self.pos += 1
        if not self.at_terminator():
            return self.errorf(f"bad character {format_U(self.peek())}")
        self.emit(typ)
        return self.lex_inside_action

    def at_terminator(self) -> bool:
        c = self.peek()
        if c == "" or is_space(c):
            return True
        if c in ".,|:)(=":
            return True
        return c == self.right[0]

    def lex_char(self):
        return self._lex_escaped("'", T.CHAR_CONSTANT, "unterminated character constant")

    def lex_number(self):
        if not self.scan_number():
            return self.errorf(f"bad number syntax: {_q(self.input[self.start : self.pos])}")
        if self.peek() in ("+", "-") and self.peek() != "":
            if not self.scan_number() or self.input[self.pos - 1] != "i":
                return self.errorf(f"bad number syntax: {_q(self.input[self.start : self.pos])}")
            self.emit(T.COMPLEX)
        else:
            self.emit(T.NUMBER)
        return self.lex_inside_action

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        if is_alnum(self.peek()):
            self.pos += 1
            return False
        return True

    def lex_quote(self):
        return self._lex_escaped('"', T.STRING, "unterminated quoted string")

    def _lex_escaped(self, close: str, token: T, unterminated: str):
        """A '...' or "..." literal: backslash escapes, no newline (Go's lexChar and lexQuote)."""
        while True:
            c = self.next()
            if c == "\\":
                if self.next() not in ("", "\n"):
                    continue
                return self.errorf(unterminated)
            if c in ("", "\n"):
                return self.errorf(unterminated)
            if c == close:
                break
        self.emit(token)
        return self.lex_inside_action

    def lex_raw_quote(self):
        x = self.input.find("`", self.pos)
        if x < 0:
            return self.errorf("unterminated raw quoted string")
        self.pos = x + 1
        self.emit(T.RAW_STRING)
        return self.lex_inside_action


def _q(s: str) -> str:
    from tagpilot.gotemplate.gofmt import quote

    return quote(s)


def lex(text: str, break_ok: bool = True, continue_ok: bool = True) -> list[Item]:
    return Lexer(text, break_ok, continue_ok).run()
