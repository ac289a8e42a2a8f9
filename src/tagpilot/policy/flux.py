"""Flux ImagePolicy selection (image-reflector-controller `internal/policy`), pure.

Rules, as the controller applies them:
1. `filterTags`: the RE2 `pattern` must match somewhere in the tag; with `extract` the candidate
   value is the Go template expansion, else the tag. Flux keeps the candidates in a map keyed by
   value, so when two tags extract the same value the later tag stands for it; we keep that, in
   first-seen order (Flux's map order is random, ours is stable).
2. No candidates → "version list argument cannot be empty".
3. semver: fluxcd/pkg `version.ParseVersion` + Masterminds constraints; the strictly greatest wins,
   so among equal versions the first seen is kept; its original text is returned.
   alphabetical: byte order, asc → greatest, desc → smallest.
   numerical: Go ParseFloat on every candidate (one failure fails the policy); asc → greatest,
   desc → smallest, ties go to the later candidate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tagpilot.errors import InvalidPolicy
from tagpilot.policy.base import MetadataRequest
from tagpilot.policy.gonum import parse_go_float
from tagpilot.policy.gore import GoRegexp, compile_go, expand_parsed, parse_template
from tagpilot.policy.semver import Constraints, best_flux_version, parse_constraint, parse_flux_version
from tagpilot.policy.types import (
    EXCLUDED,
    LOWER,
    NOT_NUMERIC,
    NOT_SEMVER,
    OUT_OF_RANGE,
    PRERELEASE,
    SELECTED,
    Selection,
    SelectionFailed,
    TagVerdict,
)

__all__ = ["FluxPolicy", "parse_flux_policy", "select_flux"]

EMPTY_LIST = "version list argument cannot be empty"
NO_MATCH = "unable to determine latest version from provided list"

# ImagePolicy spec fields that are not the policy engine's business but may be passed along
_OTHER_SPEC_FIELDS = frozenset({"imageRepositoryRef", "digestReflectionPolicy", "interval", "suspend"})


@dataclass(frozen=True)
class FluxPolicy:
    """A validated ImagePolicy choice: `kind` is semver | alphabetical | numerical; `order` asc | desc."""

    kind: str
    range: str | None = None
    order: str = "asc"
    pattern: str | None = None
    extract: str | None = None
    constraints: Constraints | None = field(default=None, repr=False, compare=False)
    regexp: GoRegexp | None = field(default=None, repr=False, compare=False)

    # --- the Policy interface (policy/base.py) ---------------------------------------------------
    needs_metadata = False  # Flux orders tag names only

    def metadata_request(self, tags: Sequence[str]) -> MetadataRequest | None:
        return None

    def select(self, tags: Sequence[str], *, metadata: Mapping[str, Any] | None = None,
               explain: bool = False) -> Selection:
        return select_flux(tags, self, explain=explain)

    @staticmethod
    def semver(range_: str, *, pattern: str | None = None, extract: str | None = None) -> FluxPolicy:
        """Build a semver policy (raises InvalidPolicy on a bad range or pattern)."""
        return _build("semver", range_, "asc", pattern, extract)

    @staticmethod
    def alphabetical(order: str = "asc", *, pattern: str | None = None, extract: str | None = None) -> FluxPolicy:
        """Build an alphabetical policy."""
        return _build("alphabetical", None, order, pattern, extract)

    @staticmethod
    def numerical(order: str = "asc", *, pattern: str | None = None, extract: str | None = None) -> FluxPolicy:
        """Build a numerical policy."""
        return _build("numerical", None, order, pattern, extract)


def _order(value: object) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidPolicy(f"invalid order argument provided: '{value}', must be one of: ASC, DESC")
    up = value.upper()
    if up == "":
        return "asc"
    if up not in ("ASC", "DESC"):
        raise InvalidPolicy(f"invalid order argument provided: '{up}', must be one of: ASC, DESC")
    return up.lower()


def _build(kind: str, range_: str | None, order: str, pattern: str | None, extract: str | None) -> FluxPolicy:
    constraints = parse_constraint(range_) if kind == "semver" and range_ is not None else None
    if kind == "semver" and constraints is None:
        raise InvalidPolicy("spec.policy.semver.range is required")
    order = _order(order)
    regexp = None
    if pattern is not None or extract is not None:
        regexp = compile_go(pattern or "")
    return FluxPolicy(kind, range_, order, pattern, extract, constraints, regexp)


def _mapping(value: object, where: str) -> Mapping:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidPolicy(f"{where} must be an object")
    return value


def _str(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPolicy(f"{where} must be a string")
    return value


def _only(obj: Mapping, allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in obj if k not in allowed)
    if unknown:
        raise InvalidPolicy(f"{where}: unknown field(s) {', '.join(unknown)}")


def parse_flux_policy(spec: Mapping) -> FluxPolicy:
    """Validate an ImagePolicy spec (`{"policy": {...}, "filterTags": {...}}`, camelCase as in YAML).

    Unknown fields, no or several policy choices, a bad range, order or pattern raise InvalidPolicy.
    """
    spec = _mapping(spec, "spec")
    _only(spec, {"policy", "filterTags"} | _OTHER_SPEC_FIELDS, "spec")
    policy = _mapping(spec.get("policy"), "spec.policy")
    _only(policy, {"semver", "alphabetical", "numerical"}, "spec.policy")
    chosen = [k for k in ("semver", "alphabetical", "numerical") if policy.get(k) is not None]
    if not chosen:
        raise InvalidPolicy("given ImagePolicyChoice object is invalid")
    if len(chosen) > 1:
        raise InvalidPolicy(
            f"spec.policy: only one of semver, alphabetical, numerical may be set (got {', '.join(chosen)})"
        )
    kind = chosen[0]
    body = _mapping(policy[kind], f"spec.policy.{kind}")
    filter_tags = spec.get("filterTags")
    pattern = extract = None
    if filter_tags is not None:
        ft = _mapping(filter_tags, "spec.filterTags")
        _only(ft, {"pattern", "extract"}, "spec.filterTags")
        pattern = _str(ft.get("pattern"), "spec.filterTags.pattern") or ""
        extract = _str(ft.get("extract"), "spec.filterTags.extract") or ""
    if kind == "semver":
        _only(body, {"range"}, "spec.policy.semver")
        range_ = _str(body.get("range"), "spec.policy.semver.range")
        if range_ is None:
            raise InvalidPolicy("spec.policy.semver.range is required")
        return _build(kind, range_, "asc", pattern, extract)
    _only(body, {"order"}, f"spec.policy.{kind}")
    order = body.get("order")
    return _build(kind, None, order if order is not None else "asc", pattern, extract)


# ---------------------------------------------------------------------------------------------


def _filter(
    tags: Sequence[str], policy: FluxPolicy, verdicts: list[TagVerdict] | None
) -> tuple[list[str], dict[str, str]]:
    """Apply filterTags: (candidate values in first-seen order, value → the tag that stands for it)."""
    rx = policy.regexp
    if rx is None:
        return list(tags), {}
    search = rx.regexp.search  # type: ignore[attr-defined]
    template = parse_template(policy.extract) if policy.extract else None
    origin: dict[str, str] = {}
    for tag in tags:
        m = search(tag)
        if m is None:
            if verdicts is not None:
                verdicts.append(TagVerdict(tag, EXCLUDED, f"does not match pattern '{rx.pattern}'"))
            continue
        value = expand_parsed(rx, template, m) if template is not None else tag
        origin[value] = tag  # like Flux's map: a later tag with the same value replaces the earlier
    return list(origin), origin


def select_flux(tags: Sequence[str], policy: FluxPolicy, *, explain: bool = False) -> Selection:
    """Pick the tag Flux would pick. Raises SelectionFailed (a PolicyError) with Flux's message."""
    verdicts: list[TagVerdict] | None = [] if explain else None
    values, origin = _filter(tags, policy, verdicts)
    if not values:
        raise SelectionFailed(EMPTY_LIST, _ordered(tags, verdicts))
    try:
        if policy.kind == "semver":
            winner = _semver(values, policy, origin, verdicts)
        elif policy.kind == "alphabetical":
            winner = _alphabetical(values, policy, origin, verdicts)
        else:
            winner = _numerical(values, policy, origin, verdicts)
    except SelectionFailed as e:
        if verdicts is not None and origin:
            _shadowed(tags, origin, policy, verdicts)
        e.verdicts = _ordered(tags, e.verdicts)
        raise
    tag = origin.get(winner, winner) if origin else winner
    if verdicts is not None and origin:
        _shadowed(tags, origin, policy, verdicts)
    return Selection(tag, winner, _ordered(tags, verdicts))


