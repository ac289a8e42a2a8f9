"""Argo CD Image Updater update strategies (registry-scanner `pkg/image`, `pkg/tag`), pure.

Order, as Argo applies it: `allow-tags` (`any`, `regexp:<re>`, empty = all; anything else or a
broken regexp matches nothing, as upstream), then `ignore-tags` (Go `filepath.Match` globs), then
the strategy, which sorts the remaining tags ascending and takes the last:
- semver: Masterminds `NewVersion` (partial versions like `1.0`, `v2` count), constraint = the
  image's tag part, empty meaning `*`; ties on equal versions go to the greater original string.
- newest-build: image config `created` (metadata from the registry side); ties go to the greater
  tag name. Tags without metadata, or without a wanted platform, cannot take part.
- alphabetical: byte order.
- digest: follows the tag named by the constraint; the result is `tag@sha256:...`.
Old names `latest` (newest-build) and `name` (alphabetical) are accepted; an unknown name falls
back to semver (with a warning the caller can log; see `argo_strategy`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tagpilot.errors import InvalidPolicy
from tagpilot.policy.base import MetadataRequest
from tagpilot.policy.goglob import GlobError, compile_glob, glob_match
from tagpilot.policy.gore import compile_go
from tagpilot.policy.semver import parse_constraint, parse_version
from tagpilot.policy.types import (
    IGNORED,
    LOWER,
    NO_METADATA,
    NOT_ALLOWED,
    NOT_SEMVER,
    OUT_OF_RANGE,
    PRERELEASE,
    SELECTED,
    WRONG_PLATFORM,
    Selection,
    SelectionFailed,
    TagVerdict,
)

__all__ = [
    "STRATEGIES",
    "ArgoPolicy",
    "TagMetadata",
    "argo_needs_metadata",
    "argo_strategy",
    "platform_matches",
    "select_argo",
]

STRATEGIES = ("semver", "newest-build", "digest", "alphabetical")
_ALIASES = {"latest": "newest-build", "name": "alphabetical"}


def argo_strategy(name: str | None) -> tuple[str, str | None]:
    """Normalise a strategy name: (strategy, warning or None). Unknown names fall back to semver."""
    if not name:
        return "semver", None
    low = name.strip().lower()
    if low in STRATEGIES:
        return low, None
    if low in _ALIASES:
        return _ALIASES[low], None
    return "semver", f"unknown update strategy '{name}', falling back to semver"


@dataclass(frozen=True)
class TagMetadata:
    """What the registry side learnt about a tag: config `created` (newest among the wanted
    platforms for an index) and the platforms (`os/arch[/variant]`) the tag offers."""

    created: datetime | None
    platforms: list[str] = field(default_factory=list)
    digest: str | None = None  # the digest strategy's current digest of the tag it follows


@dataclass
class ArgoPolicy:
    """One image's update settings, as Argo's annotations give them."""

    strategy: str = "semver"
    constraint: str = ""
    allow_tags: str = ""
    ignore_tags: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)

    # --- the Policy interface (policy/base.py) ---------------------------------------------------
    @property
    def needs_metadata(self) -> bool:
        """newest-build needs each allowed tag's `created`; digest the digest of the tag it follows."""
        return argo_strategy(self.strategy)[0] in ("newest-build", "digest")

    def metadata_request(self, tags: Sequence[str]) -> MetadataRequest | None:
        strategy = argo_strategy(self.strategy)[0]
        if strategy == "newest-build":
            return MetadataRequest(tuple(allowed_tags(tags, self)), "image", tuple(self.platforms))
        if strategy == "digest":
            follow = self.constraint.strip()
            return MetadataRequest((follow,) if follow and follow in allowed_tags(tags, self) else (), "digest")
        return None

    def select(self, tags: Sequence[str], *, metadata: Mapping[str, TagMetadata] | None = None,
               explain: bool = False) -> Selection:
        digest = None
        if argo_strategy(self.strategy)[0] == "digest" and metadata:
            digest = getattr(metadata.get(self.constraint.strip()), "digest", None)
        return select_argo(tags, self, metadata=metadata, digest=digest, explain=explain)


def allowed_tags(tags: Sequence[str], policy: ArgoPolicy) -> list[str]:
    """The tags that pass `allow-tags` and `ignore-tags`, in input order, without duplicates.

    Asks the selection itself (alphabetical strategy, explained) instead of repeating its filter
    rules, so the tags the engine fetches metadata for are exactly those the strategy will weigh.
    """
    probe = dataclasses.replace(policy, strategy="alphabetical")
    try:
        verdicts = select_argo(tags, probe, explain=True).verdicts
    except SelectionFailed as failed:
        verdicts = failed.verdicts
    return [v.tag for v in verdicts or [] if v.outcome not in (NOT_ALLOWED, IGNORED)]


