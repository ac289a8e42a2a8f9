"""Argo CD Image Updater's `kustomization[:<dir>]` write-back target, edited byte-exactly.

As upstream's ElementSetter leaves it (it replaces the whole entry with the marshalled kustomize
`Image`): the `images:` entry whose `name` matches (Docker Hub's `docker.io/` and `library/` do not
count) ends up with exactly `name`, `newName` (only when the new image is not the name itself),
`newTag` and `digest` (only when the new reference has one); any other key of that entry
(`tagSuffix`, a stale `newName`, a typo) is removed. The other entries are not touched. A missing
entry is appended, a missing `images:` list created. Everything else in the file — field order,
sequence indentation, blank lines, comments, a leading `---`, the entry's own `name` line and its
comment — stays as it was, through `yamledit` (upstream re-marshals the file). A multi-document file
is refused, as upstream does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from tagpilot.errors import UpdateError
from tagpilot.update.argocd_files import finish, read_text
from tagpilot.update.argocd_source import KustomizeTarget, kustomize_image_key
from tagpilot.update.model import Change, ImageRef, ObjectId
from tagpilot.update.tree import TreeResult, safe_subpath
from tagpilot.update.yamledit import YamlDocument

FILE_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
ENTRY_KEYS = ("name", "newName", "newTag", "digest")  # what upstream's marshalled kustomize Image writes


def find_kustomization(root: Path, directory: str) -> str:
    """The kustomization file of `directory` (root-relative); UpdateError naming what was looked for."""
    base = safe_subpath(root, directory)
    if not base.is_dir():
        raise UpdateError(f"write-back target kustomization: {directory!r} is not a directory in the repository")
    for name in FILE_NAMES:
        if (base / name).is_file():
            return f"{directory}/{name}" if directory not in ("", ".") else name
    raise UpdateError(f"write-back target kustomization: no {', '.join(FILE_NAMES)} in {directory!r}")


def _entries(doc: YamlDocument) -> list[dict[str, str]]:
    """The `images:` entries as text maps (scalars only), in order."""
    found, _ = doc.find(("images",))
    node = found.node
    if found.missing or node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise UpdateError(f"{doc.filename}: images is not a list")
    out = []
    for item in node.value:
        entry = {}
        if isinstance(item, yaml.MappingNode):
            entry = {k.value: v.value for k, v in item.value
                     if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)}
        out.append(entry)
    return out


def _keys(doc: YamlDocument, index: int) -> list[str]:
    """Every key of `images[index]` (whatever its value), in order."""
    found, _ = doc.find(("images", index))
    node = found.node
    if not isinstance(node, yaml.MappingNode):
        return []
    return [k.value for k, _v in node.value if isinstance(k, yaml.ScalarNode)]


def override_of(entry: Mapping[str, str]) -> str:
    """An entry as upstream's override text `name[=newName]:tag[@digest]` (for the current tag)."""
    name = entry.get("name", "")
    new = entry.get("newName") or name
    tag = entry.get("newTag", "")
    digest = entry.get("digest")
    value = f"{new}:{tag}" + (f"@{digest}" if digest else "")
    return value if new == name else f"{name}={value}"


def read_images(text: str | None, filename: str) -> dict[str, str]:
    """Image key → override text for every `images:` entry of a kustomization."""
    if not text:
        return {}
    return {kustomize_image_key(e["name"]): override_of(e) for e in _entries(YamlDocument(text, filename))
            if e.get("name")}


class KustomizationUpdater:
    """Writes the selected images into the kustomization file `file` (relative to the repository root)."""

    name = "kustomization"

    def __init__(self, app: ObjectId, file: str, kustomize: Sequence[KustomizeTarget]) -> None:
        self.app, self.file, self.kustomize = app, file, tuple(kustomize)

    def apply(self, root: Path, path: str, images: Mapping[str, ImageRef], *, dry_run: bool = False) -> TreeResult:
        old = read_text(safe_subpath(root, self.file))
        if old is None:
            raise UpdateError(f"{self.file} does not exist")
        doc = YamlDocument(old, self.file)
        changes: list[Change] = []
        for target in self.kustomize:
            ref = images.get(target.key)
            if ref is None or not ref.tag:
                continue
            key = kustomize_image_key(target.image_name)
            entries = _entries(doc)
            index = next((i for i, e in enumerate(entries) if kustomize_image_key(e.get("name", "")) == key), None)
            wanted: dict[str, str | None] = {"newTag": ref.tag, "digest": ref.digest}  # set in this order
            if index is None:
                item = {"name": target.image_name}
                if ref.name != target.image_name:
                    item["newName"] = ref.name
                item.update({k: v for k, v in wanted.items() if v})
                doc.append(("images",), item)
                changes.append(Change(self.file, 0, "", override_of(item), key, self.app))
                continue
            entry = entries[index]
            before = override_of(entry)
            # upstream's ElementSetter replaces the whole entry with {name, newName?, newTag, digest?}:
            # newName only when the image is not the name; every other key of this entry goes
            wanted = {"newName": ref.name if ref.name != entry.get("name") else None, **wanted}
            for field, value in wanted.items():
                if value is None:
                    if field in _keys(doc, index):
                        doc.delete(("images", index, field))
                elif entry.get(field) != value:  # kustomize's order: name, newName, newTag, digest
                    doc.set(("images", index, field), value, after={"newName": "name", "newTag": "newName",
                                                                    "digest": "newTag"}[field])
            for extra in [k for k in _keys(doc, index) if k not in ENTRY_KEYS]:
                doc.delete(("images", index, extra))
            after = override_of(_entries(doc)[index])
            if after != before:
                changes.append(Change(self.file, 0, before, after, key, self.app))
        return finish(root, self.file, old, doc.text, changes, dry_run=dry_run)
