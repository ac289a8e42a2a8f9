"""Promotions from and into Argo CD Applications (the Argo issue's Applications with Image Updater annotations).

An Application's environment is what its write-back target in git says: `.argocd-source-<app>.yaml`, or
with `write-back-target: helmvalues[:file]` / `kustomization[:dir]` the values file / kustomization
edited in place. Both directions go through the Application write path of engine/argo_app.py
(`AppWrite`), not a parser of their own, so a Promotion reads exactly what the Application reconciler
reads as "current" and writes exactly the bytes it would write:

- source (`source: {kind: Application, name}`, `image` = an alias of its `image-list`): an `AppWrite`
  with nothing selected only reads the current tag of that image (from the write-back file, the chart's
  values files, the spec's parameters), never from a live status: the candidate is what git says.
- target (`target: {applicationRef: {name}, image: ALIAS}`): an `AppWrite` with the promoted reference
  selected writes it into the Application's write-back target on its branch (upstream's merge rules and
  byte-exact edits), committed with the Promotion's message.

The repository, branch and credentials are the Application's own (`git-repository`, `git-branch` base,
`targetRevision`; `write-back-method: git:secret:` or Argo CD's repository Secrets), as its reconciler
resolves them with the same public helpers. Applications configured only by an `ImageUpdater` CR (no
`image-list` annotation) are not read here yet: the error says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tagpilot.config.argo_cd import PREFIX, Application, ApplicationSource, ImageSettings
from tagpilot.config.core import Secret
from tagpilot.engine.argo_app import (
    AppWrite,
    ImageState,
    check_supported,
    git_auth_from_argo_secret,
    repository_secret,
    write_back_revision,
)
from tagpilot.engine.reconciler import Stalled
from tagpilot.errors import TagpilotError
from tagpilot.gitops import GitAuth, GitClient
from tagpilot.promotion import Candidate
from tagpilot.update import ImageRef, TreeResult


@dataclass(frozen=True)
class AppRepo:
    """Where an Application's write-back lands: repository URL, branch, the source written, credentials."""

    app: Application
    source: ApplicationSource
    url: str
    branch: str
    auth: GitAuth | None


def image_settings(app: Application, alias: str, field_name: str) -> ImageSettings:
    """The `image-list` entry `alias` names (an alias, else an image name without alias)."""
    images = app.image_updater.images
    if not images:
        raise Stalled(f"{field_name}: Application {app.namespace}/{app.name} has no {PREFIX}image-list annotation "
                      "(an Application configured only by an ImageUpdater CR cannot be promoted from or into yet)",
                      reason="DependencyNotReady")
    for settings in images:
        if settings.alias == alias:
            return settings
    for settings in images:
        if not settings.alias and settings.image == alias:
            return settings
    known = ", ".join(s.alias or s.image for s in images)
    raise Stalled(f"{field_name}: Application {app.namespace}/{app.name} has no image {alias!r} in its "
                  f"{PREFIX}image-list (it has: {known}); name one of those aliases", reason="DependencyNotReady")


async def app_repo(app: Application, config: Any, git: GitClient) -> AppRepo:
    """The Application's write-back repository and branch, resolved as its reconciler does."""
    source = check_supported(app)
    wb = app.image_updater.write_back
    url = wb.repository or source.repo_url
    if wb.credentials == "secret":
        secret = config.secret(wb.secret_namespace, wb.secret_name, referenced_by=app,
                               field_name=f"annotation {PREFIX}write-back-method")
        auth = git_auth_from_argo_secret(secret)
    else:
        auth = git_auth_from_argo_secret(repository_secret(config.of_kind(Secret), url))
    branch = wb.base_branch or write_back_revision(app, source)
    if branch in ("", "HEAD"):
        resolved = await git.remote_default_branch(url, auth, timeout=60.0)
        if resolved is None:
            raise TagpilotError(f"{url}: the remote's HEAD names no branch; set the Application's "
                                "spec.source.targetRevision")
        branch = resolved
    return AppRepo(app, source, url, branch, auth)


def _from_git(app: Application) -> Application:
    """The Application without an exported live status: a promotion reads git, not what a cluster reported."""
    return app.model_copy(update={"status": None})


def read_app_candidate(root: Path, repo: AppRepo, settings: ImageSettings) -> Candidate | None:
    """What the Application's files in the checkout `root` say it runs for `settings`; None when nothing does."""
    state = ImageState(settings)
    write = AppWrite(_from_git(repo.app), [state], repo.source, dry_run=True)
    write.apply(root)  # nothing selected: reads the current tag, writes nothing
    if write.error is not None:
        raise write.error
    if not state.current_tag:
        return None
    tag, _, digest = state.current_tag.partition("@")
    return Candidate(ImageRef(settings.image, tag or None, digest or None), {"tag": state.current_from or ""})


def app_writer(repo: AppRepo, settings: ImageSettings, ref: ImageRef) -> tuple[AppWrite, ImageState]:
    """An `AppWrite` that writes `ref` for `settings` into the Application's write-back target."""
    state = ImageState(settings, selected=ref)
    return AppWrite(_from_git(repo.app), [state], repo.source), state


def check_written(write: AppWrite, state: ImageState, result: TreeResult | None, where: str) -> None:
    """A write that did not happen for a reason a person must fix is an error naming it."""
    if write.error is not None:
        raise write.error
    if not state.updated and not state.reason.startswith(("up to date", write.file or "\0")):
        raise TagpilotError(f"{where}: {state.reason}")
