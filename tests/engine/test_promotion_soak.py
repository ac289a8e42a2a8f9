"""engine/promotion_soak.py against a real git working copy: the commit that introduced a line (blame,
first parent), the last commit of a file, and None (never an error) for what git cannot answer."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from tagpilot.engine.promotion_soak import introduced_at
from tagpilot.gitops import GitClient


def _commit(repo: Path, env: dict[str, str], files: dict[str, str], when: int) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    stamp = {"GIT_COMMITTER_DATE": f"{when} +0000", "GIT_AUTHOR_DATE": f"{when} +0000"}
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-qm", f"at {when}"], cwd=repo, env={**env, **stamp}, check=True)


def test_line_file_and_unknown_origins(tmp_path: Path, git_environ: dict[str, str]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=git_environ, check=True)
    _commit(repo, git_environ, {"values.yaml": "tag: 1.0.0\nreplicas: 1\n"}, 1_700_000_000)
    _commit(repo, git_environ, {"values.yaml": "tag: 1.1.0\nreplicas: 1\n"}, 1_700_003_600)
    _commit(repo, git_environ, {"values.yaml": "tag: 1.1.0\nreplicas: 2\n"}, 1_700_007_200)
    client = GitClient(tmp_path / "state")

    def at(origin: str) -> datetime | None:
        return asyncio.run(introduced_at(client, repo, origin))

    assert at("values.yaml:1") == datetime.fromtimestamp(1_700_003_600, UTC)  # the tag line: the second commit
    assert at("values.yaml:2") == datetime.fromtimestamp(1_700_007_200, UTC)
    assert at("values.yaml") == datetime.fromtimestamp(1_700_007_200, UTC)  # file only: its last commit
    assert at("values.yaml:9") is None  # no such line: git fails, the first sighting counts
    assert at("missing.yaml:1") is None
    assert at("latestRef") is None and at("") is None
