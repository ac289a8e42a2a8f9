"""`update_tree(known=...)`: a screened workspace hands the updater its files instead of a walk.

The result must be what the walk over the same tree gives: the same files in the same order, the
same skipped symbolic links, the same counts, for every fixture case and for trees with links,
nested directories, `.git` directories and names that do not qualify.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from tagpilot.errors import UpdateError
from tagpilot.update import ImageRef, update_tree
from tagpilot.update.tree import KnownTree, _candidates, _known_candidates

CASES = Path(__file__).parent / "cases"
MARKED = 'image: ghcr.io/a/app:1.0.0 # {"$imagepolicy": "ns:app"}\n'
POLICIES = {("ns", "app"): ImageRef(name="ghcr.io/a/app", tag="2.0.0")}


def _known(root: Path) -> KnownTree:
    """Every file, link and directory under `root` as a screened workspace knows them (`.git` at the top aside)."""
    files: dict[str, bytes] = {}
    links: set[str] = set()
    dirs: set[str] = set()
    for folder, subdirs, names in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        if rel_folder == ".":
            subdirs[:] = [d for d in subdirs if d != ".git"]
        for name in subdirs + names:
            full = os.path.join(folder, name)
            rel = name if rel_folder == "." else f"{rel_folder}/{name}"
            if os.path.islink(full):
                links.add(rel)
            elif os.path.isdir(full):
                dirs.add(rel)
            elif os.path.isfile(full):
                files[rel] = Path(full).read_bytes()
    return KnownTree(files, frozenset(links), frozenset(dirs))


def _messy_tree(root: Path) -> None:
    for rel in ("a.yaml", "b/c.yml", "b/a.yaml", "b/d/e.yaml", "b/Kustomization", "ab/x.yaml", "a-b/y.yaml",
                "z/z/z/z.yaml", "sub/.git/hidden.yaml", "README.md", "b/notes.txt"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(MARKED)
    (root / "plain.yaml").write_text("no marker here\n")
    (root / "link.yaml").symlink_to("a.yaml")
    (root / "b" / "dirlink").symlink_to("d")
    (root / "alias").symlink_to("b")


@pytest.mark.parametrize("path", [".", "b", "alias", "b/d", "z"])
def test_known_candidates_are_the_walks(tmp_path: Path, path: str) -> None:
    root = tmp_path / "repo"
    _messy_tree(root)
    base = str(root.resolve())
    top = str((root / path).resolve())
    assert _known_candidates(base, top, _known(root)) == list(_candidates(top))


@pytest.mark.parametrize("path", [".", "b", "alias"])
def test_update_tree_with_known_files_matches_the_walk(tmp_path: Path, path: str) -> None:
    walked_root, known_root = tmp_path / "walked", tmp_path / "known"
    _messy_tree(walked_root)
    _messy_tree(known_root)
    known = _known(known_root)
    walked = update_tree(walked_root, path, POLICIES, workspace=True)
    given = update_tree(known_root, path, POLICIES, workspace=True, known=known)
    assert given == walked and given.scanned == walked.scanned
    assert [f.path for f in given.files] == [f.path for f in walked.files]
    assert _known(known_root).files == _known(walked_root).files  # the same files written


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_fixture_cases_with_known_files(case: str, tmp_path: Path) -> None:
    spec = yaml.safe_load((CASES / case / "case.yaml").read_text())
    policies = {tuple(k.split(":")): ImageRef(name=v["name"], tag=v.get("tag"), digest=v.get("digest"))
                for k, v in spec["policies"].items()}
    walked_root, known_root = tmp_path / "walked", tmp_path / "known"
    shutil.copytree(CASES / case / "input", walked_root, symlinks=True)
    shutil.copytree(CASES / case / "input", known_root, symlinks=True)
    path = spec.get("path", ".")
    walked = update_tree(walked_root, path, policies, dry_run=True)  # type: ignore[arg-type]
    given = update_tree(known_root, path, policies, dry_run=True, known=_known(known_root))  # type: ignore[arg-type]
    assert given == walked
    assert [(f.old, f.new) for f in given.files] == [(f.old, f.new) for f in walked.files]


def test_known_files_are_not_read_from_disk(tmp_path: Path) -> None:
    """The bytes come from `known`: a file changed on disk afterwards is not what is rewritten."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.yaml").write_text(MARKED)
    known = _known(root)
    (root / "app.yaml").write_text("changed on disk\n")
    result = update_tree(root, ".", POLICIES, dry_run=True, known=known)
    assert [f.old for f in result.files] == [MARKED]


def test_an_update_path_of_the_commit_need_not_be_on_disk(tmp_path: Path) -> None:
    """A screened workspace makes only the directories holding a candidate or link: `path` naming
    another directory of the commit is found in `known` (no change), one of neither is an error."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.yaml").write_text(MARKED)
    known = KnownTree({"app.yaml": MARKED.encode()}, frozenset(), frozenset({"empty", "empty/deeper"}))
    result = update_tree(root, "empty/deeper", POLICIES, dry_run=True, known=known)
    assert result.files == () and result.scanned == 0
    with pytest.raises(UpdateError, match="neither a directory nor a file"):
        update_tree(root, "missing", POLICIES, dry_run=True, known=known)
    single = update_tree(root, "app.yaml", POLICIES, dry_run=True, known=known)
    assert [f.path for f in single.files] == ["app.yaml"]
