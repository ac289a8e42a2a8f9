"""Path edits of YAML text (`update.yamledit`) and the Helm values / kustomization targets built on them:
only the changed scalars move; comments, anchors, order, quoting and line breaks stay; missing keys
appear at the indentation of their siblings; what cannot be done safely is refused with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tagpilot.errors import UpdateError
from tagpilot.update.argocd_files import target_path
from tagpilot.update.argocd_source import HelmTarget, KustomizeTarget
from tagpilot.update.helm_values import HEAD_COMMENT, HelmValuesUpdater, read_values
from tagpilot.update.kustomization import KustomizationUpdater, find_kustomization, read_images
from tagpilot.update.model import ImageRef, ObjectId
from tagpilot.update.yamledit import YamlDocument, parse_path

VALUES = """\
# values for the example chart
replicaCount: 2   # keep two
frontend:
    image: registry.example/frontend   # repository
    tag: 'main-0000000'
defaults: &defaults
  pullPolicy: IfNotPresent
backend:
    <<: *defaults
    image: registry.example/backend

images:
  - name: sidecar
    tag: "1.0"
  - name: proxy
    tag: 2.0
"""


def edit(text: str, *pairs: tuple[str, str]) -> str:
    doc = YamlDocument(text, "values.yaml")
    for path, value in pairs:
        doc.set(parse_path(path), value)
    return doc.text


def test_existing_scalars_keep_their_style_and_everything_else_stays() -> None:
    out = edit(VALUES, ("frontend.tag", "main-bbbbbbb"), ("images[1].tag", "2.1"), ("images[0].tag", "1.1"))
    assert out == VALUES.replace("'main-0000000'", "'main-bbbbbbb'").replace('"1.0"', '"1.1"').replace(
        "tag: 2.0", 'tag: "2.1"')  # a plain 2.1 would read as a number: quoted


def test_missing_keys_created_at_the_siblings_indentation_merge_key_overridden() -> None:
    out = edit(VALUES, ("backend.tag", "main-1111111"), ("sidecar.image.tag", "v1"))
    assert out == VALUES.replace("    image: registry.example/backend\n",
                                 "    image: registry.example/backend\n    tag: main-1111111\n") + \
        "sidecar:\n    image:\n        tag: v1\n"
    assert yaml.safe_load(out)["backend"] == {"pullPolicy": "IfNotPresent", "image": "registry.example/backend",
                                              "tag": "main-1111111"}


@pytest.mark.parametrize(("text", "path", "want"), [
    ("image:\nother: 1\n", "image.tag", "image:\n  tag: v1\nother: 1\n"),
    ("image: ~  # none yet\n", "image.tag", "image:  # none yet\n  tag: v1\n"),
    ("image: {repository: a}\n", "image.tag", "image: {repository: a, tag: v1}\n"),
    ("a: 1\r\nb:\r\n  c: 2\r\n", "b.d", "a: 1\r\nb:\r\n  c: 2\r\n  d: v1\r\n"),
    ("a: 1", "b.c", "a: 1\nb:\n  c: v1\n"),
    ("", "image.tag", "image:\n  tag: v1\n"),
    ("a: &x old\nb: *x\n", "a", "a: &x v1\nb: *x\n"),
])
def test_small_documents(text: str, path: str, want: str) -> None:
    assert edit(text, (path, "v1")) == want


@pytest.mark.parametrize(("text", "path", "needle"), [
    ("base: &b\n  tag: x\nimage: *b\n", "image.tag", "values.yaml:3: image is an alias"),
    ("images:\n- tag: 1\n", "images[3].tag", "has 1 item(s)"),
    ("image: nginx\n", "image.tag", "image is not a mapping"),
    ("image:\n  tag: |\n    x\n", "image.tag", "block scalar"),
    ("a: 1\n---\nb: 2\n", "a", "2 YAML documents"),
    ("a: [1\n", "a", "values.yaml:2: cannot parse YAML"),
    ("image: {tag: 1}\n", "image", "is a mapping, not a value"),
])
def test_refused_with_file_and_line(text: str, path: str, needle: str) -> None:
    with pytest.raises(UpdateError, match=None) as err:
        edit(text, (path, "v1"))
    assert needle in str(err.value)


@pytest.mark.parametrize(("text", "parts"), [
    ("a.b[0].c", ("a", "b", 0, "c")), ("images[1][2]", ("images", 1, 2)), ("x", ("x",)),
])
def test_parse_path(text: str, parts: tuple) -> None:
    assert parse_path(text) == parts


@pytest.mark.parametrize("bad", ["a..b", "a[x]", "a[1", "a[1]b"])
def test_parse_path_refuses(bad: str) -> None:
    with pytest.raises(UpdateError):
        parse_path(bad)


APP = ObjectId("Application", "argoproj.io/v1alpha1", "web", "argocd")
FRONT = ImageRef("registry.example/frontend", "main-bbbbbbb")


def test_helm_values_updater_edits_in_place_and_creates_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text(VALUES)
    targets = [HelmTarget("fe", "frontend.image", "frontend.tag"),
               HelmTarget("be", None, None, "backend.spec")]
    images = {"fe": FRONT, "be": ImageRef("registry.example/backend", "v2", "sha256:" + "a" * 64)}
    result = HelmValuesUpdater(APP, "values.yaml", targets).apply(tmp_path, ".", images)
    text = (tmp_path / "values.yaml").read_text()
    assert text == VALUES.replace("'main-0000000'", "'main-bbbbbbb'").replace(
        "    image: registry.example/backend\n",
        f"    image: registry.example/backend\n    spec: registry.example/backend:v2@sha256:{'a' * 64}\n")
    assert [(c.setter, c.old_value, c.new_value) for c in result.changes] == [
        ("frontend.tag", "main-0000000", "main-bbbbbbb"), ("backend.spec", "", images["be"].name + ":v2@sha256:"
                                                           + "a" * 64)]
    assert read_values(text, ["frontend.tag", "nope"], "values.yaml") == {"frontend.tag": "main-bbbbbbb"}
    again = HelmValuesUpdater(APP, "values.yaml", targets).apply(tmp_path, ".", images)
    assert again.files == ()

    made = HelmValuesUpdater(APP, "env/prod.yaml", targets[:1]).apply(tmp_path, ".", {"fe": FRONT})
    assert (tmp_path / "env/prod.yaml").read_text() == HEAD_COMMENT + (
        "frontend:\n  image: registry.example/frontend\n  tag: main-bbbbbbb\n")
    assert made.files[0].diff.startswith("--- /dev/null")


KUSTOMIZATION = """\
---
# the web app
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml

