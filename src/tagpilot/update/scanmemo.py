"""What `setters.scan` found in a text, remembered by the text's digest from one run to the next.

Parsing is most of a warm reconcile's rewrite. But the files a run reads are, almost always, the files
the previous run wrote or left alone: the memo keeps what was found in each text, keyed by a digest of
the text (a pure function of it), so a run parses only texts it has never seen. A rewritten text is
not parsed either: `setters.rewrite` derives what it holds from its input and the edits, each new
value read back where it stands, and puts that here for the next run.

An entry is not trusted blindly: `setters._fits` checks it against the text (every marker accounted
for, each site's span reading back as the remembered value before its marker) and parses the text
when it does not fit. An automation's workspace keeps its memo in its `.git` directory beside the
screened listing; it is rewritten after each run with just the texts that run saw, so it stays the
size of the marked files. The file names the code that made it (setters', model's and quoting's
sizes and times, PyYAML's version and loader): a memo from other code, or one that cannot be read, is
an empty memo.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import yaml

from tagpilot.update import model, quoting, setters
from tagpilot.update.model import ObjectId
from tagpilot.update.setters import Marker, ScanItem, Site

FILE_NAME = "tagpilot-scans.json"
_FORMAT = 1


def _code_version() -> str:
    """Which code made a memo: a scan by other code may have found other things."""
    stamps = []
    for module in (setters, model, quoting):
        info = os.stat(module.__file__)  # type: ignore[arg-type]
        stamps.append(f"{info.st_size}.{info.st_mtime_ns}")
    return f"{_FORMAT}:{yaml.__version__}:{setters._BaseLoader.__name__}:{':'.join(stamps)}"


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _marker(raw: list[str]) -> Marker:
    namespace, name, field, text = raw
    return Marker(namespace, name, field, text)


def _marker_to_json(marker: Marker) -> list[str]:
    return [marker.namespace, marker.name, marker.field, marker.text]


def _item_to_json(item: ScanItem) -> list[Any]:
    if isinstance(item, Site):
        obj = None if item.obj is None else [item.obj.kind, item.obj.api_version, item.obj.name, item.obj.namespace]
        return ["site", item.start, item.end, item.style, item.value, item.tag, item.explicit_tag, item.flow,
                _marker_to_json(item.marker), obj]
    line, marker, reason = item
    return ["skip", line, _marker_to_json(marker), reason]


def _item_from_json(raw: list[Any]) -> ScanItem:
    if raw[0] == "site":
        _, start, end, style, value, tag, explicit_tag, flow, marker, obj = raw
        return Site(start, end, style, value, tag, explicit_tag, flow, _marker(marker),
                    None if obj is None else ObjectId(*obj))
    _, line, marker, reason = raw
    return (line, _marker(marker), reason)


class ScanMemo:
    """`setters.scan` results by text digest; `get` and `put` record what this run saw, `save` keeps that."""

    def __init__(self, entries: dict[str, Any] | None = None) -> None:
        self._stored: dict[str, Any] = entries or {}  # digest -> items as JSON lists, converted when asked for
        self._seen: dict[str, tuple[ScanItem, ...]] = {}

    def get(self, text: str) -> tuple[ScanItem, ...] | None:
        digest = _digest(text)
        items = self._seen.get(digest)
        if items is None:
            raw = self._stored.get(digest)
            if raw is None:
                return None
            try:
                items = tuple(_item_from_json(item) for item in raw)
            except (TypeError, ValueError, IndexError, KeyError):
                return None  # not what `save` writes: parse the text instead
            self._seen[digest] = items
        return items

    def put(self, text: str, items: tuple[ScanItem, ...]) -> None:
        self._seen[_digest(text)] = items

    def __len__(self) -> int:
        return len(self._seen)

    @classmethod
    def load(cls, path: Path) -> ScanMemo:
        """The memo at `path`, or an empty one (no file, unreadable, or made by other code)."""
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict) or data.get("code") != _code_version() or not isinstance(data.get("texts"), dict):
            return cls()
        return cls(data["texts"])

    def save(self, path: Path) -> None:
        """Write what this run saw (atomically, private as the rest of the state directory); a memo that
        cannot be written only costs the next run a parse."""
        from tagpilot.store.private import write_private  # the store: loaded by every command with a workspace

        data = {"code": _code_version(),
                "texts": {digest: [_item_to_json(item) for item in items] for digest, items in self._seen.items()}}
        with contextlib.suppress(OSError):
            write_private(path, json.dumps(data, separators=(",", ":")))
