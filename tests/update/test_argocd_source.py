"""`.argocd-source-<app>.yaml`: upstream's bytes (yaml.v2 marshalling of its override structs) and merge rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagpilot.update.argocd_source import (
    ArgoSourceUpdater,
    HelmParam,
    HelmTarget,
    KustomizeTarget,
    go_yaml_scalar,
    kustomize_image_key,
    read_source_file,
    render_helm,
    render_kustomize,
    source_file_name,
)
from tagpilot.update.model import ImageRef, ObjectId

# the reference's fresh Helm file (shared/reference/argocd-image-updater.md §4.3), byte for byte
UPSTREAM_HELM = """\
helm:
  parameters:
  - name: image.name
    value: nginx
    forcestring: true
  - name: image.tag
    value: 1.2.3
    forcestring: true
"""

UPSTREAM_KUSTOMIZE = """\
kustomize:
  images:
  - nginx:1.2.3
  - quay.io/argoproj/argocd=ghcr.io/argoproj/argocd:v2.9.0
"""


def test_fresh_helm_file_is_upstreams_bytes_sorted_by_name() -> None:
    assert render_helm(None, [HelmParam("image.tag", "1.2.3"), HelmParam("image.name", "nginx")]) == UPSTREAM_HELM


def test_fresh_file_with_nothing_managed() -> None:
    assert render_helm(None, []) == "helm:\n  parameters: []\n"


def test_fresh_kustomize_file_is_upstreams_bytes() -> None:
    assert render_kustomize("", ["nginx:1.2.3", "quay.io/argoproj/argocd=ghcr.io/argoproj/argocd:v2.9.0"]) == \
        UPSTREAM_KUSTOMIZE


@pytest.mark.parametrize(("value", "written"), [
    ("main-e1f492f", "main-e1f492f"),
    ("1.2.3", "1.2.3"),
    ("v1.0", "v1.0"),
    ("1.0", '"1.0"'),  # a float to YAML 1.1
    ("10", '"10"'),
    ("0x1F", '"0x1F"'),
    ("1e3", '"1e3"'),
    ("true", '"true"'),
    ("yes", '"yes"'),
    ("off", '"off"'),
    ("null", '"null"'),
    ("", '""'),
    ("2024-01-02", '"2024-01-02"'),  # a timestamp
    ("1:20", '"1:20"'),  # base 60
    (".5", '".5"'),
    ("develop@sha256:0123abcd", "develop@sha256:0123abcd"),
    ("127.0.0.1:5000/cyw/frontend", "127.0.0.1:5000/cyw/frontend"),
    ("images[0].tag", "images[0].tag"),
    ("@x", "'@x'"),  # an indicator first: single quotes
    ("a: b", "'a: b'"),
    ("it's 1#", "it's 1#"),
    ("it's #1", "'it''s #1'"),
    ("x #y", "'x #y'"),
    ("- a", "'- a'"),
])
def test_scalars_as_yaml_v2_writes_them(value: str, written: str) -> None:
    assert go_yaml_scalar(value) == written


EXISTING = """\
# managed by argocd-image-updater
---
helm:
  parameters:
  - name: replicas
    value: "3"
  - name: frontend.tag
    value: main-aaaaaaa
    forcestring: true
kustomize:
  images: [dropped]
"""


def test_merge_replaces_by_name_appends_new_keeps_others_and_the_leading_block() -> None:
    out = render_helm(EXISTING, [HelmParam("frontend.tag", "main-bbbbbbb"),
                                 HelmParam("frontend.image", "cyw/frontend")])
    assert out == """\
# managed by argocd-image-updater
---
helm:
  parameters:
  - name: replicas
    value: "3"
    forcestring: false
  - name: frontend.tag
    value: main-bbbbbbb
    forcestring: true
  - name: frontend.image
    value: cyw/frontend
    forcestring: true
