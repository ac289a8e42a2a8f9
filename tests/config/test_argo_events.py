"""Cross-object checks of Argo Events configuration: a Sensor must have the events it waits for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagpilot.cli.sensor_person import run_person
from tagpilot.config.argo_events import Sensor
from tagpilot.config.loader import load_config
from tagpilot.errors import ConfigError

SOURCE = """\
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {name: gitlab, namespace: NS}
spec:
  webhook:
    push: {endpoint: /push, method: POST, port: "12000"}
"""

SENSOR = """\
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {name: release, namespace: default}
spec:
  dependencies:
    - {name: push, eventSourceName: SOURCE, eventName: EVENT}
  triggers:
    - template:
        name: note
        log: {}
"""


def _files(tmp_path: Path, source_ns: str = "default", source: str = "gitlab", event: str = "push") -> Path:
    (tmp_path / "es.yaml").write_text(SOURCE.replace("NS", source_ns))
    sensor = SENSOR.replace("SOURCE", source).replace("EVENT", event)
    (tmp_path / "sensor.yaml").write_text("# the release sensor\n" + sensor)
    return tmp_path


def test_sensor_with_its_event_source_loads(tmp_path: Path) -> None:
    config = load_config([_files(tmp_path)])
    assert len(config.of_kind(Sensor)) == 1


def test_undefined_event_source_is_reported_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config([_files(tmp_path, source="gitlab-prod")])
    text = str(info.value)
    assert f"{tmp_path / 'sensor.yaml'}:2" in text
    assert "Sensor/default/release: field spec.dependencies[0]" in text
    assert "dependency 'push' waits for EventSource 'gitlab-prod', which is not defined in namespace default" in text
    assert "define EventSource default/gitlab-prod or fix eventSourceName" in text


def test_event_source_of_another_namespace_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="there is one in namespace apps: a Sensor sees its own namespace only"):
        load_config([_files(tmp_path, source_ns="apps")])


def test_unknown_event_name_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"event 'tag' of EventSource EventSource/default/gitlab.*it has: push"):
        load_config([_files(tmp_path, event="tag")])


def test_sensor_test_still_explains_a_sensor_alone_and_warns_with_sources(tmp_path: Path) -> None:
    _files(tmp_path, source="gitlab-prod")
    (tmp_path / "push.json").write_text('{"ref": "main"}')
    code, out = run_person([tmp_path / "sensor.yaml"], tmp_path / "push.json", source="gitlab-prod", event_name="push")
    assert code == 0 and "warning" not in out
    code, out = run_person([tmp_path], tmp_path / "push.json", source="gitlab-prod", event_name="push")
    assert code == 0
    assert "warning: " in out and "define EventSource default/gitlab-prod" in out
