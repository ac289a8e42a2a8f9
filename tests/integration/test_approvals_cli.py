"""The manual path end to end through the CLI: the real registry, a real git remote, `tagpilot` processes.

Approval gates (request instead of push, N distinct approvers, refusal, rebased push, supersede,
reject remembered, expiry, stale), pins that hold against newer tags, a person's revert kept.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.fixtures.config import DEPLOYMENT, flux_automation_config, seed
from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot

NAME = "gated"


def gated_config(image: str, url: str, annotations: dict[str, str]) -> str:
    """The shared Flux setup with one automation `apps/gated` carrying `annotations`."""
    text = flux_automation_config(image, url, automations={NAME: "./deploy"}, scan_interval="1h")
    if not annotations:
        return text
    lines = "".join(f"    {k}: \"{v}\"\n" for k, v in annotations.items())
    return text.replace(f"metadata: {{name: {NAME}, namespace: apps}}\n",
                        f"metadata:\n  name: {NAME}\n  namespace: apps\n  annotations:\n{lines}")


def setup(registry: RegistryServer, repo_name: str, remote: GitRemote, tmp_path: Path, tags: list[str],
          annotations: dict[str, str]) -> tuple[str, Path, Path]:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, tags)
    seed(remote, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(gated_config(image, remote.url, annotations))
    return image, cfg, tmp_path / "state"


def reconcile(cfg: Path, state: Path) -> dict:
    result = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert result.code == 0, result.stderr
    return next(v for v in result.json() if v["kind"] == "ImageUpdateAutomation")


def ready(view: dict) -> dict:
    return next(c for c in view["status"]["conditions"] if c["type"] == "Ready")


def requests(state: Path) -> list[dict]:
    result = run_tagpilot("approvals", "list", "--state", state, "-o", "json")
    assert result.code == 0, result.stderr
    return result.json()


def deployed_tag(remote: GitRemote, image: str) -> str:
    text = remote.read_exact("deploy/app.yaml", "main")
    return text.split(f'"{image}:', 1)[1].split('"', 1)[0]


def test_gate_lifecycle_two_approvers_rebase_supersede_reject(registry: RegistryServer, repo_name: str,
                                                             git_remote_file: GitRemote, tmp_path: Path) -> None:
    image, cfg, state = setup(registry, repo_name, git_remote_file, tmp_path, ["1.0.0", "1.1.0"],
                              {"tagpilot.dev/approvals": "2", "tagpilot.dev/approvers": "alice,bob,carol"})
    before = git_remote_file.head("main")

    view = reconcile(cfg, state)
    assert git_remote_file.head("main") == before  # gated: nothing pushed
    [request] = requests(state)
    assert set(request) == {"id", "object", "images", "required", "approvedBy", "state", "deadline"}
    assert request["object"] == f"ImageUpdateAutomation/apps/{NAME}"
    assert request["images"] == [{"image": image, "from": "1.0.0", "to": "1.1.0"}]
    assert (request["required"], request["approvedBy"], request["state"]) == (2, [], "pending")
    rid = request["id"]
    condition = ready(view)
    assert (condition["status"], condition["reason"]) == ("False", "AwaitingApproval")
    assert rid in condition["message"]
    shown = run_tagpilot("approvals", "show", rid, "--state", state).json()
    assert "-          image: \"" in shown["diff"] and ':1.1.0"' in shown["diff"]

    refused = run_tagpilot("approve", rid, "--by", "mallory", "--state", state)
    assert refused.code == 1 and "not an approver" in refused.stderr
    assert run_tagpilot("approve", rid, "--by", "alice", "--comment", "looks fine", "--state", state).code == 0
    twice = run_tagpilot("approve", rid, "--by", "alice", "--state", state)
    assert twice.code == 1 and "already decided" in twice.stderr
    assert requests(state)[0]["approvedBy"] == ["alice"]
    reconcile(cfg, state)
    assert git_remote_file.head("main") == before  # one of two approvals: still waiting

    assert run_tagpilot("approve", rid, "--by", "bob", "--state", state).code == 0
    assert requests(state)[0]["state"] == "approved"
    other = git_remote_file.commit({"README.md": "someone else's commit\n"}, message="docs")
    view = reconcile(cfg, state)
    head = git_remote_file.head("main")
    assert head != other and git_remote_file.log("main", fmt="%H")[1] == other  # rebased onto the new tip
    assert deployed_tag(git_remote_file, image) == "1.1.0"
    assert "Approved by alice, bob (approval request " + rid in git_remote_file.message()
    assert ready(view)["status"] == "True"
    assert requests(state)[0]["state"] == "approved"

    push_tags(registry, repo_name, ["1.2.0"])
    reconcile(cfg, state)
    second = requests(state)[-1]
    assert second["images"][0]["to"] == "1.2.0" and second["state"] == "pending"
    push_tags(registry, repo_name, ["1.3.0"])
    reconcile(cfg, state)
    found = requests(state)
    assert [r["state"] for r in found] == ["approved", "superseded", "pending"]
    third = found[-1]
    assert third["images"] == [{"image": image, "from": "1.1.0", "to": "1.3.0"}]

    assert run_tagpilot("reject", third["id"], "--by", "carol", "--comment", "broken", "--state", state).code == 0
    view = reconcile(cfg, state)
    assert [r["state"] for r in requests(state)] == ["approved", "superseded", "rejected"]  # 1.3.0 never again
    assert git_remote_file.head("main") == head
    assert ready(view)["status"] == "True"

    events = run_tagpilot("events", f"ImageUpdateAutomation/apps/{NAME}", "--state", state, "-o", "json").json()
    reasons = [e["reason"] for e in events]
    for reason in ("AwaitingApproval", "Approved", "Pushed", "ApprovalSuperseded", "ApprovalRejected"):
        assert reason in reasons
    approved = [e for e in events if e["reason"] == "Approved"]
    assert [(e["data"]["by"], e["data"]["comment"]) for e in approved] == [("alice", "looks fine"), ("bob", "")]
    rejected = next(e for e in events if e["reason"] == "ApprovalRejected")
    assert rejected["data"]["by"] == "carol" and "broken" in rejected["message"]


def test_expired_request_is_reproposed_and_stale_request_replaced(registry: RegistryServer, repo_name: str,
                                                                  git_remote_file: GitRemote, tmp_path: Path) -> None:
    image, cfg, state = setup(registry, repo_name, git_remote_file, tmp_path, ["1.0.0", "1.1.0"],
                              {"tagpilot.dev/approvals": "1", "tagpilot.dev/approval-deadline": "1s"})
    reconcile(cfg, state)
    first = requests(state)[0]["id"]
    time.sleep(1.2)
    reconcile(cfg, state)
    found = requests(state)
    assert [r["state"] for r in found] == ["expired", "pending"]
    assert found[1]["images"] == found[0]["images"]
    late = run_tagpilot("approve", first, "--by", "alice", "--state", state)
    assert late.code == 1 and "expired" in late.stderr

    # approved, then a person edits the marked line: the planned change no longer applies
    cfg.write_text(gated_config(image, git_remote_file.url, {"tagpilot.dev/approvals": "1"}))
    assert run_tagpilot("approve", found[1]["id"], "--by", "alice", "--state", state).code == 0
    git_remote_file.commit({"deploy/app.yaml": DEPLOYMENT.format(image=image).replace(":1.0.0", ":1.0.5")},
                           message="hotfix")
    head = git_remote_file.head("main")
    view = reconcile(cfg, state)
    assert git_remote_file.head("main") == head
    found = requests(state)
    assert [r["state"] for r in found][-2:] == ["stale", "pending"]
    assert found[-1]["images"] == [{"image": image, "from": "1.0.5", "to": "1.1.0"}]
    assert ready(view)["reason"] == "AwaitingApproval"


def test_bad_annotation_is_an_error_naming_the_object(registry: RegistryServer, repo_name: str,
                                                      git_remote_file: GitRemote, tmp_path: Path) -> None:
    _image, cfg, state = setup(registry, repo_name, git_remote_file, tmp_path, ["1.0.0", "1.1.0"],
                               {"tagpilot.dev/approvals": "two"})
    before = git_remote_file.head("main")
    result = run_tagpilot("reconcile", "-f", cfg, "--state", state)
    assert result.code == 1
    assert f"ImageUpdateAutomation/apps/{NAME}" in result.stderr + result.stdout
    assert "tagpilot.dev/approvals" in result.stderr + result.stdout
    assert git_remote_file.head("main") == before  # never an ungated push


def test_pin_holds_against_newer_tags_and_unpin_resumes(registry: RegistryServer, repo_name: str,
                                                        git_remote_file: GitRemote, tmp_path: Path) -> None:
    image, cfg, state = setup(registry, repo_name, git_remote_file, tmp_path, ["1.0.0", "1.1.0"], {})
    reconcile(cfg, state)
    assert deployed_tag(git_remote_file, image) == "1.1.0"
    key = f"ImageUpdateAutomation/apps/{NAME}"
    pinned = run_tagpilot("pin", key, "--policy", "apps:app", "--tag", "1.0.0", "--reason", "bad release",
                          "--by", "alice", "-f", cfg, "--state", state)
    assert pinned.code == 0, pinned.stderr
    assert deployed_tag(git_remote_file, image) == "1.0.0"
    assert "Pinned apps:app at 1.0.0 by alice: bad release" in git_remote_file.message()
    push_tags(registry, repo_name, ["1.2.0"])
    view = reconcile(cfg, state)
    assert deployed_tag(git_remote_file, image) == "1.0.0"
    assert view["status"]["pins"] == [{"policy": "apps:app", "tag": "1.0.0", "reason": "bad release", "by": "alice",
                                       "since": view["status"]["pins"][0]["since"]}]
    typo = run_tagpilot("unpin", key, "--policy", "apps:ap", "--state", state)
    assert typo.code == 1 and "no pin on apps:ap" in typo.stderr
    assert run_tagpilot("unpin", key, "--policy", "apps:app", "-f", cfg, "--state", state).code == 0
    assert deployed_tag(git_remote_file, image) == "1.2.0"
    reasons = [e["reason"] for e in run_tagpilot("events", key, "--state", state, "-o", "json").json()]
    assert "Pinned" in reasons and "Unpinned" in reasons


def test_a_persons_revert_is_kept_and_reported(registry: RegistryServer, repo_name: str,
                                               git_remote_file: GitRemote, tmp_path: Path) -> None:
    image, cfg, state = setup(registry, repo_name, git_remote_file, tmp_path, ["1.0.0", "1.1.0"],
                              {"tagpilot.dev/respect-manual-changes": "true"})
    reconcile(cfg, state)
    assert deployed_tag(git_remote_file, image) == "1.1.0"
    revert = git_remote_file.commit(
        {"deploy/app.yaml": git_remote_file.read_exact("deploy/app.yaml", "main").replace(":1.1.0", ":1.0.0")},
        message="revert to 1.0.0", env={"GIT_AUTHOR_NAME": "Pat Person", "GIT_AUTHOR_EMAIL": "pat@example.invalid"})
    git_remote_file.commit({"README.md": "later\n"}, message="a later commit by someone else")
    push_tags(registry, repo_name, ["1.2.0"])
    view = reconcile(cfg, state)
    assert deployed_tag(git_remote_file, image) == "1.0.0"  # kept
    [pin] = view["status"]["pins"]
    assert pin["reason"] == f"manual change in {revert[:12]} by Pat Person <pat@example.invalid>"
    assert pin["tag"] == "1.0.0"
    events = run_tagpilot("events", f"ImageUpdateAutomation/apps/{NAME}", "--state", state, "-o", "json").json()
    manual = next(e for e in events if e["reason"] == "ManualChange")
    assert manual["data"]["commit"] == revert and manual["data"]["author"] == "Pat Person"
    assert run_tagpilot("unpin", f"ImageUpdateAutomation/apps/{NAME}", "--policy", "apps:app", "-f", cfg,
                        "--state", state).code == 0
    assert deployed_tag(git_remote_file, image) == "1.2.0"


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "approvals"


def test_the_approvals_example_waits_for_two_approvers(registry: RegistryServer, repo_name: str,
                                                       git_remote_file: GitRemote, tmp_path: Path) -> None:
    """examples/approvals with its placeholders replaced: production waits for two people."""
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    files = {str(p.relative_to(EXAMPLE / "deploy-repo")): p.read_text().replace("ghcr.io/example/podinfo", image)
             for p in (EXAMPLE / "deploy-repo").rglob("*.yaml")}
    git_remote_file.commit(files, message="the example repository")
    text = (EXAMPLE / "config" / "approvals.yaml").read_text().replace("ghcr.io/example/podinfo", image)
    text = text.replace("https://github.com/example/fleet.git", git_remote_file.url)
    text = text.replace("  interval: 5m\n---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy",
                        "  interval: 5m\n  insecure: true\n---\napiVersion: image.toolkit.fluxcd.io/v1\n"
                        "kind: ImagePolicy", 1)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text.split("---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\n"
                              "metadata:\n  name: staging")[0])  # staging needs a real GitHub
    state = tmp_path / "state"
    before = git_remote_file.head("main")
    assert run_tagpilot("reconcile", "-f", cfg, "--state", state).code == 0
    [request] = requests(state)
    assert request["images"] == [{"image": image, "from": "1.0.0", "to": "1.1.0"}]
    assert run_tagpilot("approve", request["id"], "--by", "alice", "--state", state).code == 0
    assert run_tagpilot("reconcile", "-f", cfg, "--state", state).code == 0
    assert git_remote_file.head("main") == before
    assert run_tagpilot("approve", request["id"], "--by", "carol", "--state", state).code == 0
    assert run_tagpilot("reconcile", "-f", cfg, "--state", state).code == 0
    assert "podinfo" in git_remote_file.read_exact("production/podinfo.yaml", "main")
    assert f"{image}:1.1.0" in git_remote_file.read_exact("production/podinfo.yaml", "main")
    assert f"{image}:1.0.0" in git_remote_file.read_exact("staging/podinfo.yaml", "main")
