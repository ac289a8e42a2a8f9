"""Reconciling Argo CD Applications with Argo CD Image Updater's annotations, without a cluster.

Per Application, as upstream's update cycle does it (shared/reference/argocd-image-updater.md):
1. each image of `image-list` is checked against its registry with its `Policy` (the Argo strategies
   of `policy/argo.py`, metadata through `select_with_registry`, so newest-build's `created` times
   are fetched once per digest and cached on disk);
2. the application's repository is checked out (`git-repository`, else the source's `repoURL`; the
   branch from `git-branch`, else `targetRevision`, `HEAD`/empty meaning the remote's default branch);
3. the current image is read, in this order, and the status says which one was used:
   `status.summary.images` (an Application exported with its status), the `.argocd-source-<app>.yaml`
   file in git, the chart's values files at the Helm parameter path (`values.yaml`, then
   `spec.source.helm.valueFiles`, the last one winning), `spec.source.helm.parameters` /
   `spec.source.kustomize.images`. Only images found there are updated, unless `force-update`;
4. `.argocd-source-<app>.yaml` is written with upstream's bytes and merge rules (or, with
   `write-back-target`, the Helm values file / kustomization is edited in place, byte-exactly, by
   `update.helm_values` / `update.kustomization`); the commit carries
   upstream's default message and author (`argocd-image-updater <noreply@argoproj.io>`).

Better than upstream: every Application that writes to the same repository and branches in one round
lands in ONE commit. The reconciler's `WriteBatcher` collects the writes of the Applications known to
share a target (from the configuration), waits until all of them have arrived (or no other
Application is still selecting: daemon runs that do not coincide), then checks out once, applies every write, commits
and pushes once, with the rejected-push retry of `GitClient.commit_and_push` (every write is applied
again on the new tip).

A `git-branch: <base>:<template>` push branch is rendered per Application (`engine/argo_branch.py`)
from the changes it would make on the base branch; such an Application is its own batch.

Not in this slice, refused with a Stalled condition that says so: `write-back-method: argocd` (needs a
cluster). Directory applications, which upstream skips, are refused the same way unless setters
markers under the source path name the Application's images (`engine/argo_directory.py`).
Multi-source Applications write back to the source upstream's getApplicationSource picks
(`write_back_source`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from tagpilot.approvals.argo import approval_pushed, gate_application
from tagpilot.approvals.book import ApprovalBook
from tagpilot.config.argo_cd import PREFIX, Application, ApplicationSource, ImageSettings, PullSecret
from tagpilot.config.argo_updater_config import updater_config
from tagpilot.config.core import Secret
from tagpilot.engine import argo_directory, argo_pull_request
from tagpilot.engine.argo_branch import (
    BranchTemplateError,
    ImageChange,
    check_template,
    image_name,
    render_branch,
    target_key,
)
from tagpilot.engine.argo_registries import list_order_metadata, tag_sort_mode
from tagpilot.engine.argocd_server import live_images
from tagpilot.engine.events import Reason
from tagpilot.engine.kinds import Column, Kind
from tagpilot.engine.live_policy import select_with_registry
from tagpilot.engine.reconciler import Context, Note, Outcome, Stalled
from tagpilot.engine.status import ObjectStatus, rfc3339
from tagpilot.errors import CredentialsError, InvalidReference, PolicyError, TagpilotError
from tagpilot.gitops import CheckoutRef, GitAuth, GitClient
from tagpilot.registry.client import RepositoryAccess
from tagpilot.registry.credentials import Credentials, lookup_or_anonymous, parse_docker_config
from tagpilot.registry.reference import parse_reference, parse_repository
from tagpilot.update.argocd_files import read_text, target_path
from tagpilot.update.argocd_source import (
    ArgoSourceUpdater,
    HelmTarget,
    KustomizeTarget,
    kustomize_image_key,
    read_source_file,
    source_file_name,
)
from tagpilot.update.helm_values import HelmValuesUpdater, read_values
from tagpilot.update.kustomization import KustomizationUpdater, find_kustomization, read_images
from tagpilot.update.model import ImageRef, ObjectId
from tagpilot.update.tree import TreeResult, safe_subpath

KIND = "Application"
DEFAULT_INTERVAL = 120.0  # upstream's `--interval` default, 2m
AUTHOR = ("argocd-image-updater", "noreply@argoproj.io")
COMMIT_TEMPLATE = """build: automatic update of {{ .AppName }}

