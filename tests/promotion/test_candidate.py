"""`promotion/candidate.py` (markers read back from files) and `promotion/gates.py` (soak): pure, on tmp files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagpilot.errors import UpdateError
from tagpilot.promotion import read_candidate, soak_gate


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def test_full_reference_marker_gives_name_tag_digest(tmp_path: Path) -> None:
    digest = "sha256:" + "a" * 64
    write(tmp_path, "env/app.yaml", f'image: reg.example/demo:1.2.3@{digest} # {{"$imagepolicy": "ns:demo"}}\n')
    found = read_candidate(tmp_path, "env", "ns", "demo")
    assert found is not None
    assert (found.ref.name, found.ref.tag, found.ref.digest) == ("reg.example/demo", "1.2.3", digest)
    assert found.origins["tag"] == "env/app.yaml:1"


def test_split_markers_other_policies_and_no_markers(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", 'x:\n  repository: r/demo # {"$imagepolicy": "ns:demo:name"}\n'
                              '  tag: "2.0.0" # {"$imagepolicy": "ns:demo:tag"}\n'
                              'y: other:9 # {"$imagepolicy": "ns:other"}\n')
    found = read_candidate(tmp_path, ".", "ns", "demo")
    assert found is not None and (found.ref.name, found.ref.tag, found.ref.digest) == ("r/demo", "2.0.0", None)
    assert read_candidate(tmp_path, ".", "ns", "missing") is None
    assert read_candidate(tmp_path, ".", "other-ns", "demo") is None


def test_disagreeing_markers_name_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", 'tag: 1.0.0 # {"$imagepolicy": "ns:demo:tag"}\n')
    write(tmp_path, "b/c.yaml", 'x: 1\ntag: 1.1.0 # {"$imagepolicy": "ns:demo:tag"}\n')
    with pytest.raises(UpdateError, match=r"a.yaml:1 has '1.0.0', b/c.yaml:2 has '1.1.0'"):
        read_candidate(tmp_path, ".", "ns", "demo")


def test_path_outside_the_repository_is_refused(tmp_path: Path) -> None:
    from tagpilot.errors import ConfigError

    with pytest.raises(ConfigError):
        read_candidate(tmp_path, "../elsewhere", "ns", "demo")


def test_soak_gate() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    closed = soak_gate(now - timedelta(minutes=12), now, 1800)
    assert not closed.open and closed.message == "soaking: 12m0s of 30m0s"
    assert soak_gate(now - timedelta(minutes=31), now, 1800).open