"""
    assert render_helm(out, [HelmParam("frontend.tag", "main-bbbbbbb"),
                             HelmParam("frontend.image", "cyw/frontend")]) == out  # stable: no change


def test_values_are_kept_as_written_when_merging() -> None:
    existing = "helm:\n  parameters:\n  - name: a\n    value: 1e3\n    forcestring: yes\n"
    assert render_helm(existing, []) == "helm:\n  parameters:\n  - name: a\n    value: \"1e3\"\n    forcestring: true\n"


def test_unparsable_file_is_overwritten_fresh() -> None:
    assert render_helm("helm: [unclosed\n", [HelmParam("image.tag", "1.2.3"), HelmParam("image.name", "nginx")]) \
        == UPSTREAM_HELM
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(7))
    assert render_helm(bomb, []) == "helm:\n  parameters: []\n"


def test_kustomize_merge_matches_by_image_name() -> None:
    existing = "kustomize:\n  images:\n  - docker.io/library/nginx:1.0.0\n  - redis:7\n"
    out = render_kustomize(existing, ["nginx:1.2.3", "quay.io/x/y=ghcr.io/x/y:2"])
    assert out == "kustomize:\n  images:\n  - nginx:1.2.3\n  - redis:7\n  - quay.io/x/y=ghcr.io/x/y:2\n"


@pytest.mark.parametrize(("text", "key"), [
    ("nginx:1.2", "nginx"), ("docker.io/library/nginx", "nginx"), ("a/b=c/d:1", "a/b"),
    ("127.0.0.1:5000/x/y:1@sha256:ab", "127.0.0.1:5000/x/y"), ("quay.io/x/y", "quay.io/x/y"),
])
def test_kustomize_image_key(text: str, key: str) -> None:
    assert kustomize_image_key(text) == key


def test_file_name_forms() -> None:
    assert source_file_name("example", "argocd") == ".argocd-source-example.yaml"
    assert source_file_name("example", "team-a") == ".argocd-source-team-a_example.yaml"


APP = ObjectId("Application", "argoproj.io/v1alpha1", "example", "argocd")


def test_updater_writes_diffs_and_reports_changes(tmp_path: Path) -> None:
    (tmp_path / "chart").mkdir()
    updater = ArgoSourceUpdater(APP, ".argocd-source-example.yaml", helm=[
        HelmTarget("frontend", "frontend.image", "frontend.tag"),
        HelmTarget("backend", "backend.image", "backend.tag"),
        HelmTarget("spec", None, None, "all.image"),
    ])
    images = {"frontend": ImageRef("cyw/frontend", "main-2"), "backend": ImageRef("cyw/backend", None),
              "spec": ImageRef("r/x", "latest", "sha256:" + "a" * 64)}
    dry = updater.apply(tmp_path, "chart", images, dry_run=True)
    assert not (tmp_path / "chart" / ".argocd-source-example.yaml").exists()
    result = updater.apply(tmp_path, "chart", images)
    text = (tmp_path / "chart" / ".argocd-source-example.yaml").read_text()
    assert text == ("helm:\n  parameters:\n"
                    f"  - name: all.image\n    value: r/x:latest@sha256:{'a' * 64}\n    forcestring: true\n"
                    "  - name: frontend.image\n    value: cyw/frontend\n    forcestring: true\n"
                    "  - name: frontend.tag\n    value: main-2\n    forcestring: true\n")  # no tag: not written
    assert [f.path for f in result.files] == [f.path for f in dry.files] == ["chart/.argocd-source-example.yaml"]
    assert result.files[0].diff.startswith("--- /dev/null\n+++ b/chart/.argocd-source-example.yaml\n")
    assert {(c.setter, c.old_value, c.new_value, c.line) for c in result.changes} == {
        ("all.image", "", f"r/x:latest@sha256:{'a' * 64}", 4),
        ("frontend.image", "", "cyw/frontend", 7), ("frontend.tag", "", "main-2", 10)}
    assert updater.apply(tmp_path, "chart", images).files == ()  # byte-identical: nothing to write
    assert read_source_file(text)["frontend.tag"] == "main-2"


def test_updater_kustomize_and_missing_path(tmp_path: Path) -> None:
    updater = ArgoSourceUpdater(APP, ".argocd-source-example.yaml",
                                kustomize=[KustomizeTarget("a", "nginx"), KustomizeTarget("b", "quay.io/x/y")])
    result = updater.apply(tmp_path, ".", {"a": ImageRef("nginx", "1.2.3"), "b": ImageRef("ghcr.io/x/y", "2")})
    assert (tmp_path / ".argocd-source-example.yaml").read_text() == \
        "kustomize:\n  images:\n  - nginx:1.2.3\n  - quay.io/x/y=ghcr.io/x/y:2\n"
    assert result.files[0].path == ".argocd-source-example.yaml"
    missing = updater.apply(tmp_path, "nope", {"a": ImageRef("nginx", "1.2.3")})
    assert missing.files == () and "not a directory" in missing.skipped[0].reason
