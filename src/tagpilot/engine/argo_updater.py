"""Reconciling Argo CD Image Updater's `ImageUpdater` CRs (v1.x) without a cluster.

One reconcile of a CR does upstream's cycle (`RunImageUpdater`): list the Applications of the CR's
namespace, give each the first of the CR's `applicationRefs` (most specific first) whose
`namePattern` and `labelSelectors` match it, turn that ref into the typed settings the Application
annotations also give (`ImageUpdater.settings_for`, or the Application's own annotations when the
ref says `useAnnotations: true`), and run the one Application write path (`engine/argo_app.py`) for
each, concurrently, so the Applications of the CR that write to the same repository and branch land
in one commit. The CR's status is upstream's: `applicationsMatched`, `imagesManaged`,
`recentUpdates` (aggregated by alias and new version), `lastCheckedAt`/`lastUpdatedAt`, and the
conditions `Ready`/`Reconciling`/`Error` with upstream's reasons (`ReconcileSucceeded`,
`ReconcileCompletedWithErrors` + `PartialErrors`, `ReconcileFailed` + `ReconcileError`, `Idle`,
`NoErrors`). tagpilot adds `applications` (per Application: its images as the Application status
lists them, the last commit, the error) and `warnings`.

What the CR asks for and tagpilot cannot do (pull requests, cosign verification, plugin targets,
method `argocd`) fails the whole CR before anything is written, with a `Ready=False` condition naming
the field: a partial update that skips the review step the user configured would be worse than none.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tagpilot.config.argo_cd import PREFIX, Application
from tagpilot.config.argo_image_updater import ApplicationRef, ImageUpdater
from tagpilot.config.base import seconds
from tagpilot.engine.argo_app import DEFAULT_INTERVAL, ApplicationReconciler, ApplicationStatus
from tagpilot.engine.argo_pull_request import STATUS_KEY
from tagpilot.engine.kinds import Column, Kind
from tagpilot.engine.reconciler import Context, Note, Outcome
from tagpilot.engine.status import ObjectStatus, rfc3339
from tagpilot.errors import TagpilotError

KIND = "ImageUpdater"
READY, ERROR = "Ready", "Error"  # `Reconciling` is the controller's (Kind.reports_progress)


@dataclass
class ImageUpdaterStatus(ObjectStatus):
    """Upstream's `ImageUpdaterStatus` plus tagpilot's per-Application detail and warnings."""

    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("last_checked_at", "lastCheckedAt"),
        ("last_updated_at", "lastUpdatedAt"),
        ("applications_matched", "applicationsMatched"),
        ("images_managed", "imagesManaged"),
        ("recent_updates", "recentUpdates"),
        ("applications", "applications"),
        ("warnings", "warnings"),
    )
    last_checked_at: str | None = None
    last_updated_at: str | None = None
    applications_matched: int | None = None
    images_managed: int | None = None
    recent_updates: list[dict[str, Any]] | None = None
    applications: list[dict[str, Any]] | None = None
    warnings: list[dict[str, str]] | None = None


def _with_gate_of(cr: ImageUpdater, app: Application) -> Application:
    """The CR's approval-gate annotations (`tagpilot.dev/approvals`, ...; tagpilot.approvals) on a copy of
    a matched Application that has none of its own: each Application's change waits for its own approval
    request, named after the Application, as when the annotations are on the Application."""
    from tagpilot.approvals.settings import OURS

    own = app.metadata.annotations or {}
    return app.with_annotations({k: v for k, v in (cr.metadata.annotations or {}).items()
                                 if k in OURS and k not in own})


PULL_REQUESTS = "pullRequests"  # status key: Application NS/NAME -> its open pull request (pull request mode)


class _MatchedApps(ApplicationReconciler):
    """The Application write path for the Applications one CR matched: a batch waits only for them."""

    def __init__(self, ctx: Context, members: list[Application]) -> None:
        super().__init__(ctx)
        self.members = members

    def _batch_candidates(self) -> list[Application]:
        return self.members


@dataclass
class AppRun:
    """One matched Application's run: its status, outcome, and what went wrong."""

    app: Application
    ref: ApplicationRef
    status: ApplicationStatus = field(default_factory=ApplicationStatus)
    outcome: Outcome | None = None
    error: str | None = None

    def changes(self) -> list[dict[str, str]]:
        """(alias, image, old, new) of every image this run updated (or would, in a dry run)."""
        out = []
        for image in self.status.images or []:
            if str(image.get("reason", "")).startswith("updated from") and image.get("selectedTag"):
                out.append({"alias": image.get("alias") or image.get("image", ""), "image": image.get("image", ""),
                            "old": image.get("currentTag", ""), "new": image["selectedTag"]})
        return out

    def errors(self) -> int:
        if self.error is not None:
            return 1
        return sum(1 for i in self.status.images or [] if str(i.get("reason", "")).startswith(
            ("no tag selected", "registry:")))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.app.name, "namePattern": self.ref.name_pattern}
        if self.status.images is not None:
            out["images"] = self.status.images
        if self.status.last_push_commit:
            out["lastPushCommit"] = self.status.last_push_commit
        if self.error is not None:
            out["error"] = self.error
        if self.awaiting_approval():
            out["awaitingApproval"] = self.status.ready_message()
        return out

    def awaiting_approval(self) -> bool:
        """Held by an approval gate (tagpilot.approvals): computed, not written."""
        return self.status.ready_reason("") == "AwaitingApproval"


class ImageUpdaterReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _where(self, obj: Any) -> str:
        origins = getattr(self.ctx.config, "origins", {})
        where = origins.get(obj.key) if isinstance(origins, dict) else None
        return f"{obj.ref} ({where.file}:{where.line})" if where and where.file else obj.ref

    def matched(self, cr: ImageUpdater) -> list[tuple[Application, ApplicationRef]]:
        """The Applications of the CR's namespace with the ref each takes (upstream's selection)."""
        refs = cr.sorted_refs()
        out = []
        for app in sorted(self.ctx.config.of_kind(Application), key=lambda a: a.name):
            if app.namespace != cr.namespace:
                continue
            ref = next((r for r in refs if r.matches(app.name, app.metadata.labels)), None)
            if ref is not None:
                out.append((app, ref))
        return out

    def _refusals(self, cr: ImageUpdater, matched: list[tuple[Application, ApplicationRef]]) -> list[str]:
        out = []
        for index, ref in enumerate(cr.spec.application_refs):
            where = f"spec.applicationRefs[{index}] ({ref.name_pattern})"
            out += [f"{where}: {line}" for line in cr.unsupported(ref)]
            if not ref.use_annotations and cr.write_back_for(ref)[0].method == "argocd" and \
                    any(r is ref for _, r in matched):
                out.append(f"{where}: writeBackConfig.method is 'argocd' (the default when it is not set): it "
                           "patches the live Application through the Kubernetes API, and tagpilot runs without a "
                           "cluster; set writeBackConfig.method: git (or git:secret:<name>) to commit the update")
        return out

    def _warnings(self, cr: ImageUpdater, matched: list[tuple[Application, ApplicationRef]]) -> list[dict[str, str]]:
        out = []
        if cr.spec.namespace is not None and cr.spec.namespace != cr.namespace:
            out.append({"field": "spec.namespace", "message": f"deprecated and ignored (as upstream): Applications "
                        f"are matched in the ImageUpdater's own namespace {cr.namespace!r}; remove spec.namespace "
                        "or move the ImageUpdater"})
        from tagpilot.config.argo_updater_config import CONFIGMAP_NAME, updater_config

        for key, message in updater_config(self.ctx.config).warnings:
            out.append({"field": f"ConfigMap {CONFIGMAP_NAME} {key}", "message": message})
        for app, ref in matched:
            if not ref.use_annotations and app.image_updater.enabled:
                out.append({"field": f"Application/{app.namespace}/{app.name}", "message": f"also has {PREFIX}"
                            "image-list annotations, which tagpilot applies to the Application as well; set "
                            f"useAnnotations: true on applicationRef {ref.name_pattern!r} or remove the annotations "
                            "(two configurations would fight over the same images)"})
        return out

    async def reconcile(self, cr: ImageUpdater, status: ImageUpdaterStatus, generation: int, *, force: bool = True,
                        dry_run: bool = False) -> Outcome:
        now = self.ctx.clock()
        outcome = Outcome(status, ok=True, persist=not dry_run, dry_run=dry_run)
        matched = self.matched(cr)
        warnings = self._warnings(cr, matched)
        status.warnings = warnings or None
        for w in warnings:
            outcome.warnings.append(Note("ConfigurationWarning", f"{self._where(cr)}: {w['field']}: {w['message']}",
                                         {"field": w["field"]}))
        status.observed_generation = generation
        status.last_checked_at = rfc3339(now)
        refusals = self._refusals(cr, matched)
        if refusals:
            message = f"{self._where(cr)}: " + "; ".join(refusals)
            status.applications_matched, status.images_managed = len(matched), 0
            self._failed(status, message, now, generation)
            outcome.ok, outcome.error = False, message
            return outcome
        runs = [AppRun(app, ref) for app, ref in matched]
        # each Application's open pull request lives in the CR's status (the runs' statuses are not stored)
        requests: dict[str, Any] = dict(status.extra.get(PULL_REQUESTS) or {})
        for run in runs:
            if f"{run.app.namespace}/{run.app.name}" in requests:
                run.status.extra[STATUS_KEY] = requests[f"{run.app.namespace}/{run.app.name}"]
        members = [self._derived(cr, run) for run in runs]
        apps = _MatchedApps(self.ctx, [m for m in members if m is not None])
        await asyncio.gather(*(self._run(apps, run, member, generation, dry_run)
                               for run, member in zip(runs, members, strict=True)))
        requests = {f"{r.app.namespace}/{r.app.name}": r.status.extra[STATUS_KEY] for r in runs
                    if r.status.extra.get(STATUS_KEY)}
        if requests:
            status.extra[PULL_REQUESTS] = requests
        else:
            status.extra.pop(PULL_REQUESTS, None)
        status.applications_matched = len(runs)
        status.images_managed = sum(len(r.status.images or []) for r in runs)
        status.applications = [r.to_json() for r in runs] or None
        changes = [(r, c) for r in runs for c in r.changes()]
        errors = sum(r.errors() for r in runs)
        if changes and not dry_run:
            status.last_updated_at = rfc3339(now)
            status.recent_updates = _recent_updates(changes, rfc3339(now))
        for run in runs:
            if run.outcome is None:
                continue
            outcome.notes += [Note(n.reason, f"Application/{run.app.namespace}/{run.app.name}: {n.message}",
                                   n.metadata) for n in run.outcome.notes]
            outcome.warnings += run.outcome.warnings
            if run.outcome.commit:
                outcome.commit = run.outcome.commit
                outcome.files += [f for f in run.outcome.files if f not in outcome.files]
            if dry_run and run.outcome.diff:
                outcome.diff += run.outcome.diff
                outcome.files += run.outcome.files
                outcome.message = "\n\n".join(m for m in (outcome.message, run.outcome.message) if m)
                branches = (outcome.branch or "").split(", ") if outcome.branch else []
                if run.outcome.branch and run.outcome.branch not in branches:
                    outcome.branch = ", ".join([*branches, run.outcome.branch])
        updated = len(changes)
        waiting = sum(r.awaiting_approval() for r in runs)
        held = f", {waiting} awaiting approval" if waiting else ""
        if errors:
            status.set_condition(ERROR, True, "PartialErrors", f"{errors} error(s) occurred during image update "
                                 "checks.", now, generation)
            status.set_condition(READY, True, "ReconcileCompletedWithErrors", f"Reconciled {len(runs)} applications "
                                 f"with {errors} errors, {updated} images updated.", now, generation)
            outcome.ok = False
            outcome.error = "; ".join(f"Application/{r.app.namespace}/{r.app.name}: " + (r.error or "; ".join(
                f"{i.get('alias') or i.get('image')}: {i.get('reason')}" for i in r.status.images or []
                if str(i.get("reason", "")).startswith(("no tag selected", "registry:"))))
                for r in runs if r.errors())
        else:
            status.set_condition(ERROR, False, "NoErrors", "No errors during last reconciliation.", now, generation)
            status.set_condition(READY, True, "ReconcileSucceeded", f"Reconciled {len(runs)} applications, "
                                 f"{updated} images updated{held}.", now, generation)
        return outcome

    def _derived(self, cr: ImageUpdater, run: AppRun) -> Application | None:
        """The Application as this CR configures it (None, with the run's error, when it cannot be)."""
        if run.ref.use_annotations:
            if not run.app.image_updater.enabled:
                run.error = (f"applicationRef {run.ref.name_pattern!r} has useAnnotations: true, but the Application "
                             f"has no {PREFIX}image-list annotation; add it or list images in the ref")
                return None
            return _with_gate_of(cr, run.app)
        return _with_gate_of(cr, run.app.with_image_updater(cr.settings_for(run.ref)))

    async def _run(self, apps: _MatchedApps, run: AppRun, member: Application | None, generation: int,
                   dry_run: bool) -> None:
        if member is None:
            return
        try:
            run.outcome = await apps.reconcile(member, run.status, generation, force=True, dry_run=dry_run)
        except TagpilotError as exc:
            run.error = str(exc)
            return
        if not run.outcome.ok and run.outcome.error and run.errors() == 0:
            run.error = run.outcome.error

    @staticmethod
    def _failed(status: ImageUpdaterStatus, message: str, now: Any, generation: int) -> None:
        status.set_condition(ERROR, True, "ReconcileError", message, now, generation)
        status.set_condition(READY, False, "ReconcileFailed", f"Reconciliation failed: {message}", now, generation)


