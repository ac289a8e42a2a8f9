"""What a RetentionPolicy must never delete, read from git, the configuration and the store.

Each finding carries its reason as the plan prints it (`deployed: GitRepository/apps/deploy
deploy/values.yaml:4`). The planner (`tagpilot.retention.planner`) only sees tags/digests → reasons.

Deployed (`protect.deployed`): the latest commit of every git repository tagpilot writes to or that an
Application deploys from:
- every GitRepository an ImageUpdateAutomation writes to (its push branch, else its checkout ref);
- every Argo CD Application's source repository at its `targetRevision` (`HEAD`/empty: the remote's
  default branch), or its `git-repository` write-back repository, plus the write-back branch when it
  differs (an update written but not yet merged is about to be deployed).
In each checkout every YAML file is read for
- references naming the repository anywhere (`image: reg/app:1.4`, `reg/app@sha256:...`, any string);
- split pairs in one mapping: `repository|image|name|newName: reg/app` with `tag|newTag|digest` beside
  it (Helm values, kustomization `images:`), with or without a setters marker;
- setters markers of policies over the repository (`tag: 1.4 # {"$imagepolicy": "ns:name:tag"}`);
and per Application, the Helm parameters its image-list annotations name (`<alias>.helm.image-tag`,
`image-spec`) in `.argocd-source-<app>.yaml`, `values.yaml` and `helm.valueFiles`, plus what the
Application object itself says (`spec.source.helm.parameters`, `spec.source.kustomize.images`,
`status.summary.images`).

Policy refs (`protect.policyRefs`): every ImagePolicy's stored `latestRef` / `observedPreviousRef`.

Holds: pins and pending approvals belong to `tagpilot.approvals` (another issue). `held()` is the one
hook: when the store has that package's tables and the package offers
`retention_holds(store, canonical_name, config) -> {tag or digest: [reasons]}`, its answer is protected;
otherwise nothing is held (and `Deployed.sources` says so).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tagpilot.config.argo_cd import Application, ApplicationSource, ImageSettings
from tagpilot.config.core import Secret
from tagpilot.config.flux_automation import ImageUpdateAutomation
from tagpilot.config.flux_image import ImagePolicy, ImageRepository
from tagpilot.config.flux_source import GitRepository
from tagpilot.engine.kinds import same_namespace_ref
from tagpilot.engine.reconciler import Context, Stalled
from tagpilot.errors import TagpilotError
from tagpilot.registry.reference import parse_repository
from tagpilot.update.argocd_source import read_source_file, source_file_name
from tagpilot.update.setters import parse_marker

MAX_FILE_BYTES = 4 * 1024 * 1024  # a YAML file bigger than this is not a manifest: skipped (bounded)
IMAGE_KEYS = ("repository", "image", "name", "newName")
TAG_KEYS = ("tag", "newTag")


@dataclass
class Deployed:
    """References found in git and in the Applications, by canonical repository name."""

    tags: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    digests: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)  # "GitRepository/ns/name@<commit>" that were read

    def add(self, table: dict[str, dict[str, list[str]]], repo: str, key: str, reason: str) -> None:
        reasons = table.setdefault(repo, {}).setdefault(key, [])
        if reason not in reasons:
            reasons.append(reason)

    def add_ref(self, repo: str, tag_or_digest: str, reason: str) -> None:
        """`tag`, `tag@digest` or `sha256:...` (the forms Argo CD's files hold)."""
        tag, _, digest = tag_or_digest.partition("@")
        if tag.startswith("sha256:") and not digest:
            tag, digest = "", tag
        if tag:
            self.add(self.tags, repo, tag, reason)
        if digest:
            self.add(self.digests, repo, digest, reason)


_VALUE = re.compile(r"""^\s*(?:-\s+)?(?:[^\s:#]+:\s+)?["']?([^"'\s#]+)""")


def _ref_pattern(names: Iterable[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(n) for n in sorted(set(names), key=len, reverse=True))
    return re.compile(rf"(?<![\w./-])(?:{alts})(?::(?P<tag>\w[\w.-]{{0,127}}))?"
                      rf"(?:@(?P<digest>sha256:[0-9a-f]{{64}}))?(?![\w./:@-])")


def canonical_of(name: str) -> str | None:
    try:
        return parse_repository(name.strip()).canonical_name
    except TagpilotError:
        return None


def _split_pairs(text: str, where: str, wanted: set[str], deployed: Deployed) -> None:
    """`repository: reg/app` + `tag: 1.4` in one mapping (Helm values, kustomization images)."""
    from tagpilot.config.source import check_structure
    from tagpilot.errors import ConfigError

    try:
        check_structure(text, where)  # bounded: deep nesting and alias bombs are refused first
        documents = list(yaml.compose_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except (yaml.YAMLError, ConfigError, RecursionError, ValueError):
        return
    stack: list[yaml.Node] = [d for d in documents if d is not None]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
            continue
        if not isinstance(node, yaml.MappingNode):
            continue
        scalars: dict[str, yaml.ScalarNode] = {}
        for key, value in node.value:
            if isinstance(value, yaml.ScalarNode) and isinstance(key, yaml.ScalarNode):
                scalars[str(key.value)] = value
            else:
                stack.append(value)
        image_key = "newName" if "newName" in scalars else next((k for k in IMAGE_KEYS if k in scalars), None)
        if image_key is None or ":" in str(scalars[image_key].value).rpartition("/")[2]:
            continue  # no image, or a full `reg/app:tag` (the reference scan has it)
        canonical = canonical_of(str(scalars[image_key].value))
        if canonical not in wanted:
            continue
        for key in (*TAG_KEYS, "digest"):
            value_node = scalars.get(key)
            if value_node is not None and str(value_node.value).strip():
                deployed.add_ref(canonical, str(value_node.value).strip(), f"{where}:{value_node.start_mark.line + 1}")


def scan_tree(root: Path, source: str, repositories: dict[str, set[str]], markers: dict[tuple[str, str], str],
              deployed: Deployed) -> None:
    """Find deployed references in every YAML file under `root`.

    `repositories`: canonical name → the spellings that name it (`spec.image` as written, canonical);
    `markers`: (policy namespace, name) → canonical name of its repository.
    """
    patterns = {canonical: _ref_pattern(names) for canonical, names in repositories.items()}
    wanted = set(repositories)
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for filename in sorted(filenames):
            if not filename.endswith((".yaml", ".yml")):
                continue
            path = Path(dirpath) / filename
            try:
                if path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
                    continue
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            rel = path.relative_to(root).as_posix()
            _split_pairs(text, f"deployed: {source} {rel}", wanted, deployed)
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


# -- Argo CD Applications ------------------------------------------------------------------------------


def _line_of(path: Path, key: str, value: str) -> int | None:
    """The line of `key: value` (the last part of a Helm parameter path) in a values file."""
    last = key.rpartition(".")[2].partition("[")[0]
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for number, line in enumerate(lines, 1):
        stripped = line.strip().lstrip("- ")
        if (stripped.startswith((f"{last}:", f'"{last}":', f"'{last}':", "value:")) and value in line):
            return number
    return None


def application_images(app: Application, wanted: set[str]) -> list[tuple[ImageSettings, str]]:
    """The image-list entries of `app` naming a repository in `wanted`, with its canonical name."""
    out = []
    for settings in app.image_updater.images:
        canonical = canonical_of(settings.image)
        if canonical in wanted:
            out.append((settings, canonical))
    return out


def scan_application(app: Application, source: ApplicationSource, root: Path, wanted: set[str],
                     deployed: Deployed) -> None:
    """The Helm parameters an Application's annotations name, in its `.argocd-source` and values files."""
    from tagpilot.engine.argo_app import _read_values, _values_lookup  # the updater's own readers
    from tagpilot.update.tree import safe_subpath

    label = f"Application/{app.namespace}/{app.name}"
    try:
        directory = safe_subpath(root, source.path or ".")
    except TagpilotError:
        return
    base = os.path.normpath(source.path or ".")
    argo_file = source_file_name(app.name, app.namespace)
    try:
        existing = read_source_file((directory / argo_file).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        existing = {}
    files = ["values.yaml", *(source.helm.value_files if source.helm else [])]
    for settings, canonical in application_images(app, wanted):
        _name_p, tag_p, spec_p = settings.helm_names()
        param = spec_p or tag_p
        if param is None:
            continue
        found = existing.get(param)
        if found is not None:
            rel = os.path.normpath(os.path.join(base, argo_file))
            line = _line_of(directory / argo_file, param, found)
            deployed.add_ref(canonical, _tag_part(found, bool(spec_p)),
                             f"deployed: {label} {rel}" + (f":{line}" if line else ""))
        for name in files:
            if name.startswith(("http://", "https://", "$")):
                continue
            try:
                path = safe_subpath(directory, name)
            except TagpilotError:
                continue
            doc = _read_values(path) if path.is_file() else None
            value = _values_lookup(doc, param) if isinstance(doc, dict) else None
            if value is None:
                continue
            rel = os.path.normpath(os.path.join(base, name))
            line = _line_of(path, param, value)
            deployed.add_ref(canonical, _tag_part(value, bool(spec_p)),
                             f"deployed: {label} {rel}" + (f":{line}" if line else ""))


def scan_application_spec(app: Application, wanted: set[str], deployed: Deployed) -> None:
    """What the Application object itself deploys: helm parameters, kustomize images, status images."""
    label = f"Application/{app.namespace}/{app.name}"
    images = application_images(app, wanted)
    for index, source in enumerate(app.spec.all_sources()):
        field_ = "spec.source" if not app.spec.sources else f"spec.sources[{index}]"
        if source.helm is not None:
            params = {p.name: str(p.value or "") for p in source.helm.parameters if p.name}
            for settings, canonical in images:
                _n, tag_p, spec_p = settings.helm_names()
                value = params.get(spec_p or tag_p or "")
                if value:
                    deployed.add_ref(canonical, _tag_part(value, bool(spec_p)),
                                     f"deployed: {label} {field_}.helm.parameters")
        if source.kustomize is not None:
            for i, image in enumerate(source.kustomize.images):
                _note_reference(image.split("=", 1)[-1], wanted, deployed,
                                f"deployed: {label} {field_}.kustomize.images[{i}]")
    for image in app.status_images() or []:
        _note_reference(image, wanted, deployed, f"deployed: {label} status.summary.images")


def _split_reference(reference: str) -> tuple[str, str]:
    """`name[:tag][@digest]` → (name, `tag`, `tag@digest` or `sha256:...`: what `Deployed.add_ref` takes)."""
    name, at, digest = reference.strip().partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    tag = ""
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, (f"{tag}@{digest}" if tag and at else (digest or tag))


def _tag_part(value: str, spec: bool) -> str:
    """A Helm tag parameter holds `tag[@digest]`; an image-spec parameter `name:tag[@digest]`."""
    return _split_reference(value)[1] if spec else value.strip()


def _note_reference(reference: str, wanted: set[str], deployed: Deployed, reason: str) -> None:
    name, ref = _split_reference(reference)
    if canonical_of(name) in wanted and ref:
        deployed.add_ref(canonical_of(name) or "", ref, reason)


def _argo_auth(ctx: Context, app: Application, url: str) -> Any:
    """The git credentials Argo CD Image Updater would use for `url` (its write-back secret, else the
    repository secret matching the URL)."""
    from tagpilot.engine.argo_app import git_auth_from_argo_secret, repository_secret

    wb = app.image_updater.write_back
    if wb.credentials == "secret":
        secret = ctx.config.secret(wb.secret_namespace, wb.secret_name, referenced_by=app,
                                   field_name="annotation argocd-image-updater.argoproj.io/write-back-method")
        return git_auth_from_argo_secret(secret)
    return git_auth_from_argo_secret(repository_secret(ctx.config.of_kind(Secret), url))


# -- putting it together ---------------------------------------------------------------------------------


def _repository_of(config: Any, policy: ImagePolicy) -> ImageRepository | None:
    ref = policy.spec.image_repository_ref
    ns, name = same_namespace_ref(policy.namespace, ref.namespace, ref.name)
    return config.get(ImageRepository, ns, name)


@dataclass
class _Target:
    url: str
    checkout: Any  # CheckoutRef
    auth: Any
    label: str
    timeout: float = 60.0
    apps: list[tuple[Application, ApplicationSource]] = field(default_factory=list)


async def _flux_targets(ctx: Context, targets: dict[tuple[str, str], _Target]) -> None:
    from tagpilot.gitops.auth import auth_from_secret
    from tagpilot.gitops.workspace import CheckoutRef

    config = ctx.config
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
        secret = None
        if source.spec.secret_ref is not None:
            secret = config.secret(source.namespace, source.spec.secret_ref.name, referenced_by=source,
                                   field_name="spec.secretRef")
        targets.setdefault((source.spec.url, checkout.key()), _Target(
            source.spec.url, checkout, auth_from_secret(secret), f"GitRepository/{source.namespace}/{source.name}",
            source.spec.timeout_seconds))


async def _argo_targets(ctx: Context, wanted: set[str], deployed: Deployed,
                        targets: dict[tuple[str, str], _Target]) -> None:
    from tagpilot.gitops.workspace import CheckoutRef

    for app in ctx.config.of_kind(Application):
        scan_application_spec(app, wanted, deployed)
        wb = app.image_updater.write_back
        for source in app.spec.all_sources():
            if source.chart and not wb.repository:
                continue  # a Helm chart repository, not git: its parameters are in the Application (above)
            url = wb.repository or source.repo_url
            auth = _argo_auth(ctx, app, url)
            branch = wb.base_branch or source.target_revision or ""
            if branch in ("", "HEAD"):
                if ctx.git is None:
                    raise Stalled("cannot tell what is deployed: no git client", reason="DependencyNotReady")
                resolved = await ctx.git.remote_default_branch(url, auth, timeout=60.0)
                if resolved is None:
                    raise Stalled(f"cannot tell what {app.ref} deploys: the HEAD of {url} names no branch; set "
                                  f"spec.source.targetRevision, or protect.deployed: false",
                                  reason="DependencyNotReady")
                branch = resolved
            branches = [branch] + ([wb.push_branch] if wb.push_branch and "{{" not in wb.push_branch
                                   and wb.push_branch != branch else [])
            for name in branches:
                checkout = CheckoutRef(branch=name)
                target = targets.setdefault((url, checkout.key()), _Target(url, checkout, auth,
                                                                         f"Application/{app.namespace}/{app.name}"))
                target.apps.append((app, source))


async def find_deployed(ctx: Context, canonical_names: set[str]) -> Deployed:
    """Read the latest commit of every git repository tagpilot writes to or Argo CD deploys from, once."""
    config = ctx.config
    deployed = Deployed()
    spellings: dict[str, set[str]] = {}
    for repo in config.of_kind(ImageRepository):
        canonical = canonical_of(repo.spec.image)
        if canonical in canonical_names:
            ref = parse_repository(repo.spec.image)
            spellings.setdefault(canonical, set()).update({ref.canonical_name, ref.name, repo.spec.image.strip()})
    for app in config.of_kind(Application):
        for settings, canonical in application_images(app, canonical_names):
            spellings.setdefault(canonical, set()).add(settings.image.strip())
    markers = {}
    for policy in config.of_kind(ImagePolicy):
        repo = _repository_of(config, policy)
        canonical = canonical_of(repo.spec.image) if repo is not None else None
        if canonical in canonical_names:
            markers[(policy.namespace, policy.name)] = canonical
    targets: dict[tuple[str, str], _Target] = {}
    await _flux_targets(ctx, targets)
    await _argo_targets(ctx, canonical_names, deployed, targets)
    if not targets:
        return deployed
    if ctx.git is None:
        raise Stalled("cannot tell what is deployed: no git client", reason="DependencyNotReady")
    for _key, target in sorted(targets.items(), key=lambda kv: kv[0]):
        async with ctx.git.checkout(target.url, target.checkout, target.auth, timeout=target.timeout) as ws:
            deployed.sources.append(f"{target.label}@{ws.head[:12]}")
            await asyncio.to_thread(scan_tree, ws.path, target.label, spellings, markers, deployed)
            for app, source in target.apps:
                await asyncio.to_thread(scan_application, app, source, ws.path, canonical_names, deployed)
    return deployed


def policy_protections(ctx: Context, canonical: str) -> dict[str, list[str]]:
    """tag-or-digest → reasons from every ImagePolicy's stored latestRef / observedPreviousRef."""
    out: dict[str, list[str]] = {}
    for policy in ctx.config.of_kind(ImagePolicy):
        repo = _repository_of(ctx.config, policy)
        if repo is None or canonical_of(repo.spec.image) != canonical:
            continue
        stored = ctx.store.get_object(policy.kind, policy.namespace, policy.name)
        status = stored.status if stored else {}
        for key in ("latestRef", "observedPreviousRef"):
            ref = status.get(key) or {}
            for part in ("tag", "digest"):
                if ref.get(part):
                    out.setdefault(ref[part], []).append(f"{policy.ref} {key}")
    return out


HOLD_TABLES = ("pins", "approval_requests")


def held(store: Any, canonical: str, config: Any = None) -> dict[str, list[str]]:
    """THE hook for pins and pending approvals: tag-or-digest → reasons (`pinned: ...`, `pending approval:
    ...`). Empty until `tagpilot.approvals` exists with its store tables and `retention_holds`."""
    if not any(store.has_table(name) for name in HOLD_TABLES):
        return {}
    try:
        from tagpilot import approvals
    except ImportError:
        return {}
    hook = getattr(approvals, "retention_holds", None)
    return dict(hook(store, canonical, config)) if callable(hook) else {}
