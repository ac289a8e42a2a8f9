"""Fixture trees: `cases/<name>/input` is rewritten and compared byte for byte with `expected`.

`expected/` holds only the files that change; every other input file must come out identical.
`case.yaml` gives the update path, the policies (``ns:name: {name, tag, digest}``) and the files
expected to be reported as skipped. The expected files are written by hand, not generated.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tagpilot.update import ImageRef, update_tree

CASES = Path(__file__).parent / "cases"
IGNORED_NAMES = {".keep", ".gitattributes"}


def _files(top: Path) -> dict[str, bytes]:
    return {
        p.relative_to(top).as_posix(): p.read_bytes()
        for p in sorted(top.rglob("*"))
        if p.is_file() and p.name not in IGNORED_NAMES
    }


def _policies(spec: dict) -> dict[tuple[str, str], ImageRef]:
    out = {}
    for key, ref in spec.items():
        ns, name = key.split(":")
        out[(ns, name)] = ImageRef(name=ref["name"], tag=ref.get("tag"), digest=ref.get("digest"))
    return out


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_case(case: str, tmp_path: Path) -> None:
    src = CASES / case
    spec = yaml.safe_load((src / "case.yaml").read_text())
    work = tmp_path / "repo"
    shutil.copytree(src / "input", work)
    inputs = _files(src / "input")
    expected_changed = _files(src / "expected")
    for rel, data in expected_changed.items():
        assert inputs.get(rel) != data, f"{case}: expected/{rel} is identical to its input"

    result = update_tree(work, spec.get("path", "."), _policies(spec["policies"]))

    got = _files(work)
    assert sorted(got) == sorted(inputs), "files were added or removed"
    for rel, data in inputs.items():
        want = expected_changed.get(rel, data)
        assert got[rel] == want, f"{case}: {rel} differs from the expected bytes"
    assert sorted(f.path for f in result.files) == sorted(expected_changed)
    assert sorted(s.path for s in result.skipped) == sorted(spec.get("skipped", []))

    # A second run finds nothing left to do (the rewrite is idempotent).
    again = update_tree(work, spec.get("path", "."), _policies(spec["policies"]))
    assert again.files == ()
    assert _files(work) == got


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_case_dry_run_writes_nothing(case: str, tmp_path: Path) -> None:
    src = CASES / case
    spec = yaml.safe_load((src / "case.yaml").read_text())
    work = tmp_path / "repo"
    shutil.copytree(src / "input", work)
    result = update_tree(work, spec.get("path", "."), _policies(spec["policies"]), dry_run=True)
    assert _files(work) == _files(src / "input")
    assert sorted(f.path for f in result.files) == sorted(_files(src / "expected"))
    assert all(f.diff.startswith(f"--- a/{f.path}\n+++ b/{f.path}\n") for f in result.files)
