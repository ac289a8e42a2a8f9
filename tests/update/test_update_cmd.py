"""``tagpilot update``: the CI step that replaces ``sed -i`` in a pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tagpilot.cli.update_cmd import parse_set, register, run_update
from tagpilot.errors import ConfigError, InvalidReference
from tagpilot.update import ImageRef

M = '# {"$imagepolicy": "ci:app"}'
MT = '# {"$imagepolicy": "ci:app:tag"}'
DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "key", "image"),
    [
        ("ci:app=ghcr.io/org/app:1.2.3", ("ci", "app"), ImageRef("ghcr.io/org/app", "1.2.3")),
        ("ci:app=alpine:3.20", ("ci", "app"), ImageRef("alpine", "3.20")),  # name kept as typed
        ("ci:app=localhost:5000/app", ("ci", "app"), ImageRef("localhost:5000/app")),
        ("ci:app=localhost:5000/app:v1", ("ci", "app"), ImageRef("localhost:5000/app", "v1")),
        (f"ci:app=ghcr.io/org/app@{DIGEST}", ("ci", "app"), ImageRef("ghcr.io/org/app", None, DIGEST)),
        (f"ns:p=ghcr.io/org/app:1@{DIGEST}", ("ns", "p"), ImageRef("ghcr.io/org/app", "1", DIGEST)),
    ],
)
def test_parse_set(text: str, key: tuple[str, str], image: ImageRef) -> None:
    assert parse_set(text) == (key, image)


@pytest.mark.parametrize("text", ["app=ghcr.io/x:1", "ci:app", "ci:app:tag=x:1", ":app=x:1", "ci:=x:1"])
def test_parse_set_rejects_bad_keys(text: str) -> None:
    with pytest.raises(ConfigError, match="NAMESPACE:POLICY=IMAGE"):
        parse_set(text)


@pytest.mark.parametrize("text", ["ci:app=", "ci:app=Ghcr.io/Org/App:1", "ci:app=x:bad tag", "ci:app=x@sha256:1"])
def test_parse_set_rejects_bad_images(text: str) -> None:
    with pytest.raises(InvalidReference):
        parse_set(text)


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "app.yaml").write_text(f"image: ghcr.io/org/app:1.0.0 {M}\ntag: 1.0.0 {MT}\n")
    (tmp_path / "deploy" / "other.yaml").write_text("image: ghcr.io/org/app:1.0.0\n")
    return tmp_path


def test_run_update_writes_and_prints_changed_files(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    code, out = run_update(str(root / "deploy"), ["ci:app=ghcr.io/org/app:1.1.0"])
    assert code == 0
    assert out == (
        "updated app.yaml\n"
        "  1: ghcr.io/org/app:1.0.0 -> ghcr.io/org/app:1.1.0 (ci:app)\n"
        "  2: 1.0.0 -> 1.1.0 (ci:app:tag)\n"
    )
    assert (root / "deploy" / "app.yaml").read_text() == f"image: ghcr.io/org/app:1.1.0 {M}\ntag: 1.1.0 {MT}\n"


def test_run_update_dry_run_prints_diff_and_writes_nothing(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    before = (root / "deploy" / "app.yaml").read_text()
    code, out = run_update(str(root), ["ci:app=ghcr.io/org/app:1.1.0"], dry_run=True)
    assert code == 0
    assert out.startswith("would update deploy/app.yaml\n")
    assert f"\n-tag: 1.0.0 {MT}\n" in out
    assert f"\n+tag: 1.1.0 {MT}\n" in out
    assert (root / "deploy" / "app.yaml").read_text() == before


def test_run_update_reports_no_changes_and_skipped_files(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(f"a: [\nimage: x {M}\n")
    code, out = run_update(str(tmp_path), ["ci:app=ghcr.io/org/app:1.1.0"])
    assert code == 1  # the only marker is in a file that does not parse: nothing applied is not a success
    assert out.startswith("skipped bad.yaml: bad.yaml:")
    assert "no changes\nerror: --set ci:app: no setters marker" in out
    assert "(markers there name: none; 1 file(s) skipped above may carry it)" in out


def test_run_update_a_policy_no_marker_names_is_an_error(tmp_path: Path) -> None:
    """`--set flux-system:podinfx=...` (a typo) used to print "no changes" and exit 0."""
    root = _tree(tmp_path)
    code, out = run_update(str(root), ["ci:app=ghcr.io/org/app:1.1.0", "ci:ap=ghcr.io/org/app:1.1.0"])
    assert code == 1
    assert "updated deploy/app.yaml" in out  # the other --set still applied
    assert out.endswith("error: --set ci:ap: no setters marker under " + str(root) +
                        " names this policy (markers there name: ci:app)\n")


def test_run_update_an_image_without_the_marked_part_is_an_error(tmp_path: Path) -> None:
    """`--set ns:demo=1a2b3c4d5e` (no image name, so no tag) used to print "not applied" and exit 0."""
    root = _tree(tmp_path)
    code, out = run_update(str(root), ["ci:app=1a2b3c4d5e"])
    assert code == 1
    assert "error: deploy/app.yaml:2: marker ci:app:tag not applied: the policy's image has no tag" in out


def test_run_update_path_may_name_one_file(tmp_path: Path) -> None:
    """README and docs/commands.md say `--path helm/values.yaml` works."""
    root = _tree(tmp_path)
    code, out = run_update(str(root / "deploy" / "app.yaml"), ["ci:app=ghcr.io/org/app:1.1.0"])
    assert code == 0, out
    assert out.startswith("updated app.yaml\n")
    assert (root / "deploy" / "app.yaml").read_text() == f"image: ghcr.io/org/app:1.1.0 {M}\ntag: 1.1.0 {MT}\n"


@pytest.mark.parametrize(
    ("sets", "code", "message"),
    [
        ([], 2, "give at least one --set"),
        (["ci:app=ghcr.io/a:1", "ci:app=ghcr.io/a:2"], 2, "set twice"),
        (["bad"], 2, "NAMESPACE:POLICY=IMAGE"),
        (["ci:app=UPPER/x:1"], 1, "invalid image reference"),
    ],
)
def test_run_update_errors(tmp_path: Path, sets: list[str], code: int, message: str) -> None:
    got_code, out = run_update(str(tmp_path), sets)
    assert got_code == code
    assert out.startswith("error: ")
    assert message in out


def test_run_update_missing_directory(tmp_path: Path) -> None:
    code, out = run_update(str(tmp_path / "nope"), ["ci:app=ghcr.io/a:1"])
    assert code == 2
    assert "is not a directory" in out


def test_register_adds_the_command(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    app = typer.Typer()
    register(app)

    @app.command("version")
    def version() -> None:  # a second command so typer keeps subcommand names
        """Unused."""

    args = ["update", "--path", str(root), "--set", "ci:app=ghcr.io/org/app:2.0.0", "--dry-run"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "would update deploy/app.yaml" in result.output
    result = CliRunner().invoke(app, ["update", "--path", str(root)])
    assert result.exit_code == 2