def watching(config: Any, registry: str, repository: str) -> list[tuple[str, str, str]]:
    """Keys of the Applications (annotations) and ImageUpdaters with an image in `registry/repository`:
    what a registry webhook for that push runs."""
    from tagpilot.config.argo_updater_config import updater_config
    from tagpilot.engine.argo_registries import split_registry

    conf = updater_config(config)

    def norm(reg: str, path: str) -> tuple[str, str]:
        return reg, (f"library/{path}" if reg == "docker.io" and "/" not in path else path)

    wanted = norm(registry, repository)

    def hit(image: str) -> bool:
        reg, path = split_registry(image, conf.default_registry())
        entry = conf.entry_for(f"{reg}/{path}") or conf.entry_for(reg)
        if entry is not None and entry.defaultns and "/" not in path:
            path = f"{entry.defaultns}/{path}"
        hosts = {reg}
        if entry is not None and entry.api_url:
            hosts.add(entry.api_url.partition("://")[2].split("/", 1)[0])
        return any(norm(h, path) == wanted for h in hosts)

    keys: list[tuple[str, str, str]] = []
    apps = config.of_kind(Application)
    for app in apps:
        if any(hit(s.image) for s in app.image_updater.images):
            keys.append(app.key)
    for cr in config.of_kind(ImageUpdater):
        images = []
        for ref in cr.spec.application_refs:
            if ref.use_annotations:
                images += [s.image for a in apps
                           if a.namespace == cr.namespace and ref.matches(a.name, a.metadata.labels)
                           for s in a.image_updater.images]
            else:
                images += [s.image for s in cr.settings_for(ref).images]
        if any(hit(i) for i in images):
            keys.append(cr.key)
    return keys


