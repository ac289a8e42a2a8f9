"""tagpilot.update: rewrite image references in YAML text, changing only the changed values.

`setters` is pure (text in, text out); `tree` walks a directory and writes files atomically.
"""

from tagpilot.errors import UpdateError
from tagpilot.update.model import Change, ImageRef, Notice, ObjectId
from tagpilot.update.setters import Rewrite, apply_setters, parse_marker, rewrite
from tagpilot.update.tree import FileChange, Skipped, TreeResult, safe_subpath, update_tree

__all__ = [
    "Change",
    "FileChange",
    "ImageRef",
    "Notice",
    "ObjectId",
    "Rewrite",
    "Skipped",
    "TreeResult",
    "UpdateError",
    "apply_setters",
    "parse_marker",
    "rewrite",
    "safe_subpath",
    "update_tree",
]
