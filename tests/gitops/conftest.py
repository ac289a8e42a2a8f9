"""Helpers for the gitops tests: a GitClient on a per-test state directory, and an `apply` callback
that bumps an image tag in `deploy.yaml` the way the setters rewriter would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagpilot.gitops import CheckoutRef, GitClient
from tagpilot.gitops.auth import GitAuth
from tagpilot.gitops.workspace import Workspace

DEPLOY = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  image: app:1.0 # marker\n"


class ScreenedClient(GitClient):
    """A GitClient whose workspaces are screened on `# marker` (gitops/screened.py): only files that
    contain it are written, and commits are built from objects. Every gitops test runs both ways."""

    async def prepare(self, url: str, ref: CheckoutRef, auth: GitAuth | None, *, timeout: float,
                      screen: str | None = None) -> Workspace:
        return await super().prepare(url, ref, auth, timeout=timeout, screen=screen or "# marker")


@pytest.fixture(params=["checkout", "screened"])
def client(request: pytest.FixtureRequest, tmp_path: Path, git_environ: dict[str, str]) -> GitClient:
    # HOME from the fixture environment: nothing of the developer's ~/.ssh or ~/.gnupg is used
    if request.param == "screened" and request.module.__name__.endswith("test_transports"):
        pytest.skip("transports check the full checkout's files; a screened one holds marked files only")
    cls = ScreenedClient if request.param == "screened" else GitClient
    return cls(tmp_path / "state", env={"HOME": git_environ["HOME"]}, backoff=0.01, max_backoff=0.05)


class Bump:
    """Rewrite `app:<old>` to `app:<new>` in deploy.yaml; records how often it ran. Returns the list of
    files it changed (the "change set" the message callback sees)."""

    def __init__(self, new: str = "2.0", file: str = "deploy.yaml") -> None:
        self.new, self.file, self.calls = new, file, 0

    def __call__(self, root: Path) -> list[str]:
        self.calls += 1
        path = root / self.file
        text = path.read_text()
        lines = [
            line.split("app:")[0] + f"app:{self.new} # marker" if "# marker" in line else line
            for line in text.splitlines()
        ]
        new_text = "\n".join(lines) + "\n"
        if new_text == text:
            return []
        path.write_text(new_text)
        return [self.file]


def message(files: list[str]) -> str:
    return "Update " + ", ".join(files)
