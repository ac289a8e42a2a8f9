"""One real `tagpilot run` for the dashboard tests: the real registry, a real git remote (file://),
an auth Secret with an admin and a viewer token, and an automation whose commit message is hostile
markup (every page must show it as text). Started once per module that uses `dash`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import in_ci, require_git, require_registry
from tests.fixtures.config import flux_automation_config, seed
from tests.fixtures.git import GitRemote, git_env
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.daemon import DaemonProcess

ADMIN = "admin-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
HOSTILE = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
SECRET = f"""---
apiVersion: v1
kind: Secret
metadata: {{name: dashboard-tokens, namespace: tagpilot}}
stringData:
  alice: "admin:{ADMIN}"
  victor: "viewer:{VIEWER}"
"""
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"]


@dataclass
class Dashboard:
    daemon: DaemonProcess
    remote: GitRemote
    registry: RegistryServer
    repo: str
    image: str

    def get(self, path: str, token: str | None = ADMIN, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.daemon.get(path, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def dash(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[Dashboard]:
    require_registry()
    require_git()
    root = tmp_path_factory.mktemp("dashboard")
    env = git_env(root / "git-home")
    remote = GitRemote.create(root / "remotes", "fleet.git", env=env)
    remote.seed({"README.md": "fleet\n"}, message="initial commit")
    module = request.module.__name__.rpartition(".")[2].replace("_", "-")
    repo = f"t/dashboard-{module}-{os.getpid()}"  # the registry is shared by the session
    image = f"{registry.host}/{repo}"
    push_tags(registry, repo, ["1.0.0", "1.1.0", "2.0.0-rc.1", "latest"])
    seed(remote, image)
    template = "'" + HOSTILE.replace("'", "''") + " {{ .AutomationObject }}'"
    config = root / "config.yaml"
    config.write_text(flux_automation_config(image, remote.url, scan_interval="1h", template=template) + SECRET)
    daemon = DaemonProcess(config, root / "state", args=["--auth-secret", "tagpilot/dashboard-tokens"]).start()
    try:
        daemon.wait(lambda: "1.1.0" in remote.read_file("deploy/app.yaml", "main"), what="first push")
        yield Dashboard(daemon, remote, registry, repo, image)
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, started once per module."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the Python package playwright is not installed (pip install playwright)"
    if missing is None and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    if missing:
        if in_ci():
            pytest.fail(f"CI=true and the browser tests cannot run: {missing}", pytrace=False)
        pytest.skip(missing)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    """Where screenshots go: .tmp/dashboard-shots in the repository (looked at by people, not asserted)."""
    out = Path(__file__).resolve().parents[2] / ".tmp" / "dashboard-shots"
    out.mkdir(parents=True, exist_ok=True)
    return out
