"""One rule for the state directory: `--state`, else `$TAGPILOT_STATE`, else `./.tagpilot`."""

from __future__ import annotations

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
