"""The retention planner: which digests of one repository to keep and which to delete, and why.

Pure: values in (the repository's artifacts, the rules, what is protected, `now`), a plan out; no
network, disk or clock. The engine (`tagpilot.engine.retention`) gathers the inputs and performs the
deletes.

Harbor's model, kept (shared/reference/retention.md §1):
- the unit of action is the artifact (digest), not the tag: an artifact is deleted only when no rule
  and no protection retains it, and then with all its tags (a DELETE by digest untags every tag);
- every rule *retains*; the retained set is the union over rules; everything else is deleted;
- a rule's tag selectors are ANDed and pick its candidates; the template keeps some of them;
- `matches`: an artifact is selected when ANY of its tags matches; `excludes`: when ANY of its tags
  does NOT match (so `excludes master*` still selects an artifact tagged `master` and `build-7`,
  Harbor #11450); untagged artifacts: with `matches` selected iff `untagged` (default true), with
  `excludes` iff not `untagged` (default false).

tagpilot's protections on top (each retains, with its reason): deployed tags (found in git), image
policies' `latestRef`/`observedPreviousRef`, `protect.tags` patterns, the children of a retained index,
cosign `sha256-<hex>.sig/.att/.sbom` tags and the OCI fallback tag `sha256-<hex>` of a retained digest,
OCI referrers (untagged artifacts whose `subject` is a retained digest). Signature artifacts do not take
part in the rules: they follow their subject (kept with it, deleted with it; kept when the subject is not in
this repository, since it may live elsewhere). Push times that are unknown count as "now": kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tagpilot.regex import RegexError, compile_regex
from tagpilot.retention.doublestar import DoublestarError, compile_doublestar

# Harbor's templates and their parameter defaults/bounds (src/pkg/retention/policy/rule/*)
TEMPLATES: dict[str, tuple[int | None, int | None]] = {
    # template: (default, exclusive upper bound); None default = no parameter
    "latestPushedK": (10, 32767),
    "nDaysSinceLastPush": (30, 20190905),
    "latestCreatedK": (10, 32767),
    "nDaysSinceCreated": (30, 20190905),
    "always": (None, None),
}
PULL_TEMPLATES = ("latestPulledN", "nDaysSinceLastPull")
# cosign's tag schema (`.sig/.att/.sbom`) and OCI 1.1's referrers fallback tag (`sha256-<hex>`, an index)
COSIGN_TAG = re.compile(r"^sha256-([0-9a-f]{64})(?:\.(sig|att|sbom))?$")
DEFAULT_MAX_DELETE_PERCENT = 50


class PlanError(ValueError):
    """A rule, selector or pattern the planner cannot use; the message names the field."""


@dataclass(frozen=True)
class Artifact:
    """One digest of the repository, with every tag that points at it now.

    `pushed`: when it was pushed, as far as tagpilot knows (the latest first-seen time of its tags);
    None = unknown, counted as now. `pushed_source` says which time that is, for the plan's reasons.
    `created`: the image config's `created` (an index: the newest of its platforms); None = unknown.
    `children`: the digests an index lists.
    """

    digest: str
    tags: tuple[str, ...] = ()
    pushed: datetime | None = None
    pushed_source: str = "push time unknown: counted as now"
    created: datetime | None = None
    children: tuple[str, ...] = ()
    pushed_guessed: bool = False  # a tag first seen by this run: "pushed now" is a guess, never ranked
    subject: str | None = None  # an OCI referrer (signature, SBOM) of this digest: it follows its subject

    @property
    def push_unknown(self) -> bool:
        return self.pushed is None or self.pushed_guessed


@dataclass(frozen=True)
class TagSelector:
    decoration: str = "matches"  # matches | excludes
    kind: str = "doublestar"  # doublestar | regexp
    pattern: str = ""
    untagged: bool | None = None  # None: Harbor's default for the decoration

    def matcher(self) -> Callable[[str], bool]:
        if self.kind == "doublestar":
            try:
                return compile_doublestar(self.pattern)
            except DoublestarError as exc:
                raise PlanError(f"doublestar pattern {self.pattern!r}: {exc}") from None
        if self.kind == "regexp":
            try:
                compiled = compile_regex(self.pattern)
            except RegexError as exc:
                raise PlanError(str(exc)) from None
            return lambda tag: compiled.fullmatch(tag) is not None  # anchored, as a tag pattern reads
        raise PlanError(f"tag selector kind {self.kind!r}: use doublestar or regexp")

    def selects(self, artifact: Artifact, match: Callable[[str], bool]) -> bool:
        if not artifact.tags:
            if self.decoration == "matches":
                return True if self.untagged is None else self.untagged
            return not bool(self.untagged)
        if self.decoration == "matches":
            return any(match(t) for t in artifact.tags)
        if self.decoration == "excludes":
            return any(not match(t) for t in artifact.tags)
        raise PlanError(f"tag selector decoration {self.decoration!r}: use matches or excludes")


@dataclass(frozen=True)
class Rule:
    template: str
    param: int | None = None  # None: the template's default
    selectors: tuple[TagSelector, ...] = ()

    def checked_param(self) -> int | None:
        if self.template in PULL_TEMPLATES:
            raise PlanError(f"template {self.template}: plain registries report no pull times; use "
                            f"latestPushedK or nDaysSinceLastPush")
        if self.template not in TEMPLATES:
            raise PlanError(f"unknown template {self.template!r}; use one of {', '.join(TEMPLATES)}")
        default, bound = TEMPLATES[self.template]
        if default is None:
            return None
        value = default if self.param is None else self.param
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or (bound and value >= bound):
            raise PlanError(f"template {self.template}: parameter must be an integer from 0 to {bound - 1}, "
                            f"not {value!r}")
        return value

    def describe(self, index: int) -> str:
        param = self.checked_param()
        return f"rule {index} {self.template}" + (f"={param}" if param is not None else "")


@dataclass(frozen=True)
class Protections:
    """What must survive whatever the rules say: reasons by tag and by digest, and tag patterns."""

    tags: Mapping[str, Sequence[str]] = field(default_factory=dict)  # tag → ["deployed: ..."]
    digests: Mapping[str, Sequence[str]] = field(default_factory=dict)  # digest → reasons
    patterns: tuple[TagSelector, ...] = ()  # protect.tags (decoration ignored: a tag matching any)


@dataclass
class PlanItem:
    digest: str
    tags: list[str]
    action: str  # retain | delete
    reasons: list[str]


@dataclass
class RepositoryPlan:
    items: list[PlanItem]
    blocked: str | None = None  # set when the plan deletes more than maxDeletePercent

    @property
    def deletes(self) -> list[PlanItem]:
        return [i for i in self.items if i.action == "delete"]


def _when(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t is not None else "unknown"


def validate_rules(rules: Sequence[Rule], patterns: Iterable[TagSelector] = ()) -> None:
    """Raise PlanError for the first unusable rule, selector or pattern (the config checks this at load)."""
    for rule in rules:
        rule.checked_param()
        for sel in rule.selectors:
            sel.matcher()
            if sel.decoration not in ("matches", "excludes"):
                raise PlanError(f"tag selector decoration {sel.decoration!r}: use matches or excludes")
    for sel in patterns:
        sel.matcher()


def _rule_retains(rule: Rule, candidates: list[Artifact], now: datetime) -> list[Artifact]:
    param = rule.checked_param()

    def pushed(a: Artifact) -> datetime:
        return a.pushed if a.pushed is not None else now  # unknown = pushed now: kept, never a guess

    def created(a: Artifact) -> datetime | None:
        return a.created

    if rule.template == "always":
        return candidates
    if rule.template == "latestPushedK":
        # an artifact whose push time is unknown (or first seen by this run) is kept and not ranked:
        # counting it as "now" would push a truly recent one out of the k
        guessed = [a for a in candidates if a.push_unknown]
        ranked = sorted((a for a in candidates if not a.push_unknown), key=lambda a: (pushed(a), a.digest),
                        reverse=True)
        return guessed + ranked[:param]
    if rule.template == "nDaysSinceLastPush":
        cutoff = now - timedelta(days=param or 0)
        return [a for a in candidates if a.push_unknown or pushed(a) >= cutoff]
    # created-based: an image without `created` cannot be judged: kept
    unknown = [a for a in candidates if created(a) is None]
    known = [a for a in candidates if created(a) is not None]
    if rule.template == "latestCreatedK":
        ranked = sorted(known, key=lambda a: (a.created, a.digest), reverse=True)
        return unknown + ranked[:param]
    if rule.template == "nDaysSinceCreated":
        cutoff = now - timedelta(days=param or 0)
        return unknown + [a for a in known if a.created >= cutoff]  # type: ignore[operator]
    raise PlanError(f"unknown template {rule.template!r}")


def _rule_reason(rule: Rule, index: int, artifact: Artifact) -> str:
    base = rule.describe(index)
    if rule.template in ("latestCreatedK", "nDaysSinceCreated"):
        return f"{base} (created {_when(artifact.created)})" if artifact.created else (
            f"{base} (no created time: kept)")
    if rule.template in ("latestPushedK", "nDaysSinceLastPush"):
        return f"{base} ({artifact.pushed_source})"
    return base


def _subject_of(tag: str) -> str | None:
    m = COSIGN_TAG.match(tag)
    return f"sha256:{m.group(1)}" if m else None


def plan_repository(
    artifacts: Sequence[Artifact],
    rules: Sequence[Rule],
    *,
    now: datetime,
    protections: Protections | None = None,
    max_delete_percent: int = DEFAULT_MAX_DELETE_PERCENT,
) -> RepositoryPlan:
    """The plan for one repository: one item per digest, sorted by digest's first tag."""
    protections = protections or Protections()
    validate_rules(rules, protections.patterns)
    by_digest = {a.digest: a for a in artifacts}
    reasons: dict[str, list[str]] = {a.digest: [] for a in artifacts}

    # signature artifacts (only cosign/fallback tags, or untagged OCI referrers) follow their subject,
    # not the rules
    signature_of: dict[str, list[str]] = {}
    kind_of: dict[str, str] = {}
    for a in artifacts:
        subjects = [_subject_of(t) for t in a.tags]
        if a.tags and all(subjects):
            signature_of[a.digest] = sorted({s for s in subjects if s})
            kind_of[a.digest] = "signature"
        elif a.subject and not a.tags:
            signature_of[a.digest] = [a.subject]
            kind_of[a.digest] = "referrer"
    ruled = [a for a in artifacts if a.digest not in signature_of]

    for index, rule in enumerate(rules):
        matchers = [(sel, sel.matcher()) for sel in rule.selectors]
        candidates = [a for a in ruled if all(sel.selects(a, m) for sel, m in matchers)]
        for a in _rule_retains(rule, candidates, now):
            reasons[a.digest].append(_rule_reason(rule, index, a))

    pattern_matchers = [(sel, sel.matcher()) for sel in protections.patterns]
    for a in artifacts:
        for tag in a.tags:
            reasons[a.digest].extend(f"{r} (tag {tag})" for r in protections.tags.get(tag, ()))
            for sel, match in pattern_matchers:
                if match(tag):
                    reasons[a.digest].append(f"protect.tags {sel.pattern!r} matches {tag}")
        reasons[a.digest].extend(protections.digests.get(a.digest, ()))

    # reachability: children of retained indexes, signatures of retained subjects (to a fixed point:
    # a retained child may be signed, a signature may be an index)
    changed = True
    while changed:
        changed = False
        for a in artifacts:
            if not reasons[a.digest]:
                continue
            for child in a.children:
                if child in reasons and not reasons[child]:
                    reasons[child].append(f"child of retained index {a.digest}")
                    changed = True
        for sig, subjects in signature_of.items():
            if reasons[sig]:
                continue
            kept = [s for s in subjects if reasons.get(s)]
            missing = [s for s in subjects if s not in by_digest]
            if kept:
                reasons[sig].append(f"{kind_of[sig]} of retained {kept[0]}")
                changed = True
            elif missing:
                reasons[sig].append(f"{kind_of[sig]} of {missing[0]}, which is not in this repository: kept")
                changed = True

    items: list[PlanItem] = []
    for a in artifacts:
        why = reasons[a.digest]
        if why:
            items.append(PlanItem(a.digest, sorted(a.tags), "retain", why))
            continue
        if a.digest in signature_of:
            why = [f"{kind_of[a.digest]} of deleted {signature_of[a.digest][0]}"]
        else:
            why = ["retained by no rule" + (f" ({a.pushed_source})" if rules else "")]
        items.append(PlanItem(a.digest, sorted(a.tags), "delete", why))
    items.sort(key=lambda i: (i.tags[0] if i.tags else "", i.digest))

    plan = RepositoryPlan(items)
    deletes = len(plan.deletes)
    if artifacts and deletes * 100 > max_delete_percent * len(artifacts):
        plan.blocked = (f"would delete {deletes} of {len(artifacts)} digests "
                        f"({deletes * 100 // len(artifacts)}%), more than maxDeletePercent {max_delete_percent}: "
                        f"check the rules' patterns, then apply with --yes")
        for item in plan.deletes:
            item.reasons.append("blocked: " + plan.blocked)
    return plan