def _label(value: str, origin: dict[str, str]) -> str:
    tag = origin.get(value, value) if origin else value
    return f"'{tag}'" if tag == value else f"'{tag}' (value '{value}')"


def _semver(values: list[str], policy: FluxPolicy, origin: dict[str, str], verdicts: list[TagVerdict] | None) -> str:
    constraints = policy.constraints
    assert constraints is not None
    if verdicts is None:  # no explanation wanted: only the winner
        winner = best_flux_version(values, constraints)
        if winner is None:
            raise SelectionFailed(NO_MATCH, verdicts)
        return winner
    check = constraints.check
    best = None
    best_key = None
    ok: list = []
    for value in values:
        v = parse_flux_version(value)
        if v is None:
            if verdicts is not None:
                verdicts.append(
                    TagVerdict(
                        origin.get(value, value) if origin else value,
                        NOT_SEMVER,
                        f"'{value}' is not a semantic version with three parts",
                    )
                )
            continue
        if not check(v):
            if verdicts is not None:
                tag = origin.get(value, value) if origin else value
                if v.pre and not constraints.admits_prerelease():
                    verdicts.append(
                        TagVerdict(
                            tag,
                            PRERELEASE,
                            f"'{value}' is a prerelease and the range "
                            f"'{constraints.text}' does not ask for prereleases",
                        )
                    )
                else:
                    verdicts.append(
                        TagVerdict(tag, OUT_OF_RANGE, f"'{value}' is outside the range '{constraints.text}'")
                    )
            continue
        if verdicts is not None:
            ok.append(v)
        if best_key is None or v.key > best_key:
            best, best_key = v, v.key
    if best is None:
        raise SelectionFailed(NO_MATCH, verdicts)
    if verdicts is not None:
        for v in ok:
            if v is best:
                continue
            tag = origin.get(v.original, v.original) if origin else v.original
            how = "equal to" if v.key == best_key else "lower than"
            extra = ", which was seen first" if v.key == best_key else ""
            verdicts.append(TagVerdict(tag, LOWER, f"'{v.original}' is {how} {_label(best.original, origin)}{extra}"))
        verdicts.append(
            TagVerdict(
                origin.get(best.original, best.original) if origin else best.original,
                SELECTED,
                f"'{best.original}' is the highest version in range '{constraints.text}'",
            )
        )
    return best.original


