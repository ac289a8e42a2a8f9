"""`reconcile KIND/NS/NAME`, `suspend`, `resume`, `events`, `get all` — with and without a running daemon."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.config import flux_automation_config, seed
from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.daemon import DaemonProcess


def test_one_object_without_a_daemon(registry: RegistryServer, repo_name: str, git_remote_file: GitRemote,
                                     tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url))
    state = tmp_path / "state"

    paused = run_tagpilot("suspend", "ImageRepository/apps/app", "--state", state)
    assert paused.code == 0 and "suspended" in paused.stdout
    skipped = run_tagpilot("reconcile", "imagerepository/apps/app", "-f", cfg, "--state", state, "-o", "json")
    assert skipped.code == 0, skipped.stderr
    assert skipped.json()[0]["status"] == {}  # suspended: not scanned
    assert run_tagpilot("resume", "ImageRepository/apps/app", "--state", state).code == 0

    result = run_tagpilot("reconcile", "ImageRepository/apps/app", "-f", cfg, "--state", state, "-o", "json")
    assert result.code == 0, result.stderr
    # the repository, then what its new tags made due: the policy, then the automation
    assert [v["kind"] for v in result.json()] == ["ImageRepository", "ImagePolicy", "ImageUpdateAutomation"]
    assert "1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main")

    log = run_tagpilot("events", "--state", state, "-o", "json")
    reasons = [e["reason"] for e in log.json()]
    assert reasons[:2] == ["Suspended", "Resumed"] and "NewTags" in reasons and "Pushed" in reasons
    only = run_tagpilot("events", "ImageUpdateAutomation/apps/fleet", "--state", state, "-o", "json")
    assert {e["kind"] for e in only.json()} == {"ImageUpdateAutomation"}
    table = run_tagpilot("get", "all", "-f", cfg, "--state", state)
    assert table.code == 0 and "ImageUpdateAutomation" in table.stdout and "committed and pushed" in table.stdout
    bad = run_tagpilot("reconcile", "ImageRepository/apps/nope", "-f", cfg, "--state", state)
    assert bad.code == 2 and "not in the configuration" in bad.stderr
    assert run_tagpilot("suspend", "not-a-key", "--state", state).code == 2


def test_one_object_through_the_daemon(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0"])
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: app}}\n"
                   f"spec: {{image: {image}, interval: 1h, insecure: true}}\n")
    state = tmp_path / "state"
    daemon = DaemonProcess(cfg, state).start()
    try:
        assert (state / "daemon.json").exists()
        queued = run_tagpilot("reconcile", "ImageRepository/default/app", "--state", state)
        assert queued.code == 0 and "queued by the daemon" in queued.stdout
        paused = run_tagpilot("suspend", "ImageRepository/app", "--state", state)
        assert "through the daemon" in paused.stdout
        assert daemon.view("ImageRepository", "default", "app")["suspended"] is True
        run_tagpilot("resume", "ImageRepository/app", "--state", state)
        assert daemon.view("ImageRepository", "default", "app")["suspended"] is False
    finally:
        daemon.stop()
    assert not (state / "daemon.json").exists()
