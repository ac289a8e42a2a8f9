"""`tagpilot notify test --batch FILE`: evaluate argocd-notifications (expr-lang) conditions.

FILE has one JSON object a line, `{"expr": E, "env": {...}}`; the command prints one JSON line each:
`{"triggered": BOOL, "value": STR}` — the result as Go's fmt prints it, `triggered` true only for a
boolean true, as notifications-engine decides — or `{"triggered": false, "error": MSG}`. JSON numbers
of `env` are float64, as Go's encoding/json decodes them into an interface{}. The `time`, `strings`
and `repo` helper namespaces are defined unless `env` has its own.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import typer

from tagpilot.expr.exprlang import ExprLangError, evaluate
from tagpilot.gotemplate.gofmt import sprint
from tagpilot.notify.render import helpers


def _test_line(line: str, now: dt.datetime) -> dict[str, Any]:
    try:
        obj = json.loads(line, parse_int=float)
    except ValueError as exc:
        return {"triggered": False, "error": f"invalid JSON line: {exc}"}
    if not isinstance(obj, dict) or not isinstance(obj.get("expr"), str) or \
            not isinstance(obj.get("env", {}), dict):
        return {"triggered": False, "error": 'each line must be a JSON object {"expr": string, "env": object}'}
    env = {**helpers(now), **(obj.get("env") or {})}
    try:
        value = evaluate(obj["expr"], env)
    except ExprLangError as exc:
        return {"triggered": False, "error": str(exc)}
    return {"triggered": value is True, "value": sprint(value)}


def run_batch(path: str | Path, now: dt.datetime | None = None) -> tuple[int, str]:
    """Evaluate every line of a batch file; exit code 0 unless the file cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return 2, f"cannot read {path}: {exc.strerror}\n"
    now = now or dt.datetime.now(dt.UTC)
    out = [json.dumps(_test_line(line, now), ensure_ascii=False) + "\n" for line in text.splitlines() if line.strip()]
    return 0, "".join(out)


def register(notify_app: typer.Typer) -> None:
    """Add `test` to the `notify` command group."""

    @notify_app.command("test")
    def test_cmd(
        batch: str = typer.Option(None, "--batch", help='JSON-lines file of {"expr": E, "env": {...}} cases.'),
    ) -> None:
        """Evaluate argocd-notifications trigger conditions (expr-lang), as a trigger would.

        `--batch FILE`: one JSON object a line; prints {"triggered", "value"} or {"triggered": false, "error"}.
        """
        if not batch:
            typer.echo("give --batch FILE\n", nl=False, err=True)
            raise typer.Exit(2)
        code, out = run_batch(batch)
        typer.echo(out, nl=False, err=code != 0)
        raise typer.Exit(code)
