"""Through the real command line: configuration refused at load exits 2 with file:line, never a
traceback (issue 9: control characters in YAML and in paths, zero intervals, bad commit templates)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.test_refusals import DEFAULTS, write
from tests.integration.cli import run_tagpilot

REPO = ("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: app\nspec:\n"
        "  image: registry.example.com/app\n  interval: 5m\n")


def get_automations(config: Path, tmp_path: Path) -> tuple[int, str]:
    result = run_tagpilot("get", "automations", "-f", config, "--state", tmp_path / "state", "-o", "json")
    assert "Traceback" not in result.stderr, result.stderr
    return result.code, result.stderr


@pytest.mark.parametrize("char", ["\x00", "\x07"])
def test_control_character_in_yaml_exits_2(tmp_path: Path, char: str) -> None:
    path = tmp_path / "repo.yaml"
    path.write_text(REPO.replace("registry.example.com", f"regis{char}try.example.com"))
    code, stderr = get_automations(path, tmp_path)
    assert code == 2
    assert f"error: {path}:6:15: control character U+{ord(char):04X} not allowed in YAML" in stderr


@pytest.mark.parametrize(("values", "needle"), [
    ({"path": r'"./a\0b"'}, ":32: ImageUpdateAutomation/default/auto: field spec.update.path: control character"),
    ({"interval": "0s"}, ":16: ImageUpdateAutomation/default/auto: field spec.interval: interval '0s' must be"),
    ({"template": "'{{if .Changed}}'"},
     ":28: ImageUpdateAutomation/default/auto: field spec.git.commit.messageTemplate: the commit message "
     "template does not parse: template: commit message:1: unexpected EOF"),
])
def test_refused_automation_fields_exit_2(tmp_path: Path, values: dict[str, str], needle: str) -> None:
    assert set(values) <= set(DEFAULTS)
    path = write(tmp_path, **values)
    code, stderr = get_automations(path, tmp_path)
    assert code == 2 and f"error: {path}{needle}" in stderr, stderr
