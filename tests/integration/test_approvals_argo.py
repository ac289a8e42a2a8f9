"""An Argo CD Application behind an approval gate, and a pin by alias (real registry and git remote)."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_argo_cli import app_view, local_config, seed_chart, seed_registry


def gated(cfg: Path, annotations: str) -> None:
    path = cfg / "application.yaml"
    path.write_text(path.read_text().replace("  annotations:\n", "  annotations:\n" + annotations, 1))


def test_gated_application_waits_then_pushes_the_approved_change_and_pins_hold(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file)
    gated(cfg, '    tagpilot.dev/approvals: "1"\n')
    state = tmp_path / "state"
    image = f"{registry.host}/{repo_name}"

    first = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert first.code == 0, first.stderr
    assert git_remote_file.head("main") == before
    ready = next(c for c in app_view(first)["status"]["conditions"] if c["type"] == "Ready")
    [request] = run_tagpilot("approvals", "list", "--state", state, "-o", "json").json()
    assert ready["reason"] == "AwaitingApproval" and request["id"] in ready["message"]
    assert request["object"] == "Application/argocd/example"
    assert sorted((i["image"], i["from"], i["to"]) for i in request["images"]) == [
        (f"{image}/backend", "main-0000000", "main-1111111"), (f"{image}/frontend", "main-0000000", "main-bbbbbbb")]

    # a pin by alias holds one image; the request for both is superseded by one for the other only
    pinned = run_tagpilot("pin", "Application/argocd/example", "--alias", "frontend", "--tag", "main-aaaaaaa",
                          "--by", "alice", "--state", state)
    assert pinned.code == 0, pinned.stderr
    run_tagpilot("reconcile", "-f", cfg, "--state", state)
    found = run_tagpilot("approvals", "list", "--state", state, "-o", "json").json()
    assert [r["state"] for r in found] == ["superseded", "pending"]
    assert sorted(i["to"] for i in found[1]["images"]) == ["main-1111111", "main-aaaaaaa"]
    assert run_tagpilot("approve", found[1]["id"], "--by", "bob", "--state", state).code == 0
    done = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert done.code == 0, done.stderr
    written = git_remote_file.read_exact(".argocd-source-example.yaml", "main")
    assert "value: main-1111111" in written and "value: main-aaaaaaa" in written
    assert run_tagpilot("approvals", "list", "--state", state, "-o", "json").json()[1]["state"] == "approved"
    assert app_view(done)["status"]["pins"][0]["alias"] == "frontend"
