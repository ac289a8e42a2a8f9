"""Argo CD Image Updater's default write-back target: `.argocd-source-<app>.yaml` beside the app's path.

Written and merged exactly as upstream does it (pkg/argocd/update.go `marshalParamsOverride`,
shared/reference/argocd-image-updater.md §4.3), byte for byte:

- the document is what Go's `gopkg.in/yaml.v2` marshals for upstream's override structs: keys are
  the lowercased Go field names (`helm`, `parameters`, `name`, `value`, `forcestring`; `kustomize`,
  `images`), indentation 2, sequences not indented under their key, strings plain unless YAML 1.1
  would read them as something else (then double-quoted: `"1.0"`, `"true"`, `""`) or the emitter
  cannot write them plain (then single-quoted);
- a fresh file holds the managed parameters sorted by name, each with `forcestring: true`; with
  nothing managed it is `helm:\n  parameters: []`;
- an existing file is merged: its parameters keep their order, a managed one replaces the entry of
  the same name, new ones are appended; parameters the file had but tagpilot does not manage stay
  (an existing entry without `forcestring` is written with `forcestring: false`, as yaml.v2 does);
  Kustomize images are matched by image name (`docker.io/` and Docker Hub's `library/` ignored) and
  replaced, others appended; a file that does not parse is overwritten with fresh content; a leading
  block of comments, `%YAML` directives and a `---` marker is kept verbatim.

Pure: text in, text out (`render_helm`, `render_kustomize`); `ArgoSourceUpdater` is the file edge
(atomic write, unified diff, typed `Change`s) in the shape of `update.base.Updater`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import re2
import yaml

from tagpilot.update.model import Change, ImageRef, ObjectId
from tagpilot.update.tree import FileChange, Skipped, TreeResult, safe_subpath

# every scalar as its text: yaml.v2 unmarshals a scalar into a Go string field as written (`1e3` stays `1e3`)
_Loader: type = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_TRUE = ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")


@dataclass(frozen=True)
class HelmParam:
    name: str
    value: str
    forcestring: bool = True


# --- Go yaml.v2 scalars ---------------------------------------------------------------------------

_BOOL_NULL_FLOAT = {
    "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
    "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
    "", "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
    "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
}
_YAML_FLOAT = re2.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_INT = re2.compile(r"^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$")
_TIMESTAMP = re2.compile(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(([Tt]| )[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(\.[0-9]+)?"
                         r"(Z|[-+][0-9]{2}:[0-9]{2})?)?$")
_BASE60 = re2.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_GO_FLOAT_DOT = re2.compile(r"^\.([0-9]+([eE][-+]?[0-9]+)?|[iI][nN][fF]|[nN][aA][nN])$")


def _resolves_to_string(text: str) -> bool:
    """Does yaml.v2's resolver read the plain scalar `text` as a string?"""
    if text in _BOOL_NULL_FLOAT:
        return False
    first = text[0]
    if first == ".":
        return not _GO_FLOAT_DOT.match(text)
    if first.isdigit() or first in "+-":
        if _TIMESTAMP.match(text):
            return False
        plain = text.replace("_", "")
        if _GO_INT.match(plain) or _YAML_FLOAT.match(plain):
            return False
    return True


def _plain_allowed(text: str) -> bool:
    """libyaml's analysis of a scalar for the plain style in block context (yaml_emitter_analyze_scalar)."""
    if not text or text.startswith(("---", "...")) or text[0] in " \t" or text[-1] in " \t":
        return False
    for i, char in enumerate(text):
        after = text[i + 1] if i + 1 < len(text) else ""
        followed_by_blank = after in ("", " ", "\t", "\n")
        if not char.isprintable() or char in "\n\r":
            return False
        if i == 0:
            if char in "#,[]{}&*!|>'\"%@`":
                return False
            if char in "?:-" and followed_by_blank:
                return False
        elif (char == ":" and followed_by_blank) or (char == "#" and text[i - 1] in " \t"):
            return False
    return True