images:
  - name: example/web   # the app
    newTag: "1"
    digest: sha256:0000

  - name: docker.io/library/nginx
    newName: mirror.example/nginx
    newTag: 1.25
"""


def test_kustomization_updater_sets_entries_as_kustomize_edit_set_image(tmp_path: Path) -> None:
    (tmp_path / "k").mkdir()
    (tmp_path / "k/kustomization.yaml").write_text(KUSTOMIZATION)
    file = find_kustomization(tmp_path, "k")
    assert file == "k/kustomization.yaml"
    targets = [KustomizeTarget("web", "example/web"), KustomizeTarget("nginx", "nginx"),
               KustomizeTarget("api", "example/api")]
    images = {"web": ImageRef("registry.example/web", "2"), "nginx": ImageRef("mirror.example/nginx", "1.26"),
              "api": ImageRef("example/api", "v3", "sha256:" + "b" * 64)}
    result = KustomizationUpdater(APP, file, targets).apply(tmp_path, "k", images)
    assert (tmp_path / file).read_text() == KUSTOMIZATION.replace(  # a new newName goes after name
        '  - name: example/web   # the app\n', '  - name: example/web   # the app\n    newName: registry.example/web\n'
    ).replace(
        '    newTag: "1"\n    digest: sha256:0000\n', '    newTag: "2"\n'
    ).replace("newTag: 1.25", 'newTag: "1.26"') + (
        f"  - name: example/api\n    newTag: v3\n    digest: sha256:{'b' * 64}\n")
    assert read_images((tmp_path / file).read_text(), file) == {
        "example/web": "example/web=registry.example/web:2",
        "nginx": "docker.io/library/nginx=mirror.example/nginx:1.26",
        "example/api": f"example/api:v3@sha256:{'b' * 64}"}
    assert [c.new_value for c in result.changes] == [
        "example/web=registry.example/web:2", "docker.io/library/nginx=mirror.example/nginx:1.26",
        f"example/api:v3@sha256:{'b' * 64}"]


ENTRIES_WITH_EXTRA_KEYS = """\
images:
  - name: example/web   # the app
    tagSuffix: -alpine
    newName: example/web
    notes:
      owner: web-team
      since: 2024
    newTag: "1"
  - team: api  # an unknown key first on the dash line
    name: example/api
    newTag: "7"
  - name: example/db
    tagSuffix: -slim
    newTag: "5"
