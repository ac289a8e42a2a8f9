"""`tagpilot reconcile` end to end: registry → policy → byte-exact rewrite → commit → push to a real remote."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fixtures.config import DEPLOYMENT, VALUES, flux_automation_config, seed
from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot


def automation_view(result) -> dict:
    return next(v for v in result.json() if v["kind"] == "ImageUpdateAutomation")


def test_update_commit_push_and_no_change_no_commit(registry: RegistryServer, repo_name: str,
                                                    git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0", "2.0.0-rc.1"])
    seed(git_remote_file, image)
    before = git_remote_file.head("main")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url))
    state = tmp_path / "state"

    result = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert result.code == 0, result.stderr
    view = automation_view(result)
    head = git_remote_file.head("main")
    assert head != before
    assert view["status"]["lastPushCommit"] == head
    assert view["status"]["observedPolicies"] == {"app": {"name": image, "tag": "1.1.0"}}
    ready = next(c for c in view["status"]["conditions"] if c["type"] == "Ready")
    assert ready["message"] == f"committed and pushed commit '{head[:7]}' to branch 'main'"
    # only the marked values changed, byte for byte; the other directory is outside update.path
    assert git_remote_file.read_exact("deploy/app.yaml", "main") == DEPLOYMENT.format(image=image).replace(
        ':1.0.0"', ':1.1.0"')
    assert git_remote_file.read_exact("deploy/values.yaml", "main") == VALUES.format(image=image).replace(
        "'1.0.0'", "'1.1.0'")
    assert git_remote_file.read_exact("other/untouched.yaml", "main") == DEPLOYMENT.format(image=image)
    assert git_remote_file.message() == f"skip-ci: {image}:1.1.0"
    assert git_remote_file.log("main", fmt="%an <%ae>")[0] == "tagpilot <tagpilot@example.invalid>"

    again = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert again.code == 0, again.stderr
    assert git_remote_file.head("main") == head  # no change, no commit
    ready = next(c for c in automation_view(again)["status"]["conditions"] if c["type"] == "Ready")
    pushed_at = automation_view(again)["status"]["lastPushTime"]
    assert ready["message"] == f"no updates made; last commit {head[:7]} at {pushed_at}"

    table = run_tagpilot("get", "automations", "-f", cfg, "--state", state)
    assert head[:7] in table.stdout


def test_events_after_a_cli_reconcile_show_scan_selection_and_push(registry: RegistryServer, repo_name: str,
                                                                   git_remote_file: GitRemote, tmp_path: Path) -> None:
    """CLI runs publish to the same event stream as the daemon: `tagpilot events` shows what they did."""
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url))
    state = tmp_path / "state"
    assert run_tagpilot("reconcile", "-f", cfg, "--state", state).code == 0
    events = run_tagpilot("events", "--state", state, "-o", "json").json()
    reasons = [(e["kind"], e["name"], e["reason"]) for e in events]
    assert reasons == [("ImageRepository", "app", "NewTags"), ("ImagePolicy", "app", "LatestImageChanged"),
                       ("ImageUpdateAutomation", "fleet", "Pushed")]
    pushed = events[-1]
    assert pushed["data"]["commit"] == git_remote_file.head("main")
    assert pushed["data"]["files"] == ["deploy/app.yaml", "deploy/values.yaml"]
    assert events[1]["data"]["latestRef"] == {"name": image, "tag": "1.1.0"}
    # nothing new: a second round publishes nothing
    assert run_tagpilot("reconcile", "-f", cfg, "--state", state).code == 0
    assert len(run_tagpilot("events", "--state", state, "-o", "json").json()) == 3


def test_a_marker_naming_no_policy_is_a_warning_and_exit_1(registry: RegistryServer, repo_name: str,
                                                           git_remote_file: GitRemote, tmp_path: Path) -> None:
    """`{"$imagepolicy": "apps:ap"}` (a typo) used to give "no updates made", Ready True, exit 0."""
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    typo = "extra:\n  image: x:1 # {\"$imagepolicy\": \"apps:ap\"}\n"
    git_remote_file.commit({"deploy/app.yaml": DEPLOYMENT.format(image=image), "deploy/typo.yaml": typo},
                           message="add manifests")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url))
    state = tmp_path / "state"
    result = run_tagpilot("reconcile", "-f", cfg, "--state", state)
    assert result.code == 1
    assert ("error: ImageUpdateAutomation/apps/fleet: deploy/typo.yaml:2: the marker "
            "{\"$imagepolicy\": \"apps:ap\"} names ImagePolicy apps/ap, which is not in the "
            "configuration; fix the marker or add the policy") in result.stderr
    # the other markers still applied
    assert git_remote_file.read_exact("deploy/app.yaml", "main") == DEPLOYMENT.format(image=image).replace(
        ':1.0.0"', ':1.1.0"')
    warning = [e for e in run_tagpilot("events", "--state", state, "-o", "json").json() if e["type"] == "Warning"]
    assert [(e["reason"], e["data"]["setter"], e["data"]["line"]) for e in warning] == [("UnknownPolicy", "apps:ap", 2)]
    # still reported on the next run (nothing else moved), until the marker is fixed
    again = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert again.code == 1
    assert automation_view(again)["status"]["unknownPolicyMarkers"] == [
        {"file": "deploy/typo.yaml", "line": 2, "setter": "apps:ap"}]


def test_dry_run_prints_diff_and_message_and_pushes_nothing(registry: RegistryServer, repo_name: str,
                                                            git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.2.0"])
    seed(git_remote_file, image)
    head = git_remote_file.head("main")
    cfg = tmp_path / "config.yaml"
    template = "'{{ .AutomationObject }}: {{ len .Updated.Files }} files'"
    cfg.write_text(flux_automation_config(image, git_remote_file.url, template=template))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "s", "--dry-run")
    assert result.code == 0, result.stderr
    assert git_remote_file.head("main") == head
    assert "apps/fleet: 2 files" in result.stdout
    assert f'-          image: "{image}:1.0.0"' in result.stdout
    assert f'+          image: "{image}:1.2.0"' in result.stdout
    assert "+  tag: '1.2.0'" in result.stdout
    as_json = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "s", "--dry-run", "-o", "json")
    dry = automation_view(as_json)["dryRun"]
    assert sorted(dry["files"]) == ["deploy/app.yaml", "deploy/values.yaml"]
    assert dry["message"] == "apps/fleet: 2 files"
    assert git_remote_file.head("main") == head


def test_v1_template_data(registry: RegistryServer, repo_name: str, git_remote_file: GitRemote,
                          tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.0.1"])
    seed(git_remote_file, image)
    template = ("|\n        Update {{ .AutomationObject }}\n        {{ range .Changed.Changes -}}\n"
                "        - {{ .OldValue }} -> {{ .NewValue }}\n        {{ end -}}")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url, template=template, api="v1"))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "s")
    assert result.code == 0, result.stderr
    message = git_remote_file.message()
    assert message.startswith("Update apps/fleet\n")
    assert f"- {image}:1.0.0 -> {image}:1.0.1" in message
    assert "- 1.0.0 -> 1.0.1" in message


def test_http_remote_with_basic_auth_right_and_wrong(registry: RegistryServer, repo_name: str,
                                                     git_http: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.3.0"])
    seed(git_http, image)
    secret = f"""---