def go_yaml_scalar(text: str) -> str:
    """A string as yaml.v2 writes it: plain, single-quoted, or double-quoted."""
    if text and _resolves_to_string(text) and not _BASE60.match(text):
        if _plain_allowed(text):
            return text
        if text.isprintable():
            return "'" + text.replace("'", "''") + "'"
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif not char.isprintable():
            out.append(f"\\x{ord(char):02X}" if ord(char) < 0x100 else f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


# --- documents ---------------------------------------------------------------------------------------

def _helm_document(params: Sequence[HelmParam]) -> str:
    if not params:
        return "helm:\n  parameters: []\n"
    lines = ["helm:", "  parameters:"]
    for p in params:
        lines += [f"  - name: {go_yaml_scalar(p.name)}", f"    value: {go_yaml_scalar(p.value)}",
                  f"    forcestring: {'true' if p.forcestring else 'false'}"]
    return "\n".join(lines) + "\n"


def _kustomize_document(images: Sequence[str]) -> str:
    if not images:
        return "kustomize:\n  images: []\n"
    return "kustomize:\n  images:\n" + "".join(f"  - {go_yaml_scalar(i)}\n" for i in images)


def leading_block(text: str) -> str:
    """Leading comments, blank lines, `%` directives and a `---` marker, kept verbatim on a merge."""
    end = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped == "" or stripped.startswith(("#", "%")) or stripped == "---" or stripped.startswith("--- #"):
            end += len(line)
            if stripped.startswith("---"):
                break
            continue
        break
    return text[:end]


def _load(existing: str | None) -> Any:
    """The existing file as data; None for a missing, empty or unparsable file (then written fresh)."""
    if not existing or not existing.strip():
        return None
    from tagpilot.config.source import check_structure
    from tagpilot.errors import ConfigError

    try:
        check_structure(existing, "<.argocd-source>")  # no alias bomb or absurd nesting from the repository
        return yaml.load(existing, Loader=_Loader)  # the base loader builds only str/list/dict
    except (yaml.YAMLError, ConfigError, RecursionError):
        return None


def _go_str(value: Any) -> str:
    """yaml.v2 unmarshalling a scalar into a Go string (null and non-scalars: empty)."""
    if not isinstance(value, str) or value in ("~", "null", "Null", "NULL"):
        return ""
    return value


def render_helm(existing: str | None, managed: Sequence[HelmParam]) -> str:
    """The `.argocd-source-<app>.yaml` content for Helm parameters `managed`, merged with `existing`."""
    fresh = sorted(managed, key=lambda p: p.name)
    data = _load(existing)
    if not isinstance(data, dict):
        return _helm_document(fresh)
    helm = data.get("helm") if isinstance(data.get("helm"), dict) else {}
    params: list[HelmParam] = []
    for entry in helm.get("parameters") or [] if isinstance(helm.get("parameters"), list) else []:
        if isinstance(entry, dict):
            params.append(HelmParam(_go_str(entry.get("name")), _go_str(entry.get("value")),
                                    entry.get("forcestring") in _TRUE))
    for param in fresh:
        index = next((i for i, p in enumerate(params) if p.name == param.name), None)
        if index is None:
            params.append(param)
        else:
            params[index] = param
    return leading_block(existing or "") + _helm_document(params)


def kustomize_image_key(text: str) -> str:
    """The name a Kustomize image override is matched by: the part before `=`, else the image name
    without tag/digest; `docker.io/` and Docker Hub's `library/` do not count (upstream's Match)."""
    name = text.split("=", 1)[0] if "=" in text else text
    name = name.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name = name[:colon]
    for prefix in ("docker.io/", "index.docker.io/"):
        name = name.removeprefix(prefix)
    return name.removeprefix("library/")


def render_kustomize(existing: str | None, managed: Sequence[str]) -> str:
    """The `.argocd-source-<app>.yaml` content for Kustomize image overrides `managed`, merged."""
    data = _load(existing)
    if not isinstance(data, dict):
        return _kustomize_document(list(managed))
    kustomize = data.get("kustomize") if isinstance(data.get("kustomize"), dict) else {}
    raw = kustomize.get("images")
    images = [_go_str(i) for i in raw if isinstance(i, str)] if isinstance(raw, list) else []
    for image in managed:
        key = kustomize_image_key(image)
        index = next((i for i, old in enumerate(images) if kustomize_image_key(old) == key), None)
        if index is None:
            images.append(image)
        else:
            images[index] = image
    return leading_block(existing or "") + _kustomize_document(images)


def source_file_name(app_name: str, app_namespace: str, controller_namespace: str = "argocd") -> str:
    """`.argocd-source-<app>.yaml`, or `.argocd-source-<ns>_<app>.yaml` for an Application outside the
    controller's namespace (upstream's parseDefaultTarget)."""
    if app_namespace in ("", controller_namespace):
        return f".argocd-source-{app_name}.yaml"
    return f".argocd-source-{app_namespace}_{app_name}.yaml"


# --- the file edge -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HelmTarget:
    """Where one image's parts go: Helm parameter names (spec, or name + tag)."""

    key: str  # the image's alias (or name): the key of `images` given to `apply`
    name_param: str | None
    tag_param: str | None
    spec_param: str | None = None


@dataclass(frozen=True)
class KustomizeTarget:
    key: str
    image_name: str  # the `name` to override (`<name>=<new>:<tag>` when it differs from the new name)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _write_atomic(path: Path, text: str) -> None:
    """Replace `path` atomically. Not fsynced: these files are in tagpilot's git workspace, where the
    commit is what lasts (see `update.base.Updater`); 1,000 Applications were 1,000 disk flushes."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _tag_value(ref: ImageRef) -> str:
    return f"{ref.tag}@{ref.digest}" if ref.digest else (ref.tag or "")


class ArgoSourceUpdater:
    """Writes one Application's `.argocd-source-<app>.yaml` (Helm parameters or Kustomize images).

    `apply(root, path, images)`: `path` is the app's `spec.source.path`; `images` maps each target's
    key (the alias) to the image selected for it. Images without a target are not written; an image
    with an empty tag is not written (upstream skips it too).
    """

    name = "argocd-source"

    def __init__(self, app: ObjectId, file_name: str, *, helm: Sequence[HelmTarget] = (),
                 kustomize: Sequence[KustomizeTarget] = ()) -> None:
        if helm and kustomize:
            raise ValueError("an Application's source is Helm or Kustomize, not both")
        self.app, self.file_name, self.helm, self.kustomize = app, file_name, tuple(helm), tuple(kustomize)

    def managed(self, images: Mapping[str, ImageRef]) -> list[HelmParam] | list[str]:
        if self.kustomize:
            out: list[str] = []
            for target in self.kustomize:
                ref = images.get(target.key)
                if ref is None or not ref.tag:
                    continue
                new = f"{ref.name}:{_tag_value(ref)}"
                out.append(new if target.image_name == ref.name else f"{target.image_name}={new}")
            return out
        params: list[HelmParam] = []
        for target in self.helm:
            ref = images.get(target.key)
            if ref is None or not ref.tag:
                continue
            if target.spec_param:
                params.append(HelmParam(target.spec_param, f"{ref.name}:{_tag_value(ref)}"))
                continue
            if target.name_param:
                params.append(HelmParam(target.name_param, ref.name))
            if target.tag_param:
                params.append(HelmParam(target.tag_param, _tag_value(ref)))
        return params

    def render(self, existing: str | None, images: Mapping[str, ImageRef]) -> str:
        managed = self.managed(images)
        if self.kustomize:
            return render_kustomize(existing, managed)  # type: ignore[arg-type]
        return render_helm(existing, managed)  # type: ignore[arg-type]

    def apply(self, root: Path, path: str, images: Mapping[str, ImageRef], *, dry_run: bool = False) -> TreeResult:
        directory = safe_subpath(root, path or ".")
        rel = os.path.normpath(os.path.join(path or ".", self.file_name))
        if not directory.is_dir():
            return TreeResult(skipped=(Skipped(rel, f"the application path {path!r} is not a directory in the "
                                                    "repository"),), dry_run=dry_run)
        target = directory / self.file_name
        if target.is_symlink():
            return TreeResult(skipped=(Skipped(rel, "is a symbolic link; not written"),), dry_run=dry_run)
        existing = _read(target)
        text = self.render(existing, images)
        if text == existing:
            return TreeResult(dry_run=dry_run, scanned=1)
        changes = tuple(self._changes(rel, existing, text))
        if not dry_run:
            _write_atomic(target, text)
        return TreeResult(files=(FileChange(rel, changes, existing, text),), dry_run=dry_run, scanned=1)

    def _changes(self, rel: str, old: str | None, new: str) -> list[Change]:
        """One `Change` per managed value whose text moved, with its line in the new file."""
        before = _values(old)
        after = _values(new)
        lines = new.splitlines()
        out = []
        for name, value in after.items():
            if before.get(name) == value:
                continue
            needle = f"value: {go_yaml_scalar(value)}" if not self.kustomize else f"- {go_yaml_scalar(value)}"
            line = next((i + 1 for i, text in enumerate(lines) if text.strip() == needle.strip()), 0)
            out.append(Change(file=rel, line=line, old_value=before.get(name, ""), new_value=value, setter=name,
                              object=self.app))
        return out


def _values(text: str | None) -> dict[str, str]:
    """name → value of the parameters (or image key → override) of a source file."""
    data = _load(text)
    if not isinstance(data, dict):
        return {}
    out: dict[str, str] = {}
    helm = data.get("helm")
    if isinstance(helm, dict) and isinstance(helm.get("parameters"), list):
        for entry in helm["parameters"]:
            if isinstance(entry, dict):
                out[_go_str(entry.get("name"))] = _go_str(entry.get("value"))
    kustomize = data.get("kustomize")
    if isinstance(kustomize, dict) and isinstance(kustomize.get("images"), list):
        for image in kustomize["images"]:
            out[kustomize_image_key(_go_str(image))] = _go_str(image)
    return out


def read_source_file(text: str | None) -> dict[str, str]:
    """What an existing `.argocd-source-<app>.yaml` sets: Helm parameter name → value, and Kustomize
    image key → override (`name[=new]:tag`). Empty for a missing or unparsable file."""
    return _values(text)
