"""The scan memo (`update/scanmemo.py`): what a parse found, kept by text digest from one run to the next.

Every fixture tree of `cases/` is rewritten with and without a memo (one that went through its JSON
file, as between two runs): the results must be equal, and with the memo only the texts never seen
before (the rewritten ones, checked by reading them back) are parsed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tagpilot.errors import UpdateError
from tagpilot.update import ImageRef, setters, update_tree
from tagpilot.update.base import SettersUpdater
from tagpilot.update.scanmemo import FILE_NAME, ScanMemo

CASES = Path(__file__).parent / "cases"


def _policies(spec: dict) -> dict[tuple[str, str], ImageRef]:
    return {tuple(key.split(":")): ImageRef(name=ref["name"], tag=ref.get("tag"), digest=ref.get("digest"))
            for key, ref in spec.items()}  # type: ignore[misc]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts `setters.scan` parses, in order."""
    seen: list[str] = []
    original = setters.scan

    def counting(text: str, *, filename: str = "<text>"):  # type: ignore[no-untyped-def]
        seen.append(text)
        return original(text, filename=filename)

    monkeypatch.setattr(setters, "scan", counting)
    return seen


def _copy(case: str, where: Path) -> Path:
    shutil.copytree(CASES / case / "input", where)
    return where


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_memo_gives_the_same_result_and_parses_only_new_texts(case: str, tmp_path: Path, parses: list[str]) -> None:
    spec = yaml.safe_load((CASES / case / "case.yaml").read_text())
    policies = _policies(spec["policies"])
    path = spec.get("path", ".")
    plain = update_tree(_copy(case, tmp_path / "plain"), path, policies, dry_run=True)
    parsed_without = len(parses)

    memo_file = tmp_path / "memo.json"
    first = ScanMemo.load(memo_file)  # no file yet: empty
    assert len(first) == 0
    update_tree(_copy(case, tmp_path / "first"), path, policies, dry_run=True, memo=first)
    first.save(memo_file)
    parses.clear()

    second = ScanMemo.load(memo_file)
    again = update_tree(_copy(case, tmp_path / "second"), path, policies, dry_run=True, memo=second)
    assert again == plain  # files (path, changes), skipped, notices, unmatched, named: all equal
    assert [(f.old, f.new) for f in again.files] == [(f.old, f.new) for f in plain.files]
    # only the rewritten texts were parsed (to check them), and the ones that do not parse (reported, not
    # remembered); every other input came from the memo
    broken = [(tmp_path / "plain" / s.path).read_text(encoding="utf-8", errors="replace") for s in plain.skipped]
    assert sorted(parses) == sorted([f.new for f in plain.files] + [t for t in broken if setters.MARKER_TOKEN in t])
    assert len(parses) < parsed_without or not plain.files


def test_the_next_run_reads_what_this_run_wrote_from_the_memo(tmp_path: Path, parses: list[str]) -> None:
    """As in a workspace: a run rewrites a file; the next run, with the next tag, reads that file from the memo."""
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    text = 'image: ghcr.io/a/app:1.0.0 # {"$imagepolicy": "ns:app"}\nother: x\n'
    (work / "app.yaml").write_text(text)
    updater = SettersUpdater()
    updater.apply(work, ".", {("ns", "app"): ImageRef(name="ghcr.io/a/app", tag="1.1.0")})
    assert (work / ".git" / FILE_NAME).is_file()
    assert parses == [text, (work / "app.yaml").read_text()]  # the input, then the result read back
    parses.clear()
    result = updater.apply(work, ".", {("ns", "app"): ImageRef(name="ghcr.io/a/app", tag="1.2.0")})
    assert (work / "app.yaml").read_text() == text.replace("1.0.0", "1.2.0")
    assert [c.old_value for c in result.changes] == ["ghcr.io/a/app:1.1.0"]
    assert parses == [(work / "app.yaml").read_text()]  # only the read-back of the new text


def test_memo_of_other_code_or_damaged_is_not_used(tmp_path: Path, parses: list[str]) -> None:
    text = 'image: ghcr.io/a/app:1.0.0 # {"$imagepolicy": "ns:app"}\n'
    memo = ScanMemo()
    setters.rewrite(text, {}, memo=memo)
    memo_file = tmp_path / "memo.json"
    memo.save(memo_file)
    saved = json.loads(memo_file.read_text())
    assert ScanMemo.load(memo_file).get(text) is not None

    memo_file.write_text(json.dumps({**saved, "code": "other"}))
    assert ScanMemo.load(memo_file).get(text) is None
    memo_file.write_text("{not json")
    assert ScanMemo.load(memo_file).get(text) is None
    # an entry of the wrong shape: the text is parsed instead, and the result is right
    (digest,) = saved["texts"]
    memo_file.write_text(json.dumps({**saved, "texts": {digest: [["site", 1]]}}))
    broken = ScanMemo.load(memo_file)
    assert broken.get(text) is None
    parses.clear()
    result = setters.rewrite(text, {("ns", "app"): ImageRef(name="ghcr.io/a/app", tag="2.0.0")}, memo=broken)
    assert result.text == 'image: ghcr.io/a/app:2.0.0 # {"$imagepolicy": "ns:app"}\n'
    assert len(parses) == 2


def test_a_wrong_memo_entry_cannot_produce_a_wrong_file(tmp_path: Path) -> None:
    """The read-back is never taken from the memo: an entry lying about where a value is fails the check."""
    text = 'a: b\nimage: ghcr.io/a/app:1.0.0 # {"$imagepolicy": "ns:app"}\n'
    memo = ScanMemo()
    setters.rewrite(text, {}, memo=memo)
    (site,) = memo.get(text)  # type: ignore[misc]
    lying = ScanMemo()
    lying.put(text, (setters.Site(0, 1, "", "a", site.tag, None, False, site.marker, None),))
    with pytest.raises(UpdateError, match="internal error"):
        setters.rewrite(text, {("ns", "app"): ImageRef(name="ghcr.io/a/app", tag="2.0.0")}, memo=lying)
