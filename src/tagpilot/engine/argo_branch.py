"""`git-branch: <base>:<target>` where the target is a Go template, as Argo CD Image Updater renders it.

Upstream's `TemplateBranchName` (pkg/argocd/git.go): plain `text/template` (no Sprig), data
`.Images[]{.Name, .Alias, .OldTag, .NewTag}`, `.SHA256` (hex sha256 over `<name>-<old>-<new>,` per
change, in change order), `.TargetKey`, `.AppNamespace`, `.AppName`; a result longer than 255
characters is truncated with a warning; a parse or execution error, or an empty result, fails the
write-back with "git branch name could not be created from the template". `.Name` is upstream's
`ImageName`: the image without its registry (the first path component, when it contains a dot).

Different from upstream, on purpose: upstream fills `.TargetKey`, `.AppName` and `.AppNamespace` only
in pull-request mode (a plain `git-branch` template sees them empty); here they are always filled, so
a template naming them does what it says. `.TargetKey` is upstream's `WriteBackTargetKey`: the first 8
hex digits of sha256(`<repository>|<base branch annotation>|<target path>`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from tagpilot.errors import TagpilotError
from tagpilot.gotemplate import TemplateError, parse

MAX_BRANCH = 255


def image_name(image: str) -> str:
    """Upstream's `ImageName`: `ghcr.io/org/app` → `org/app`; `org/app` and `app` unchanged."""
    first, slash, rest = image.partition("/")
    return rest if slash and "." in first else image


def target_key(repository: str, base_branch: str, target: str) -> str:
    return hashlib.sha256(f"{repository}|{base_branch}|{target}".encode()).hexdigest()[:8]


@dataclass(frozen=True)
class ImageChange:
    name: str  # the image as written in image-list
    alias: str
    old_tag: str
    new_tag: str


@dataclass
class _Image:  # Go struct fields: a misspelt field is an execution error, as in Go
    Name: str
    Alias: str
    OldTag: str
    NewTag: str


@dataclass
class _Data:
    AppNamespace: str
    AppName: str
    TargetKey: str
    Images: list[_Image]
    SHA256: str


class BranchTemplateError(TagpilotError):
    reason = "BranchTemplateFailed"


def check_template(template: str) -> None:
    """Parse only (at configuration check time): BranchTemplateError when it cannot be parsed."""
    try:
        parse(template, "branchName", sprig=False)
    except TemplateError as exc:
        raise BranchTemplateError(f"git branch name could not be created from the template: {template} "
                                  f"({exc})") from None


def render_branch(template: str, changes: Sequence[ImageChange], *, app_name: str, app_namespace: str,
                  key: str) -> tuple[str, str | None]:
    """(branch, warning or None); BranchTemplateError when nothing usable comes out."""
    hasher = hashlib.sha256()
    images = []
    for c in changes:
        name = image_name(c.name)
        images.append(_Image(name, c.alias, c.old_tag, c.new_tag))
        hasher.update(f"{name}-{c.old_tag}-{c.new_tag},".encode())
    data = _Data(app_namespace, app_name, key, images, hasher.hexdigest())
    try:
        branch = parse(template, "branchName", sprig=False).execute(data)
    except TemplateError as exc:
        raise BranchTemplateError(f"git branch name could not be created from the template: {template} "
                                  f"({exc})") from None
    if not branch:
        raise BranchTemplateError(f"git branch name could not be created from the template: {template} "
                                  "(it rendered empty)")
    warning = None
    if len(branch) > MAX_BRANCH:
        warning = f"write-branch name {branch} exceeded {MAX_BRANCH} characters and was truncated to " \
                  f"{branch[:MAX_BRANCH]}"
        branch = branch[:MAX_BRANCH]
    return branch, warning
