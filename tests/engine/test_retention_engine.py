"""engine/retention.py against the REAL registry and git: re-resolve before delete, markers, scan hook."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from tagpilot.config.loader import load_config
from tagpilot.config.retention import RetentionPolicy
from tagpilot.engine.reconciler import Context
from tagpilot.engine.retention import apply_run, plan_policies
from tagpilot.engine.retention_protect import Deployed, scan_tree
from tagpilot.gitops import GitClient
from tagpilot.registry.client import RegistryClient
from tagpilot.registry.credentials import DockerConfig
from tagpilot.registry.reference import parse_repository
from tagpilot.store import Store
from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import Pusher, build_image, list_tags
from tests.integration.test_retention_cli import config

pytestmark = pytest.mark.integration
DAY = 86400.0


def image_n(n: int):
    return build_image(created=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=n),
                       layer=f"layer {n}\n".encode())


async def test_a_tag_repushed_between_plan_and_apply_is_replanned(registry, repo_name: str,
                                                                  git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    with Pusher(registry) as p:
        doomed = p.push(repo_name, image_n(1), ["old"])
        p.push(repo_name, image_n(2), ["keep"])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config(image, git_remote_file.url, extra="  protect: {tags: [{pattern: keep}]}\n"))
    conf = load_config([cfg])
    (policy,) = conf.of_kind(RetentionPolicy)
    canonical = parse_repository(image).canonical_name
    with Store.open(tmp_path / "state") as store:
        store.record_tags_seen(canonical, ["old", "keep"], time.time() - 90 * DAY)
        async with RegistryClient(cache=store, docker_config=DockerConfig()) as client:
            ctx = Context(conf, store, client, GitClient(tmp_path / "state"))
            (run,), deployed = await plan_policies(ctx, [policy])
            assert run.error is None
            assert {i.digest: i.action for i in run.plan.items}[doomed] == "delete"
            # between plan and apply, the protected tag `keep` is re-pushed onto the doomed digest:
            # deleting that digest now would take `keep` with it
            with Pusher(registry) as p:
                p.push(repo_name, image_n(1), ["keep"])
            notes = await apply_run(ctx, run, deployed, force=False)
    assert notes == []
    assert run.results == {}  # the fresh plan deletes nothing
    assert {i.digest: i.action for i in run.plan.items}[doomed] == "retain"
    assert sorted(list_tags(registry, repo_name)) == ["keep", "old"]


def test_scan_tree_finds_image_fields_markers_and_digests(tmp_path: Path) -> None:
    host = "127.0.0.1:5000/team/app"
    digest = "sha256:" + "ab" * 32
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "values.yaml").write_text(
        "image:\n"
        f"  repository: {host} # {{\"$imagepolicy\": \"apps:app:name\"}}\n"
        "  tag: '1.4.0' # {\"$imagepolicy\": \"apps:app:tag\"}\n"
        f"sidecar: {host}-other:9.9\n"
        f"pinned: \"{host}@{digest}\"\n")
    (tmp_path / "deploy" / "app.yml").write_text(f"containers:\n  - image: {host}:2.0.0\n")
    (tmp_path / "notes.txt").write_text(f"{host}:0.0.1\n")
    deployed = Deployed()
    scan_tree(tmp_path, "GitRepository/apps/deploy", {host: {host}}, {("apps", "app"): host}, deployed)
    assert deployed.tags[host] == {
        "1.4.0": ["deployed: GitRepository/apps/deploy deploy/values.yaml:3"],
        "2.0.0": ["deployed: GitRepository/apps/deploy deploy/app.yml:2"],
        "latest": ["deployed: GitRepository/apps/deploy deploy/values.yaml:2"],  # a bare name is :latest
    }
    assert deployed.digests[host] == {digest: ["deployed: GitRepository/apps/deploy deploy/values.yaml:5"]}


def test_a_scan_records_first_seen_times(registry, repo_name: str, tmp_path: Path) -> None:
    from tests.integration.cli import run_tagpilot

    image = f"{registry.host}/{repo_name}"
    with Pusher(registry) as p:
        p.push(repo_name, image_n(1), ["a", "b"])
    cfg = tmp_path / "repo.yaml"
    cfg.write_text(f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: app}}\n"
                   f"spec: {{image: {image}, interval: 1h, insecure: true}}\n")
    before = time.time()
    assert run_tagpilot("scan", "-f", cfg, "--state", tmp_path / "state").code == 0
    with Store.open(tmp_path / "state") as store:
        seen = store.first_seen(parse_repository(image).canonical_name, {"a": "sha256:1", "b": "sha256:1"},
                                time.time() + 1000)
    assert all(not new and before - 1 <= at <= time.time() for at, new in seen.values()), seen