def argo_needs_metadata(policy: ArgoPolicy) -> bool:
    """True if the strategy needs per-tag metadata (image config `created`) from the registry."""
    return argo_strategy(policy.strategy)[0] == "newest-build"


def platform_matches(wanted: Sequence[str], available: Sequence[str]) -> bool:
    """Argo's WantsPlatform: exact `os/arch/variant`, or `os/arch` when a wanted entry has no variant."""
    if not wanted:
        return True
    want = {w.strip() for w in wanted if w.strip()}
    for p in available:
        if p in want:
            return True
        parts = p.split("/")
        if len(parts) > 2 and "/".join(parts[:2]) in want:
            return True
    return False


def _allow(spec: str):
    """Return (predicate, why-not text) for allow-tags."""
    if spec == "" or spec.lower() == "any":
        return (lambda _t: True), ""
    kind, sep, arg = spec.partition(":")
    if not sep or kind.lower() != "regexp":
        return (lambda _t: False), f"allow-tags '{spec}' is not 'any' or 'regexp:<re>', so it allows nothing"
    try:
        rx = compile_go(arg)
    except InvalidPolicy:
        return (lambda _t: False), f"allow-tags regexp '{arg}' does not compile, so it allows nothing"
    search = rx.regexp.search  # type: ignore[attr-defined]
    return (lambda t: search(t) is not None), f"does not match allow-tags regexp '{arg}'"


def _created(md: TagMetadata) -> datetime | None:
    c = md.created
    if c is None:
        return None
    return c if c.tzinfo is not None else c.replace(tzinfo=UTC)


def select_argo(
    tags: Sequence[str],
    policy: ArgoPolicy,
    *,
    metadata: Mapping[str, TagMetadata] | None = None,
    digest: str | None = None,
    explain: bool = False,
) -> Selection:
    """Pick the tag Argo CD Image Updater would pick; SelectionFailed if none qualifies.

    newest-build needs `metadata` for the allowed tags; digest needs the current `digest` of the
    constraint tag. An invalid semver constraint raises InvalidPolicy.
    """
    strategy, _warning = argo_strategy(policy.strategy)
    verdicts: list[TagVerdict] | None = [] if explain else None
    allowed, not_allowed_why = _allow(policy.allow_tags)
    globs = []
    for g in policy.ignore_tags:
        try:
            compile_glob(g)
            globs.append(g)
        except GlobError:
            continue  # Go: a malformed pattern never matches

    candidates: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        if tag in seen:  # Argo keeps tags in a map: duplicates collapse
            continue
        seen.add(tag)
        if not allowed(tag):
            if verdicts is not None:
                verdicts.append(TagVerdict(tag, NOT_ALLOWED, not_allowed_why))
            continue
        hit = next((g for g in globs if glob_match(g, tag)), None)
        if hit is not None:
            if verdicts is not None:
                verdicts.append(TagVerdict(tag, IGNORED, f"matches ignore-tags pattern '{hit}'"))
            continue
        candidates.append(tag)

    try:
        if strategy == "semver":
            winner, value = _semver(candidates, policy, verdicts)
        elif strategy == "newest-build":
            winner, value = _newest(candidates, policy, metadata or {}, verdicts)
        elif strategy == "digest":
            winner, value = _digest(candidates, policy, digest, verdicts)
        else:
            winner = _best(candidates, key=lambda t: t, verdicts=verdicts, what="sorts last")
            value = winner
    except SelectionFailed as e:
        e.verdicts = _in_order(tags, e.verdicts)
        raise
    return Selection(winner, value, _in_order(tags, verdicts))


def _fail(message: str, verdicts: list[TagVerdict] | None) -> SelectionFailed:
    return SelectionFailed(message, verdicts)


def _best(candidates: list[str], *, key, verdicts: list[TagVerdict] | None, what: str) -> str:
    if not candidates:
        raise _fail("no tag is left to choose from after allow-tags and ignore-tags", verdicts)
    winner = max(candidates, key=key)
    if verdicts is not None:
        for t in candidates:
            if t == winner:
                verdicts.append(TagVerdict(t, SELECTED, f"'{t}' {what}"))
            else:
                verdicts.append(TagVerdict(t, LOWER, f"'{t}' sorts before '{winner}'"))
    return winner