def _recent_updates(changes: list[tuple[AppRun, dict[str, str]]], now: str) -> list[dict[str, Any]]:
    """Aggregated by (alias, new version), in first-seen order, as upstream's buildRecentUpdates."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for _run, change in changes:
        key = (change["alias"], change["new"])
        if key in out:
            out[key]["applicationsUpdated"] += 1
            continue
        out[key] = {"alias": change["alias"], "image": change["image"], "newVersion": change["new"],
                    "applicationsUpdated": 1, "updatedAt": now,
                    "message": f"Updated from {change['old']} to {change['new']}."}
    return list(out.values())


def _interval(cr: ImageUpdater) -> float | None:
    """The CR's `tagpilot.dev/interval` annotation, else upstream's `--interval` default (2m)."""
    text = cr.interval_text()
    return seconds(text) if text else DEFAULT_INTERVAL


KINDS = (Kind(
    name=KIND, model=ImageUpdater, plural="imageupdaters", short=("imageupdater", "iu"),
    reconciler=ImageUpdaterReconciler, status=ImageUpdaterStatus, order=31, interval=_interval, reports_progress=True,
    columns=(
        Column("APPS", lambda v: str(v["status"].get("applicationsMatched", "-"))),
        Column("IMAGES", lambda v: str(v["status"].get("imagesManaged", "-"))),
        Column("LAST CHECKED", lambda v: v["status"].get("lastCheckedAt") or "-"),
    ),
),)