def _alphabetical(
    values: list[str], policy: FluxPolicy, origin: dict[str, str], verdicts: list[TagVerdict] | None
) -> str:
    winner = max(values) if policy.order == "asc" else min(values)
    if verdicts is not None:
        word = "last" if policy.order == "asc" else "first"
        done = False
        for value in values:
            tag = origin.get(value, value) if origin else value
            if value == winner and not done:
                done = True
                verdicts.append(TagVerdict(tag, SELECTED, f"'{value}' sorts {word} ({policy.order})"))
            else:
                verdicts.append(
                    TagVerdict(
                        tag,
                        LOWER,
                        f"'{value}' sorts before {_label(winner, origin)} in {policy.order} order"
                        if value != winner
                        else f"'{value}' is a duplicate of the selected tag",
                    )
                )
    return winner


def _numerical(values: list[str], policy: FluxPolicy, origin: dict[str, str], verdicts: list[TagVerdict] | None) -> str:
    asc = policy.order == "asc"
    latest = ""
    pv = 0.0
    latest_index = -1
    for i, value in enumerate(values):
        cv = parse_go_float(value)
        if cv is None:
            if verdicts is not None:
                tag = origin.get(value, value) if origin else value
                verdicts.append(TagVerdict(tag, NOT_NUMERIC, f"'{value}' is not a number; it fails the policy"))
            raise SelectionFailed(f"failed to parse invalid numeric value '{value}'", verdicts)
        if i != 0 and ((asc and cv < pv) or (not asc and cv > pv)):
            continue
        latest, pv, latest_index = value, cv, i
    if verdicts is not None:
        for i, value in enumerate(values):
            tag = origin.get(value, value) if origin else value
            if i == latest_index:
                verdicts.append(
                    TagVerdict(
                        tag, SELECTED, f"'{value}' is the {'greatest' if asc else 'smallest'} number ({policy.order})"
                    )
                )
            else:
                verdicts.append(
                    TagVerdict(tag, LOWER, f"'{value}' loses to {_label(latest, origin)} in {policy.order} order")
                )
    return latest


def _shadowed(tags: Sequence[str], origin: dict[str, str], policy: FluxPolicy, verdicts: list[TagVerdict]) -> None:
    """Tags that matched the pattern but whose value is represented by a later tag."""
    seen = {v.tag for v in verdicts}
    for tag in tags:
        if tag in seen:
            continue
        m = policy.regexp.regexp.search(tag)  # type: ignore[union-attr, attr-defined]
        if m is None:
            continue
        value = expand_parsed(policy.regexp, parse_template(policy.extract), m) if policy.extract else tag  # type: ignore[arg-type]
        stand_in = origin.get(value)
        if stand_in is not None and stand_in != tag:
            verdicts.append(
                TagVerdict(
                    tag, LOWER, f"extracts '{value}', the same value as the later tag '{stand_in}', which stands for it"
                )
            )
            seen.add(tag)


def _ordered(tags: Sequence[str], verdicts: list[TagVerdict] | None) -> list[TagVerdict] | None:
    """Verdicts in input order (one per distinct input tag)."""
    if verdicts is None:
        return None
    by_tag: dict[str, TagVerdict] = {}
    for v in verdicts:
        if v.outcome == SELECTED or v.tag not in by_tag:
            by_tag[v.tag] = v
    out = []
    emitted = set()
    for tag in tags:
        if tag in by_tag and tag not in emitted:
            out.append(by_tag[tag])
            emitted.add(tag)
    return out
