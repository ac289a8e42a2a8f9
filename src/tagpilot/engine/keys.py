"""How objects are named: `(kind, namespace, name)` keys and their `Kind/namespace/name` text.

A module of its own with no heavy imports, so the command line can parse object names without
loading the engine.
"""

from __future__ import annotations

ObjectKey = tuple[str, str, str]  # (kind, namespace, name)
RECONCILED_KINDS = ("ImageRepository", "ImagePolicy", "ImageUpdateAutomation")

def parse_key(text: str) -> ObjectKey:
    """`Kind/namespace/name` (or `Kind/name` in `default`) as the CLI and API name objects."""
    parts = text.split("/")
    if len(parts) == 2:
        parts = [parts[0], "default", parts[1]]
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"{text!r}: expected KIND/NAMESPACE/NAME, e.g. ImageRepository/apps/podinfo")
    aliases = {k.lower(): k for k in RECONCILED_KINDS}
    aliases.update({"imagerepositories": "ImageRepository", "imagepolicies": "ImagePolicy",
                    "imageupdateautomations": "ImageUpdateAutomation"})
    kind = aliases.get(parts[0].lower(), parts[0])
    return (kind, parts[1], parts[2])

