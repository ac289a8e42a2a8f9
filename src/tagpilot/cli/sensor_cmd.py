"""`tagpilot sensor test --batch FILE`: run Argo Events dependency filters over events.

FILE has one JSON object a line, `{"filters": <EventDependencyFilter>, "event": <event data>}`
(optional `"filtersLogicalOperator"`), and the command prints one JSON line each,
`{"pass": true|false, "errors": [...]}`, so a table of cases can be compared with Argo's own
results. Event numbers keep their JSON text, as gjson sees them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from tagpilot.events.filters import apply_filters
from tagpilot.events.paths import PathError, loads


def _test_line(line: str) -> dict[str, Any]:
    try:
        obj = loads(line)
    except PathError as e:
        return {"pass": False, "errors": [str(e)]}
    if not isinstance(obj, dict) or not isinstance(obj.get("filters"), (Mapping, type(None))):
        return {"pass": False, "errors": ['each line must be a JSON object with "filters" and "event"']}
    operator = obj.get("filtersLogicalOperator") or "and"
    result = apply_filters(obj.get("filters"), obj.get("event"), operator=str(operator))
    return {"pass": result.passed, "errors": result.errors}


def run_batch(path: str | Path) -> tuple[int, str]:
    """Evaluate every line of a batch file; exit code 0 unless the file cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        return 2, f"cannot read {path}: {e.strerror}\n"
    out = [json.dumps(_test_line(line), ensure_ascii=False) + "\n" for line in text.splitlines() if line.strip()]
    return 0, "".join(out)




def register(sensor_app: typer.Typer) -> None:
    """Add `test` to the `sensor` command group: `--batch FILE` for machines, `-f PATH --event FILE` for people."""

    @sensor_app.command("test")
    def test_cmd(
        batch: str = typer.Option(None, "--batch", help="JSON-lines file of {filters, event} cases."),
        files: list[Path] = typer.Option([], "-f", "--file", help="Sensor/EventSource YAML files or directories."),
        event: Path = typer.Option(None, "--event", help="A webhook body (JSON) to run through the sensors."),
        header: list[str] = typer.Option([], "--header", help="A request header NAME:VALUE (repeatable)."),
        source: str = typer.Option(None, "--source", help="The EventSource name the event comes from."),
        event_name: str = typer.Option(None, "--event-name", help="The event name within the EventSource."),
    ) -> None:
        """Apply Argo Events dependency filters to events, as a sensor would.

        `--batch FILE`: one JSON object a line, {"filters": ..., "event": ...}; prints {"pass", "errors"} lines.
        `-f PATH --event payload.json [--header K:V]`: which sensors and triggers would fire, and why.
        """
        if batch:
            code, out = run_batch(batch)
        elif files and event:
            from tagpilot.cli.sensor_person import run_person

            code, out = run_person(files, event, header, source=source, event_name=event_name)
        else:
            typer.echo("give --batch FILE, or -f PATH --event FILE\n", nl=False, err=True)
            raise typer.Exit(2)
        typer.echo(out, nl=False, err=code != 0)
        raise typer.Exit(code)
