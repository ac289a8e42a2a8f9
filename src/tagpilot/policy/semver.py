"""Masterminds/semver v3 (3.4) versions and constraints, as Flux and Argo CD Image Updater use them.

Why our own: no maintained Python library reproduces Masterminds' rules (loose `NewVersion`
coercion of `v1`/`1.2`/leading zeros, x-ranges that turn `=` into `~`, `^` narrowing below 1.0,
prerelease opt-in per AND group, the validating regexes that decide what is an "improper
constraint"). Users' ranges are written against that library, so we follow its source literally,
including its oddities (`<=*` only admits 0.x, `^*` only admits 0.0.0), rather than any spec.

The patterns are fixed, but the constraint text comes from users: the validating pattern
backtracks exponentially in Python's `re` (runs of spaces between items), so it runs on RE2
(linear time, the engine Go uses). The other patterns are unambiguous and run on `re`. Go's `\\s`
is spelled out because Python's is Unicode-wide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import re2

from tagpilot.errors import InvalidPolicy

__all__ = [
    "Constraints",
    "Version",
    "best_flux_version",
    "is_x",
    "parse_constraint",
    "parse_flux_version",
    "parse_single_constraint",
    "parse_version",
    "rewrite_range",
]

_U64 = 1 << 64
_WS = r"[\t\n\f\r ]"  # Go RE2 \s

# NewVersion's loose regex (semVerRegex in v3.0-3.2, looseSemVerRegex in 3.3+; with CoerceNewVersion
# = true, the 3.4 default, NewVersion goes through it).
_VERSION_RE = re.compile(
    r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")


def _u64(digits: str) -> int | None:
    """strconv.ParseUint(digits, 10, 64) for an ASCII digit string; None on overflow.

    The length check comes first: Python refuses int() of very long digit strings.
    """
    if len(digits.lstrip("0")) > 20:
        return None
    n = int(digits)
    return n if n < _U64 else None


def _pre_key(pre: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key of a prerelease: numeric identifiers (that fit uint64) sort below alphanumeric ones."""
    key: list[tuple[int, int | str]] = []
    for part in pre.split("."):
        if part.isdigit() and part.isascii():
            n = _u64(part)
            if n is not None:
                key.append((0, n))
                continue
        key.append((1, part))
    return tuple(key)


@dataclass(frozen=True, slots=True)
class Version:
    """A parsed version. `key` orders versions as Masterminds' `Compare` does (metadata ignored)."""

    major: int
    minor: int
    patch: int
    pre: str
    metadata: str
    original: str
    key: tuple

    def __str__(self) -> str:
        s = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            s += "-" + self.pre
        if self.metadata:
            s += "+" + self.metadata
        return s


def _make(major: int, minor: int, patch: int, pre: str, meta: str, original: str) -> Version:
    key = (major, minor, patch, 0, _pre_key(pre)) if pre else (major, minor, patch, 1, ())
    return Version(major, minor, patch, pre, meta, original, key)


def _valid_pre(pre: str) -> bool:
    for part in pre.split("."):
        if part.isdigit():
            if len(part) > 1 and part[0] == "0":
                return False
        elif not _ALLOWED.issuperset(part):
            return False
    return True


def _valid_meta(meta: str) -> bool:
    return all(_ALLOWED.issuperset(p) for p in meta.split("."))


def parse_version(text: str) -> Version | None:
    """Masterminds `NewVersion`: loose (`v` prefix, `1`, `1.2`, leading zeros); None if invalid."""
    m = _VERSION_RE.fullmatch(text)
    if m is None:
        return None
    # one groups() call and int() straight away for up to 19 digits (always below 2**64): the
    # 100,000-tag policy spends most of its time here
    major_s, minor_s, patch_s, _, pre, _, _, meta, _ = m.groups()
    major = int(major_s) if len(major_s) < 20 else _u64(major_s)
    minor = (int(minor_s[1:]) if len(minor_s) < 21 else _u64(minor_s[1:])) if minor_s else 0
    patch = (int(patch_s[1:]) if len(patch_s) < 21 else _u64(patch_s[1:])) if patch_s else 0
    if major is None or minor is None or patch is None:  # strconv.ParseUint range error
        return None
    pre = pre or ""
    meta = meta or ""
    if pre and not _valid_pre(pre):
        return None
    if meta and not _valid_meta(meta):
        return None
    return _make(major, minor, patch, pre, meta, text)


