"""RetentionPolicy: gather the planner's inputs from the registry, git and the store; delete by digest.

The decisions are `tagpilot.retention.planner`'s (pure). This module does the I/O around them:

- every tag of each repository is resolved with HEAD (the right Accept headers) and grouped by digest;
  index children come from the index manifest; `created` from the image config, only when a rule
  needs it;
- push time: plain registries report none, so it is the time tagpilot first saw the tag (scans record
  it, and so does every plan); a tag first seen by this run counts as pushed now (kept);
- what must survive (deployed tags, policy refs, pins and approvals): `engine.retention_protect`;
- apply: before deleting, every tag is resolved again; if anything moved, the repository is planned
  again from the fresh state, and only that plan is carried out. DELETE is by digest (distribution then
  untags every tag on it, which the per-digest plan expects). A registry answering 405 deletes nothing
  more in that repository.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from tagpilot.config.flux_image import ImageRepository
from tagpilot.config.retention import RetentionPolicy
from tagpilot.engine.access import access_for
from tagpilot.engine.events import Reason
from tagpilot.engine.kinds import Column, Kind
from tagpilot.engine.reconciler import Context, Note, Outcome
from tagpilot.engine.retention_protect import Deployed, find_deployed, held, policy_protections
from tagpilot.engine.status import ObjectStatus, rfc3339
from tagpilot.errors import ConfigError, DeleteUnsupported, Location, NotFoundError, TagpilotError
from tagpilot.registry.client import RegistryClient, RepositoryAccess
from tagpilot.registry.manifest import INDEX_TYPES
from tagpilot.registry.reference import parse_repository
from tagpilot.retention.planner import (
    COSIGN_TAG,
    Artifact,
    PlanItem,
    Protections,
    RepositoryPlan,
    Rule,
    plan_repository,
)

KIND = "RetentionPolicy"
HEAD_CONCURRENCY = 16
CREATED_TEMPLATES = ("latestCreatedK", "nDaysSinceCreated")
MAX_REPLANS = 3


# -- inputs ------------------------------------------------------------------------------------------


@dataclass
class RepositoryState:
    """What the registry says now: tag → digest, and per digest its children and created time."""

    resolved: dict[str, str]
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)
    created: dict[str, datetime | None] = field(default_factory=dict)
    referrers: dict[str, str] = field(default_factory=dict)  # untagged referrer digest → its subject
    referrers_api: bool = False  # the registry answered the OCI referrers API
    untagged: dict[str, tuple[float, str]] = field(default_factory=dict)  # digest → (first seen, tag it had)

    def same(self, other: RepositoryState) -> bool:
        """Nothing moved: the same tags on the same digests, the same referrers."""
        return self.resolved == other.resolved and self.referrers == other.referrers


async def read_repository(client: RegistryClient, access: RepositoryAccess, *, need_created: bool) -> RepositoryState:
    try:
        tags = await client.list_tags(access)
    except NotFoundError:
        tags = []
    gate = asyncio.Semaphore(HEAD_CONCURRENCY)

    async def head(tag: str) -> tuple[str, tuple[str, str] | None]:
        async with gate:
            try:
                return tag, await client.head_manifest(access, tag)
            except NotFoundError:  # deleted while we listed
                return tag, None

    heads = {t: h for t, h in await asyncio.gather(*(head(t) for t in tags)) if h is not None}
    resolved = {t: h[0] for t, h in heads.items()}
    # only an index has children; a manifest's type from HEAD spares a GET per digest
    plain = {d for d, media_type in heads.values() if media_type and media_type not in INDEX_TYPES}
    state = RepositoryState(resolved)
    signatures = {d for t, d in resolved.items() if COSIGN_TAG.match(t)}

    async def created_of(manifest: Any) -> datetime | None:
        if not manifest.is_index:
            return (await client.get_config(access, manifest)).created if manifest.config is not None else None
        times = []
        for child in manifest.manifests:
            if not child.is_attestation:
                config = await client.get_config(access, await client.get_manifest(access, child.digest))
                if config.created is not None:
                    times.append(config.created)
        return max(times) if times else None

    async def inspect(digest: str) -> None:
        wants_created = need_created and digest not in signatures
        if digest in plain and not wants_created:
            return
        async with gate:  # manifests and configs come from the store's cache after the first run
            manifest = await client.get_manifest(access, digest)
            state.children[digest] = tuple(m.digest for m in manifest.manifests)
            if wants_created:
                state.created[digest] = await created_of(manifest)

    await asyncio.gather(*(inspect(d) for d in sorted(set(resolved.values()))))
    await _read_referrers(client, access, state, gate)
    return state


async def _read_referrers(client: RegistryClient, access: RepositoryAccess, state: RepositoryState,
                          gate: asyncio.Semaphore) -> None:
    """Untagged referrers (signatures, SBOMs) of every tagged digest, one level deep: from the OCI
    referrers API where the registry has it, else from the fallback tag `sha256-<hex>` (an index)."""
    tagged = set(state.resolved.values())
    for tag, digest in state.resolved.items():
        m = COSIGN_TAG.match(tag)
        if m and m.group(2) is None:  # the fallback tag: its index lists the referrers
            for child in state.children.get(digest, ()):
                if child not in tagged:
                    state.referrers.setdefault(child, f"sha256:{m.group(1)}")
    subjects = sorted({d for t, d in state.resolved.items() if not COSIGN_TAG.match(t)})
    if not subjects:
        return
    first = await client.referrers(access, subjects[0])  # one probe: no API, no further requests
    if first is None:
        return
    state.referrers_api = True

    async def one(subject: str) -> tuple[str, list[Any]]:
        async with gate:
            return subject, (await client.referrers(access, subject) or [])

    found = [(subjects[0], first), *await asyncio.gather(*(one(s) for s in subjects[1:]))]
    for subject, descriptors in found:
        for descriptor in descriptors:
            if descriptor.digest not in tagged:
                state.referrers.setdefault(descriptor.digest, subject)


def artifacts_of(state: RepositoryState, first_seen: dict[str, tuple[float, bool]], now: datetime) -> list[Artifact]:
    by_digest: dict[str, list[str]] = {}
    for tag, digest in state.resolved.items():
        by_digest.setdefault(digest, []).append(tag)
    artifacts = []
    for digest, tags in sorted(by_digest.items()):
        tags.sort()
        new = [t for t in tags if first_seen.get(t, (0.0, True))[1]]
        if new:
            pushed, source = now, f"tag {new[0]} first seen by this run: counted as pushed now"
        else:
            latest = max(first_seen[t][0] for t in tags)
            pushed = datetime.fromtimestamp(latest, UTC)
            source = f"pushed {rfc3339(pushed)} (first seen by tagpilot)"
        artifacts.append(Artifact(digest, tuple(tags), pushed=pushed, pushed_source=source,
                                  created=state.created.get(digest), children=state.children.get(digest, ()),
                                  pushed_guessed=bool(new)))
    for digest, (seen, tag) in sorted(state.untagged.items()):
        pushed = datetime.fromtimestamp(seen, UTC)
        artifacts.append(Artifact(digest, (), pushed=pushed, pushed_source=f"untagged since {tag} moved; pushed "
                                  f"{rfc3339(pushed)} (first seen by tagpilot)"))
    for digest, subject in sorted(state.referrers.items()):
        if digest not in by_digest:
            artifacts.append(Artifact(digest, (), pushed_source="untagged referrer", subject=subject))
    return artifacts


# -- plan ----------------------------------------------------------------------------------------------


@dataclass
class RepositoryRun:
    """One repository of one policy: its plan, or why there is none."""

    policy: RetentionPolicy
    repo: ImageRepository
    canonical: str
    access: RepositoryAccess | None = None
    state: RepositoryState | None = None
    plan: RepositoryPlan | None = None
    error: str | None = None
    results: dict[str, tuple[bool, str | None]] = field(default_factory=dict)  # digest → (deleted, error)


def _location(ctx: Context, policy: RetentionPolicy) -> str:
    origins = getattr(ctx.config, "origins", {})
    where: Location | None = origins.get(policy.key)
    return f" ({where.file}:{where.line})" if where and where.file else ""


def _canonical(repo: ImageRepository) -> str | None:
    try:
        return parse_repository(repo.spec.image).canonical_name
    except TagpilotError:
        return None


def repositories_of(ctx: Context, policy: RetentionPolicy) -> list[ImageRepository]:
    """The policy's ImageRepositories. Two policies cleaning one registry repository would each delete
    what only the other retains: refused, naming both (Harbor has one policy per project for this)."""
    repos = []
    for index, ref in enumerate(policy.spec.image_repository_refs):
        repo = ctx.config.get(ImageRepository, policy.namespace, ref.name)
        if repo is None:
            raise ConfigError(f"{policy.ref}{_location(ctx, policy)}: spec.imageRepositoryRefs[{index}] names "
                              f"ImageRepository {policy.namespace}/{ref.name}, which is not in the configuration; "
                              f"add it to a file passed with -f or fix the name")
        repos.append(repo)
    mine = {c for c in map(_canonical, repos) if c}
    for other in ctx.config.of_kind(RetentionPolicy):
        if other.key == policy.key:
            continue
        for ref in other.spec.image_repository_refs:
            repo = ctx.config.get(ImageRepository, other.namespace, ref.name)
            shared = _canonical(repo) if repo is not None else None
            if shared in mine:
                raise ConfigError(f"{policy.ref}{_location(ctx, policy)} and {other.ref}{_location(ctx, other)} "
                                  f"both clean {shared}: each would delete what only the other retains; merge "
                                  f"their rules into one RetentionPolicy")
    return repos


def _needs_created(rules: list[Rule]) -> bool:
    return any(r.template in CREATED_TEMPLATES for r in rules)


async def read_untagged(ctx: Context, run: RepositoryRun) -> None:
    """The digests this repository's tags left behind when they moved (recorded by earlier plans) that
    the registry still has: untagged artifacts, which the rules' `untagged` selectors decide on."""
    assert ctx.registry is not None and run.state is not None and run.access is not None
    known = ctx.store.untagged(run.canonical)  # type: ignore[attr-defined]
    tagged = set(run.state.resolved.values()) | set(run.state.referrers)
    gone = [d for d in known if d in tagged]
    gate = asyncio.Semaphore(HEAD_CONCURRENCY)

    async def exists(digest: str) -> bool:
        async with gate:
            try:
                await ctx.registry.head_manifest(run.access, digest)  # type: ignore[union-attr,arg-type]
            except NotFoundError:
                return False
            return True

    candidates = sorted(d for d in known if d not in tagged)
    for digest, present in zip(candidates, await asyncio.gather(*(exists(d) for d in candidates)), strict=True):
        if present:
            run.state.untagged[digest] = known[digest]
        else:
            gone.append(digest)
    if gone:
        ctx.store.forget_untagged(run.canonical, gone)  # type: ignore[attr-defined]


