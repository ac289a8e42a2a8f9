"""RetentionPolicy: defaults and file:line errors for every bad rule, parameter and pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagpilot.config.loader import load_config
from tagpilot.config.retention import RetentionPolicy
from tagpilot.errors import ConfigError, ConfigErrors

POLICY = """\
apiVersion: tagpilot.dev/v1alpha1
kind: RetentionPolicy
metadata:
  name: cleanup
  namespace: apps
spec:
  imageRepositoryRefs:
    - name: app
  rules:
    - template: nDaysSinceLastPush
      params:
        nDaysSinceLastPush: 30
      tagSelectors:
        - decoration: matches
          kind: doublestar
          pattern: "{v*,release-*}"
    - template: always
      tagSelectors:
        - kind: regexp
          pattern: '^v\\d+\\.\\d+\\.\\d+$'
"""


def load(tmp_path: Path, text: str) -> RetentionPolicy:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    (policy,) = load_config([path]).of_kind(RetentionPolicy)
    return policy


def test_defaults_are_safe(tmp_path: Path) -> None:
    policy = load(tmp_path, POLICY)
    assert policy.spec.dry_run is True
    assert policy.spec.max_delete_percent == 50
    assert policy.spec.protect.deployed and policy.spec.protect.policy_refs
    rules = policy.spec.planner_rules()
    assert [(r.template, r.param) for r in rules] == [("nDaysSinceLastPush", 30), ("always", None)]
    assert rules[0].selectors[0].pattern == "{v*,release-*}"


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("template: nDaysSinceLastPush", "template: keepSome", 10, ["unknown template 'keepSome'"]),
        ("template: nDaysSinceLastPush", "template: latestPulledN", 10, ["pull times"]),
        ("nDaysSinceLastPush: 30", "nDaysSinceLastPush: -3", 11, ["from 0 to"]),
        ("template: always", "template: always\n      params: {always: 1}", 18, ["takes no params"]),
        ("nDaysSinceLastPush: 30", "nDaysSinceLastPush: '30'", 12, ["valid integer"]),
        ("nDaysSinceLastPush: 30", "nDaysSinceLastPush: 2.5", 12, ["valid integer"]),
        ('pattern: "{v*,release-*}"', 'pattern: "{v*,release-*"', 14, ["unterminated '{'"]),
        ("pattern: '^v", "pattern: '(?=v", 19, ["invalid regular expression"]),
        ("decoration: matches", "decoration: keeps", 14, ["decoration"]),
        ("nDaysSinceLastPush: 30", "latestPushedK: 3", 11, ["params.latestPushedK", "only params.nDaysSinceLastPush"]),
        ("nDaysSinceLastPush: 30", "nDaysSinceLastPush: 30000000", 11, ["from 0 to"]),
        ("    - name: app\n", "    - name: app\n  maxDeletePercent: 150\n", 9, ["maxDeletePercent", "100"]),
        ("    - name: app\n", "    - name: app\n  protect: {deployd: false}\n", 9, ["deployd"]),
        ("    - name: app\n", "    - name: app\n  protect: {tags: [{pattern: 'rel-[a'}]}\n", 9, ["rel-[a"]),
        ("    - name: app\n", "    - name: app\n  protect: {tags: [{kind: regexp, pattern: 'a(b'}]}\n", 9,
         ["invalid regular expression"]),
    ],
)
def test_bad_input_is_a_file_line_error(tmp_path: Path, old: str, new: str, line: int, words: list[str]) -> None:
    assert old in POLICY
    with pytest.raises((ConfigError, ConfigErrors)) as info:
        load(tmp_path, POLICY.replace(old, new, 1))
    message = str(info.value)
    assert f"policy.yaml:{line}" in message, message
    assert "RetentionPolicy/apps/cleanup" in message
    for word in words:
        assert word in message, message
