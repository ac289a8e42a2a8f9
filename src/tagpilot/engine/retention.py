"""RetentionPolicy: gather the planner's inputs from the registry, git and the store; delete by digest.

The decisions are `tagpilot.retention.planner`'s (pure). This module does the I/O around them:

- every tag of each repository is resolved with HEAD (the right Accept headers) and grouped by digest;
  index children come from the index manifest; `created` from the image config, only when a rule
  needs it;
- push time: plain registries report none, so it is the time tagpilot first saw the tag (scans record
  it, and so does every plan); a tag first seen by this run counts as pushed now (kept);
- deployed tags: the latest commit of every GitRepository an ImageUpdateAutomation writes to (its push
  branch, else its checkout ref); every YAML file is read for references `<image>:<tag>` /
  `<image>@<digest>` naming the repository (any `image:` field, Helm-style strings) and for setters
  markers of policies over the repository (`{"$imagepolicy": "ns:name:tag"}` takes the line's value);
  not covered yet: split `repository:`/`tag:` values without a marker, Argo CD Applications, pins and
  approvals (later issues);
- policy refs: every ImagePolicy's stored `latestRef` and `observedPreviousRef`;
- apply: before deleting, every tag is resolved again; if anything moved, the repository is planned
  again from the fresh state, and only that plan is carried out. DELETE is by digest (distribution then
  untags every tag on it, which the per-digest plan expects). A registry answering 405 deletes nothing
  more in that repository.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from tagpilot.config.flux_automation import ImageUpdateAutomation
from tagpilot.config.flux_image import ImagePolicy, ImageRepository
from tagpilot.config.flux_source import GitRepository
from tagpilot.config.retention import RetentionPolicy
from tagpilot.engine.access import access_for
from tagpilot.engine.events import Reason
from tagpilot.engine.kinds import Column, Kind, same_namespace_ref
from tagpilot.engine.reconciler import Context, Note, Outcome, Stalled
from tagpilot.engine.status import ObjectStatus, rfc3339
from tagpilot.errors import ConfigError, DeleteUnsupported, Location, NotFoundError, TagpilotError
from tagpilot.registry.client import RegistryClient, RepositoryAccess
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
from tagpilot.update.setters import parse_marker

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


async def read_repository(client: RegistryClient, access: RepositoryAccess, *, need_created: bool) -> RepositoryState:
    try:
        tags = await client.list_tags(access)
    except NotFoundError:
        tags = []
    gate = asyncio.Semaphore(HEAD_CONCURRENCY)

    async def head(tag: str) -> tuple[str, str | None]:
        async with gate:
            try:
                return tag, await client.head_digest(access, tag)
            except NotFoundError:  # deleted while we listed
                return tag, None

    resolved = {t: d for t, d in await asyncio.gather(*(head(t) for t in tags)) if d is not None}
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
        async with gate:  # manifests and configs come from the store's cache after the first run
            manifest = await client.get_manifest(access, digest)
            state.children[digest] = tuple(m.digest for m in manifest.manifests)
            if need_created and digest not in signatures:
                state.created[digest] = await created_of(manifest)

    await asyncio.gather(*(inspect(d) for d in sorted(set(resolved.values()))))
    return state


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
    return artifacts


@dataclass
class Deployed:
    """References found in git, by canonical repository name."""

    tags: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    digests: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # "GitRepository/ns/name@<commit>" that were read

    def add(self, table: dict[str, dict[str, list[str]]], repo: str, key: str, reason: str) -> None:
        reasons = table.setdefault(repo, {}).setdefault(key, [])
        if reason not in reasons:
            reasons.append(reason)


_VALUE = re.compile(r"""^\s*(?:-\s+)?(?:[^\s:#]+:\s+)?["']?([^"'\s#]+)""")


def _ref_pattern(names: Iterable[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True))
    return re.compile(rf"(?<![\w./-])(?:{alts})(?::(?P<tag>\w[\w.-]{{0,127}}))?"
                      rf"(?:@(?P<digest>sha256:[0-9a-f]{{64}}))?(?![\w./:@-])")


def scan_tree(root: Path, source: str, repositories: dict[str, set[str]], markers: dict[tuple[str, str], str],
              deployed: Deployed) -> None:
    """Find deployed references in every YAML file under `root`.

    `repositories`: canonical name → the spellings that name it (`spec.image` as written, canonical);
    `markers`: (policy namespace, name) → canonical name of its repository.
    """
    patterns = {canonical: _ref_pattern(names) for canonical, names in repositories.items()}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for filename in sorted(filenames):
            if not filename.endswith((".yaml", ".yml")):
                continue
            path = Path(dirpath) / filename
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            rel = path.relative_to(root).as_posix()
            for number, line in enumerate(text.splitlines(), 1):
                where = f"deployed: {source} {rel}:{number}"
                for canonical, pattern in patterns.items():
                    for m in pattern.finditer(line):
                        if m.group("tag") or not m.group("digest"):  # no tag, no digest: `latest`
                            deployed.add(deployed.tags, canonical, m.group("tag") or "latest", where)
                        if m.group("digest"):
                            deployed.add(deployed.digests, canonical, m.group("digest"), where)
                if "$imagepolicy" not in line or "#" not in line:
                    continue
                marker = parse_marker(line[line.index("#") + 1:].strip())
                if marker is None or (marker.namespace, marker.name) not in markers:
                    continue
                canonical = markers[(marker.namespace, marker.name)]
                value = _VALUE.match(line[:line.index("#")])
                if value is None:
                    continue
                if marker.field == "tag":
                    deployed.add(deployed.tags, canonical, value.group(1), where)
                elif marker.field == "digest":
                    deployed.add(deployed.digests, canonical, value.group(1), where)


def _repository_of(config: Any, policy: ImagePolicy) -> ImageRepository | None:
    ref = policy.spec.image_repository_ref
    ns, name = same_namespace_ref(policy.namespace, ref.namespace, ref.name)
    return config.get(ImageRepository, ns, name)


async def find_deployed(ctx: Context, canonical_names: set[str]) -> Deployed:
    """Scan the latest commit of every GitRepository an automation writes to (once per run)."""
    from tagpilot.gitops.auth import auth_from_secret
    from tagpilot.gitops.workspace import CheckoutRef

    config = ctx.config
    deployed = Deployed()
    spellings: dict[str, set[str]] = {}
    for repo in config.of_kind(ImageRepository):
        try:
            ref = parse_repository(repo.spec.image)
        except TagpilotError:
            continue
        if ref.canonical_name in canonical_names:
            spellings.setdefault(ref.canonical_name, set()).update(
                {ref.canonical_name, ref.name, repo.spec.image.strip()})
    markers = {}
    for policy in config.of_kind(ImagePolicy):
        repo = _repository_of(config, policy)
        if repo is None:
            continue
        try:
            canonical = parse_repository(repo.spec.image).canonical_name
        except TagpilotError:
            continue
        if canonical in canonical_names:
            markers[(policy.namespace, policy.name)] = canonical
    targets: dict[tuple[str, str, str], tuple[GitRepository, CheckoutRef]] = {}
    for automation in config.of_kind(ImageUpdateAutomation):
        src = automation.spec.source_ref
        source = config.get(GitRepository, src.namespace or automation.namespace, src.name)
        if source is None:
            raise Stalled(f"cannot tell what is deployed: {automation.ref} writes to GitRepository "
                          f"{src.namespace or automation.namespace}/{src.name}, which is not in the configuration; "
                          f"add it, or set protect.deployed: false", reason="DependencyNotReady")
        git = automation.spec.git
        if git and git.push and git.push.branch:
            checkout = CheckoutRef(branch=git.push.branch)
        else:
            checkout = CheckoutRef.from_spec(git.checkout.ref if git and git.checkout else source.spec.ref)
        targets[(source.namespace, source.name, checkout.key)] = (source, checkout)
    if not targets:
        return deployed
    if ctx.git is None:
        raise Stalled("cannot tell what is deployed: no git client", reason="DependencyNotReady")
    for (_ns, _name, _key), (source, checkout) in sorted(targets.items()):
        secret = None
        if source.spec.secret_ref is not None:
            secret = config.secret(source.namespace, source.spec.secret_ref.name, referenced_by=source,
                                   field_name="spec.secretRef")
        async with ctx.git.checkout(source.spec.url, checkout, auth_from_secret(secret),
                                    timeout=source.spec.timeout_seconds) as ws:
            label = f"GitRepository/{source.namespace}/{source.name}"
            deployed.sources.append(f"{label}@{ws.head[:12]}")
            await asyncio.to_thread(scan_tree, ws.path, label, spellings, markers, deployed)
    return deployed


def policy_protections(ctx: Context, canonical: str) -> dict[str, list[str]]:
    """tag-or-digest → reasons from every ImagePolicy's stored latestRef / observedPreviousRef."""
    out: dict[str, list[str]] = {}
    for policy in ctx.config.of_kind(ImagePolicy):
        repo = _repository_of(ctx.config, policy)
        if repo is None:
            continue
        try:
            if parse_repository(repo.spec.image).canonical_name != canonical:
                continue
        except TagpilotError:
            continue
        stored = ctx.store.get_object(policy.kind, policy.namespace, policy.name)
        status = stored.status if stored else {}
        for key in ("latestRef", "observedPreviousRef"):
            ref = status.get(key) or {}
            for part in ("tag", "digest"):
                if ref.get(part):
                    out.setdefault(ref[part], []).append(f"{policy.ref} {key}")
    return out


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


def _plan(ctx: Context, run: RepositoryRun, deployed: Deployed | None, now: datetime) -> None:
    assert run.state is not None
    spec = run.policy.spec
    first_seen = ctx.store.first_seen(run.canonical, run.state.resolved, now.timestamp())  # type: ignore[attr-defined]
    artifacts = artifacts_of(run.state, first_seen, now)
    tags: dict[str, list[str]] = {}
    digests: dict[str, list[str]] = {}
    if spec.protect.deployed and deployed is not None:
        for tag, reasons in deployed.tags.get(run.canonical, {}).items():
            tags.setdefault(tag, []).extend(reasons)
        for digest, reasons in deployed.digests.get(run.canonical, {}).items():
            digests.setdefault(digest, []).extend(reasons)
    if spec.protect.policy_refs:
        for key, reasons in policy_protections(ctx, run.canonical).items():
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
            _plan(ctx, run, deployed, now)
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
        if run.state is not None and fresh.resolved == run.state.resolved:
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
    # subjects first: a signature is deleted only after its subject was
    deletes.sort(key=lambda i: all(COSIGN_TAG.match(t) for t in i.tags) if i.tags else False)
    failed: set[str] = set()
    for index, item in enumerate(deletes):
        subjects = {f"sha256:{m.group(1)}" for t in item.tags if (m := COSIGN_TAG.match(t))}
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
        ("last_run", "lastRun"), ("protected_sources", "protectedSources"))
    last_run: dict[str, Any] | None = None
    protected_sources: list[str] | None = None


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
        failed = [f"{r.canonical}@{d}: {e}" for r in runs for d, (ok, e) in r.results.items() if not ok and e]
        status.last_run = {
            "time": rfc3339(now), "dryRun": not deleting,
            "retained": sum(i.action == "retain" for i in planned),
            "toDelete": sum(i.action == "delete" for i in planned),
            "deleted": sum(ok for r in runs for ok, _e in r.results.values()),
        }
        status.protected_sources = deployed.sources if deployed else []
        problems = errors + failed
        if problems:
            reason = "DeleteUnsupported" if any("refuses deletes" in p for p in problems) else "RetentionFailed"
            status.mark_failed(reason, "; ".join(problems)[:2000], now, generation)
            return Outcome(status, ok=False, error="; ".join(problems)[:2000], notes=notes)
        verb = "deleted" if deleting else "would delete"
        count = status.last_run["deleted"] if deleting else status.last_run["toDelete"]
        status.mark_ready(f"{verb} {count} digest(s), retained {status.last_run['retained']}", now, generation)
        return Outcome(status, notes=notes, changed=bool(notes))


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