def _plan(ctx: Context, run: RepositoryRun, deployed: Deployed | None, now: datetime,
          first_seen: dict[str, tuple[float, bool]] | None = None) -> None:
    assert run.state is not None
    spec = run.policy.spec
    if first_seen is None:
        first_seen = ctx.store.first_seen(run.canonical, run.state.resolved, now.timestamp())  # type: ignore[attr-defined]
    artifacts = artifacts_of(run.state, first_seen, now)
    tags: dict[str, list[str]] = {}
    digests: dict[str, list[str]] = {}
    if spec.protect.deployed and deployed is not None:
        for tag, reasons in deployed.tags.get(run.canonical, {}).items():
            tags.setdefault(tag, []).extend(reasons)
        for digest, reasons in deployed.digests.get(run.canonical, {}).items():
            digests.setdefault(digest, []).extend(reasons)
    found: list[dict[str, list[str]]] = []
    if spec.protect.policy_refs:
        found.append(policy_protections(ctx, run.canonical))
    if spec.protect.holds:
        found.append(held(ctx.store, run.canonical, ctx.config))
    for table in found:
        for key, reasons in table.items():
            (digests if key.startswith("sha256:") else tags).setdefault(key, []).extend(reasons)
    protections = Protections(tags=tags, digests=digests,
                              patterns=tuple(p.to_selector() for p in spec.protect.tags))
    run.plan = plan_repository(artifacts, spec.planner_rules(), now=now, protections=protections,
                               max_delete_percent=spec.max_delete_percent)