{{ range .AppChanges -}}
updates image {{ .Image }} tag '{{ .OldTag }}' to '{{ .NewTag }}'
{{ end -}}
"""
MAX_BATCH_WAIT = 300.0  # seconds a batch waits at most for Applications still selecting (a safety net)
REPO_SECRET_LABEL = "argocd.argoproj.io/secret-type"
UNSUPPORTED = "UnsupportedConfiguration"


@dataclass
class ApplicationStatus(ObjectStatus):
    """Per image: alias, image, current tag and where it was read, selected tag, strategy, reason;
    the last commit pushed for this Application and the annotation warnings. Conditions: Ready,
    Stalled, and the ImageUpdater's `Reconciling` (True while a run is in progress, then Idle: the
    controller sets it, `Kind.reports_progress`)."""

    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("images", "images"),
        ("last_run_time", "lastRunTime"),
        ("source_file", "sourceFile"),
        ("last_push_commit", "lastPushCommit"),
        ("last_push_time", "lastPushTime"),
        ("warnings", "warnings"),
    )
    images: list[dict[str, Any]] | None = None
    last_run_time: str | None = None
    source_file: str | None = None
    last_push_commit: str | None = None
    last_push_time: str | None = None
    warnings: list[dict[str, str]] | None = None


# --- what one image is, now and next ------------------------------------------------------------------


@dataclass
class ImageState:
    settings: ImageSettings
    selected: ImageRef | None = None
    strategy: str = ""
    error: str | None = None
    error_reason: str | None = None
    current_tag: str | None = None
    current_from: str | None = None
    reason: str = ""
    updated: bool = False
    labels: dict[str, str] = field(default_factory=dict)  # the selected image's config labels (`.Labels`)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"alias": self.settings.alias, "image": self.settings.image}
        if self.current_tag is not None:
            out["currentTag"] = self.current_tag
        if self.current_from is not None:
            out["currentFrom"] = self.current_from
        if self.selected is not None:
            out["selectedTag"] = _tag_value(self.selected)
        out["strategy"] = self.strategy
        out["reason"] = self.reason
        return out


def _tag_value(ref: ImageRef) -> str:
    return f"{ref.tag}@{ref.digest}" if ref.digest else (ref.tag or "")


def _same_image(a: str, b: str) -> bool:
    """Same repository, registry included (`docker.io/x` ≡ `x`, `quay.io/x` ≠ `x`)."""
    try:
        return parse_reference(a).name == parse_reference(b).name
    except InvalidReference:
        return a == b


def _split_tag(image: str) -> tuple[str, str]:
    """`name[:tag][@digest]` → (name, `tag[@digest]`)."""
    name, at, digest = image.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, f"{tag}@{digest}" if at else tag


def _values_lookup(data: Any, path: str) -> str | None:
    """`a.b[0].c` in a values document; None when absent or not a scalar."""
    node = data
    for part in path.split("."):
        name, _, rest = part.partition("[")
        if name:
            if not isinstance(node, dict) or name not in node:
                return None
            node = node[name]
        while rest:
            index, _, rest = rest.partition("]")
            rest = rest.removeprefix("[")
            if not index.isdigit() or not isinstance(node, list) or int(index) >= len(node):
                return None
            node = node[int(index)]
    if isinstance(node, dict | list) or node is None:
        return None
    return str(node)


def _read_values(path: Path) -> Any:
    from tagpilot.config.source import check_structure
    from tagpilot.errors import ConfigError

    try:
        text = path.read_text(encoding="utf-8")
        check_structure(text, str(path))
        return yaml.load(text, Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))  # strings as written
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ConfigError, RecursionError):
        return None


# --- one Application's write ---------------------------------------------------------------------------


@dataclass
class AppWrite:
    """What one Application contributes to a batch: `apply(root)` reads the current images and writes
    its file (again on every retry), `message(result)` its commit message."""

    app: Application
    states: list[ImageState]
    source: ApplicationSource
    dry_run: bool = False
    result: TreeResult | None = None
    changes: list[dict[str, str]] = field(default_factory=list)
    file: str = ""
    error: TagpilotError | None = None
    template: str = COMMIT_TEMPLATE  # git.commit-message-template of argocd-image-updater-config

    def apply(self, root: Path) -> TreeResult:
        self.result, self.changes, self.error = None, [], None
        try:
            self.result = self._apply(root)
        except TagpilotError as exc:  # one Application's problem must not sink the others of its batch
            self.error = exc
            self.result = TreeResult(dry_run=self.dry_run)
        return self.result

    def _kind(self, directory: Path) -> str:
        """Helm, Kustomize or Directory, as Argo CD decides it: the spec's blocks, then the files; per-image
        annotations decide between Helm and Kustomize when the repository has both."""
        source = self.source
        target = self.app.image_updater.write_back.target
        if target != "default":
            return "helm" if target == "helmvalues" else "kustomize"  # the target says what is written
        if source.helm is not None and source.kustomize is not None:
            raise Stalled("spec.source has both helm and kustomize; Argo CD accepts only one", reason=UNSUPPORTED)
        if source.helm is not None or source.chart:
            return "helm"
        if source.kustomize is not None:
            return "kustomize"
        if source.directory is not None:
            return "directory"
        if any(s.kustomize_image_name for s in (st.settings for st in self.states)):
            return "kustomize"
        if (directory / "Chart.yaml").is_file():
            return "helm"
        if any((directory / n).is_file() for n in ("kustomization.yaml", "kustomization.yml", "Kustomization")):
            return "kustomize"
        return "directory"  # upstream skips it; tagpilot writes it only through setters markers (argo_directory)

    def _apply(self, root: Path) -> TreeResult:
        app, path = self.app, self.source.path or "."
        directory = safe_subpath(root, path)
        if not directory.is_dir():
            raise Stalled(f"spec.source.path {path!r} is not a directory in {self.source.repo_url}",
                          reason=UNSUPPORTED)
        kind = self._kind(directory)
        if kind == "directory":
            return self._apply_directory(root, path)
        existing = self._existing(root, directory, path)
        values = self._values_docs(directory) if kind == "helm" else []
        spec_params = {p.name: p.value or "" for p in (self.source.helm.parameters if self.source.helm else [])
                       if p.name}
        spec_images = list(self.source.kustomize.images) if self.source.kustomize else []
        live = self.app.status_images()
        chosen: dict[str, ImageRef] = {}
        helm_targets, kustomize_targets = [], []
        for state in self.states:
            s = state.settings
            key = s.alias or s.image
            state.current_tag, state.current_from = None, None
            if kind == "helm":
                name_p, tag_p, spec_p = s.helm_names()
                helm_targets.append(HelmTarget(key, name_p, tag_p, spec_p))
                self._current_helm(state, live, existing, values, spec_params, name_p, tag_p, spec_p)
            else:
                name = s.kustomize_image_name or s.image
                kustomize_targets.append(KustomizeTarget(key, name))
                self._current_kustomize(state, live, existing, spec_images, name)
            if state.selected is None:
                continue  # its error is the reason already
            if state.current_from is None and not s.force_update:
                state.reason = (f"not updated: {s.image} is not in status.summary.images, {self.file}, the values "
                                f"files or spec.source (set {PREFIX}{s.alias + '.' if s.alias else ''}force-update: "
                                "\"true\" to write it anyway)")
                continue
            new = _tag_value(state.selected)
            if state.current_tag == new:
                state.reason = f"up to date at {new}"
            elif self._written(kind, s, state.selected, existing):
                # the current tag came from a source that lags behind git (an exported status)
                state.reason = f"{self.file} already sets {new} (the current tag {state.current_tag} is from " \
                               f"{state.current_from})"
            else:
                state.updated = True
                state.reason = f"updated from {state.current_tag or '(none)'} to {new}"
                # upstream's `.Image` is its ImageName: the image without the registry host
                self.changes.append({"Image": image_name(s.image), "OldTag": state.current_tag or "", "NewTag": new,
                                     "Labels": dict(state.labels)})
            chosen[key] = state.selected
        if not self.changes:
            return TreeResult(dry_run=self.dry_run, scanned=1)  # as upstream: no update, no write-back
        oid = ObjectId(app.kind, app.api_version, app.name, app.namespace)
        target = app.image_updater.write_back.target
        updater: HelmValuesUpdater | KustomizationUpdater | ArgoSourceUpdater
        if target == "helmvalues":
            updater = HelmValuesUpdater(oid, self.file, helm_targets)
        elif target == "kustomization":
            updater = KustomizationUpdater(oid, self.file, kustomize_targets)
        else:
            updater = ArgoSourceUpdater(oid, source_file_name(app.name, app.namespace),
                                        helm=helm_targets if kind == "helm" else (),
                                        kustomize=kustomize_targets if kind == "kustomize" else ())
        return updater.apply(root, path, chosen, dry_run=self.dry_run)

    def _apply_directory(self, root: Path, path: str) -> TreeResult:
        """A Directory application: the images named by setters markers under the path (argo_directory);
        the current tag from `status.summary.images`, else the marked fields."""
        app = self.app
        markers = argo_directory.find_markers(root, path, app, [s.settings for s in self.states])
        self.file = ", ".join(markers.files)
        live = app.status_images()
        chosen: dict[str, ImageRef] = {}
        for state in self.states:
            s = state.settings
            key = argo_directory.image_key(s)
            state.current_tag, state.current_from = None, None
            if not self._current_live(state, live) and key in markers.sites:
                current = argo_directory.current_tag(root, path, app, key)
                if current is not None:
                    state.current_tag, state.current_from = current
            if state.selected is None:
                continue  # its error is the reason already
            if key not in markers.sites:
                state.reason = (f"not updated: no setters marker under {path!r} names it; add "
                                f"`# {argo_directory.marker_text(app, key)}` to the field holding the image")
                continue
            chosen[key] = state.selected
        result = argo_directory.write_markers(root, path, app, chosen, dry_run=self.dry_run)
        for state in self.states:
            key = argo_directory.image_key(state.settings)
            if key not in chosen or state.selected is None:
                continue
            new = _tag_value(state.selected)
            if argo_directory.changed(result, app, key):
                state.updated = True
                state.reason = f"updated from {state.current_tag or '(none)'} to {new}"
                self.changes.append({"Image": image_name(state.settings.image), "OldTag": state.current_tag or "",
                                     "NewTag": new, "Labels": dict(state.labels)})
            elif state.current_tag not in (None, new) and state.current_from == "status.summary.images":
                state.reason = f"the markers already set {new} (the current tag {state.current_tag} is from " \
                               "status.summary.images)"
            else:
                state.reason = f"up to date at {new}"
        return result if self.changes else TreeResult(dry_run=self.dry_run, scanned=1)

    @staticmethod
    def _current_live(state: ImageState, live: list[str] | None) -> bool:
        """The current tag from `status.summary.images` (an Application exported with its status)."""
        for image in live or []:
            name, tag = _split_tag(image)
            if _same_image(name, state.settings.image):
                state.current_tag, state.current_from = tag, "status.summary.images"
                return True
        return False

    def _existing(self, root: Path, directory: Path, path: str) -> dict[str, str]:
        """Sets `self.file` (the write-back target, root-relative) and returns what it holds now:
        Helm key → value, or Kustomize image key → override `name[=new]:tag`."""
        wb = self.app.image_updater.write_back
        if wb.target == "helmvalues":
            self.file = target_path(path, wb.target_path, "values.yaml")
            keys = [k for s in self.states for k in s.settings.helm_names() if k]
            return read_values(read_text(safe_subpath(root, self.file)), keys, self.file)
        if wb.target == "kustomization":
            self.file = find_kustomization(root, target_path(path, wb.target_path, "."))
            return read_images(read_text(safe_subpath(root, self.file)), self.file)
        name = source_file_name(self.app.name, self.app.namespace)
        self.file = os.path.normpath(os.path.join(path, name))
        return read_source_file(_text(directory / name))

    def _written(self, kind: str, s: ImageSettings, ref: ImageRef, existing: dict[str, str]) -> bool:
        """Does the `.argocd-source` file already hold what would be written for this image?"""
        new = _tag_value(ref)
        if kind == "helm":
            name_p, tag_p, spec_p = s.helm_names()
            if spec_p:
                return existing.get(spec_p) == f"{ref.name}:{new}"
            return existing.get(tag_p or "") == new and existing.get(name_p or "") == ref.name
        name = s.kustomize_image_name or s.image
        written = f"{ref.name}:{new}" if name == ref.name else f"{name}={ref.name}:{new}"
        return existing.get(kustomize_image_key(name)) == written

    def _values_docs(self, directory: Path) -> list[tuple[str, Any]]:
        files = ["values.yaml", *(self.source.helm.value_files if self.source.helm else [])]
        docs = []
        for name in reversed(files):  # the last values file wins
            if name.startswith(("http://", "https://", "$")):
                continue
            doc = _read_values(directory / name)
            if isinstance(doc, dict):
                docs.append((os.path.normpath(os.path.join(self.source.path or ".", name)), doc))
        return docs

    def _current_helm(self, state: ImageState, live: list[str] | None, existing: dict[str, str],
                      values: list[tuple[str, Any]], spec: dict[str, str], name_p: str | None, tag_p: str | None,
                      spec_p: str | None) -> None:
        if self._current_live(state, live):
            return
        param = spec_p or tag_p
        if param is None:
            return
        sources: list[tuple[str, Callable[[str], str | None]]] = [(self.file, existing.get)]
        sources += [(file, lambda p, d=doc: _values_lookup(d, p)) for file, doc in values]
        sources.append(("spec.source.helm.parameters", spec.get))
        for where, get in sources:
            value = get(param)
            if value is not None:
                state.current_tag = _split_tag(value)[1] if spec_p else value
                state.current_from = where
                return

    def _current_kustomize(self, state: ImageState, live: list[str] | None, existing: dict[str, str],
                           spec: list[str], name: str) -> None:
        if self._current_live(state, live):
            return
        key = kustomize_image_key(name)
        override = existing.get(key)
        if override is not None:
            state.current_tag, state.current_from = _split_tag(override.split("=", 1)[-1])[1], self.file
            return
        for image in spec:
            if kustomize_image_key(image) == key:
                state.current_tag = _split_tag(image.split("=", 1)[-1])[1]
                state.current_from = "spec.source.kustomize.images"
                return

    def message(self) -> str:
        from tagpilot.gotemplate import TemplateError, render

        data = {"AppName": self.app.name,
                "AppChanges": [{**c, "Labels": c.get("Labels") or {}} for c in self.changes]}
        try:
            return render(self.template, data, name="commit-message")
        except TemplateError:
            return f"build: update of application {self.app.name}"


def _text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8") if path.is_file() and not path.is_symlink() else None
    except (OSError, UnicodeDecodeError):
        return None


# --- batching writes per repository and branch ----------------------------------------------------------


@dataclass(frozen=True)
class Target:
    url: str
    checkout: str
    push: str  # the push branch, or a `git-branch` template (then `owner` is set)
    owner: str = ""  # a templated push branch: the one Application it belongs to (not batched with others)


@dataclass
class PushOutcome:
    commit: str | None
    pushed_at: str | None
    branch: str | None = None  # the rendered push branch of a template
    warning: str | None = None


@dataclass
class _Batch:
    writes: list[AppWrite] = field(default_factory=list)
    futures: list[asyncio.Future[PushOutcome]] = field(default_factory=list)
    full: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 1


class WriteBatcher:
    """Groups the writes of Applications with the same target into one checkout, commit and push.

    A batch closes when every Application expected for its target (from the configuration) has
    submitted, or when no Application is still on its way to submitting (`preparing`: selecting
    images, resolving its target): one that failed or found nothing to do never comes, and waiting
    for it would only delay the others. A fixed linger did not do: 1,000 Applications take longer than
    any short linger to select their images, and the batch split into many commits (bench/argo.py).
    `max_wait` bounds the wait in case something hangs."""

    def __init__(self, run: Callable[[Target, list[AppWrite]], Awaitable[PushOutcome]],
                 max_wait: float = MAX_BATCH_WAIT) -> None:
        self._run = run
        self._max_wait = max_wait
        self._open: dict[Target, _Batch] = {}
        self._preparing = 0

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """Around an Application's work before `submit` (or before it gives up)."""
        self._preparing += 1
        try:
            yield
        finally:
            self._preparing -= 1
            self._check_all()

    def _check(self, batch: _Batch) -> None:
        if len(batch.writes) >= batch.expected or self._preparing == 0:
            batch.full.set()

    def _check_all(self) -> None:
        for batch in self._open.values():
            self._check(batch)

    async def submit(self, target: Target, write: AppWrite, expected: int) -> PushOutcome:
        batch = self._open.get(target)
        leader = batch is None
        if batch is None:
            batch = self._open[target] = _Batch(expected=max(1, expected))
        future: asyncio.Future[PushOutcome] = asyncio.get_running_loop().create_future()
        batch.writes.append(write)
        batch.futures.append(future)
        self._check(batch)
        if leader:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(batch.full.wait(), self._max_wait)
            if self._open.get(target) is batch:
                del self._open[target]  # later arrivals start the next batch
            try:
                outcome = await self._run(target, list(batch.writes))
            except BaseException as exc:
                for f in batch.futures:
                    if not f.done():
                        f.set_exception(exc)
                if isinstance(exc, TagpilotError):
                    return await future
                raise
            for f in batch.futures:
                if not f.done():
                    f.set_result(outcome)
        return await future


