"""How a new value is written so that YAML reads back exactly that string.

The rewriter keeps the old quote style. A plain value is kept plain only when every YAML reader we
care about reads it back as the same *string*: PyYAML (YAML 1.1 implicit types: ``yes``, ``on``,
``012``, ``1:20``, timestamps...) and Go's yaml.v3 / YAML 1.2 core schema (``1e3``, ``0o17``,
``.inf``...), plus ``<<`` and ``=`` which YAML 1.1 gives special meaning. Anything else gets double
quotes, as kyaml's ``FormatNonStringStyle`` does for Flux.

Whether a plain scalar survives its context is decided by parsing a one-line document in the same
context (block or flow) instead of re-implementing the plain-scalar grammar: the parser is the
authority, and this only runs for values that actually change.
"""

from __future__ import annotations

import functools

import re2
import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

STR_TAG = "tag:yaml.org,2002:str"

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution) and yaml.v3's extras.
# Fixed patterns, but RE2 like every pattern in tagpilot.
_CORE_NON_STRING = re2.compile(
    r"(?:~|null|Null|NULL"
    r"|true|True|TRUE|false|False|FALSE"
    r"|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF"
    r"|[-+]?[0-9][0-9_]*"
    r"|0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+|[-+]?0b[01_]+|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|<<|=)"
)

# Characters PyYAML accepts in a stream (its Reader.NON_PRINTABLE complement), minus the line breaks.
_PRINTABLE = re2.compile(r"[\x20-\x7E\xA0-\x{D7FF}\x{E000}-\x{FFFD}\x{10000}-\x{10FFFF}]*")

_ESCAPES = {
    "\0": "\\0",
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def is_printable(value: str) -> bool:
    """True when `value` can be written literally inside quotes (no control characters or breaks)."""
    return _PRINTABLE.fullmatch(value) is not None


def double_quoted(value: str) -> str:
    """`value` as a YAML double-quoted scalar, escaping only what must be escaped."""
    out = ['"']
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif is_printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02X}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    out.append('"')
    return "".join(out)


def single_quoted(value: str) -> str | None:
    """`value` as a single-quoted scalar, or None when single quotes cannot carry it (control chars)."""
    if not is_printable(value):
        return None
    return "'" + value.replace("'", "''") + "'"


def plain_is_string(value: str) -> bool:
    """True when `value` written plain is read as this very string by YAML 1.1 and 1.2 readers."""
    return _CORE_NON_STRING.fullmatch(value) is None


def read_scalar(source: str, *, flow: bool) -> tuple[str, str, str] | None:
    """(style, value, tag) of `source` read as one scalar value in a block (or flow) collection, with a
    trailing comment after it as a marker has; None when it is not exactly one scalar there.

    The parser is asked with a one-line document (``k: SOURCE # c`` or ``[SOURCE # c`` + ``]``): a
    single-line scalar is read the same way wherever it stands in its kind of collection, so this is
    how a value's source text is checked without parsing the file it goes into.
    """
    if len(source) > _CACHED_LENGTH:
        return _read_scalar(source, flow)
    return _read_scalar_cached(source, flow)


def _read_scalar(source: str, flow: bool) -> tuple[str, str, str] | None:
    doc = f"[{source} # c\n]\n" if flow else f"k: {source} # c\n"
    try:
        node = yaml.compose(doc, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if flow:
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != 1:
            return None
        scalar = node.value[0]
    else:
        if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
            return None
        scalar = node.value[0][1]
    if not isinstance(scalar, yaml.ScalarNode):
        return None
    return scalar.style or "", scalar.value, scalar.tag


def plain_fits(value: str, *, flow: bool) -> bool:
    """True when `value` can be written as a plain scalar in a block (or flow) collection.

    `read_scalar` must find one plain scalar with exactly this text and the string tag, so indicators,
    `` #``, ``: ``, leading ``*&!%@`` and implicit types of PyYAML's resolver are all caught by the
    parser itself.
    """
    if len(value) > _CACHED_LENGTH:
        return _plain_fits(value, flow)
    return _plain_fits_cached(value, flow)


def _plain_fits(value: str, flow: bool) -> bool:
    if not value or value != value.strip(" ") or not is_printable(value) or not plain_is_string(value):
        return False
    return read_scalar(value, flow=flow) == ("", value, STR_TAG)


# A run asks about the same few values in every file it rewrites (the image of each policy, the value
# each file held): the answers are pure functions of the text, kept for values of image-reference size.
_CACHED_LENGTH = 512
_read_scalar_cached = functools.lru_cache(maxsize=2048)(_read_scalar)
_plain_fits_cached = functools.lru_cache(maxsize=2048)(_plain_fits)


def render(value: str, style: str, *, flow: bool) -> str:
    """The source text for `value` in quote `style` ('' plain, "'" or '"'), quoting plain when needed."""
    if style == "'":
        quoted = single_quoted(value)
        return quoted if quoted is not None else double_quoted(value)
    if style == '"':
        return double_quoted(value)
    return value if plain_fits(value, flow=flow) else double_quoted(value)