def parse_flux_version(text: str) -> Version | None:
    """fluxcd/pkg `version.ParseVersion`: `strings.SplitN(v, ".", 3)` must give three parts, then NewVersion.

    So `1.2` and `v1` are refused while `v2025.02.03` is accepted. Note the split is on the whole
    string: `1.2-rc.1` has three parts and parses (as 1.2.0-rc.1), exactly as in Flux.
    """
    if text.count(".") < 2:
        return None
    return parse_version(text)


# ---------------------------------------------------------------------------------------------
# Constraints

_CV = (
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
)
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_CONSTRAINT_RE = re.compile(rf"{_WS}*({_OPS}){_WS}*({_CV}){_WS}*")
_RANGE_RE = re.compile(rf"{_WS}*({_CV}){_WS}+-{_WS}+({_CV}){_WS}*")
_FIND_RE = re.compile(rf"({_OPS}){_WS}*({_CV})")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_VALID_RE = re2.compile(
    rf"({_WS}*({_OPS}){_WS}*({_CV}){_WS}*)((?:{_WS}+|,{_WS}*)({_OPS}){_WS}*({_CV}){_WS}*)*",
    _RE2_OPTIONS,
)
_MAX_CONSTRAINT_LEN = 4096  # a bound on what we spend on one config string, far above real use


def is_x(s: str) -> bool:
    """Masterminds `isX`: the wildcard spellings of a version part."""
    return s in ("x", "X", "*")


@dataclass(frozen=True, slots=True)
class _Con:
    """One comparison: operator, the version it compares with, and which parts were wildcards."""

    op: str
    orig: str
    con: Version
    dirty: bool
    minor_dirty: bool
    patch_dirty: bool

    def check(self, v: Version, include_pre: bool) -> bool:
        if v.pre and not include_pre:
            return False
        return _OP_FUNCS[self.op](v, self)


def _tilde(v: Version, c: _Con) -> bool:
    if v.key < c.con.key:
        return False
    con = c.con
    if con.major == 0 and con.minor == 0 and con.patch == 0 and not c.minor_dirty and not c.patch_dirty:
        return True
    if v.major != con.major:
        return False
    return not (v.minor != con.minor and not c.minor_dirty)


def _tilde_or_equal(v: Version, c: _Con) -> bool:
    if c.dirty:
        return _tilde(v, c)
    return v.key == c.con.key


def _not_equal(v: Version, c: _Con) -> bool:
    con = c.con
    if c.dirty:
        if con.major != v.major:
            return True
        if con.minor != v.minor and not c.minor_dirty:
            return True
        if c.minor_dirty:
            return False
        if con.patch != v.patch and not c.patch_dirty:
            return True
        if c.patch_dirty:
            # comparePrerelease(a, b) != 0 iff the (validated) strings differ
            return v.pre != con.pre
    return v.key != con.key


def _greater(v: Version, c: _Con) -> bool:
    con = c.con
    if not c.dirty:
        return v.key > con.key
    if v.major > con.major:
        return True
    if v.major < con.major:
        return False
    if c.minor_dirty:
        return False
    if c.patch_dirty:
        return v.minor > con.minor
    return v.key > con.key


def _less(v: Version, c: _Con) -> bool:
    return v.key < c.con.key


def _greater_equal(v: Version, c: _Con) -> bool:
    return v.key >= c.con.key


def _less_equal(v: Version, c: _Con) -> bool:
    con = c.con
    if not c.dirty:
        return v.key <= con.key
    if v.major > con.major:
        return False
    return not (v.major == con.major and v.minor > con.minor and not c.minor_dirty)


def _caret(v: Version, c: _Con) -> bool:
    con = c.con
    if v.key < con.key:
        return False
    if con.major > 0 or c.minor_dirty:
        return v.major == con.major
    if con.major == 0 and v.major > 0:
        return False
    if con.minor > 0 or c.patch_dirty:
        return v.minor == con.minor
    if con.minor == 0 and v.minor > 0:
        return False
    return con.patch == v.patch


_OP_FUNCS: dict[str, Callable[[Version, _Con], bool]] = {
    "": _tilde_or_equal,
    "=": _tilde_or_equal,
    "!=": _not_equal,
    ">": _greater,
    "<": _less,
    ">=": _greater_equal,
    "=>": _greater_equal,
    "<=": _less_equal,
    "=<": _less_equal,
    "~": _tilde,
    "~>": _tilde,
    "^": _caret,
}


