"""The command table of `cli/main.py`: a command line that names a command imports only the modules
serving it, and must still find every command, with the same help, as the whole application does."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tagpilot.cli import main


def _commands(app: typer.Typer) -> dict[str, Any]:
    """The top-level commands (and groups) of an application, by name."""
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _help(app: typer.Typer, path: list[str]) -> tuple[int, str, str]:
    """What `tagpilot PATH... --help` prints (and how it ends: under the test runner, rich refuses
    the markup of one help text, identically in both applications)."""
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="tagpilot")
    return result.exit_code, result.output, repr(result.exception)


def test_the_table_names_exactly_the_commands_of_the_whole_application() -> None:
    full = _commands(main.build_app()[0])
    words = {w for _, _, ws in main.COMMANDS for w in ws}
    assert set(full) == words | {"version"}


@pytest.mark.parametrize("word", sorted({w for _, _, ws in main.COMMANDS for w in ws}))
def test_a_lazy_application_serves_its_word_with_the_same_command(word: str) -> None:
    full = _commands(main.build_app()[0])
    lazy = _commands(main.app_for([word, "--help"]))
    assert set(lazy) <= set(full)
    assert word in lazy and "version" in lazy
    paths = [[word]]
    subcommands = getattr(lazy[word], "commands", {})
    assert set(subcommands) == set(getattr(full[word], "commands", {}))
    paths += [[word, sub] for sub in subcommands]
    for path in paths:
        assert _help(main.app_for([word]), path) == _help(main.build_app()[0], path)


def test_unknown_words_and_no_words_get_the_whole_application() -> None:
    full = set(_commands(main.build_app()[0]))
    for argv in ([], ["--help"], ["version"], ["nosuch"]):
        assert set(_commands(main.app_for(argv))) == full


def test_update_does_not_import_the_other_commands_modules() -> None:
    code = (
        "import sys\nfrom tagpilot.cli.main import run\nrun(['update', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('tagpilot.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = out.strip().splitlines()[-1]
    assert "tagpilot.cli.update_cmd" in loaded
    for other in ("tagpilot.cli.run", "tagpilot.cli.notify_cmd", "tagpilot.cli.reconcile", "tagpilot.cli.scan"):
        assert f"'{other}'" not in loaded


def test_the_module_attributes_are_the_whole_applications() -> None:
    assert "test" in {c.name for c in main.policy_app.registered_commands}
    assert "update" in _commands(main.app)


def test_httpx_is_imported_without_its_command_line_client() -> None:
    """tagpilot/__init__ keeps httpx from importing click/rich/pygments for its own CLI (~60 ms of every
    command); the HTTP client must be whole, and a reconcile's imports must not pull those in."""
    code = (
        "import sys\nimport tagpilot.cli.reconcile, tagpilot.engine.local, tagpilot.registry.client\n"
        "import httpx\nprint(sorted(m for m in ('rich', 'pygments', 'httpx._main') if sys.modules.get(m) is not None),"
        " callable(httpx.main), httpx.Client.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "True", "httpx"]


def test_pydantic_looks_for_no_plugins_unless_the_host_imported_it_first(tmp_path: Path) -> None:
    """tagpilot/__init__ puts a loader that finds no plugins in place of pydantic's (which imports
    importlib.metadata and reads every distribution's entry points when the first model is built): the
    models still validate and refuse what they refused; a program that imported pydantic before
    tagpilot keeps pydantic's own loader."""
    config = tmp_path / "config.yaml"
    config.write_text("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
                      "metadata: {name: app, namespace: apps}\nspec: {image: ghcr.io/a/app, interval: 5m}\n")
    probe = ("import sys\nimport tagpilot\nfrom tagpilot.config.loader import load_config\n"
             f"config = load_config([{str(config)!r}])\n"
             "from tagpilot.config.flux_image import ImageRepository\n"
             "try:\n    ImageRepository.model_validate({'apiVersion': 'x', 'kind': 'ImageRepository', 'metadata': "
             "{'name': 'Bad_Name'}, 'spec': {'image': 'a'}})\nexcept Exception as e:\n    refused = type(e).__name__\n"
             "print(len(config.objects), refused, 'importlib.metadata' in sys.modules,"
             " sys.modules['pydantic.plugin._loader'].__doc__)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[:3] == ["1", "ValidationError", "False"]
    assert " ".join(out[3:]) == "tagpilot: no pydantic plugins are loaded"
    host = "import pydantic\n" + probe
    out = subprocess.run([sys.executable, "-c", host], capture_output=True, text=True, check=True).stdout.split()
    assert out[:3] == ["1", "ValidationError", "True"]  # pydantic's loader, which imports importlib.metadata


def test_commands_collect_garbage_rarely_and_the_daemon_as_python_does(monkeypatch, tmp_path: Path) -> None:
    """`main` raises the youngest generation's threshold for the process (a command's objects live until
    it exits); `tagpilot run` puts Python's default back before the daemon starts."""
    probe = ("import gc\nfrom tagpilot.cli import main\n"
             "main.run = lambda argv: print(gc.get_threshold()) or 0\nmain.main()\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout
    assert out.strip() == str(main.COMMAND_GC_THRESHOLD)

    from tagpilot.cli import run as run_cmd

    seen = []

    def fake_asyncio_run(coroutine: Any) -> None:
        coroutine.close()
        seen.append(gc.get_threshold())

    before = gc.get_threshold()
    monkeypatch.setattr(run_cmd.asyncio, "run", fake_asyncio_run)
    monkeypatch.setattr(run_cmd, "setup_logging", lambda *args: None)
    monkeypatch.setattr("tagpilot.logfilter.collapse_repeats", lambda: None)
    gc.set_threshold(*main.COMMAND_GC_THRESHOLD)
    try:
        run_cmd.run(files=[tmp_path], state=tmp_path / "state")
    finally:
        gc.set_threshold(*before)
    assert seen == [main.DEFAULT_GC_THRESHOLD]
