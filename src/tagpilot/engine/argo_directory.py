"""Directory (plain manifest) Applications, reached through Flux setters markers.

Upstream skips Directory applications ("not of supported source type", #294/#460/#222): there is no
`.argocd-source` file, values file or kustomization to write. tagpilot does too, unless the manifests
say where the image goes with a setters marker naming the Application's image:

    image: ghcr.io/org/web:1.0.0  # {"$imagepolicy": "argocd:web-app/web"}
    tag: "1.0.0"                  # {"$imagepolicy": "argocd:web-app/web:tag"}

that is `<Application namespace>:<Application name>/<alias>` (the image name itself for an image of
`image-list` without an alias), with Flux's optional `:tag`, `:name` or `:digest` suffix. The `/`
keeps the marker apart from ImagePolicy and Promotion markers (`NS:NAME`: Kubernetes names have no
`/`), and the first `/` splits it (Application names have none). The markers are found and
rewritten by the Flux setters code (`update/setters.py` through `update.SettersUpdater`), byte-exactly,
in every YAML file under `spec.source.path` (recursively: `directory.recurse`/`include`/`exclude` are
not read); the current tag is read back from the marked fields (`promotion/candidate.read_candidate`,
which also refuses markers that disagree), and the status names the `file:line` it came from.

A marker naming this Application with an alias it does not have is an error naming `file:line` and
the fix; without any marker naming one of its images the Application keeps upstream's refusal, with
a Stalled condition that says how to opt in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tagpilot.config.argo_cd import PREFIX, Application, ImageSettings
from tagpilot.engine.reconciler import Stalled
from tagpilot.errors import UpdateError
from tagpilot.update.base import SettersUpdater
from tagpilot.update.model import ImageRef
from tagpilot.update.setters import parse_marker
from tagpilot.update.tree import TreeResult, update_tree

UNSUPPORTED = "UnsupportedConfiguration"
UNKNOWN_ALIAS = "UnknownImageAlias"


def image_key(settings: ImageSettings) -> str:
    """What a marker names an image of `image-list` by: its alias, else the image name."""
    return settings.alias or settings.image


def policy_of(app: Application, key: str) -> tuple[str, str]:
    """The (namespace, name) a marker for image `key` of `app` carries: (`NS`, `APP/KEY`)."""
    return app.namespace, f"{app.name}/{key}"


def marker_text(app: Application, key: str, part: str = "") -> str:
    namespace, name = policy_of(app, key)
    return json.dumps({"$imagepolicy": f"{namespace}:{name}" + (f":{part}" if part else "")})


def opt_in_message(app: Application, path: str, images: list[ImageSettings]) -> str:
    """The Stalled message of a Directory application without markers: upstream's refusal, and the way in."""
    key = image_key(images[0]) if images else "ALIAS"
    return (f"spec.source.path {path!r} is a plain directory (no Chart.yaml, no kustomization.yaml) and no setters "
            "marker under it names an image of this Application: upstream skips Directory applications (\"not of "
            "supported source type\") and so does tagpilot. To have tagpilot update it, mark the field in the "
            f"manifest: `image: <image>:<tag>  # {marker_text(app, key)}` (append :tag, :name or :digest to the "
            "marker for a field holding only that part), one per image alias; or deploy it with Helm or Kustomize")


@dataclass
class DirectoryMarkers:
    """The markers under the source path that name this Application: `file:line` per image key."""

    sites: dict[str, list[str]] = field(default_factory=dict)

    @property
    def files(self) -> list[str]:
        return sorted({where.rsplit(":", 1)[0] for places in self.sites.values() for where in places})


def find_markers(root: Path, path: str, app: Application, images: list[ImageSettings]) -> DirectoryMarkers:
    """Every marker under `root/path` naming `app`; Stalled (file:line, the fix) for one naming an alias
    the Application does not have, and (the opt-in message) when none names any of its images."""
    probe = update_tree(root, path, {}, dry_run=True)  # no images given: every marker comes back unmatched
    keys = {image_key(s) for s in images}
    prefix = f"{app.name}/"
    found = DirectoryMarkers()
    for notice in probe.unmatched:
        marker = parse_marker(json.dumps({"$imagepolicy": notice.setter}))
        if marker is None or marker.namespace != app.namespace or not marker.name.startswith(prefix):
            continue  # another Application's, an ImagePolicy's or a Promotion's marker
        key = marker.name[len(prefix):]
        if key not in keys:
            have = ", ".join(sorted(keys)) or "none"
            raise Stalled(f"{notice.file}:{notice.line}: the setters marker {{\"$imagepolicy\": \"{notice.setter}\"}} "
                          f"names image {key!r} of Application {app.namespace}/{app.name}, which has no such alias "
                          f"(its images: {have}); change the marker to one of them, or add `{key}=<image>` to the "
                          f"{PREFIX}image-list annotation", reason=UNKNOWN_ALIAS)
        found.sites.setdefault(key, []).append(f"{notice.file}:{notice.line}")
    if not found.sites:
        unread = "; ".join(f"{s.path}: {s.reason}" for s in probe.skipped)
        raise Stalled(opt_in_message(app, path, images) + (f" (files with markers not read: {unread})" if unread
                                                            else ""), reason=UNSUPPORTED)
    return found


def current_tag(root: Path, path: str, app: Application, key: str) -> tuple[str, str] | None:
    """(tag[@digest], "file:line") from the marked fields of image `key`; None when only `:name` is marked.
    Markers that disagree are an error naming both places (the reader shared with Promotions)."""
    from tagpilot.promotion.candidate import read_candidate

    namespace, name = policy_of(app, key)
    try:
        candidate = read_candidate(root, path, namespace, name)
    except UpdateError as exc:
        raise Stalled(f"Application {app.namespace}/{app.name}: {exc}", reason="MarkersDisagree") from None
    if candidate is None:
        return None
    ref = candidate.ref
    tag = (ref.tag or "") + (f"@{ref.digest}" if ref.digest else "")
    return tag, candidate.origins.get("tag") or candidate.origins.get("digest") or ""


def write_markers(root: Path, path: str, app: Application, chosen: dict[str, ImageRef], *,
                  dry_run: bool) -> TreeResult:
    """Rewrite the marked fields of the chosen images (the Flux setters updater, byte-exactly)."""
    images = {policy_of(app, key): ref for key, ref in chosen.items()}
    return SettersUpdater().apply(root, path, images, dry_run=dry_run)


def changed(result: TreeResult, app: Application, key: str) -> bool:
    """Did the rewrite change a field of image `key`?"""
    wanted = policy_of(app, key)
    return any(c.policy == wanted for c in result.changes)