def batch_message(writes: list[AppWrite]) -> str:
    """One Application: upstream's message. Several: a subject naming how many, then each message."""
    changed = [w for w in writes if w.result is not None and w.result.files]
    if len(changed) == 1:
        return changed[0].message()
    names = ", ".join(w.app.name for w in changed)
    return f"build: automatic update of {len(changed)} applications\n\n{names}\n\n" + "\n".join(
        w.message() for w in changed)


# --- the reconciler ---------------------------------------------------------------------------------------


class ApplicationReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.batcher = WriteBatcher(self._commit_batch)
        self._target_counts: tuple[Any, Counter[tuple[str, str, str]]] | None = None

    @property
    def git(self) -> GitClient:
        if self.ctx.git is None:
            raise TagpilotError("Applications need a git client to write back")
        return self.ctx.git

    async def reconcile(self, app: Application, status: ApplicationStatus, generation: int, *, force: bool = True,
                        dry_run: bool = False) -> Outcome:
        now = self.ctx.clock()
        settings = app.image_updater
        outcome = Outcome(status, ok=True, persist=not dry_run, dry_run=dry_run)
        status.warnings = [{"annotation": w.annotation, "message": w.message} for w in settings.warnings] or None
        for w in settings.warnings:
            if "deprecated" in w.message:
                outcome.notes.append(Note(Reason.DEPRECATED, f"{w.annotation}: {w.message}",
                                          {"annotation": w.annotation}))
            else:
                outcome.warnings.append(Note(Reason.UNKNOWN_ANNOTATION, f"{self._where(app)}: annotation "
                                             f"{w.annotation}: {w.message}", {"annotation": w.annotation}))
        if not settings.enabled:
            status.images = None
            status.mark_ready(f"no {PREFIX}image-list annotation: nothing to update", now, generation)
            return outcome
        if app.status_images() is None:  # not exported with its status: what Argo CD reports, if it is read
            live = live_images(self.ctx, app.namespace, app.name)
            app = app.with_live_images(live) if live is not None else app
        with self.batcher.preparing():
            source = self._check_supported(app)
            states = list(await asyncio.gather(*(self._select(app, s) for s in settings.images)))
            target = await self._target(app, source)
            mode = settings.write_back.pull_request
            forge_auth = self._git_auth(app, target.url) if mode is not None and not dry_run else None
            if mode is not None and not dry_run:  # a request a person closed: its tags are a "no"
                argo_pull_request.token_of(forge_auth, self._where(app))  # before any push
                outcome.notes += await argo_pull_request.refuse_closed(
                    app, mode, target.url, forge_auth, status.extra,
                    ApprovalBook(self.ctx.store), self._where(app))  # type: ignore[arg-type]
            if not dry_run and await gate_application(self, app, states, source, target, status, generation,
                                                      outcome):
                status.images, status.last_run_time = [s.to_json() for s in states], rfc3339(now)
                return outcome  # awaiting approval (tagpilot.approvals): nothing written
            template = updater_config(self.ctx.config).commit_template or COMMIT_TEMPLATE
            if ".Labels" in template:  # only a template that reads them costs a config fetch per image
                await asyncio.gather(*(self._labels(app, s) for s in states if s.selected is not None))
            write = AppWrite(app, states, source, dry_run=dry_run, template=template)
        # no await between leaving `preparing` and `submit`: a batch cannot close in between
        if dry_run:
            pushed = await self._dry_run(target, write, outcome)
        else:
            pushed = await self.batcher.submit(target, write, self._expected(target, app))
        if write.error is not None:
            raise write.error
        if not dry_run:
            approval_pushed(self, app, pushed.commit)
        status.images = [s.to_json() for s in states]
        status.source_file = write.file or None
        status.last_run_time = rfc3339(now)
        failed = [s for s in states if s.error]
        branch = pushed.branch or target.push
        if pushed.warning:
            status.warnings = [*(status.warnings or []), {"annotation": PREFIX + "git-branch",
                                                           "message": pushed.warning}]
        if pushed.commit and write.result is not None and write.result.files:
            status.last_push_commit, status.last_push_time = pushed.commit, pushed.pushed_at
            outcome.commit = pushed.commit
            outcome.files = [f.path for f in write.result.files]
            outcome.notes.append(Note(Reason.PUSHED, f"committed and pushed {pushed.commit[:7]} to branch "
                                      f"'{branch}': {', '.join(s.reason for s in states if s.updated)}",
                                      {"commit": pushed.commit, "files": outcome.files}))
        if mode is not None and not dry_run and outcome.commit:
            try:
                outcome.notes += await argo_pull_request.after_push(
                    app, mode, target.url, forge_auth, head=branch, base=target.checkout,
                    message=write.message(), extra=status.extra, where=self._where(app),
                    images=[{"image": s.settings.image, "tag": s.selected.tag or ""} for s in states
                            if s.updated and s.selected is not None])
            except TagpilotError as exc:
                status.mark_failed(exc.reason, f"pushed {outcome.commit[:7]} to branch '{branch}', but the pull "
                                   f"request failed: {exc}", now, generation)
                outcome.ok, outcome.error = False, str(exc)
                return outcome
        if failed:
            message = "; ".join(f"{s.settings.label}: {s.error}" for s in failed)
            reason = failed[0].error_reason or "UpdateFailed"
            status.mark_failed(reason, message, now, generation)
            outcome.ok, outcome.error = False, message
            return outcome
        summary = "; ".join(f"{s.settings.label}: {s.reason}" for s in states)
        if outcome.commit:
            status.mark_ready(f"committed and pushed commit '{outcome.commit[:7]}' to branch '{branch}'; "
                              f"{summary}", now, generation)
        else:
            status.mark_ready(summary or "no images", now, generation)
        return outcome

    # -- checks that do not need the outside ----------------------------------------------------------

    def _where(self, app: Application) -> str:
        origins = getattr(self.ctx.config, "origins", {})
        where = origins.get(app.key) if isinstance(origins, dict) else None
        return f"{app.ref} ({where.file}:{where.line})" if where and where.file else app.ref

    def _check_supported(self, app: Application) -> ApplicationSource:
        """Raise Stalled for what this version cannot do (a rerun cannot fix it)."""
        return check_supported(app)

    def _expected(self, target: Target, app: Application) -> int:
        """How many Applications of the configuration write to `target` (the batch waits for them)."""
        if target.owner:
            return 1  # a templated branch is this Application's own
        counts = self._targets_of_config()
        pushes = {target.push, ""} if target.push == target.checkout else {target.push}
        count = sum(counts.get((target.url, base, push), 0) for base in {target.checkout, "", "HEAD"}
                    for push in pushes)
        return max(1, count)

    def _targets_of_config(self) -> Counter[tuple[str, str, str]]:
        """(repository, base branch as written, push branch as written) → how many Applications; built
        once per configuration (per Application it made 1,000 Applications cost a million checks)."""
        config = self.ctx.config
        if self._target_counts is not None and self._target_counts[0] is config:
            return self._target_counts[1]
        counts: Counter[tuple[str, str, str]] = Counter()
        for other in self._batch_candidates():
            if not other.image_updater.enabled:
                continue  # no image-list: it never writes
            try:
                source = check_supported(other)
            except Stalled:
                continue
            wb = other.image_updater.write_back
            counts[(wb.repository or source.repo_url, wb.base_branch or write_back_revision(other, source),
                    wb.push_branch)] += 1
        self._target_counts = (config, counts)
        return counts

    def _batch_candidates(self) -> list[Application]:
        """The Applications whose writes a batch waits for (an ImageUpdater's reconciler narrows it
        to the Applications that CR matched)."""
        return self.ctx.config.of_kind(Application)

    # -- registry ---------------------------------------------------------------------------------------

    async def _select(self, app: Application, s: ImageSettings) -> ImageState:
        policy = s.policy()
        state = ImageState(s, strategy=_strategy_name(s.strategy))
        try:
            if self.ctx.registry is None:
                raise TagpilotError("no registry client")
            access = await self._access(app, s)
            tags = await self.ctx.registry.list_tags(access)
            mode = tag_sort_mode(self.ctx, s)
            if mode != "none" and policy.needs_metadata and _strategy_name(s.strategy) == "newest-build":
                selection = policy.select(tags, metadata=list_order_metadata(tags, mode))  # trust the list order
            else:
                selection = await select_with_registry(self.ctx.registry, access, policy, tags)
        except PolicyError as exc:
            state.error, state.error_reason = str(exc), getattr(exc, "reason", "NoTagSelected")
            state.reason = f"no tag selected: {exc}"
            return state
        except TagpilotError as exc:
            state.error, state.error_reason = str(exc), exc.reason
            state.reason = f"registry: {exc}"
            return state
        digest = selection.value.partition("@")[2] or None
        state.selected = ImageRef(s.image, selection.tag, digest)
        return state

    async def _labels(self, app: Application, state: ImageState) -> None:
        """The OCI config labels of the selected image, for the commit template's `.Labels` (upstream's
        ChangeEntry); an image whose config cannot be read gets none, as upstream."""
        assert state.selected is not None and self.ctx.registry is not None
        try:
            access = await self._access(app, state.settings)
            meta = await self.ctx.registry.image_metadata(access, state.selected.tag or "",
                                                           list(state.settings.platforms) or None)
        except TagpilotError:
            return
        state.labels = dict(meta.labels)

    async def _access(self, app: Application, s: ImageSettings) -> RepositoryAccess:
        ref = parse_repository(s.image)
        creds: Credentials | None = None
        source = None
        if s.pull_secret is not None:
            creds = await pull_credentials(s.pull_secret, self.ctx.config, app, ref)
            source = f"{s.pull_secret.describe()} ({s.pull_secret.annotation})"
        access = RepositoryAccess(reference=ref, credentials=creds, credentials_source=source)
        from tagpilot.engine.argo_registries import apply_registries_conf  # argocd-image-updater-config

        return await apply_registries_conf(self.ctx, app, s, access)

    # -- git --------------------------------------------------------------------------------------------

    def _git_auth(self, app: Application, url: str) -> GitAuth | None:
        wb = app.image_updater.write_back
        if wb.credentials == "secret":
            secret = self.ctx.config.secret(wb.secret_namespace, wb.secret_name, referenced_by=app,
                                            field_name=f"annotation {PREFIX}write-back-method")
            return git_auth_from_argo_secret(secret)
        return git_auth_from_argo_secret(repository_secret(self.ctx.config.of_kind(Secret), url))

    async def _target(self, app: Application, source: ApplicationSource) -> Target:
        wb = app.image_updater.write_back
        url = wb.repository or source.repo_url
        branch = wb.base_branch or write_back_revision(app, source)
        if branch in ("", "HEAD"):
            resolved = await self.git.remote_default_branch(url, self._git_auth(app, url), timeout=60.0)
            if resolved is None:
                raise TagpilotError(f"{url}: the remote's HEAD names no branch; set spec.source.targetRevision or "
                                    f"the {PREFIX}git-branch annotation")
            branch = resolved
        if "{{" in wb.push_branch:
            return Target(url, branch, wb.push_branch, owner=app.key)
        return Target(url, branch, wb.push_branch or branch)

    async def _dry_run(self, target: Target, write: AppWrite, outcome: Outcome) -> PushOutcome:
        auth = self._git_auth(write.app, target.url)
        async with await self.git.prepare(target.url, CheckoutRef(branch=target.checkout), auth,
                                          timeout=60.0) as workspace:
            result = await asyncio.to_thread(write.apply, workspace.path)
        if result.files:
            outcome.diff = "".join(f.diff for f in result.files)
            outcome.message = write.message()
            outcome.files = [f.path for f in result.files]
            branch, warning = self._branch_of(target, write) if target.owner else (target.push, None)
            outcome.branch = branch
            return PushOutcome(None, None, branch, warning)
        return PushOutcome(None, None)

    async def _commit_batch(self, target: Target, writes: list[AppWrite]) -> PushOutcome:
        auth = self._git_auth(writes[0].app, target.url)

        def apply_all(root: Path) -> list[AppWrite]:
            for w in writes:
                w.apply(root)
            return writes

        async def apply(root: Path) -> list[AppWrite]:
            return await asyncio.to_thread(apply_all, root)

        async with await self.git.prepare(target.url, CheckoutRef(branch=target.checkout), auth,
                                          timeout=60.0) as workspace:
            branch, warning = target.push, None
            if target.owner:
                rendered = await self._render_branch(target, writes[0], workspace.path)
                if rendered is None:
                    return PushOutcome(None, None)
                branch, warning = rendered
            settings = updater_config(self.ctx.config)
            pushed = await self.git.commit_and_push(workspace, apply=apply, message=batch_message,
                                                    author=settings.author or AUTHOR, signing=settings.signing(),
                                                    push_branch=branch)
        if pushed is None:
            return PushOutcome(None, None, branch, warning)
        return PushOutcome(pushed.commit, rfc3339(pushed.pushed_at), branch, warning)

    async def _render_branch(self, target: Target, write: AppWrite, root: Path) -> tuple[str, str | None] | None:
        """The push branch of a `git-branch` template, from the changes this Application would make on
        the base branch (upstream renders it from the same change list); None when nothing changes."""
        probe = AppWrite(write.app, write.states, write.source, dry_run=True)
        await asyncio.to_thread(probe.apply, root)
        if probe.error is not None or not probe.changes:
            write.error, write.result = probe.error, TreeResult()
            return None
        return self._branch_of(target, probe)

    @staticmethod
    def _branch_of(target: Target, write: AppWrite) -> tuple[str, str | None]:
        """The `git-branch` template rendered with the changes of an applied (or dry-run) write."""
        wb = write.app.image_updater.write_back
        changes = [ImageChange(s.settings.image, s.settings.alias, s.current_tag or "", _tag_value(s.selected))
                   for s in write.states if s.updated and s.selected is not None]
        return render_branch(wb.push_branch, changes, app_name=write.app.name, app_namespace=write.app.namespace,
                             key=target_key(target.url, wb.base_branch, write.file))