async def plan_policies(ctx: Context, policies: list[RetentionPolicy]) -> tuple[list[RepositoryRun], Deployed | None]:
    """Plan every repository of every policy (deletes nothing; records first-seen times)."""
    assert ctx.registry is not None
    now = ctx.clock()
    runs = [RepositoryRun(p, repo, "") for p in policies for repo in repositories_of(ctx, p)]
    for run in runs:
        try:
            run.canonical = parse_repository(run.repo.spec.image).canonical_name
        except TagpilotError as exc:
            run.error = f"{run.repo.ref}: {exc}"
    wanted = {r.canonical for r in runs if r.error is None and r.policy.spec.protect.deployed}
    deployed = await find_deployed(ctx, wanted) if wanted else None

    async def one(run: RepositoryRun) -> None:
        if run.error:
            return
        try:
            run.access = await access_for(run.repo, ctx.config)  # type: ignore[arg-type]
            need = _needs_created(run.policy.spec.planner_rules())
            run.state = await read_repository(ctx.registry, run.access, need_created=need)  # type: ignore[arg-type]
            # first-seen times first: they record the digests tags moved away from, which come next
            seen = ctx.store.first_seen(run.canonical, run.state.resolved, now.timestamp())  # type: ignore[attr-defined]
            await read_untagged(ctx, run)
            _plan(ctx, run, deployed, now, seen)
        except TagpilotError as exc:
            run.error = f"{run.policy.ref}: {run.repo.ref}: {exc}"

    await asyncio.gather(*(one(r) for r in runs))
    return runs, deployed


