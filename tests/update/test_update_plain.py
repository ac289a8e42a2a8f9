"""``tagpilot update`` without typer (`run_plain`): the same bytes, exit codes and files as the typer
command, for the plain command lines it serves; typer for everything else."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tagpilot.cli.update_cmd import parse_plain

M = '# {"$imagepolicy": "ci:app"}'
SET = "ci:app=ghcr.io/org/app:1.1.0"

# typer's path: the same `main.run`, with the plain path switched off
_TYPER_DRIVER = (
    "import sys\nfrom tagpilot.cli import main, update_cmd\n"
    "update_cmd.run_plain = lambda argv: None\nsys.exit(main.run(sys.argv[1:]))\n"
)


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        ([], (".", [], False)),
        (["--path", "d", "--set", SET], ("d", [SET], False)),
        (["--path=d", f"--set={SET}", "--set", "x:y=z", "--dry-run"], ("d", [SET, "x:y=z"], True)),
        (["--set", "a=b=c"], (".", ["a=b=c"], False)),
        (["--path", ""], ("", [], False)),
    ],
)
def test_parse_plain_reads_what_typer_reads(argv: list[str], parsed: tuple[str, list[str], bool]) -> None:
    assert parse_plain(argv) == parsed


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--path"],
        ["--path", "-d"],
        ["--set", "--dry-run"],
        ["--path", "a", "--path", "b"],
        ["--dry-run=yes"],
        ["--pat", "x"],
        ["-p", "x"],
        ["positional"],
        ["--", "--path", "x"],
    ],
)
def test_parse_plain_leaves_everything_else_to_typer(argv: list[str]) -> None:
    assert parse_plain(argv) is None


def _tree(root: Path) -> Path:
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "app.yaml").write_text(f"image: ghcr.io/org/app:1.0.0 {M}\n")
    (root / "deploy" / "other.yaml").write_text("image: ghcr.io/org/app:1.0.0\n")
    (root / "deploy" / "broken.yaml").write_text(f"a: [\nimage: x:1 {M}\n")
    return root / "deploy"


def _run(argv: list[str], cwd: Path, *, typer: bool) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TAGPILOT_STATE"}
    prefix = ["-c", _TYPER_DRIVER] if typer else ["-m", "tagpilot"]
    proc = subprocess.run([sys.executable, *prefix, "update", *argv], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--path", "deploy", "--set", SET],
        ["--path=deploy", f"--set={SET}", "--dry-run"],
        ["--path", "deploy/app.yaml", "--set", SET, "--dry-run"],
        ["--path", "deploy", "--set", "ci:other=x:1", "--dry-run"],  # no marker names it: exit 1, stderr
        ["--path", "deploy", "--set", "ci:app=Bad:1"],  # an invalid image
        ["--path", "deploy"],  # nothing to set
        ["--path", "nowhere", "--set", SET],
        ["--path", "deploy", "--set", SET, "--set", "ci:app=x:2"],  # set twice
    ],
)
def test_plain_and_typer_give_the_same_output_exit_code_and_files(tmp_path: Path, argv: list[str]) -> None:
    results = []
    for typer in (False, True):
        work = tmp_path / ("typer" if typer else "plain")
        deploy = _tree(work)
        code, out, err = _run(argv, work, typer=typer)
        files = {p.name: p.read_bytes() for p in sorted(deploy.iterdir())}
        results.append((code, out, err, files))
    assert results[0] == results[1]
    assert results[0][0] in (0, 1, 2)
    assert results[0][1] or results[0][2]


def test_a_closed_pipe_is_exit_1_without_a_traceback(tmp_path: Path) -> None:
    deploy = _tree(tmp_path)
    reader, writer = os.pipe()
    os.close(reader)
    try:
        proc = subprocess.run([sys.executable, "-m", "tagpilot", "update", "--path", str(deploy), "--set", SET,
                               "--dry-run"], stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(writer)
    assert proc.returncode == 1
    assert proc.stderr == ""
