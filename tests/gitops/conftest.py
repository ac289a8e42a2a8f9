"""Helpers for the gitops tests: a GitClient on a per-test state directory, and an `apply` callback
that bumps an image tag in `deploy.yaml` the way the setters rewriter would."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagpilot.gitops import GitClient

DEPLOY = "apiVersion: apps/v1\nkind: Deployment\nspec:\n  image: app:1.0 # marker\n"


@pytest.fixture
def client(tmp_path: Path, git_environ: dict[str, str]) -> GitClient:
    # HOME from the fixture environment: nothing of the developer's ~/.ssh or ~/.gnupg is used
    return GitClient(tmp_path / "state", env={"HOME": git_environ["HOME"]}, backoff=0.01, max_backoff=0.05)


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