# -- apply ---------------------------------------------------------------------------------------------


async def apply_run(ctx: Context, run: RepositoryRun, deployed: Deployed | None, *, force: bool) -> list[Note]:
    """Carry out one repository's plan: re-resolve, re-plan if anything moved, delete by digest.

    Results land in `run.results`; returns a Note per deleted digest (events). `force` (--yes)
    overrides the maxDeletePercent block.
    """
    assert ctx.registry is not None and run.access is not None and run.plan is not None
    notes: list[Note] = []
    if run.plan.blocked and not force:
        for item in run.plan.deletes:
            run.results[item.digest] = (False, f"blocked: {run.plan.blocked}")
        return notes
    need = _needs_created(run.policy.spec.planner_rules())
    for _attempt in range(MAX_REPLANS):
        fresh = await read_repository(ctx.registry, run.access, need_created=need)
        if run.state is not None and fresh.same(run.state):
            break
        run.state = fresh  # something moved since the plan: plan again from what is there now
        _plan(ctx, run, deployed, ctx.clock())
        if run.plan.blocked and not force:
            for item in run.plan.deletes:
                run.results[item.digest] = (False, f"blocked: {run.plan.blocked}")
            return notes
    else:
        for item in run.plan.deletes:
            run.results[item.digest] = (False, f"tags kept moving during {MAX_REPLANS} plans: nothing deleted; "
                                               f"run apply again when pushes have settled")
        return notes
    deletes = run.plan.deletes
    referrers = run.state.referrers if run.state is not None else {}

    def subjects_of(item: PlanItem) -> set[str]:
        tagged = {f"sha256:{m.group(1)}" for t in item.tags if (m := COSIGN_TAG.match(t))}
        return tagged | ({referrers[item.digest]} if item.digest in referrers and not item.tags else set())

    # subjects first: a signature is deleted only after its subject was
    deletes.sort(key=lambda i: bool(subjects_of(i)))
    failed: set[str] = set()
    for index, item in enumerate(deletes):
        subjects = subjects_of(item)
        if subjects & failed:
            run.results[item.digest] = (False, "its subject was not deleted; kept")
            continue
        try:
            await ctx.registry.delete_manifest(run.access, item.digest)
        except DeleteUnsupported as exc:
            for rest in deletes[index:]:
                run.results[rest.digest] = (False, str(exc))
            break
        except TagpilotError as exc:
            run.results[item.digest] = (False, str(exc))
            failed.add(item.digest)
            continue
        run.results[item.digest] = (True, None)
        notes.append(Note(Reason.DELETED, f"deleted {run.canonical}@{item.digest} (tags {', '.join(item.tags)})",
                          {"repository": run.canonical, "digest": item.digest, "tags": item.tags}))
    return notes


def rows(runs: list[RepositoryRun], *, applied: bool = False) -> list[dict[str, Any]]:
    """The list `retention plan/apply -o json` prints."""
    out = []
    for run in runs:
        if run.plan is None:
            continue
        for item in run.plan.items:
            out.append(row(run, item, applied=applied))
    return out


def row(run: RepositoryRun, item: PlanItem, *, applied: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "policy": f"{run.policy.namespace}/{run.policy.name}", "repository": run.canonical,
        "digest": item.digest, "tags": item.tags, "action": item.action, "reasons": item.reasons,
    }
    if applied:
        deleted, error = run.results.get(item.digest, (False, None))
        data["deleted"] = deleted
        if error:
            data["error"] = error
    return data


