"""How objects are named: `(kind, namespace, name)` keys and their `Kind/namespace/name` text.

A module of its own with no heavy imports, so the command line can parse object names without
loading the engine.
"""

from __future__ import annotations

ObjectKey = tuple[str, str, str]  # (kind, namespace, name)

def parse_key(text: str) -> ObjectKey:
    """`Kind/namespace/name` (or `Kind/name` in `default`) as the CLI and API name objects.

    The kind is returned as written; `KINDS.normalize` (engine/kinds.py) maps aliases such as
    `imagepolicies` to the kind's name where the registry is loaded."""
    parts = text.split("/")
    if len(parts) == 2:
        parts = [parts[0], "default", parts[1]]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{text!r}: expected KIND/NAMESPACE/NAME, e.g. ImageRepository/apps/podinfo")
    return (parts[0], parts[1], parts[2])

