"""The scan memo (`update/scanmemo.py`): what a parse found, kept by text digest from one run to the next.

Every fixture tree of `cases/` is rewritten with and without a memo (one that went through its JSON
file, as between two runs): the results must be equal, with the memo no text it holds is parsed again,
and what a rewrite remembers of its output without parsing it (`setters._derive`) is exactly what
parsing the output finds. A memo entry that does not fit its text is not used.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
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
    # a text is parsed again only when it does not parse (reported, not remembered) or its entry cannot
    # be checked without parsing (a marker that is not a value's, a value spanning lines, an explicit tag);
    # a rewritten text is parsed only when its edits cannot be derived (`test_outputs_are_derived_not_parsed`)
    assert len(parses) <= parsed_without


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_what_a_rewrite_remembers_of_its_output_is_what_parsing_it_finds(case: str, tmp_path: Path) -> None:
    spec = yaml.safe_load((CASES / case / "case.yaml").read_text())
    memo = ScanMemo()
    result = update_tree(_copy(case, tmp_path / "tree"), spec.get("path", "."), _policies(spec["policies"]),
                         dry_run=True, memo=memo)
    for file in result.files:
        assert memo.get(file.new) == tuple(setters.scan(file.new)), file.path


def test_outputs_are_derived_not_parsed(tmp_path: Path, parses: list[str]) -> None:
    """Block and flow values, quoted and plain, an empty value, two documents: the output is not parsed;
    the same text after an edit of the object's name, or of a value spanning lines, is."""
    text = ('---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n'
            '  image: a/app:1.0 # {"$imagepolicy": "ns:app"}\n'
            '  images: [ \'a/app:1.0\' # {"$imagepolicy": "ns:app"}\n  , x ]\n  tag: # {"$imagepolicy": "ns:app:tag"}\n'
            '---\nquoted: "1.0" # {"$imagepolicy": "ns:app:tag"}\n')
    policies = {("ns", "app"): ImageRef(name="a/app", tag="2.0")}
    memo = ScanMemo()
    result = setters.rewrite(text, policies, memo=memo)
    assert len(result.changes) == 4
    assert parses == [text]
    assert memo.get(result.text) == tuple(setters.scan(result.text))

    for special in (text.replace("name: web", 'name: a/app:1.0 # {"$imagepolicy": "ns:app"}'),
                    text.replace("image: a/app:1.0 #", "image: a/app:1.0\n    more #")):
        parses.clear()
        out = setters.rewrite(special, policies, memo=ScanMemo())
        assert parses == [special, out.text]


def test_the_next_run_reads_what_this_run_wrote_from_the_memo(tmp_path: Path, parses: list[str]) -> None:
    """As in a workspace: a run rewrites a file; the next run, with the next tag, reads that file from the memo."""
    work = tmp_path / "work"
    (work / ".git").mkdir(parents=True)
    text = 'image: ghcr.io/a/app:1.0.0 # {"$imagepolicy": "ns:app"}\nother: x\n'
    (work / "app.yaml").write_text(text)
    updater = SettersUpdater()
    updater.apply(work, ".", {("ns", "app"): ImageRef(name="ghcr.io/a/app", tag="1.1.0")})
    assert (work / ".git" / FILE_NAME).is_file()
    assert parses == [text]  # the input; what the result holds is derived from it
    parses.clear()
    result = updater.apply(work, ".", {("ns", "app"): ImageRef(name="ghcr.io/a/app", tag="1.2.0")})
    assert (work / "app.yaml").read_text() == text.replace("1.0.0", "1.2.0")
    assert [c.old_value for c in result.changes] == ["ghcr.io/a/app:1.1.0"]
    assert parses == []  # this run's input is the last run's output: in the memo


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
    assert parses == [text]


def test_a_wrong_memo_entry_cannot_produce_a_wrong_file() -> None:
    """An entry that does not fit its text (a site at the wrong place, a wrong value or marker, a marker
    left out) is not used: the text is parsed, and the file comes out right."""
    text = 'a: b\nimage: ghcr.io/a/app:1.0.0 # {"$imagepolicy": "ns:app"}\nother: x # {"$imagepolicy": "ns:app:tag"}\n'
    policies = {("ns", "app"): ImageRef(name="ghcr.io/a/app", tag="2.0.0")}
    right = setters.rewrite(text, policies).text
    assert right == text.replace("1.0.0", "2.0.0").replace("other: x", "other: 2.0.0")
    memo = ScanMemo()
    setters.rewrite(text, {}, memo=memo)
    image, other = memo.get(text)  # type: ignore[misc]
    assert isinstance(image, setters.Site) and isinstance(other, setters.Site)
    lies = [
        (setters.Site(0, 1, "", "a", image.tag, None, False, image.marker, None), other),  # not before a comment
        (replace(image, start=image.start + 1), other),  # a span that is not the value
        (replace(image, value="ghcr.io/a/app:0.9"), other),  # a value the text does not hold
        (replace(image, marker=other.marker), other),  # another marker
        (replace(image, end=len(text) + 5), other),  # out of the text
        (image,),  # a marker left out
        ((2, image.marker, "block scalar"), other),  # a line number in place of a site
    ]
    for lie in lies:
        lying = ScanMemo()
        lying.put(text, lie)  # type: ignore[arg-type]
        assert setters.rewrite(text, policies, memo=lying).text == right, lie


TAG = '# {"$imagepolicy": "ns:app:tag"}'
FULL = '# {"$imagepolicy": "ns:app"}'
NOT_DERIVED = [  # (text, new image): where `_derive` cannot vouch for the edit, the output is parsed
    ("[\nold " + TAG + "\n]\n", ImageRef(name="x", tag="\ufeffabc")),  # a value at column 0: a BOM there is skipped
    ("[\nold " + TAG + "\n]\n", ImageRef(name="x", tag="---")),  # ... and --- ends the document
    ("%TAG !! tag:example.com,2000:\n---\nk: !!str old " + TAG + "\n", ImageRef(name="x", tag="new")),
    ('k: ! "1.0" ' + TAG + "\n", ImageRef(name="x", tag="1.10")),  # libyaml: `! "1.10"` is a float
    ("x: &a old " + FULL + "\nm:\n  *a : 1\n  new: 2\n", ImageRef(name="new")),  # an alias key now duplicated
    ("x: &a old " + FULL + "\n*a : kind\n", ImageRef(name="kind")),  # ... or naming the document's kind
    ("kind: " + FULL + "\n", ImageRef(name="Deployment")),  # the ObjectId was None: all its fields empty
    ("metadata: {name: " + FULL + "\n  }\n", ImageRef(name="web")),
]


@pytest.mark.parametrize(("text", "image"), NOT_DERIVED)
def test_what_cannot_be_derived_is_parsed(text: str, image: ImageRef, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cases a review found where the output's scan would be derived wrong: the result is what a full
    parse of the output gives (the same text, or the same error), and the memo holds a parse of it."""
    policies = {("ns", "app"): image}

    def outcome() -> tuple[str, ScanMemo]:
        memo = ScanMemo()
        try:
            return setters.rewrite(text, policies, memo=memo).text, memo
        except UpdateError as e:
            return f"error: {e}", memo

    derived, memo = outcome()
    monkeypatch.setattr(setters, "_derive", lambda *a, **k: None)  # always parse the output
    parsed, _ = outcome()
    assert derived == parsed
    if not derived.startswith("error: "):
        assert memo.get(derived) == tuple(setters.scan(derived))
