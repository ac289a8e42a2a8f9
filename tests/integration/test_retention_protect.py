"""What retention never deletes, against the REAL registry and a real git remote (file://).

Argo CD Applications are read from the example of seed 001 (tests/integration/test_argo_cli.py's
helpers): the chart's values.yaml, the `.argocd-source-<app>.yaml` write-back file, the Application's
own parameters. The Argo CD API itself is not needed (tagpilot reads git, as Argo CD does).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tagpilot.engine.retention_protect import HOLD_TABLES, Deployed, held, scan_tree
from tagpilot.registry.reference import parse_repository
from tagpilot.store import Store
from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_argo_cli import local_config, seed_chart

DAY = 86400.0

RETENTION = """\
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: frontend, namespace: argocd}}
spec: {{image: {image}, interval: 1h, insecure: true}}
---
apiVersion: tagpilot.dev/v1alpha1
kind: RetentionPolicy
metadata: {{name: cleanup, namespace: argocd}}
spec:
  imageRepositoryRefs: [{{name: frontend}}]
  maxDeletePercent: 100
  rules:
    - template: latestPushedK
      params: {{latestPushedK: 0}}
  protect:
    tags: [{{kind: regexp, pattern: '^release-.*'}}]
"""

ARGO_SOURCE = """\
helm:
  parameters:
  - name: frontend.image
    value: {image}
    forcestring: true
  - name: frontend.tag
    value: main-aaaaaaa
    forcestring: true
"""


@pytest.mark.integration
def test_argo_application_values_write_back_file_and_spec_are_protected(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}/frontend"
    digests = {tag: push_tags(registry, f"{repo_name}/frontend", [tag], layer=tag.encode())
               for tag in ("main-0000000", "main-aaaaaaa", "main-ccccccc", "main-ddddddd", "release-1",
                           "old-1")}
    seed_chart(git_remote_file, registry, repo_name)  # values.yaml: frontend.tag main-0000000
    git_remote_file.commit({".argocd-source-example.yaml": ARGO_SOURCE.format(image=image)}, message="write-back")
    extra = "    helm:\n      parameters:\n      - {name: frontend.tag, value: main-ccccccc}\n"
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file)
    app = (cfg / "application.yaml").read_text().replace("    targetRevision: main\n",
                                                         "    targetRevision: main\n" + extra)
    (cfg / "application.yaml").write_text(app)
    (cfg / "retention.yaml").write_text(RETENTION.format(image=image))
    state = tmp_path / "state"
    with Store.open(state) as store:
        store.record_tags_seen(parse_repository(image).canonical_name, list(digests), time.time() - 90 * DAY)

    result = run_tagpilot("retention", "plan", "-f", cfg, "--state", state, "-o", "json")
    assert result.code == 0, result.stderr
    items = {i["tags"][0]: i for i in result.json()}
    assert items["main-0000000"]["action"] == "retain"
    assert items["main-0000000"]["reasons"] == [
        "deployed: Application/argocd/example values.yaml:4 (tag main-0000000)"]
    assert items["main-aaaaaaa"]["reasons"] == [
        "deployed: Application/argocd/example .argocd-source-example.yaml:7 (tag main-aaaaaaa)"]
    assert items["main-ccccccc"]["reasons"] == [
        "deployed: Application/argocd/example spec.source.helm.parameters (tag main-ccccccc)"]
    assert items["release-1"]["reasons"] == ["protect.tags '^release-.*' matches release-1"]
    assert items["main-ddddddd"]["action"] == "delete" and items["old-1"]["action"] == "delete"

    # the write-back file moves on: the tag it named before is no longer protected by it
    git_remote_file.commit({".argocd-source-example.yaml": ARGO_SOURCE.format(image=image).replace(
        "main-aaaaaaa", "main-ddddddd")}, message="write-back 2")
    items = {i["tags"][0]: i for i in run_tagpilot("retention", "plan", "-f", cfg, "--state", state,
                                                   "-o", "json").json()}
    assert items["main-aaaaaaa"]["action"] == "delete" and items["main-ddddddd"]["action"] == "retain"


def test_split_repository_and_tag_pairs_without_markers(tmp_path: Path) -> None:
    host = "127.0.0.1:5000/team/app"
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "values.yaml").write_text(
        "app:\n"
        "  image:\n"
        f"    repository: {host}\n"
        "    tag: \"2024.1\"\n"
        "other:\n"
        "  image: {repository: 127.0.0.1:5000/team/other, tag: '9'}\n")
    (tmp_path / "kustomization.yaml").write_text(
        "images:\n"
        "  - name: app\n"
        f"    newName: {host}\n"
        "    newTag: v7\n"
        f"  - name: {host}\n"
        "    digest: sha256:" + "cd" * 32 + "\n")
    deployed = Deployed()
    scan_tree(tmp_path, "GitRepository/apps/deploy", {host: {host}}, {}, deployed)
    assert deployed.tags[host] == {
        "2024.1": ["deployed: GitRepository/apps/deploy chart/values.yaml:4"],
        "v7": ["deployed: GitRepository/apps/deploy kustomization.yaml:4"],
        "latest": [  # the bare names (the reference scan reads them as :latest: kept, never a guess)
            "deployed: GitRepository/apps/deploy kustomization.yaml:3",
            "deployed: GitRepository/apps/deploy kustomization.yaml:5",
            "deployed: GitRepository/apps/deploy chart/values.yaml:3"],
    }
    assert deployed.digests[host] == {"sha256:" + "cd" * 32: ["deployed: GitRepository/apps/deploy "
                                                              "kustomization.yaml:6"]}


def test_hostile_yaml_is_skipped_bounded(tmp_path: Path) -> None:
    host = "127.0.0.1:5000/team/app"
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    (tmp_path / "bomb.yaml").write_text(bomb + f"image: {host}:1\n")
    (tmp_path / "deep.yaml").write_text("[" * 100_000)
    deployed = Deployed()
    scan_tree(tmp_path, "GitRepository/a/b", {host: {host}}, {}, deployed)
    assert list(deployed.tags[host]) == ["1"]  # the line scan still reads it; the bomb is never built


def test_holds_hook_is_empty_on_a_fresh_state(tmp_path: Path) -> None:
    """tests/approvals/test_holds.py covers pins and requests; a fresh store holds nothing."""
    with Store.open(tmp_path / "s") as store:
        assert held(store, "r/app") == {}
    assert "pins" in HOLD_TABLES
