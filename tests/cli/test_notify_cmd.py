"""`tagpilot notify test --batch FILE`: the JSON shapes, Go's fmt for values, errors per line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tagpilot.cli.notify_cmd import run_batch
from tests.integration.cli import run_tagpilot

CASES = [
    ({"expr": "app.status.operationState.phase in ['Succeeded'] and app.status.health.status == 'Healthy'",
      "env": {"app": {"status": {"operationState": {"phase": "Succeeded"}, "health": {"status": "Healthy"}}}}},
     {"triggered": True, "value": "true"}),
    ({"expr": "n + 1", "env": {"n": 1}}, {"triggered": False, "value": "2"}),  # env numbers are float64
    ({"expr": "n / 4", "env": {"n": 1}}, {"triggered": False, "value": "0.25"}),
    ({"expr": "m", "env": {"m": {"b": [1, "x", None], "a": True}}},
     {"triggered": False, "value": "map[a:true b:[1 x <nil>]]"}),
    ({"expr": "x", "env": {"x": None}}, {"triggered": False, "value": "<nil>"}),
    ({"expr": "'true'", "env": {}}, {"triggered": False, "value": "true"}),  # a string is not triggered
    ({"expr": "app.x.y", "env": {"app": {}}}, {"triggered": False, "error": "cannot fetch y from <nil> (1:7)"}),
    ({"expr": "time.Now().Sub(time.Parse(t)).Minutes() >= 5", "env": {"t": "2024-01-01T00:00:00Z"}},
     {"triggered": True, "value": "true"}),
]


def test_batch_lines(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(case) + "\n" for case, _ in CASES) + "not json\n")
    code, out = run_batch(path, now=dt.datetime(2024, 1, 1, 0, 10, tzinfo=dt.UTC))
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert lines[:-1] == [want for _, want in CASES]
    assert lines[-1]["triggered"] is False and lines[-1]["error"].startswith("invalid JSON line")


def test_cli(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps({"expr": "1 < 2", "env": {}}) + "\n")
    result = run_tagpilot("notify", "test", "--batch", path)
    assert result.code == 0 and json.loads(result.stdout) == {"triggered": True, "value": "true"}
    missing = run_tagpilot("notify", "test", "--batch", tmp_path / "nope.jsonl")
    assert missing.code == 2 and "cannot read" in missing.stderr