def parse_single_constraint(text: str) -> _Con:
    """Masterminds `parseConstraint`: one operator and version (``""`` is the wildcard, as upstream).

    `parse_constraint` only hands it non-empty items; the empty case is kept so the upstream
    tables of single comparisons run unchanged.
    """
    if not text:
        return _Con("", text, _make(0, 0, 0, "", "", "0.0.0"), True, False, False)
    m = _CONSTRAINT_RE.fullmatch(text)
    if m is None:
        raise InvalidPolicy(f"improper constraint: {text}")
    op, orig = m.group(1), m.group(2)
    major, minor, patch, dash_pre = m.group(3), m.group(4) or "", m.group(5) or "", m.group(6) or ""
    ver = orig
    dirty = minor_dirty = patch_dirty = False
    if is_x(major):
        ver, dirty = f"0.0.0{dash_pre}", True
    elif minor == "" or is_x(minor[1:]):
        ver, dirty, minor_dirty = f"{major}.0.0{dash_pre}", True, True
    elif patch == "" or is_x(patch[1:]):
        ver, dirty, patch_dirty = f"{major}{minor}.0{dash_pre}", True, True
    con = parse_version(ver)
    if con is None:
        raise InvalidPolicy(f"improper constraint: {text.strip()} (constraint parser error)")
    return _Con(op, orig, con, dirty, minor_dirty, patch_dirty)


def rewrite_range(text: str) -> str:
    """Masterminds `rewriteRange`: `1.2 - 1.4.5` → `>= 1.2, <= 1.4.5 ` (each match replaced once,
    as Go's strings.Replace(.., 1)).

    The trailing space matters: the range pattern swallows the blanks after the upper bound, so
    without it `1.0.0 - 2.0.0 <=2.0.0` would become `... <= 2.0.0<=2.0.0`, one invalid item.
    """
    if "-" not in text:
        return text
    out = text
    for m in list(_RANGE_RE.finditer(text)):
        out = out.replace(m.group(0), f">= {m.group(1)}, <= {m.group(11)} ", 1)
    return out


@dataclass(frozen=True)
class Constraints:
    """A parsed constraint string: OR of AND groups. Prereleases are admitted in a group only if
    one of its comparisons names a prerelease (Masterminds v3.4 `containsPre`)."""

    text: str
    groups: tuple[tuple[_Con, ...], ...]
    group_has_pre: tuple[bool, ...]

    def check(self, v: Version, include_prerelease: bool = False) -> bool:
        """Masterminds `Check`: True if any AND group is satisfied.

        `include_prerelease` is upstream's `Constraints.IncludePrerelease`: admit prereleases in
        every group, not only in those that name one.
        """
        for group, has_pre in zip(self.groups, self.group_has_pre, strict=True):
            pre_ok = include_prerelease or has_pre
            if v.pre and not pre_ok:
                continue
            if all(c.check(v, pre_ok) for c in group):
                return True
        return False

    def admits_prerelease(self) -> bool:
        """True if some group would consider prereleases at all (used to explain rejections)."""
        return any(self.group_has_pre)


def parse_constraint(text: str) -> Constraints:
    """Masterminds `NewConstraint`. Raises InvalidPolicy("improper constraint: ...") like upstream."""
    if len(text) > _MAX_CONSTRAINT_LEN:
        raise InvalidPolicy(f"improper constraint: longer than {_MAX_CONSTRAINT_LEN} characters")
    rewritten = rewrite_range(text)
    groups: list[tuple[_Con, ...]] = []
    has_pre: list[bool] = []
    for part in rewritten.split("||"):
        if not _VALID_RE.fullmatch(part):
            raise InvalidPolicy(f"improper constraint: {part}")
        found = [m.group(0) for m in _FIND_RE.finditer(part)] or [part]
        cons = tuple(parse_single_constraint(s) for s in found)
        groups.append(cons)
        has_pre.append(any(c.con.pre for c in cons))
    return Constraints(text, tuple(groups), tuple(has_pre))


class _Probe:
    """What the comparison functions read of a version (`major`, `minor`, `patch`, `pre`, `key`), in
    one reused mutable object: building a frozen `Version` per tag cost more than comparing it."""

    __slots__ = ("key", "major", "minor", "patch", "pre")

    def __init__(self) -> None:
        self.major = self.minor = self.patch = 0
        self.pre = ""
        self.key: tuple = ()


