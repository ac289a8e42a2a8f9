"""`tagpilot policy eval`, through the plain functions and through typer."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from tagpilot.cli.policy_eval import eval_batch, eval_policy, register


def test_semver_selects() -> None:
    assert eval_policy(tags_text="1.0.0\n1.2.0\n2.0.0\n", semver="<2") == (0, "1.2.0")


def test_error_exit_1() -> None:
    code, text = eval_policy(tags_text="a\n", semver="^1")
    assert code == 1 and text == "error: unable to determine latest version from provided list"


def test_usage() -> None:
    assert eval_policy(tags_text="1", semver="*", alphabetical="asc")[0] == 2
    assert eval_policy(tags_text="1")[0] == 2


def test_explain_lists_every_tag() -> None:
    code, text = eval_policy(tags_text="1.0.0\njunk\n", semver="*", explain=True)
    lines = text.splitlines()
    assert code == 0 and lines[0] == "1.0.0"
    assert "selected" in lines[1] and "not-semver" in lines[2] and "junk" in lines[2]


def test_filter_numerical() -> None:
    code, text = eval_policy(tags_text="b-10\nb-9\nc-99\n", numerical="asc", pattern=r"^b-(\d+)", extract="$1")
    assert (code, text) == (0, "b-10")


def test_argo_newest_build_and_digest() -> None:
    text = "a\t2024-01-01T00:00:00Z\nb\t2024-02-01T00:00:00Z\tlinux/amd64\n"
    assert eval_policy(tags_text=text, strategy="newest-build") == (0, "b")
    code, out = eval_policy(tags_text="a\n", strategy="newest-build")
    assert code == 1 and "newest-build needs lines" in out
    d = "sha256:" + "0" * 64
    assert eval_policy(tags_text=f"latest\t{d}\n1.0\n", strategy="digest", constraint="latest") == (0, f"latest@{d}")


def test_batch() -> None:
    lines = [
        {"tags": ["1.0.0", "1.1.0"], "spec": {"policy": {"semver": {"range": "^1"}}}},
        {"tags": [], "spec": {"policy": {"alphabetical": {}}}},
        {"tags": ["x"], "spec": {"policy": {"semver": {"range": "nope"}}}},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\nnot json\n"
    code, out = eval_batch(text)
    got = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert got[0] == {"latest": "1.1.0"}
    assert got[1] == {"error": "version list argument cannot be empty"}
    assert got[2] == {"error": "improper constraint: nope"}
    assert "error" in got[3]


def test_typer_registration(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer from collapsing the group
        pass

    runner = CliRunner()
    result = runner.invoke(app, ["eval", "--alphabetical", "desc"], input="b\na\n")
    assert result.exit_code == 0 and result.stdout.strip() == "a"
    f = tmp_path / "tags"
    f.write_text("1\n2\nx\n")
    result = runner.invoke(app, ["eval", "--numerical", "asc", "--tags-file", str(f)])
    assert result.exit_code == 1
    result = runner.invoke(app, ["eval", "--batch", str(tmp_path / "missing")])
    assert result.exit_code == 1