def _strategy_name(strategy: str) -> str:
    from tagpilot.policy.argo import argo_strategy

    return argo_strategy(strategy)[0]


def check_supported(app: Application) -> ApplicationSource:
    """The source to write back to; Stalled for what this version cannot do."""
    wb = app.image_updater.write_back
    if app.image_updater.enabled and wb.method == "argocd":
        raise Stalled(f"{PREFIX}write-back-method is 'argocd' (the default when the annotation is not set): it "
                      "patches the live Application through the Kubernetes API, and tagpilot runs without a "
                      f"cluster; set {PREFIX}write-back-method: git (or git:secret:<namespace>/<name>) to commit "
                      f"the update to the application's repository", reason="WriteBackNeedsCluster")
    if "{{" in wb.push_branch:
        try:
            check_template(wb.push_branch)
        except BranchTemplateError as exc:
            raise Stalled(f"{PREFIX}git-branch: {exc}", reason=exc.reason) from None
    source = write_back_source(app)
    if source.chart and not wb.repository:
        raise Stalled(f"spec.source is a Helm chart repository ({source.repo_url}); set {PREFIX}git-repository "
                      "to the git repository to write back to", reason=UNSUPPORTED)
    return source


def write_back_source(app: Application) -> ApplicationSource:
    """The source written back to, as upstream's getApplicationSource picks it from `spec.sources`:
    the source type comes from the write-back target (kustomization → Kustomize, helmvalues → Helm),
    else from `status.sourceTypes` (an exported Application), else — where upstream, without a live
    status, calls the app a Directory and skips it — from the sources' own `helm:`/`kustomize:` blocks;
    then the first source with that block, else the first with either block, else the first source."""
    sources = app.spec.all_sources()
    if len(sources) == 1:
        return sources[0]
    target = app.image_updater.write_back.target
    kind = {"kustomization": "Kustomize", "helmvalues": "Helm"}.get(target)
    if kind is None:
        status = app.status if isinstance(app.status, dict) else {}
        types = status.get("sourceTypes") if isinstance(status.get("sourceTypes"), list) else []
        kind = next((t for t in types if t in ("Helm", "Kustomize", "Plugin")), None)
        if kind == "Plugin":
            raise Stalled("status.sourceTypes says the write-back source is a config management plugin; plugin "
                          "write-back is not supported", reason=UNSUPPORTED)
    for source in sources:
        if (kind == "Helm" and source.helm is not None) or (kind == "Kustomize" and source.kustomize is not None):
            return source
    return next((s for s in sources if s.helm is not None or s.kustomize is not None), sources[0])


