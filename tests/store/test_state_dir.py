"""One rule for the state directory: `--state`, else `$TAGPILOT_STATE`, else `./.tagpilot`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagpilot.cli.common import open_store
from tagpilot.engine.daemon import state_dir_from
from tagpilot.store.db import DB_FILE, Store, state_dir


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        (Path("/given"), "/from-env", Path("/given")),
        ("/given", "/from-env", Path("/given")),
        (None, "/from-env", Path("/from-env")),
        ("", "/from-env", Path("/from-env")),
        (None, None, Path(".tagpilot")),
        (None, "", Path(".tagpilot")),  # exported but empty: not the current directory
    ],
)
def test_state_dir_precedence(monkeypatch: pytest.MonkeyPatch, value: object, env: str | None,
                              expected: Path) -> None:
    if env is None:
        monkeypatch.delenv("TAGPILOT_STATE", raising=False)
    else:
        monkeypatch.setenv("TAGPILOT_STATE", env)
    assert state_dir(value) == expected  # type: ignore[arg-type]
    assert state_dir_from(value) == expected  # type: ignore[arg-type]


def test_every_opener_uses_the_same_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TAGPILOT_STATE", str(tmp_path / "env"))
    with Store.open() as store:
        assert store.path == tmp_path / "env" / DB_FILE
    with open_store(None) as store:
        assert store.path == tmp_path / "env" / DB_FILE
    with open_store(tmp_path / "flag") as store:
        assert store.path == tmp_path / "flag" / DB_FILE


# -- permissions (issue 9, item 9): the directory 0700, the files in it 0600 -------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o000])
def test_new_state_directory_and_database_are_private(tmp_path: Path, mask: int,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "nested" / ".tagpilot"
    with umask(mask), Store.open(state) as store:
        store.add_event("ImageRepository", "default", "app", "Normal", "Scanned", "ok")
        # WAL mode: the write-ahead log and the shared-memory index exist while the database is open
        assert (state / f"{DB_FILE}-wal").exists() and (state / f"{DB_FILE}-shm").exists()
        files = {p.name: mode(p) for p in state.iterdir()}
    assert mode(state) == 0o700
    assert files == {DB_FILE: 0o600, f"{DB_FILE}-wal": 0o600, f"{DB_FILE}-shm": 0o600}
    assert "tightened" not in caplog.text  # nothing to warn about on a fresh directory


def test_loose_existing_state_directory_is_tightened_with_a_warning(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / ".tagpilot"
    with umask(0o022):
        with Store.open(state):
            pass
        state.chmod(0o755)
        for path in state.iterdir():
            path.chmod(0o644)
        (state / "daemon.json").write_text("{}")
        caplog.set_level(logging.WARNING, logger="tagpilot.store")
        with Store.open(state):
            pass
    assert mode(state) == 0o700 and mode(state / DB_FILE) == 0o600
    assert f"state directory {state} was accessible by other users (mode 0755): tightened to 0700" in caplog.text
    assert f"state file {state / DB_FILE} was readable by other users (mode 0644): tightened to 0600" in caplog.text


def test_daemon_json_is_written_0600(tmp_path: Path) -> None:
    from tagpilot.engine.daemon import Daemon

    state = tmp_path / ".tagpilot"
    with umask(0o000):
        with Store.open(state):
            pass
        daemon = Daemon([], state)
        daemon.announce("http://127.0.0.1:9440")
        daemon.announce("http://127.0.0.1:9441")  # replaced atomically, still private
    assert mode(state / "daemon.json") == 0o600
    assert json.loads((state / "daemon.json").read_text())["url"] == "http://127.0.0.1:9441"
    assert sorted(p.name for p in state.iterdir() if p.name.endswith(".tmp")) == []


def test_git_client_creating_the_state_directory_makes_it_private(tmp_path: Path) -> None:
    from tagpilot.gitops import GitClient

    state = tmp_path / ".tagpilot"
    with umask(0o022):
        workspaces = GitClient(state).workspaces_dir
        workspaces.mkdir(parents=True)
    assert mode(state) == 0o700