apiVersion: v1
kind: Secret
metadata: {{name: git-auth, namespace: apps}}
stringData: {{username: {git_http.username}, password: "PASSWORD"}}
"""
    cfg = tmp_path / "config.yaml"
    automation = flux_automation_config(image, git_http.url, secret="git-auth")
    cfg.write_text(automation + secret.replace("PASSWORD", "wrong-pass"))
    bad = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "s", "-o", "json")
    assert bad.code == 1
    ready = next(c for c in automation_view(bad)["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "AuthenticationFailed"
    assert "wrong-pass" not in bad.stdout + bad.stderr
    cfg.write_text(automation + secret.replace("PASSWORD", git_http.password))
    good = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "s", "-o", "json")
    assert good.code == 0, good.stderr
    assert f"{image}:1.3.0" in git_http.read_file("deploy/app.yaml", "main")
    for path in (tmp_path / "s").rglob("*"):
        if path.is_file() and path.suffix != ".db":
            assert git_http.password.encode() not in path.read_bytes(), path


def test_update_path_outside_repository_fails_cleanly(registry: RegistryServer, repo_name: str,
                                                      git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    head = git_remote_file.head("main")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url, path="../../etc"))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "s", "-o", "json")
    assert result.code == 1
    assert "update.path" in result.stderr or "escapes" in result.stderr
    assert git_remote_file.head("main") == head
    assert "Traceback" not in result.stderr


def test_other_writer_commits_survive(registry: RegistryServer, repo_name: str, git_remote_file: GitRemote,
                                      tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url))
    state = tmp_path / "s"
    assert run_tagpilot("reconcile", "-f", cfg, "--state", state).code == 0
    # someone else pushes to main; a new image arrives; the cached workspace is now behind
    git_remote_file.commit({"README.md": "edited by a human\n"}, message="docs")
    push_tags(registry, repo_name, ["1.2.0"])
    time.sleep(1.1)
    result = run_tagpilot("reconcile", "-f", cfg, "--state", state)
    assert result.code == 0, result.stderr
    log = git_remote_file.log("main")
    assert log[1] == "docs"  # the human's commit is kept, ours is on top
    assert f"{image}:1.2.0" in git_remote_file.read_file("deploy/app.yaml", "main")
    assert git_remote_file.read_exact("README.md", "main") == "edited by a human\n"


def test_nothing_moved_skips_the_checkout_and_a_moved_branch_does_not(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    import shutil

    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url))
    state = tmp_path / "s"
    first = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert first.code == 0, first.stderr
    assert automation_view(first)["status"]["observedSourceRevision"] == git_remote_file.head("main")
    # same policies, same branch tip: answered from `git ls-remote`, no workspace needed
    shutil.rmtree(state / "workspaces")
    again = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert again.code == 0, again.stderr
    assert not any(p.is_dir() for p in (state / "workspaces").iterdir())
    assert automation_view(again)["status"]["conditions"][0]["message"].startswith("no updates made")
    # someone reverts the tag by hand: the tip moved, so the checkout happens and the value is set again
    git_remote_file.commit({"deploy/app.yaml": git_remote_file.read_exact("deploy/app.yaml").replace(
        ":1.1.0", ":1.0.0")}, message="manual revert")
    third = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert third.code == 0, third.stderr
    assert f"{image}:1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main")
    assert automation_view(third)["status"]["observedSourceRevision"] == git_remote_file.head("main")