def _semver(candidates: list[str], policy: ArgoPolicy, verdicts: list[TagVerdict] | None) -> tuple[str, str]:
    text = policy.constraint.strip() or "*"
    constraints = parse_constraint(text)
    ok: list = []
    for tag in candidates:
        v = parse_version(tag)
        if v is None:
            if verdicts is not None:
                verdicts.append(TagVerdict(tag, NOT_SEMVER, f"'{tag}' is not a semantic version"))
            continue
        if not constraints.check(v):
            if verdicts is not None:
                if v.pre and not constraints.admits_prerelease():
                    verdicts.append(
                        TagVerdict(
                            tag,
                            PRERELEASE,
                            f"'{tag}' is a prerelease and the constraint '{text}' does not ask for prereleases",
                        )
                    )
                else:
                    verdicts.append(TagVerdict(tag, OUT_OF_RANGE, f"'{tag}' is outside the constraint '{text}'"))
            continue
        ok.append(v)
    if not ok:
        raise _fail(f"no tag satisfies the semver constraint '{text}'", verdicts)
    best = max(ok, key=lambda v: (v.key, v.original))
    if verdicts is not None:
        for v in ok:
            if v is best:
                verdicts.append(
                    TagVerdict(v.original, SELECTED, f"'{v.original}' is the highest version satisfying '{text}'")
                )
            else:
                verdicts.append(TagVerdict(v.original, LOWER, f"'{v.original}' sorts before '{best.original}'"))
    return best.original, best.original


def _newest(
    candidates: list[str], policy: ArgoPolicy, metadata: Mapping[str, TagMetadata], verdicts: list[TagVerdict] | None
) -> tuple[str, str]:
    dated: list[tuple[datetime, str]] = []
    for tag in candidates:
        md = metadata.get(tag)
        created = _created(md) if md is not None else None
        if created is None:
            if verdicts is not None:
                verdicts.append(TagVerdict(tag, NO_METADATA, f"no creation time is known for '{tag}'"))
            continue
        if (
            policy.platforms
            and md is not None
            and md.platforms
            and not platform_matches(policy.platforms, md.platforms)
        ):
            if verdicts is not None:
                verdicts.append(
                    TagVerdict(
                        tag,
                        WRONG_PLATFORM,
                        f"'{tag}' offers {', '.join(md.platforms)}, not {', '.join(policy.platforms)}",
                    )
                )
            continue
        dated.append((created, tag))
    if not dated:
        raise _fail("no tag has the build metadata the newest-build strategy needs", verdicts)
    best = max(dated)
    if verdicts is not None:
        for created, tag in dated:
            if tag == best[1]:
                verdicts.append(TagVerdict(tag, SELECTED, f"'{tag}' is the newest build ({created.isoformat()})"))
            else:
                verdicts.append(
                    TagVerdict(
                        tag,
                        LOWER,
                        f"'{tag}' was built {created.isoformat()}, before '{best[1]}'"
                        if created != best[0]
                        else f"'{tag}' was built at the same time as '{best[1]}', which sorts later",
                    )
                )
    return best[1], best[1]


def _digest(
    candidates: list[str], policy: ArgoPolicy, digest: str | None, verdicts: list[TagVerdict] | None
) -> tuple[str, str]:
    want = policy.constraint.strip()
    if not want:
        raise InvalidPolicy("the digest strategy needs a tag to follow (the image's tag part)")
    for tag in candidates:
        if tag != want and verdicts is not None:
            verdicts.append(TagVerdict(tag, LOWER, f"the digest strategy follows '{want}' only"))
    if want not in candidates:
        raise _fail(f"tag '{want}' followed by the digest strategy is not among the allowed tags", verdicts)
    if not digest:
        if verdicts is not None:
            verdicts.append(TagVerdict(want, NO_METADATA, f"the current digest of '{want}' is not known"))
        raise _fail(f"the digest strategy needs the current digest of tag '{want}'", verdicts)
    if verdicts is not None:
        verdicts.append(TagVerdict(want, SELECTED, f"'{want}' currently points to {digest}"))
    return want, f"{want}@{digest}"


def _in_order(tags: Sequence[str], verdicts: list[TagVerdict] | None) -> list[TagVerdict] | None:
    if verdicts is None:
        return None
    by_tag = {v.tag: v for v in verdicts}
    out, done = [], set()
    for t in tags:
        if t in by_tag and t not in done:
            out.append(by_tag[t])
            done.add(t)
    return out