# -- the kind --------------------------------------------------------------------------------------------


@dataclass
class RetentionStatus(ObjectStatus):
    """`lastRun`: when, whether it deleted, retained/toDelete/deleted counts; `protectedSources`: the
    git commits whose references were protected (so a person sees what "deployed" meant)."""

    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("last_run", "lastRun"), ("protections", "protections"), ("protected_sources", "protectedSources"))
    last_run: dict[str, Any] | None = None
    protections: list[str] | None = None
    protected_sources: list[str] | None = None


def protections_of(policy: RetentionPolicy) -> list[str]:
    """The protections in force, as the status lists them (`protect` switches, patterns, reachability)."""
    protect = policy.spec.protect
    out = [name for name, on in (("deployed", protect.deployed), ("policyRefs", protect.policy_refs),
                                 ("holds", protect.holds)) if on]
    out += [f"tags {p.kind}:{p.pattern}" for p in protect.tags]
    return [*out, "reachable (index children, signatures, referrers of retained digests)"]


class RetentionReconciler:
    """The daemon's run of one policy: plan; with `dryRun: false` delete what the plan says."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def reconcile(self, policy: RetentionPolicy, status: RetentionStatus, generation: int, *, force: bool,
                        dry_run: bool = False) -> Outcome:
        now = self.ctx.clock()
        runs, deployed = await plan_policies(self.ctx, [policy])
        errors = [r.error for r in runs if r.error]
        notes: list[Note] = []
        deleting = not (policy.spec.dry_run or dry_run)
        if deleting:
            for run in runs:
                if run.plan is not None and run.error is None:
                    try:
                        notes += await apply_run(self.ctx, run, deployed, force=False)
                    except TagpilotError as exc:
                        errors.append(f"{run.repo.ref}: {exc}")
        planned = [i for r in runs if r.plan for i in r.plan.items]
        failed = _failures(runs)
        status.last_run = {
            "time": rfc3339(now), "dryRun": not deleting,
            "retained": sum(i.action == "retain" for i in planned),
            "toDelete": sum(i.action == "delete" for i in planned),
            "deleted": sum(ok for r in runs for ok, _e in r.results.values()),
        }
        status.protections = protections_of(policy)
        status.protected_sources = deployed.sources if deployed else []
        problems = errors + failed
        if problems:
            reason = ("DeleteUnsupported" if any("refuses deletes" in p for p in problems) else
                      "DeleteLimitExceeded" if any(r.plan and r.plan.blocked for r in runs) and deleting else
                      "RetentionFailed")
            status.mark_failed(reason, "; ".join(problems)[:2000], now, generation)
            return Outcome(status, ok=False, error="; ".join(problems)[:2000], notes=notes)
        verb = "deleted" if deleting else "would delete"
        count = status.last_run["deleted"] if deleting else status.last_run["toDelete"]
        status.mark_ready(f"{verb} {count} digest(s), retained {status.last_run['retained']}", now, generation)
        return Outcome(status, notes=notes, changed=bool(notes))


def _failures(runs: list[RepositoryRun]) -> list[str]:
    """One line per repository and distinct error (a 405 or a blocked plan is one problem, not one per
    digest), naming the digests it kept."""
    out = []
    for run in runs:
        by_error: dict[str, list[str]] = {}
        for digest, (ok, error) in run.results.items():
            if not ok and error:
                by_error.setdefault(error, []).append(digest)
        for error, digests in by_error.items():
            what = digests[0] if len(digests) == 1 else f"{len(digests)} digests"
            out.append(f"{run.canonical} ({what} not deleted): {error}")
    return out


def _interval(policy: RetentionPolicy) -> float | None:
    return policy.spec.interval_seconds


KINDS = (Kind(
    name=KIND, model=RetentionPolicy, plural="retentionpolicies", short=("retentionpolicy", "retention"),
    reconciler=RetentionReconciler, status=RetentionStatus, order=40, interval=_interval,
    columns=(
        Column("DRY RUN", lambda v: str(v["spec"].get("dryRun", True)).lower()),
        Column("LAST RUN", lambda v: (v["status"].get("lastRun") or {}).get("time", "-")),
        Column("DELETED", lambda v: str((v["status"].get("lastRun") or {}).get("deleted", "-"))),
    ),
),)
