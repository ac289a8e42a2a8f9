"""Directory Applications' setters markers (`NS:APP/ALIAS[:part]`) on a real directory tree: which
markers are this Application's, the errors that name file:line, the current tag read back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagpilot.config.argo_cd import PREFIX, Application
from tagpilot.engine import argo_directory
from tagpilot.engine.reconciler import Stalled


def application(image_list: str) -> Application:
    return Application.model_validate({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "web", "namespace": "argocd",
                     "annotations": {PREFIX + "image-list": image_list, PREFIX + "write-back-method": "git"}},
        "spec": {"source": {"repoURL": "https://git.example.invalid/x.git", "path": "m"}}})


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_markers_of_other_objects_are_not_this_applications(tmp_path: Path) -> None:
    """An ImagePolicy's (`NS:NAME`), another Application's and another namespace's markers are ignored;
    an image without alias is named by its image name."""
    app = application("fe=ghcr.io/org/web, ghcr.io/org/api")
    root = tree(tmp_path, {"m/a.yaml": (
        'a: ghcr.io/org/web:1  # {"$imagepolicy": "argocd:web/fe"}\n'
        'b: ghcr.io/org/api:1  # {"$imagepolicy": "argocd:web/ghcr.io/org/api"}\n'
        'c: x:1  # {"$imagepolicy": "argocd:web-policy"}\n'
        'd: x:1  # {"$imagepolicy": "argocd:other/fe"}\n'
        'e: x:1  # {"$imagepolicy": "team:web/fe"}\n')})
    found = argo_directory.find_markers(root, "m", app, list(app.image_updater.images))
    assert found.sites == {"fe": ["m/a.yaml:1"], "ghcr.io/org/api": ["m/a.yaml:2"]}
    assert argo_directory.current_tag(root, "m", app, "ghcr.io/org/api") == ("1", "m/a.yaml:2")


def test_disagreeing_markers_and_unreadable_files_are_named(tmp_path: Path) -> None:
    app = application("fe=ghcr.io/org/web")
    root = tree(tmp_path, {"m/a.yaml": 'image: ghcr.io/org/web:1  # {"$imagepolicy": "argocd:web/fe"}\n',
                           "m/b.yaml": 'tag: "2"  # {"$imagepolicy": "argocd:web/fe:tag"}\n'})
    with pytest.raises(Stalled, match=r"disagree on the tag: m/a\.yaml:1 has '1', m/b\.yaml:1 has '2'") as exc:
        argo_directory.current_tag(root, "m", app, "fe")
    assert exc.value.reason == "MarkersDisagree"
    broken = tree(tmp_path / "broken", {"m/c.yaml": 'image: [x  # {"$imagepolicy": "argocd:web/fe"}\n'})
    with pytest.raises(Stalled, match=r"no setters marker under it names an image.*files with markers not read: "
                                      r"m/c\.yaml: .*cannot parse YAML") as stalled:
        argo_directory.find_markers(broken, "m", app, list(app.image_updater.images))
    assert stalled.value.reason == "UnsupportedConfiguration"