# `_VERSION_RE` with one character class for a dot-separated identifier list: the same strings match
# once `_empty_identifier` refuses what the original's `ident(.ident)*` would (a leading, trailing or
# doubled dot), and the groups are the five parts without their separators.
_VERSION_FAST_RE = re.compile(
    r"v?([0-9]+)(?:\.([0-9]+))?(?:\.([0-9]+))?(?:-([0-9A-Za-z.\-]+))?(?:\+([0-9A-Za-z.\-]+))?"
)


def _empty_identifier(ids: str) -> bool:
    return ids[0] == "." or ids[-1] == "." or ".." in ids


def _major_ceiling(constraints: Constraints) -> int | None:
    """The greatest major version any version `constraints` admits can have; None when unbounded.

    An AND group is bounded by its tightest comparison, an OR of groups by its loosest group. Read
    off the comparison functions above: `<`, `<=` (exact or with wildcards), `^` and exact `=` never
    admit a greater major than their version's; `~` (and `=` with wildcards, which is `~`) admits
    only its version's major unless its version is a bare 0.0.0 without wildcards; `>`, `>=`, `!=`
    have no ceiling.
    """
    ceiling = -1
    for group in constraints.groups:
        bound: int | None = None
        for c in group:
            if c.op in ("<", "<=", "=<", "^") or (c.op in ("", "=") and not c.dirty):
                this: int | None = c.con.major
            elif c.op in ("~", "~>", "", "="):
                bare = c.con.major == c.con.minor == c.con.patch == 0 and not c.minor_dirty and not c.patch_dirty
                this = None if bare else c.con.major
            else:
                this = None
            if this is not None and (bound is None or this < bound):
                bound = this
        if bound is None:
            return None
        ceiling = max(ceiling, bound)
    return ceiling


def best_flux_version(values: Iterable[str], constraints: Constraints) -> str | None:
    """The text of the greatest version (`parse_flux_version`) among `values` that `constraints`
    admits, the first seen among equal ones; None when there is none.

    The same answer as parsing every value and keeping the strictly greatest admitted one, with the
    work reordered for 100,000-tag lists: a value whose major is below the best so far, or above
    the greatest major the constraints admit, is skipped as soon as its major is read (whether it
    parses or not, it could not win), only a value above the best is checked against the
    constraints, and no `Version` is built.
    tests/policy/test_semver_select.py compares it with that plain loop on random lists and ranges.
    """
    match = _VERSION_FAST_RE.fullmatch
    groups = [
        (has_pre, tuple((_OP_FUNCS[c.op], c) for c in group))
        for group, has_pre in zip(constraints.groups, constraints.group_has_pre, strict=True)
    ]
    probe = _Probe()
    best: str | None = None
    best_key: tuple | None = None
    ceiling = _major_ceiling(constraints)
    top = _U64 if ceiling is None else ceiling
    best_major = -1
    best_num: tuple[int, int, int] = (-1, -1, -1)
    for text in values:
        if text.count(".") < 2:
            continue
        # the digits before the first dot, when that is all there is, are the major of a valid version
        lead = text[1 : text.find(".")] if text[0] == "v" else text[: text.find(".")]
        if 0 < len(lead) < 20 and lead.isdigit() and lead.isascii() and not best_major <= int(lead) <= top:
            continue  # below the best or above the ceiling, valid or not: it cannot win
        m = match(text)
        if m is None:
            continue
        major_s, minor_s, patch_s, pre, meta = m.groups()
        major = int(major_s) if len(major_s) < 20 else _u64(major_s)
        if major is None or not best_major <= major <= top:
            continue
        minor = (int(minor_s) if len(minor_s) < 20 else _u64(minor_s)) if minor_s else 0
        patch = (int(patch_s) if len(patch_s) < 20 else _u64(patch_s)) if patch_s else 0
        if minor is None or patch is None:
            continue
        num = (major, minor, patch)
        if num < best_num:
            continue
        if pre:
            if _empty_identifier(pre) or not _valid_pre(pre):
                continue
            key: tuple = (major, minor, patch, 0, _pre_key(pre))
        else:
            key = (major, minor, patch, 1, ())
        if meta and (_empty_identifier(meta) or not _valid_meta(meta)):
            continue
        if best_key is not None and key <= best_key:  # strictly greater wins: the first seen stays
            continue
        probe.major, probe.minor, probe.patch, probe.pre, probe.key = major, minor, patch, pre or "", key
        for has_pre, comparisons in groups:
            if pre and not has_pre:
                continue
            for op, con in comparisons:
                if not op(probe, con):  # type: ignore[arg-type]
                    break
            else:
                best, best_key, best_major, best_num = text, key, major, num
                break
    return best
