"""The file edge shared by Argo CD Image Updater's in-repository targets (Helm values, kustomization).

Both targets edit one existing (or, for Helm values, new) file through `yamledit.YamlDocument`, so
this module only knows paths, reading, the atomic write and the typed result (`TreeResult` with a
unified diff and one `Change` per moved value), in the shape of `update.base.Updater`.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from tagpilot.errors import UpdateError
from tagpilot.update.argocd_source import _write_atomic
from tagpilot.update.model import Change
from tagpilot.update.tree import FileChange, TreeResult, safe_subpath


def target_path(source_path: str, given: str, default: str) -> str:
    """`<source.path>/<given or default>`; a `given` starting with `/` is from the repository root
    (upstream's rule for `helmvalues:<file>` and `kustomization:<dir>`). Normalised, root-relative."""
    rooted = given.startswith("/")
    joined = posixpath.normpath(given.lstrip("/") or "." if rooted else posixpath.join(source_path or ".",
                                                                                        given or default))
    if joined == ".." or joined.startswith("../"):
        raise UpdateError(f"write-back target {given!r} leaves the repository")
    return joined


def read_text(path: Path) -> str | None:
    """The file's text; None when it does not exist. A symbolic link or non-UTF-8 file is an error."""
    if path.is_symlink():
        raise UpdateError(f"{path.name} is a symbolic link; tagpilot does not write through links")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise UpdateError(f"{path.name} is not UTF-8 text (byte {exc.start})") from None


def finish(root: Path, rel: str, old: str | None, new: str, changes: list[Change], *, dry_run: bool) -> TreeResult:
    """Write `new` to `root/rel` (unless a dry run or unchanged) and report it."""
    if new == old:
        return TreeResult(dry_run=dry_run, scanned=1)
    target = safe_subpath(root, rel)  # inside the repository, symbolic links resolved
    if target.parent.exists() and not target.parent.is_dir():
        raise UpdateError(f"{os.path.dirname(rel)!r} is not a directory; cannot write {rel}")
    if not dry_run:
        target.parent.mkdir(parents=True, exist_ok=True)  # a new values file may name a new directory
        _write_atomic(target, new)
    return TreeResult(files=(FileChange(rel, tuple(changes), old, new),), dry_run=dry_run, scanned=1)


def line_of_value(text: str, value_line_hint: str) -> int:
    """1-based line of the first line containing `value_line_hint` (0 when not found), for `Change.line`."""
    for number, line in enumerate(text.splitlines(), 1):
        if value_line_hint in line:
            return number
    return 0
