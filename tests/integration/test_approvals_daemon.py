"""Approvals through a running daemon's API and the CLI talking to it; state survives kill -9."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.daemon import DaemonProcess
from tests.integration.test_approvals_cli import NAME, deployed_tag, setup

KEY = ("ImageUpdateAutomation", "apps", NAME)


def test_approve_through_the_api_across_a_kill_9(registry: RegistryServer, repo_name: str,
                                                  git_remote_file: GitRemote, tmp_path: Path) -> None:
    image, cfg, state = setup(registry, repo_name, git_remote_file, tmp_path, ["1.0.0", "1.1.0"],
                              {"tagpilot.dev/approvals": "2", "tagpilot.dev/approvers": "alice,bob"})
    before = git_remote_file.head("main")
    daemon = DaemonProcess(cfg, state).start()
    try:
        [request] = daemon.wait(lambda: daemon.get("/api/v1/approvals").json(), what="an approval request")
        rid = request["id"]
        assert request["images"] == [{"image": image, "from": "1.0.0", "to": "1.1.0"}]
        view = daemon.view(*KEY)
        ready = next(c for c in view["status"]["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "AwaitingApproval" and rid in ready["message"]

        # the API's write routes are guarded like the others: JSON only
        plain = daemon.post(f"/api/v1/approvals/{rid}/approve", content=b'{"by": "alice"}',
                            headers={"content-type": "text/plain"})
        assert plain.status_code == 415
        refused = daemon.post(f"/api/v1/approvals/{rid}/approve", json={"by": "mallory"})
        assert refused.status_code == 403 and "not an approver" in refused.json()["detail"]
        unknown = daemon.post("/api/v1/approvals/0123456789/approve", json={"by": "alice"})
        assert unknown.status_code == 404
        hostile = daemon.post(f"/api/v1/approvals/{rid}/approve", json={"by": "a" * 5000})
        assert hostile.status_code == 422
        first = daemon.post(f"/api/v1/approvals/{rid}/approve", json={"by": "alice", "comment": "ok"})
        assert first.status_code == 200 and first.json()["approvedBy"] == ["alice"]
    finally:
        daemon.stop(signal.SIGKILL)
    assert git_remote_file.head("main") == before

    daemon = DaemonProcess(cfg, state).start()
    try:
        found = daemon.get("/api/v1/approvals").json()
        assert [(r["id"], r["approvedBy"], r["state"]) for r in found] == [(rid, ["alice"], "pending")]
        # the CLI finds the daemon and goes through it; the daemon pushes at once
        result = run_tagpilot("approve", rid, "--by", "bob", "--state", state)
        assert result.code == 0, result.stderr
        assert "through" not in result.stderr
        daemon.wait(lambda: deployed_tag(git_remote_file, image) == "1.1.0", what="the approved push")
        assert "Approved by alice, bob" in git_remote_file.message()
        listed = run_tagpilot("approvals", "list", "--state", state, "-o", "json").json()
        assert listed[0]["state"] == "approved" and listed[0]["approvedBy"] == ["alice", "bob"]
        events = daemon.get("/api/v1/events", params={"kind": KEY[0], "name": NAME}).json()
        assert [e["data"].get("by") for e in events if e["reason"] == "Approved"] == ["alice", "bob"]
    finally:
        daemon.stop()
