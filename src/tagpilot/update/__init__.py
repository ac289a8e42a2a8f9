"""tagpilot.update: rewrite image references in YAML text, changing only the changed values.

`setters` is pure (text in, text out); `tree` walks a directory and writes files atomically;
`base` is the `Updater` interface the engine calls (one class per write-back target).
"""

from tagpilot.errors import UpdateError
from tagpilot.update.base import UPDATERS, SettersUpdater, Updater, updater_for
from tagpilot.update.model import Change, ImageRef, Notice, ObjectId
from tagpilot.update.setters import Rewrite, apply_setters, parse_marker, rewrite
from tagpilot.update.tree import FileChange, Skipped, TreeResult, safe_subpath, update_tree

__all__ = [
    "UPDATERS",
    "Change",
    "FileChange",
    "ImageRef",
    "Notice",
    "ObjectId",
    "Rewrite",
    "SettersUpdater",
    "Skipped",
    "TreeResult",
    "UpdateError",
    "Updater",
    "apply_setters",
    "parse_marker",
    "rewrite",
    "safe_subpath",
    "update_tree",
    "updater_for",
]
