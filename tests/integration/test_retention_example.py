"""examples/retention (seed 000) with examples/flux-style/config, against the REAL registry (delete
enabled) and a real git remote: only the registry host, the git URL and the git credentials of the
examples are replaced (as a user does), nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import Pusher, build_image, list_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_retention_cli import seen_days_ago

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEPLOYED, OLD, FRESH = "20231101120000", "20231015080000", "20231201090000"


def test_seed_000_example_keeps_the_deployed_timestamp_build(registry: RegistryServer, repo_name: str,
                                                            git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    cfg = tmp_path / "config"
    shutil.copytree(EXAMPLES / "flux-style" / "config", cfg)
    for path in cfg.iterdir():
        text = path.read_text().replace("ghcr.io/devops-ws/dev-docs", image)
        text = text.replace("https://git.example.com/team/k8s-demo.git", git_remote_file.url)
        text = text.replace("  secretRef:\n    name: git-credentials\n", "")  # file:// needs none
        if path.name == "image-repository.yaml":
            text = text.replace("  interval: 5m\n", "  interval: 5m\n  insecure: true\n")
        path.write_text(text)
    deployment = (EXAMPLES / "flux-style" / "deploy-repo" / "kubernetes" / "deployment.yaml").read_text()
    git_remote_file.commit({"kubernetes/deployment.yaml": deployment.replace("ghcr.io/devops-ws/dev-docs", image)},
                           message="deploy")
    with Pusher(registry) as p:
        digests = {tag: p.push(repo_name, build_image(layer=tag.encode()), [tag])
                   for tag in (DEPLOYED, OLD, FRESH, "v1.0.0")}
    state = tmp_path / "state"
    seen_days_ago(state, image, {DEPLOYED: 40, OLD: 50, FRESH: 3, "v1.0.0": 400})
    files = ["-f", cfg, "-f", EXAMPLES / "retention"]

    plan = run_tagpilot("retention", "plan", *files, "--state", state, "-o", "json")
    assert plan.code == 0, plan.stderr
    items = {i["tags"][0]: i for i in plan.json() if i["repository"].endswith(repo_name)}
    assert items[DEPLOYED]["action"] == "retain"
    assert items[DEPLOYED]["reasons"] == [
        f"deployed: GitRepository/default/k8s-demo kubernetes/deployment.yaml:16 (tag {DEPLOYED})"]
    assert items[OLD]["action"] == "delete"
    assert items[FRESH]["action"] == "retain" and items[FRESH]["reasons"][0].startswith("rule 0 nDaysSinceLastPush")
    assert items["v1.0.0"]["reasons"] == ["rule 1 always"]

    dry = run_tagpilot("retention", "apply", *files, "--state", state)
    assert dry.code == 0 and "dryRun: true: nothing deleted" in dry.stderr
    applied = run_tagpilot("retention", "apply", *files, "--yes", "--state", state, "-o", "json")
    assert applied.code == 0, applied.stderr
    assert [i["digest"] for i in applied.json() if i["deleted"]] == [digests[OLD]]
    assert sorted(list_tags(registry, repo_name)) == sorted([DEPLOYED, FRESH, "v1.0.0"])
