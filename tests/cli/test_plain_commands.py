"""`tagpilot scan` and `tagpilot reconcile` without typer (`cli/plain.py` `read_plain`, each module's
`run_plain`): the same output, stderr and exit code as the typer command for the plain command lines
they serve, typer for everything else, and typer not even imported on the plain path.

The registry is the FAKE registry of tests/registry/fake_registry.py (a real HTTP server on 127.0.0.1)
serving one repository; a second ImageRepository names one it does not have, so one scan fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagpilot.cli.plain import FILES_STATE_OUTPUT, Output, read_plain
from tagpilot.cli.reconcile import RECONCILE_OPTIONS
from tests.registry.fake_registry import FakeRegistry, FakeReply, FakeRequest

# typer's path: the same `main.run`, with every plain runner switched off
_TYPER_DRIVER = (
    "import sys\nfrom tagpilot.cli import main\nmain.PLAIN_RUNNERS.clear()\nsys.exit(main.run(sys.argv[1:]))\n"
)
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


@pytest.mark.parametrize(
    ("argv", "parsed"),
    [
        ([], {"files": []}),
        (["-f", "a.yaml", "--file", "dir", "--file=b.yaml"], {"files": ["a.yaml", "dir", "b.yaml"]}),
        (["-o", "json", "--state", "st"], {"files": [], "output": Output.json, "state": "st"}),
        (["--output=yaml", "--state="], {"files": [], "output": Output.yaml, "state": ""}),
    ],
)
def test_read_plain_reads_what_typer_reads(argv: list[str], parsed: dict[str, object]) -> None:
    assert read_plain(argv, FILES_STATE_OUTPUT) == parsed


def test_read_plain_reads_flags() -> None:
    assert read_plain(["--dry-run", "-f", "c"], RECONCILE_OPTIONS) == {"files": ["c"], "dry_run": True}


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["-f"],
        ["-f", "-o"],
        ["-o", "xml"],
        ["-o", "json", "-o", "yaml"],
        ["--state", "a", "--state", "b"],
        ["-f=a.yaml"],  # click reads `=a.yaml` as the value: typer's business
        ["-fa.yaml"],
        ["--fil", "a"],
        ["ImageRepository/default/app"],
        ["--", "-f", "a"],
        ["--dry-run=yes"],
    ],
)
def test_read_plain_leaves_everything_else_to_typer(argv: list[str]) -> None:
    assert read_plain(argv, RECONCILE_OPTIONS) is None


def _tags(request: FakeRequest) -> FakeReply:
    if request.path == "/v2/demo/app/tags/list":
        return FakeReply.json({"name": "demo/app", "tags": ["1.0.0", "1.2.0", "1.10.0", "latest"]})
    return FakeReply.error(404, "NAME_UNKNOWN", "repository name not known to registry")


@pytest.fixture(scope="module")
def registry() -> Iterator[FakeRegistry]:
    with FakeRegistry(_tags) as fake:
        yield fake


def _config(root: Path, host: str, *, failing: bool = True) -> Path:
    config = root / "config.yaml"
    config.write_text(f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app, namespace: flux-system}}
spec: {{image: {host}/demo/app, interval: 5m, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: gone, namespace: flux-system}}
spec: {{image: {host}/demo/{"gone" if failing else "app"}, interval: 5m, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: app, namespace: flux-system}}
spec:
  imageRepositoryRef: {{name: app}}
  policy: {{semver: {{range: ">=1.0.0"}}}}
""")
    return config


def _run(argv: list[str], cwd: Path, *, typer: bool, stdout: int | None = subprocess.PIPE) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TAGPILOT_STATE"}
    prefix = ["-c", _TYPER_DRIVER] if typer else ["-m", "tagpilot"]
    proc = subprocess.run([sys.executable, *prefix, *argv], stdout=stdout, stderr=subprocess.PIPE, text=True,
                          env=env, cwd=cwd, timeout=120)
    return proc.returncode, _TIME.sub("<time>", proc.stdout or ""), proc.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["scan", "-f", "config.yaml", "-o", "json"],
        ["scan", "--file=config.yaml", "--state", "elsewhere"],
        ["scan", "-f", "config.yaml", "--state="],  # typer: the current directory, not the default
        ["scan", "-f", "config.yaml", "-o", "yaml"],
        ["scan"],  # no configuration: exit 2
        ["scan", "-f", "missing.yaml"],
        ["reconcile", "-f", "config.yaml", "-o", "json"],
        ["reconcile", "-f", "config.yaml", "--due-only"],
        ["reconcile", "--dry-run", "-f", "config.yaml", "-o", "json"],
    ],
)
def test_plain_and_typer_give_the_same_output_and_exit_code(registry: FakeRegistry, tmp_path: Path,
                                                            argv: list[str]) -> None:
    results = []
    for typer in (False, True):
        work = tmp_path / ("typer" if typer else "plain")
        work.mkdir()
        _config(work, registry.host)
        code, out, err = _run(argv, work, typer=typer)
        state_files = sorted(str(p.relative_to(work)) for p in work.rglob("*") if p.name != "config.yaml")
        results.append((code, out, err, state_files))
    assert results[0] == results[1]
    code, out, err, _state_files = results[0]
    assert code in (1, 2)  # every run either fails the `gone` repository or has no configuration
    assert out or err
    if argv[-2:] == ["-o", "json"]:
        views = {view["name"]: view for view in json.loads(out) if view["kind"] == "ImageRepository"}
        assert views["app"]["status"]["lastScanResult"]["tagCount"] == 4
        assert "flux-system/gone" in err


def test_the_plain_path_does_not_import_typer(registry: FakeRegistry, tmp_path: Path) -> None:
    config = _config(tmp_path, registry.host)
    probe = ("import sys\nfrom tagpilot.cli import main\n"
             f"code = main.run(['scan', '-f', {str(config)!r}, '--state', {str(tmp_path / 'st')!r}, '-o', 'json'])\n"
             "print('typer' in sys.modules, code, file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.stderr.splitlines()[-1] == "False 1", proc.stderr


def test_a_closed_pipe_is_exit_1_without_a_traceback(registry: FakeRegistry, tmp_path: Path) -> None:
    _config(tmp_path, registry.host, failing=False)
    assert _run(["scan", "-f", "config.yaml", "-o", "json"], tmp_path, typer=False)[0] == 0
    reader, writer = os.pipe()
    os.close(reader)
    try:
        code, _out, err = _run(["scan", "-f", "config.yaml", "-o", "json"], tmp_path, typer=False, stdout=writer)
    finally:
        os.close(writer)
    assert (code, err) == (1, "")
