"""The manual path in the dashboard, in Debian's Chromium: a gated automation waits; an approver
clicks Approve and the exact change is pushed, recorded under the token's name (not a name the
client claims); a pin shows in the Pins card and its Unpin button releases it. One real `tagpilot
run` with the real registry and a real git remote (file://)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_git, require_registry
from tests.dashboard.conftest import ADMIN, VIEWER, Dashboard
from tests.dashboard.test_browser import login
from tests.fixtures.config import flux_automation_config, seed
from tests.fixtures.git import GitRemote, git_env
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.daemon import DaemonProcess

APPROVER = "approver-token-0123456789abcdef"
TOKENS = f"""---
apiVersion: v1
kind: Secret
metadata: {{name: dashboard-tokens, namespace: tagpilot}}
stringData:
  alice: "admin:{ADMIN}"
  victor: "viewer:{VIEWER}"
  bob: "approver:{APPROVER}"
"""


@pytest.fixture(scope="module")
def gated(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    require_registry()
    require_git()
    root = tmp_path_factory.mktemp("dashboard-gated")
    remote = GitRemote.create(root / "remotes", "fleet.git", env=git_env(root / "git-home"))
    remote.seed({"README.md": "fleet\n"}, message="initial commit")
    repo = f"t/dashboard-gated-{os.getpid()}"
    image = f"{registry.host}/{repo}"
    push_tags(registry, repo, ["1.0.0", "1.1.0"])
    seed(remote, image)
    text = flux_automation_config(image, remote.url, scan_interval="1h")
    plain = "kind: ImageUpdateAutomation\nmetadata: {name: fleet, namespace: apps}\n"
    assert plain in text
    text = text.replace(plain, "kind: ImageUpdateAutomation\nmetadata:\n  name: fleet\n  namespace: apps\n"
                               "  annotations: {tagpilot.dev/approvals: \"1\"}\n")
    config = root / "config.yaml"
    config.write_text(text + TOKENS)
    daemon = DaemonProcess(config, root / "state", args=["--auth-secret", "tagpilot/dashboard-tokens"]).start()
    try:
        yield Dashboard(daemon, remote, registry, repo, image)
    finally:
        daemon.stop()


def approvals(dash: Dashboard) -> list[dict[str, Any]]:
    return dash.get("/api/v1/approvals", token=VIEWER).json()


def test_approve_button_pushes_the_change_as_the_tokens_owner(browser: Any, gated: Dashboard, shots: Path) -> None:
    dash = gated
    [request] = dash.daemon.wait(lambda: approvals(dash) or None, what="an approval request")
    assert "1.1.0" not in dash.remote.read_file("deploy/app.yaml", "main")  # gated: nothing pushed
    viewer = login(browser, dash, VIEWER)
    assert viewer.get_by_role("button", name="Approve").count() == 0  # a viewer may not decide
    viewer.close()
    # an approver's token decides under its own name, whatever `by` the client claims
    claimed = dash.daemon.post(f"/api/v1/approvals/{request['id']}/reject", auth=False, json={"by": "alice"},
                               headers={"Authorization": f"Bearer {VIEWER}"})
    assert claimed.status_code == 403  # and a viewer cannot decide at all
    page = login(browser, dash, APPROVER)
    card = page.locator("section.card", has_text="Approvals")
    assert f"{dash.image} 1.0.0 → 1.1.0" in card.inner_text()
    page.screenshot(path=str(shots / "approvals.png"), full_page=True)
    card.get_by_role("button", name="Approve").click()
    page.get_by_text("Approve: done").wait_for(timeout=10_000)
    dash.daemon.wait(lambda: "1.1.0" in dash.remote.read_file("deploy/app.yaml", "main"), what="the approved push")
    [done] = approvals(dash)
    assert done["approvedBy"] == ["bob"] and done["state"] == "approved"
    page.close()


def test_pins_card_unpin_button_releases_the_pin(browser: Any, gated: Dashboard) -> None:
    dash = gated
    pinned = dash.daemon.post("/api/v1/objects/ImageUpdateAutomation/apps/fleet/pin", auth=False,
                              json={"policy": "apps:app", "tag": "1.0.0", "reason": "rollback", "by": "mallory"},
                              headers={"Authorization": f"Bearer {APPROVER}"})
    assert pinned.status_code == 200, pinned.text
    [pin] = dash.get("/api/v1/pins", token=VIEWER).json()
    assert (pin["object"], pin["policy"], pin["tag"], pin["by"]) == (
        "ImageUpdateAutomation/apps/fleet", "apps:app", "1.0.0", "bob")  # the token's name, not the claim
    assert dash.daemon.post(f"/api/v1/pins/{pin['id']}/unpin", auth=False, json={},
                            headers={"Authorization": f"Bearer {VIEWER}"}).status_code == 403
    assert dash.daemon.post("/api/v1/pins/bm90LWEtcGlu/unpin", auth=False, json={},
                            headers={"Authorization": f"Bearer {APPROVER}"}).status_code == 404
    page = login(browser, dash, APPROVER)
    card = page.locator("section.card", has_text="Pins")
    assert "rollback" in card.inner_text()
    card.get_by_role("button", name="Unpin").click()
    page.get_by_text("Unpin: done").wait_for(timeout=10_000)
    assert dash.get("/api/v1/pins", token=VIEWER).json() == []
    env = page.locator("section.card", has_text="Environments")
    assert "no environments" in env.inner_text()  # served, and this configuration has no Promotion
    page.close()
