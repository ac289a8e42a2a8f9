"""The file-walking edge: which files are read, safe paths, atomic writes that keep the mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tagpilot.errors import ConfigError
from tagpilot.update import ImageRef, SettersUpdater, UpdateError, safe_subpath, update_tree

M = '# {"$imagepolicy": "flux-system:app"}'
POLICIES = {("flux-system", "app"): ImageRef("ghcr.io/org/app", "1.1.0")}
OLD = f"image: ghcr.io/org/app:1.0.0 {M}\n"
NEW = f"image: ghcr.io/org/app:1.1.0 {M}\n"


@pytest.mark.parametrize("path", ["", ".", "./", "apps", "apps/prod", "./apps//prod/", "apps/./prod"])
def test_safe_subpath_accepts_paths_inside(tmp_path: Path, path: str) -> None:
    (tmp_path / "apps" / "prod").mkdir(parents=True)
    got = safe_subpath(tmp_path, path)
    assert got == (tmp_path / path).resolve()


@pytest.mark.parametrize("path", ["..", "../x", "apps/../../x", "apps/..", "/etc", "/", "..\\x"])
def test_safe_subpath_rejects_escapes(tmp_path: Path, path: str) -> None:
    (tmp_path / "apps").mkdir()
    with pytest.raises(ConfigError) as info:
        safe_subpath(tmp_path, path)
    assert repr(path) in str(info.value)
    assert "spec.update.path" in str(info.value)


def test_safe_subpath_rejects_symlink_escape(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    (repo / "link").symlink_to(outside)
    (repo / "inner").symlink_to(repo / ".")
    with pytest.raises(ConfigError, match="leaves the repository"):
        safe_subpath(repo, "link")
    assert safe_subpath(repo, "inner") == repo.resolve()


def test_update_path_may_name_one_file(tmp_path: Path) -> None:
    # the Flux tutorial points update.path at a Helm values file: ./helm/my-values.yaml
    (tmp_path / "helm").mkdir()
    (tmp_path / "helm" / "my-values.yaml").write_text(OLD)
    (tmp_path / "helm" / "other.yaml").write_text(OLD)
    result = update_tree(tmp_path, "./helm/my-values.yaml", POLICIES)
    assert [f.path for f in result.files] == ["helm/my-values.yaml"]
    assert [c.file for c in result.changes] == ["my-values.yaml"] * len(result.changes)
    assert (tmp_path / "helm" / "other.yaml").read_text() == OLD  # only the named file
    assert (tmp_path / "helm" / "my-values.yaml").read_text() != OLD


def test_missing_update_path(tmp_path: Path) -> None:
    with pytest.raises(UpdateError, match="neither a directory nor a file"):
        update_tree(tmp_path, "missing", POLICIES)


def test_git_directory_and_symlinks_are_not_followed(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    (repo / ".git").mkdir(parents=True)
    outside.mkdir()
    (repo / ".git" / "x.yaml").write_text(OLD)
    (outside / "target.yaml").write_text(OLD)
    (outside / "sub").mkdir()
    (outside / "sub" / "deep.yaml").write_text(OLD)
    (repo / "linked.yaml").symlink_to(outside / "target.yaml")
    (repo / "linkdir").symlink_to(outside / "sub")
    (repo / "real.yaml").write_text(OLD)

    result = update_tree(repo, ".", POLICIES)

    assert [f.path for f in result.files] == ["real.yaml"]
    assert [(s.path, s.reason) for s in result.skipped] == [("linked.yaml", "symbolic link not followed")]
    assert (repo / ".git" / "x.yaml").read_text() == OLD
    assert (outside / "target.yaml").read_text() == OLD
    assert (outside / "sub" / "deep.yaml").read_text() == OLD
    assert (repo / "real.yaml").read_text() == NEW


def test_write_keeps_mode_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "app.yaml"
    target.write_text(OLD)
    target.chmod(0o640)
    update_tree(tmp_path, ".", POLICIES)
    assert target.read_text() == NEW
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["app.yaml"]


def test_non_utf8_file_is_reported_and_untouched(tmp_path: Path) -> None:
    data = b"note: \xe9t\xe9\n" + OLD.encode()
    (tmp_path / "latin1.yaml").write_bytes(data)
    result = update_tree(tmp_path, ".", POLICIES)
    assert result.files == ()
    assert [s.path for s in result.skipped] == ["latin1.yaml"]
    assert "not UTF-8" in result.skipped[0].reason
    assert (tmp_path / "latin1.yaml").read_bytes() == data


def test_paths_are_relative_to_root_and_change_files_to_the_update_path(tmp_path: Path) -> None:
    (tmp_path / "clusters" / "prod").mkdir(parents=True)
    (tmp_path / "clusters" / "prod" / "app.yaml").write_text(OLD)
    (tmp_path / "clusters" / "prod" / "broken.yaml").write_text(f"a: [\n{OLD}")
    result = update_tree(tmp_path, "clusters", POLICIES)
    assert [f.path for f in result.files] == ["clusters/prod/app.yaml"]
    assert [c.file for c in result.changes] == ["prod/app.yaml"]
    assert [s.path for s in result.skipped] == ["clusters/prod/broken.yaml"]
    assert result.skipped[0].reason.startswith("prod/broken.yaml:")


def test_prescreen_skips_files_without_the_quoted_token(tmp_path: Path) -> None:
    # Valid marker JSON needs the double-quoted key, so a file without the token has no marker.
    source = "image: ghcr.io/org/app:1.0.0 # {'$imagepolicy': 'flux-system:app'}\n"
    (tmp_path / "a.yaml").write_text(source)
    (tmp_path / "b.yml").write_text(OLD)
    (tmp_path / "c.json").write_text(OLD)
    result = update_tree(tmp_path, ".", POLICIES)
    assert [f.path for f in result.files] == ["b.yml"]
    assert result.scanned == 2
    assert (tmp_path / "c.json").read_text() == OLD


def test_dry_run_reports_diff_without_writing(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(OLD)
    result = update_tree(tmp_path, ".", POLICIES, dry_run=True)
    assert (tmp_path / "a.yaml").read_text() == OLD
    assert result.dry_run
    assert result.files[0].diff == f"--- a/a.yaml\n+++ b/a.yaml\n@@ -1 +1 @@\n-{OLD}+{NEW}"


def _two_marked_files(tmp_path: Path) -> list[Path]:
    files = [tmp_path / "a" / "one.yaml", tmp_path / "b" / "two.yaml"]
    for f in files:
        f.parent.mkdir()
        f.write_text(OLD)
    return files


def test_every_file_is_synced_before_any_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When each new content reaches the disk (fsync), no file has been replaced yet."""
    files = _two_marked_files(tmp_path)
    seen: list[list[str]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        seen.append([f.read_text() for f in files] + sorted(n for f in files for n in os.listdir(f.parent)))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    result = update_tree(tmp_path, ".", POLICIES)
    assert len(seen) == 2
    assert all(s[:2] == [OLD, OLD] for s in seen)  # nothing replaced before the last fsync
    assert len(seen[1][2:]) == 4  # each file next to its temporary file
    assert [f.read_text() for f in files] == [NEW, NEW]
    assert len(result.files) == 2
    assert sorted(n for f in files for n in os.listdir(f.parent)) == ["one.yaml", "two.yaml"]


def test_a_failed_sync_replaces_nothing_and_leaves_no_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fails the second file's fsync (injected: as root no real disk here refuses it)
    changes no file, not even the first."""
    files = _two_marked_files(tmp_path)
    calls: list[int] = []
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        update_tree(tmp_path, ".", POLICIES)
    assert [f.read_text() for f in files] == [OLD, OLD]
    assert sorted(n for f in files for n in os.listdir(f.parent)) == ["one.yaml", "two.yaml"]


def test_a_workspace_updater_writes_without_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The automation's updater writes into tagpilot's git workspace, where the commit is what lasts:
    the same files, no disk flush (a person's tree, `update_tree`'s default, keeps them: above)."""
    files = _two_marked_files(tmp_path)
    calls: list[int] = []
    monkeypatch.setattr(os, "fsync", calls.append)
    result = SettersUpdater().apply(tmp_path, ".", POLICIES)
    assert calls == []
    assert [f.read_text() for f in files] == [NEW, NEW]
    assert [f.path for f in result.files] == ["a/one.yaml", "b/two.yaml"]
    assert sorted(n for f in files for n in os.listdir(f.parent)) == ["one.yaml", "two.yaml"]


@pytest.mark.parametrize("new_tag", ["1.1.0", "1.10.0-rc.1", "2"])  # same length, longer, shorter
def test_a_workspace_rewrite_leaves_exactly_the_new_bytes(tmp_path: Path, new_tag: str) -> None:
    """Files in a workspace are written over and cut to the new length (no O_TRUNC): a shorter value
    must not leave the old text's tail behind, a longer one must extend the file; mode and inode kept."""
    target = tmp_path / "app.yaml"
    tail = "# a long trailing comment the old text ends with, longer than any change of the tag\n"
    target.write_text(OLD + tail)
    target.chmod(0o640)
    inode = target.stat().st_ino
    result = SettersUpdater().apply(tmp_path, ".", {("flux-system", "app"): ImageRef("ghcr.io/org/app", new_tag)})
    assert target.read_text() == OLD.replace("1.0.0", new_tag) + tail
    assert result.files[0].new == target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.stat().st_ino == inode
