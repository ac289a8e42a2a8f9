"""Values refused at load with file:line and the field, instead of failing (or never running) later:
control characters in paths, ref names, URLs and identities; zero intervals; commit message templates
that do not parse (issue 9, items 6 and 9)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagpilot.config.flux_automation import ImageUpdateAutomation
from tagpilot.config.loader import load_config
from tagpilot.errors import ConfigError, ConfigErrors

GIT = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: fleet
spec:
  url: {url}
  interval: {git_interval}
  ref:
    branch: {branch}
"""

AUTOMATION = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: auto
spec:
  interval: {interval}
  sourceRef:
    kind: GitRepository
    name: fleet
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        name: {author}
        email: bot@example.org
      messageTemplate: {template}
    push:
      branch: {push_branch}
  update:
    path: {path}
    strategy: Setters
"""

DEFAULTS = {
    "url": "https://git.example.com/fleet.git", "git_interval": "1m", "branch": "main", "interval": "5m",
    "author": "bot", "template": "'Update {{range .Changed.Changes}}{{.NewValue}} {{end}}'",
    "push_branch": "main", "path": "./clusters",
}


def write(tmp_path: Path, **values: str) -> Path:
    path = tmp_path / "config.yaml"
    fields = {**DEFAULTS, **values}
    path.write_text(GIT.format(**fields) + "---\n" + AUTOMATION.format(**fields))
    return path


def errors_of(path: Path) -> list[ConfigError]:
    with pytest.raises(ConfigError) as info:
        load_config([path])
    return info.value.errors if isinstance(info.value, ConfigErrors) else [info.value]


def test_defaults_load(tmp_path: Path) -> None:
    config = load_config([write(tmp_path)])
    auto = config.get(ImageUpdateAutomation, "default", "auto")
    assert auto is not None and auto.spec.update_path == "./clusters"


# -- control characters in paths, ref names, URLs (item 6) -----------------------------------------


@pytest.mark.parametrize(("field", "value", "line", "dotted"), [
    ("path", r'"./clu\0sters"', 32, "spec.update.path"),
    ("path", r'"./clusters\n"', 32, "spec.update.path"),
    ("push_branch", r'"ma\0in"', 30, "spec.git.push.branch"),
    ("author", r'"b\0t"', 26, "spec.git.commit.author.name"),
    ("branch", r'"ma\x07in"', 9, "spec.ref.branch"),
    ("url", r'"https://git.example.com/\0fleet.git"', 6, "spec.url"),
])
def test_control_characters_in_git_and_path_fields(tmp_path: Path, field: str, value: str, line: int,
                                                   dotted: str) -> None:
    path = write(tmp_path, **{field: value})
    [error] = errors_of(path)
    assert error.location.file == str(path) and error.location.line == line
    assert error.location.field == dotted
    assert "control character U+00" in error.message and "not allowed in this field" in error.message
    assert error.exit_code == 2


def test_nul_in_an_update_path_given_directly(tmp_path: Path) -> None:
    """`tagpilot update --path` reaches safe_subpath without the loader: a ConfigError, no ValueError."""
    from tagpilot.update import safe_subpath

    with pytest.raises(ConfigError, match=r"field spec\.update\.path: update path 'a\\x00b' contains a NUL"):
        safe_subpath(tmp_path, "a\x00b")


# -- zero intervals (item 9) ------------------------------------------------------------------------

REPO = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: app
spec:
  image: registry.example.com/app
  interval: {interval}
"""
POLICY = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: app
spec:
  imageRepositoryRef:
    name: app
  digestReflectionPolicy: Always
  interval: {interval}
  policy:
    semver:
      range: ">=1.0.0"
"""
RECEIVER = """\
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: hook
spec:
  type: generic
  interval: {interval}
  secretRef:
    name: token
  resources:
    - kind: ImageRepository
      name: app
"""
INTERVAL_LINE = {"ImageRepository": 7, "ImagePolicy": 9, "GitRepository": 7, "ImageUpdateAutomation": 6,
                 "Receiver": 7}


def zero_interval_file(tmp_path: Path, kind: str, zero: str) -> Path:
    text = {
        "ImageRepository": REPO.format(interval=zero),
        "ImagePolicy": POLICY.format(interval=zero),
        "GitRepository": GIT.format(**{**DEFAULTS, "git_interval": zero}),
        "ImageUpdateAutomation": AUTOMATION.format(**{**DEFAULTS, "interval": zero}),
        "Receiver": RECEIVER.format(interval=zero),
    }[kind]
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("kind", sorted(INTERVAL_LINE))
@pytest.mark.parametrize("zero", ["0s", "0ms", "0h0m0s", "0.0s"])
def test_zero_interval_is_refused_for_every_kind(tmp_path: Path, kind: str, zero: str) -> None:
    path = zero_interval_file(tmp_path, kind, zero)
    [error] = errors_of(path)
    assert (error.location.file, error.location.line, error.location.field) == (
        str(path), INTERVAL_LINE[kind], "spec.interval")
    assert error.message == f"interval {zero!r} must be positive: set how often to run, e.g. 1m or 5m"
    assert error.exit_code == 2


@pytest.mark.parametrize("kind", sorted(INTERVAL_LINE))
def test_small_positive_interval_loads(tmp_path: Path, kind: str) -> None:
    load_config([zero_interval_file(tmp_path, kind, "500ms")])


def test_bad_interval_syntax_reports_once(tmp_path: Path) -> None:
    [error] = errors_of(zero_interval_file(tmp_path, "ImageRepository", "-5m"))
    assert "expected a Go duration" in error.message and error.location.field == "spec.interval"


# -- messageTemplate parsed at load (item 9) -------------------------------------------------------


@pytest.mark.parametrize(("template", "go_error"), [
    ("'{{range .Changed.Changes}}'", "template: commit message:1: unexpected EOF"),
    ("'{{.Changed | nosuchfunc}}'", 'template: commit message:1: function "nosuchfunc" not defined'),
    ("'{{end}}'", "template: commit message:1: unexpected {{end}}"),
    ('"line one\\n{{if}}"', "template: commit message:2: missing value for if"),
])
def test_message_template_syntax_error_at_load(tmp_path: Path, template: str, go_error: str) -> None:
    path = write(tmp_path, template=template)
    [error] = errors_of(path)
    assert (error.location.file, error.location.line, error.location.field) == (
        str(path), 28, "spec.git.commit.messageTemplate")
    assert error.location.obj == "ImageUpdateAutomation/default/auto"
    assert error.message == f"the commit message template does not parse: {go_error}"
    assert error.exit_code == 2


def test_message_templates_using_sprig_and_flux_data_load(tmp_path: Path) -> None:
    template = "'{{ .AutomationObject }}: {{ range $f, $c := .Changed.FileChanges }}{{ $f | upper | quote }}{{ end }}'"
    load_config([write(tmp_path, template=template)])
