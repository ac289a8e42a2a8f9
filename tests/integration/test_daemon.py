"""`tagpilot run` end to end: a real daemon process, the real registry, a real git remote."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.fixtures.config import flux_automation_config, seed
from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.daemon import DaemonProcess


def ready(view: dict) -> dict:
    return next((c for c in view["status"].get("conditions", []) if c["type"] == "Ready"), {})


def test_daemon_converges_reacts_and_exposes_state(registry: RegistryServer, repo_name: str,
                                                   git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    # intervals long enough that only startup and explicit triggers cause runs
    cfg.write_text(flux_automation_config(image, git_remote_file.url).replace("interval: 1s", "interval: 1h"))
    daemon = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        assert daemon.get("/healthz").json() == {"status": "ok"}
        # startup: scan, select, commit and push without being asked
        daemon.wait(lambda: "1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main"), what="first push")
        first = git_remote_file.head("main")
        view = daemon.wait(lambda: (v := daemon.view("ImageUpdateAutomation", "apps", "fleet"))["status"].get(
            "lastPushCommit") == first and v, what="automation status")
        assert ready(view)["status"] == "True"

        # a new tag plus one reconcile request on the repository: the dependents follow at once
        push_tags(registry, repo_name, ["1.2.0"])
        started = time.monotonic()
        response = daemon.post("/api/v1/objects/ImageRepository/apps/app/reconcile", json={})
        assert response.status_code == 202
        daemon.wait(lambda: "1.2.0" in git_remote_file.read_file("deploy/app.yaml", "main"), what="second push")
        assert time.monotonic() - started < 15  # event-driven, not the 1h interval
        assert len(git_remote_file.log("main")) == 4  # initial, manifests, two updates: no duplicate commits

        events = daemon.get("/api/v1/events", params={"kind": "ImageUpdateAutomation"}).json()
        assert [e["reason"] for e in events].count("Pushed") == 2
        # the first round ran in dependency order: no policy ran before its repository's scan
        everything = daemon.get("/api/v1/events", params={"limit": 1000}).json()
        assert [e for e in everything if e["type"] == "Warning"] == []
        first_round = [(e["kind"], e["reason"]) for e in everything][:3]
        assert first_round == [("ImageRepository", "NewTags"), ("ImagePolicy", "LatestImageChanged"),
                               ("ImageUpdateAutomation", "Pushed")]
        metrics = daemon.get("/metrics").text
        assert "tagpilot_commits_pushed_total 2.0" in metrics
        assert f'tagpilot_registry_requests_total{{registry="{registry.host}"}}' in metrics
        assert 'gotk_reconcile_duration_seconds_count{kind="ImageRepository",name="app",namespace="apps"}' in metrics
        assert daemon.get("/openapi.json").json()["info"]["title"] == "tagpilot"
        assert daemon.post("/api/v1/objects/ImageRepository/apps/nope/reconcile", json={}).status_code == 404
    finally:
        code = daemon.stop()
    assert code == 0  # SIGTERM is a clean stop


def test_reload_rejects_invalid_configuration_and_applies_valid_changes(registry: RegistryServer, repo_name: str,
                                                                        tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0"])
    repo_doc = (f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: one}}\n"
                f"spec: {{image: {image}, interval: 1h, insecure: true}}\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(repo_doc)
    daemon = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        daemon.wait(lambda: ready(daemon.view("ImageRepository", "default", "one")).get("status") == "True",
                    what="first scan")
        cfg.write_text(repo_doc.replace("interval: 1h", "interval: 1h, colour: red"))  # invalid: unknown field
        daemon.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert daemon.get("/readyz").status_code == 200  # still running the old configuration
        assert [v["name"] for v in daemon.get("/api/v1/objects").json()] == ["one"]
        bad = daemon.post("/api/v1/reload", json={})
        assert bad.status_code == 400 and "colour" in bad.json()["message"]
        cfg.write_text(repo_doc + "---\n" + repo_doc.replace("name: one", "name: two"))
        daemon.send_signal(signal.SIGHUP)
        daemon.wait(lambda: ready(daemon.view("ImageRepository", "default", "two")).get("status") == "True",
                    what="the new object scanned")
    finally:
        assert daemon.stop() == 0


def test_invalid_configuration_refuses_to_start(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: x}\n"
                   "spec: {image: alpine}\n")
    daemon = DaemonProcess(cfg, tmp_path / "state").start(wait_ready=False)
    assert daemon.proc is not None
    code = daemon.proc.wait(timeout=20)
    daemon.stop()
    assert code == 2
    assert "spec.interval" in daemon.log()


def test_kill_9_then_restart_converges_without_duplicate_commits(registry: RegistryServer, repo_name: str,
                                                                 git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url).replace("interval: 1s", "interval: 1h"))
    state = tmp_path / "state"
    daemon = DaemonProcess(cfg, state).start()
    time.sleep(0.3)  # somewhere in the first reconcile round
    daemon.stop(signal.SIGKILL)
    daemon = DaemonProcess(cfg, state).start()
    try:
        daemon.wait(lambda: "1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main"), what="push")
        daemon.wait(lambda: ready(daemon.view("ImageUpdateAutomation", "apps", "fleet")).get("status") == "True",
                    what="automation ready")
        daemon.post("/api/v1/objects/ImageUpdateAutomation/apps/fleet/reconcile", json={})
        time.sleep(1.5)
    finally:
        daemon.stop()
    subjects = git_remote_file.log("main")
    assert len([s for s in subjects if s.startswith("skip-ci")]) == 1  # exactly one update commit


def test_kill_9_during_the_push_then_restart_converges(registry: RegistryServer, repo_name: str,
                                                       git_remote_file: GitRemote, tmp_path: Path) -> None:
    """The daemon dies while its `git push` is inside the remote's receive hook: after a restart the
    repository holds the update exactly once, whether or not the orphaned push completed."""
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    marker = tmp_path / "push-in-progress"
    hook = git_remote_file.path / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ncat >/dev/null\ntouch {marker}\nsleep 2\nexit 0\n")
    hook.chmod(0o755)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url).replace("interval: 1s", "interval: 1h"))
    state = tmp_path / "state"
    daemon = DaemonProcess(cfg, state).start()
    daemon.wait(marker.exists, what="the push to reach the remote's hook", timeout=30)
    daemon.stop(signal.SIGKILL)  # mid-push
    hook.unlink()
    time.sleep(2.5)  # an orphaned push may still land; either way the next start must converge
    daemon = DaemonProcess(cfg, state).start()
    try:
        daemon.wait(lambda: ready(daemon.view("ImageUpdateAutomation", "apps", "fleet")).get("status") == "True",
                    what="automation ready after restart")
        daemon.post("/api/v1/objects/ImageUpdateAutomation/apps/fleet/reconcile", json={})
        time.sleep(1.5)
    finally:
        daemon.stop()
    assert "1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main")
    assert len([s for s in git_remote_file.log("main") if s.startswith("skip-ci")]) == 1
    assert git_remote_file.git("fsck", "--no-progress") == ""


def test_a_second_daemon_on_the_same_state_directory_exits_2(tmp_path: Path) -> None:
    """Two daemons on one state directory used to both run; stopping the second deleted daemon.json."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: app}\n"
                   "spec: {image: 127.0.0.1:9/none, interval: 1h, insecure: true}\n")
    state = tmp_path / "state"
    first = DaemonProcess(cfg, state).start()
    try:
        first.wait(lambda: (state / "daemon.json").exists(), what="daemon.json")
        second = DaemonProcess(cfg, state).start(wait_ready=False)
        assert second.proc is not None
        assert second.proc.wait(timeout=30) == 2
        log = second.log()
        assert f"another tagpilot run uses the state directory {state}" in log
        assert f"pid {first.proc.pid}, API at {first.url}" in log  # type: ignore[union-attr]
        assert (state / "daemon.json").exists()  # the first one's pointer survives
        assert first.get("/healthz").status_code == 200
        # the CLI still works beside the running daemon
        result = run_tagpilot("get", "repositories", "-f", cfg, "--state", state, "-o", "json")
        assert result.code == 0 and result.json()[0]["name"] == "app"
    finally:
        assert first.stop() == 0
    # after a clean stop (and after kill -9: the kernel drops flock) a new daemon starts
    again = DaemonProcess(cfg, state).start()
    assert again.stop(signal.SIGKILL) != 0
    DaemonProcess(cfg, state).start().stop()
