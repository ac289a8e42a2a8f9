"""`tagpilot reconcile`: one round of the controllers, here or through a running daemon.

`reconcile` runs one round of the controllers, in dependency order: scan the ImageRepositories
(`--due-only`: those that are due), evaluate every ImagePolicy against the stored tags, then run
every ImageUpdateAutomation (commit and push, or with `--dry-run` print the diff and the commit
message and push nothing).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from tagpilot.cli.plain import (
    FILES_STATE_OUTPUT,
    Output,
    condition_summary,
    err,
    files_output_state,
    load,
    print_json,
    print_table,
    read_plain,
)
from tagpilot.errors import ConfigError

if TYPE_CHECKING:
    import typer

    from tagpilot.engine.controller import ReconcileResult


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


def run_reconcile(files: list[Path], output: Output, state: Path | None, *, target: str | None = None,
                  dry_run: bool = False, due_only: bool = False) -> int:
    """One round here (every object, or `target` and what it makes due); print it; the exit code."""
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
    return 1 if failures else 0


RECONCILE_OPTIONS = {**FILES_STATE_OUTPUT, "--dry-run": ("dry_run", "flag"), "--due-only": ("due_only", "flag")}


def run_plain(argv: Sequence[str]) -> int | None:
    """`tagpilot reconcile ARGV` without typer (a whole round, here): its exit code, or None when
    typer must parse `argv` (a KIND/NAMESPACE/NAME target among them: it may go to a daemon)."""
    options = read_plain(argv, RECONCILE_OPTIONS)
    if options is None:
        return None
    return run_reconcile(*files_output_state(options), dry_run=options.get("dry_run", False),
                         due_only=options.get("due_only", False))


def register(app: typer.Typer) -> None:
    import typer

    from tagpilot.cli.common import FilesOption, OutputOption, StateOption

    TargetArgument = Annotated[str | None, typer.Argument(
        metavar="[KIND/NAMESPACE/NAME]",
        help="Only this object (and what its result makes due). Asks a running daemon when there is one.")]
    DryRunOption = Annotated[bool, typer.Option(
        "--dry-run", help="Print the diff and commit message; push nothing.")]
    DueOnlyOption = Annotated[bool, typer.Option(
        "--due-only", help="Scan only the ImageRepositories whose interval has passed (for cron jobs).")]

    def reconcile(
        target: TargetArgument = None,
        files: FilesOption = [],  # noqa: B006 - typer needs a literal default
        output: OutputOption = Output.table,
        state: StateOption = None,
        dry_run: DryRunOption = False,
        due_only: DueOnlyOption = False,
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
            from tagpilot.cli.api_client import DaemonClient
            from tagpilot.cli.common import key_of

            key = key_of(target)
            client = DaemonClient.find(state)
            if client is not None:
                client.object_action(key, "reconcile")
                print(f"{'/'.join(key)}: reconcile queued by the daemon at {client.url}")
                return
        code = run_reconcile(files, output, state, target=target, dry_run=dry_run, due_only=due_only)
        if code:
            raise typer.Exit(code)

    # typer reads the annotations, which `from __future__ import annotations` leaves as text naming
    # this function's locals: give it the objects
    reconcile.__annotations__.update(target=TargetArgument, files=FilesOption, output=OutputOption, state=StateOption,
                                     dry_run=DryRunOption, due_only=DueOnlyOption)
    app.command("reconcile")(reconcile)