def write_back_revision(app: Application, source: ApplicationSource) -> str:
    """The revision to check out without `git-branch` (upstream's getWriteBackBranch): with
    `git-repository`, the targetRevision of the source in that repository, else the write-back source's."""
    repository = app.image_updater.write_back.repository
    if repository:
        for other in app.spec.all_sources():
            if other.repo_url == repository:
                return other.target_revision or ""
    return source.target_revision or ""


# --- credentials -------------------------------------------------------------------------------------------


async def pull_credentials(ref: PullSecret, config: Any, app: Application, image: Any) -> Credentials | None:
    """Registry credentials from a `pull-secret` annotation (upstream's four forms)."""
    where = f"annotation {ref.annotation}"
    if ref.kind == "pullsecret":
        secret = config.secret(ref.namespace, ref.name, referenced_by=app, field_name=where)
        raw = secret.values().get(".dockerconfigjson")
        if raw is None:
            raise CredentialsError(f"{app.ref}: {where}: Secret {ref.namespace}/{ref.name} has no .dockerconfigjson "
                                   "key; create it with `kubectl create secret docker-registry`")
        # upstream reads the key whatever the Secret's type; no entry for the registry means anonymous
        docker_config = parse_docker_config(raw, source=f"Secret {ref.namespace}/{ref.name} ({where})")
        return await lookup_or_anonymous(docker_config, image.domain)
    if ref.kind == "secret":
        secret = config.secret(ref.namespace, ref.name, referenced_by=app, field_name=where)
        value = secret.text(ref.field)
        if value is None:
            raise CredentialsError(f"{app.ref}: {where}: Secret {ref.namespace}/{ref.name} has no key "
                                   f"{ref.field!r}; add it (value user:password)")
        return _user_password(value, f"{where}: Secret {ref.namespace}/{ref.name} key {ref.field!r}", app)
    if ref.kind == "env":
        value = os.environ.get(ref.name)
        if value is None:
            raise CredentialsError(f"{app.ref}: {where}: environment variable {ref.name} is not set; set it to "
                                   "user:password")
        return _user_password(value, f"{where}: environment variable {ref.name}", app)
    return await _external(ref, app)


