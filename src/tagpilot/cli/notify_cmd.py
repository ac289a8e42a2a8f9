"""`tagpilot notify test --batch FILE`, `notify template render`, `notify send`.

`test` evaluates argocd-notifications (expr-lang) conditions:

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

from tagpilot.cli.common import FilesOption, StateOption
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
    """Add `test`, `template render` and `send` to the `notify` command group."""
    template_app = typer.Typer(help="Render notification templates without sending.", no_args_is_help=True)
    notify_app.add_typer(template_app, name="template")

    @template_app.command("render")
    def render_cmd(
        name: str = typer.Argument(..., help="Template name (template.<name> of argocd-notifications-cm)."),
        files: FilesOption = [],  # noqa: B006 (typer reads the default)
        obj: str = typer.Option(..., "--object", help="KIND/NAMESPACE/NAME of the object the message is about."),
        service: str = typer.Option(None, "--service", help="Render the request one service would send."),
        state: StateOption = None,
    ) -> None:
        """Print the rendered notification for a person (like `argocd admin notifications template notify`)."""
        from tagpilot.cli.common import key_of, load, open_store
        from tagpilot.notify.manual import render_template
        from tagpilot.notify.render import RenderError

        key = key_of(obj)
        config = load(files)
        with open_store(state) as store:
            try:
                typer.echo(render_template(config, store, name, key, service), nl=False)
            except RenderError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(1) from None

    @notify_app.command("send")
    def send_cmd(
        files: FilesOption = [],  # noqa: B006
        trigger: str = typer.Option(..., "--trigger", help="Trigger name (trigger.<name>)."),
        obj: str = typer.Option(..., "--object", help="KIND/NAMESPACE/NAME"),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print what would be sent; send nothing."),
        state: StateOption = None,
    ) -> None:
        """Evaluate a trigger for one object and send to its subscribed destinations now (exit 1 if any fails)."""
        import asyncio

        from tagpilot.cli.common import key_of, load, open_store
        from tagpilot.notify.manual import send_now

        key = key_of(obj)
        config = load(files)
        with open_store(state) as store:
            result = asyncio.run(send_now(config, store, trigger, key, dry_run=dry_run))
        for line in result.lines:
            typer.echo(line)
        raise typer.Exit(1 if result.failed else 0)

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
