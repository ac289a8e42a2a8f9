"""`tagpilot reconcile`: one round of the controllers, here or through a running daemon.

`reconcile` runs one round of the controllers, in dependency order: scan the ImageRepositories
(`--due-only`: those that are due), evaluate every ImagePolicy against the stored tags, then run
every ImageUpdateAutomation (commit and push, or with `--dry-run` print the diff and the commit
message and push nothing).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tagpilot.engine.controller import ReconcileResult

from tagpilot.cli.api_client import DaemonClient
from tagpilot.cli.common import (
    FilesOption,
    Output,
    OutputOption,
    StateOption,
    condition_summary,
    err,
    key_of,
    load,
    print_json,
    print_table,
)
from tagpilot.errors import ConfigError


async def _reconcile(files: list[Path], state: Path | None, target: str | None, *, dry_run: bool, force: bool
                     ) -> tuple[list[dict[str, Any]], list[str], list[ReconcileResult]]:
    """One round here (no daemon): every object, or `target` and what its result makes due."""
    from tagpilot.engine.keys import parse_key
    from tagpilot.engine.local import local_controller, reconcile_round
    from tagpilot.engine.status import object_view

    config = load(files)
    views: list[dict[str, Any]] = []
    failures: list[str] = []
    async with local_controller(config, state) as controller:
        keys = None
        if target is not None:
            key = controller.kinds.normalize(parse_key(target))
            keys = controller.expand(key)
            if not keys:
                raise ConfigError(f"{'/'.join(key)} is not in the configuration (or runs nothing)")
        results = await reconcile_round(controller, keys, force=force, dry_run=dry_run)
    for result in results:
        name = "/".join(result.key)
        outcome = result.outcome
        assert outcome is not None
        views.append(object_view(controller.get(result.key), outcome.status.to_json()))
        for skipped in outcome.skipped_files:
            err(f"warning: {name}: skipped {skipped['path']}: {skipped['reason']}")
        for warning in outcome.warnings:
            failures.append(f"{name}: {warning.message}")
        if not result.ok:
            failures.append(f"{name}: {result.error}")
    return views, failures, results


def _summary_rows(views: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for view in views:
        ready, message = condition_summary(view["status"])
        if view["spec"].get("suspend"):
            message = f"suspended; {message}"
        rows.append([view["kind"], view["namespace"], view["name"], ready, message])
    return rows


def _print_dry_run(results: list[ReconcileResult]) -> None:
    for result in results:
        outcome = result.outcome
        if outcome is None or not outcome.ok or outcome.skipped or not outcome.dry_run:
            continue
        name = "/".join(result.key)
        if not outcome.diff:
            print(f"# {name}: no change")
            continue
        branch = f" to branch '{outcome.branch}'" if outcome.branch else ""
        print(f"# {name}: would commit {len(outcome.files)} file(s){branch} with the message:")
        print("\n".join(f"#   {line}" for line in outcome.message.splitlines()) or "#")
        sys.stdout.write(outcome.diff if outcome.diff.endswith("\n") else outcome.diff + "\n")


def reconcile(
    target: Annotated[str | None, typer.Argument(
        metavar="[KIND/NAMESPACE/NAME]",
        help="Only this object (and what its result makes due). Asks a running daemon when there is one.")] = None,
    files: FilesOption = [],  # noqa: B006 - typer needs a literal default
    output: OutputOption = Output.table,
    state: StateOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff and commit message; push nothing.")]
    = False,
    due_only: Annotated[bool, typer.Option(
        "--due-only", help="Scan only the ImageRepositories whose interval has passed (for cron jobs).")] = False,
) -> None:
    """Run every controller once: scan every ImageRepository, evaluate every ImagePolicy, run every
    ImageUpdateAutomation (in that order; `--due-only` skips scans that are not due).

    With KIND/NAMESPACE/NAME: reconcile that object now, through a running `tagpilot run` (it queues it and
    returns) or, without one, here (-f needed). Exit 0 on success, 1 if any object failed, 2 for invalid
    configuration.
    """
    if target is not None and dry_run:
        raise typer.BadParameter("--dry-run runs every automation; it cannot be combined with KIND/NAMESPACE/NAME")
    if target is not None:
        key = key_of(target)
        client = DaemonClient.find(state)
        if client is not None:
            client.object_action(key, "reconcile")
            print(f"{'/'.join(key)}: reconcile queued by the daemon at {client.url}")
            return
    views, failures, results = asyncio.run(_reconcile(files, state, target, dry_run=dry_run, force=not due_only))
    if output is Output.json:
        if dry_run:
            for view, result in zip(views, results, strict=True):
                outcome = result.outcome
                if outcome is not None and outcome.dry_run:
                    view["dryRun"] = {"files": outcome.files, "diff": outcome.diff, "message": outcome.message}
                    if outcome.branch:
                        view["dryRun"]["branch"] = outcome.branch
        print_json(views)
    elif dry_run:
        _print_dry_run(results)
    else:
        print_table(["KIND", "NAMESPACE", "NAME", "READY", "MESSAGE"], _summary_rows(views))
    for failure in failures:
        err(f"error: {failure}")
    if failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