resources: [deployment.yaml]
"""


def test_kustomization_entry_being_changed_loses_the_keys_upstream_does_not_write(tmp_path: Path) -> None:
    """Upstream's ElementSetter replaces the whole entry with {name, newName?, newTag, digest?}: unknown keys
    of the changed entry go (scalars, block values, the first key of the item), so does a newName equal to
    the image; the entries not changed keep theirs; everything else keeps its bytes."""
    (tmp_path / "kustomization.yaml").write_text(ENTRIES_WITH_EXTRA_KEYS)
    targets = [KustomizeTarget("web", "example/web"), KustomizeTarget("api", "example/api")]
    images = {"web": ImageRef("example/web", "2"), "api": ImageRef("registry.example/api", "8")}
    result = KustomizationUpdater(APP, "kustomization.yaml", targets).apply(tmp_path, ".", images)
    assert (tmp_path / "kustomization.yaml").read_text() == """\
images:
  - name: example/web   # the app
    newTag: "2"
  - name: example/api
    newName: registry.example/api
    newTag: "8"
  - name: example/db
    tagSuffix: -slim
    newTag: "5"
resources: [deployment.yaml]
"""
    assert [(c.old_value, c.new_value) for c in result.changes] == [
        ("example/web:1", "example/web:2"), ("example/api:7", "example/api=registry.example/api:8")]


def test_kustomization_without_images_gets_the_list_and_missing_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yml").write_text("resources: [a.yaml]\n")
    KustomizationUpdater(APP, "kustomization.yml", [KustomizeTarget("w", "web")]).apply(
        tmp_path, ".", {"w": ImageRef("web", "1.0")})
    assert (tmp_path / "kustomization.yml").read_text() == (
        'resources: [a.yaml]\nimages:\n- name: web\n  newTag: "1.0"\n')
    with pytest.raises(UpdateError, match=r"no kustomization\.yaml, kustomization\.yml, Kustomization in 'none'"):
        (tmp_path / "none").mkdir()
        find_kustomization(tmp_path, "none")


@pytest.mark.parametrize(("source", "given", "default", "want"), [
    ("apps/web", "", "values.yaml", "apps/web/values.yaml"),
    ("apps/web", "prod.yaml", "values.yaml", "apps/web/prod.yaml"),
    ("apps/web", "/env/prod.yaml", "values.yaml", "env/prod.yaml"),
    ("apps/web", "../base", ".", "apps/base"),
    (".", "", ".", "."),
])
def test_target_path(source: str, given: str, default: str, want: str) -> None:
    assert target_path(source, given, default) == want


def test_target_path_cannot_leave_the_repository() -> None:
    with pytest.raises(UpdateError, match="leaves the repository"):
        target_path(".", "../../etc/passwd", "values.yaml")


def test_a_shared_values_file_keeps_the_other_applications_keys(tmp_path: Path) -> None:
    """Upstream #1584: a second alias writing the same values file blanked the first one's keys. In a
    batch every Application edits the file as the previous one left it."""
    (tmp_path / "values.yaml").write_text(VALUES)
    HelmValuesUpdater(APP, "values.yaml", [HelmTarget("fe", None, "frontend.tag")]).apply(tmp_path, ".", {"fe": FRONT})
    other = ObjectId("Application", "argoproj.io/v1alpha1", "api", "argocd")
    HelmValuesUpdater(other, "values.yaml", [HelmTarget("be", None, "backend.tag")]).apply(
        tmp_path, ".", {"be": ImageRef("registry.example/backend", "v9")})
    data = yaml.safe_load((tmp_path / "values.yaml").read_text())
    assert (data["frontend"]["tag"], data["backend"]["tag"]) == ("main-bbbbbbb", "v9")
    assert data["images"] == [{"name": "sidecar", "tag": "1.0"}, {"name": "proxy", "tag": 2.0}]
