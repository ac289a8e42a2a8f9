"""The one `Updater` interface every write-back target implements, and the table of them.

An updater rewrites the files of a checked-out repository so that they name the selected images,
and returns typed changes (`TreeResult`: files, each `Change` with file, line, old, new, object and
the policy it came from). Commit messages and events are built from those changes, never from the
files again. Setters markers (Flux) are the first updater; Argo CD Image Updater's
`.argocd-source-<app>.yaml`, Helm values and kustomization targets are the next ones, each a module
with a class implementing `Updater` and one line in `UPDATERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from tagpilot.errors import ConfigError
from tagpilot.update.model import ImageRef
from tagpilot.update.scanmemo import FILE_NAME, ScanMemo
from tagpilot.update.setters import MARKER_TOKEN
from tagpilot.update.tree import KnownTree, TreeResult, update_tree

PolicyImages = Mapping[tuple[str, str], ImageRef]  # (namespace, policy name) → the image it selected


class Updater(Protocol):
    """Writes the selected images into the files under `path` of the repository at `root`.

    `root` is always one of tagpilot's git workspaces: files are written in place and not fsynced,
    since the commit made from them is what must last, and after a crash the next run's checkout (or
    screened sync, which compares bytes) puts every file back."""

    name: str
    # A literal every file this updater can change contains (a byte search), or None: the automation
    # then writes only the files containing it (a screened workspace, gitops/screened.py), not a checkout.
    screen: str | None

    def apply(self, root: Path, path: str, images: PolicyImages, *, dry_run: bool = False,
              known: KnownTree | None = None) -> TreeResult:
        """Rewrite (unless `dry_run`) and report what changed; files that cannot be read are reported
        in `TreeResult.skipped` and left untouched. `known` (given only to an updater with a `screen`)
        is every file and link of the screened work tree as it was just written: the updater may take
        the files from it instead of walking and reading the disk."""
        ...


class SettersUpdater:
    """Flux's `Setters` strategy: values marked `# {"$imagepolicy": "ns:policy[:tag|:name|:digest]"}`."""

    name = "Setters"
    screen = MARKER_TOKEN  # update_tree never opens a file without it

    def apply(self, root: Path, path: str, images: PolicyImages, *, dry_run: bool = False,
              known: KnownTree | None = None) -> TreeResult:
        # what parsing each marked file found, kept beside the workspace's screened listing: a warm run
        # reads the last run's output from it, and puts in what its own output holds (`setters._derive`)
        memo_file = root / ".git" / FILE_NAME
        memo = ScanMemo.load(memo_file)
        result = update_tree(root, path, images, dry_run=dry_run, workspace=True, memo=memo, known=known)
        if memo_file.parent.is_dir():
            memo.save(memo_file)
        return result


UPDATERS: dict[str, Updater] = {"Setters": SettersUpdater()}


def updater_for(strategy: str) -> Updater:
    """The updater for an `update.strategy` (Flux's field); ConfigError names the ones that exist."""
    try:
        return UPDATERS[strategy]
    except KeyError:
        raise ConfigError(f"update strategy {strategy!r} is not supported; use one of: {', '.join(UPDATERS)}") from None