def _user_password(value: str, what: str, app: Application) -> Credentials:
    user, colon, password = value.strip().partition(":")
    if not colon:
        raise CredentialsError(f"{app.ref}: {what} must hold user:password (the value is not shown)")
    return Credentials(username=user, password=password)


async def _external(ref: PullSecret, app: Application, timeout: float = 30.0) -> Credentials:
    """`ext:/path`: run the script (no arguments) and read `user:password` from its first output line."""
    where = f"annotation {ref.annotation}: script {ref.name}"
    try:
        proc = await asyncio.create_subprocess_exec(ref.name, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    except OSError as exc:
        raise CredentialsError(f"{app.ref}: {where} cannot run: {exc.strerror or exc}; make it executable") from None
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise CredentialsError(f"{app.ref}: {where} did not finish within {timeout:.0f}s") from None
    if proc.returncode != 0:
        raise CredentialsError(f"{app.ref}: {where} exited with status {proc.returncode}")
    line = out.decode("utf-8", errors="replace").splitlines()[0] if out.strip() else ""
    return _user_password(line, where + " output", app)


def repository_secret(secrets: list[Secret], url: str) -> Secret | None:
    """Argo CD's repository credentials for `url`: a `repository` Secret with that url, else the
    `repo-creds` Secret whose url is the longest prefix of it."""
    def norm(u: str) -> str:
        return u.strip().removesuffix("/").removesuffix(".git").lower()

    best: tuple[int, Secret] | None = None
    for secret in secrets:
        kind = secret.metadata.labels.get(REPO_SECRET_LABEL)
        secret_url = secret.text("url") or ""
        if kind == "repository" and secret_url and norm(secret_url) == norm(url):
            return secret
        if kind == "repo-creds" and secret_url and url.lower().startswith(secret_url.lower()) and \
                (best is None or len(secret_url) > best[0]):
            best = (len(secret_url), secret)
    return best[1] if best else None


def git_auth_from_argo_secret(secret: Secret | None) -> GitAuth | None:
    """Argo CD's repository Secret fields: `username`/`password` (https) or `sshPrivateKey`."""
    if secret is None:
        return None
    auth = GitAuth(username=secret.text("username"), password=secret.text("password"),
                   identity=secret.values().get("sshPrivateKey"))
    return auth if (auth.username or auth.password or auth.identity) else None


# --- the kind -----------------------------------------------------------------------------------------------


def _interval(_app: Application) -> float | None:
    return DEFAULT_INTERVAL


def _images_column(view: dict[str, Any]) -> str:
    images = view["status"].get("images") or []
    return ", ".join(f"{i.get('alias') or i.get('image')}={i.get('selectedTag') or i.get('currentTag') or '?'}"
                     for i in images) or "-"


KINDS = (Kind(
    name=KIND, model=Application, plural="applications", short=("application", "app", "apps"),
    reconciler=ApplicationReconciler, status=ApplicationStatus, order=30, interval=_interval, reports_progress=True,
    columns=(
        Column("IMAGES", _images_column),
        Column("LAST PUSH", lambda v: (v["status"].get("lastPushCommit") or "-")[:7]),
    ),
),)
