"""`tagpilot get KIND [NAME]`: every kind of the registry, names, SUSPENDED, -o yaml, receiver paths.

Only the configuration and the state directory are read, so these run the real CLI without servers.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import yaml

from tests.integration.cli import run_tagpilot

CONFIG = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: apps}
spec: {image: registry.example/app, interval: 1h}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app, namespace: apps}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: apps}
spec: {url: "https://git.example/fleet.git", interval: 1m, ref: {branch: main}}
---
apiVersion: v1
kind: Secret
metadata: {name: hook-token, namespace: apps}
stringData: {token: s3cret-token}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: registry, namespace: apps}
spec:
  type: generic
  secretRef: {name: hook-token}
  resources: [{kind: ImageRepository, name: app}]
"""


def setup(tmp_path: Path) -> tuple[Path, Path]:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(CONFIG)
    return cfg, tmp_path / "state"


def test_get_every_kind_by_its_names(tmp_path: Path) -> None:
    cfg, state = setup(tmp_path)
    for kind, expected in [("imagerepositories", "ImageRepository"), ("repo", "ImageRepository"),
                           ("ImagePolicy", "ImagePolicy"), ("policies", "ImagePolicy"),
                           ("gitrepositories", "GitRepository"), ("receivers", "Receiver")]:
        result = run_tagpilot("get", kind, "-f", cfg, "--state", state, "-o", "json")
        assert result.code == 0, result.stderr
        assert [v["kind"] for v in result.json()] == [expected]
    listed = run_tagpilot("get", "all", "-f", cfg, "--state", state, "-o", "json").json()
    assert [v["kind"] for v in listed] == ["ImageRepository", "ImagePolicy", "GitRepository", "Receiver"]  # no Secret
    unknown = run_tagpilot("get", "widgets", "-f", cfg, "--state", state)
    assert unknown.code == 2 and "unknown kind 'widgets'" in unknown.stderr


def test_get_one_name_and_a_missing_name(tmp_path: Path) -> None:
    cfg, state = setup(tmp_path)
    one = run_tagpilot("get", "policy", "app", "-f", cfg, "--state", state, "-o", "json")
    assert one.code == 0 and [(v["namespace"], v["name"]) for v in one.json()] == [("apps", "app")]
    missing = run_tagpilot("get", "policy", "nope", "-f", cfg, "--state", state)
    assert missing.code == 2 and "no ImagePolicy named 'nope'" in missing.stderr


def test_suspended_column_and_yaml(tmp_path: Path) -> None:
    cfg, state = setup(tmp_path)
    assert run_tagpilot("suspend", "repo/apps/app", "--state", state).code == 0
    table = run_tagpilot("get", "repositories", "-f", cfg, "--state", state).stdout.splitlines()
    assert table[0].split() == ["NAMESPACE", "NAME", "IMAGE", "TAGS", "FIRST", "TAGS", "BY", "NAME", "LAST", "SCAN",
                                "READY", "SUSPENDED", "MESSAGE"]
    assert table[1].split()[:2] == ["apps", "app"] and "True" in table[1].split()
    as_yaml = yaml.safe_load(run_tagpilot("get", "repositories", "-f", cfg, "--state", state, "-o", "yaml").stdout)
    assert as_yaml[0]["kind"] == "ImageRepository" and as_yaml[0]["suspended"] is True


def test_receivers_show_their_webhook_path(tmp_path: Path) -> None:
    cfg, state = setup(tmp_path)
    path = "/hook/" + hashlib.sha256(b"s3cret-tokenregistryapps").hexdigest()
    view = run_tagpilot("get", "receivers", "-f", cfg, "--state", state, "-o", "json").json()[0]
    assert view["status"]["webhookPath"] == path
    table = run_tagpilot("get", "receivers", "-f", cfg, "--state", state)
    assert path in table.stdout and "s3cret" not in table.stdout + json.dumps(view)


def test_event_times_are_rfc3339(tmp_path: Path) -> None:
    _cfg, state = setup(tmp_path)
    run_tagpilot("suspend", "ImageRepository/apps/app", "--state", state)
    events = run_tagpilot("events", "--state", state, "-o", "json").json()
    assert events and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", events[0]["time"])
    assert events[0]["reason"] == "Suspended" and events[0]["kind"] == "ImageRepository"  # alias normalised
