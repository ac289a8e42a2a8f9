"""`tagpilot retention plan|apply`: registry cleanup by RetentionPolicy (the planner in `tagpilot.retention`).

`plan` deletes nothing (it records when tagpilot first saw each tag: that is the push time later plans
use). `apply` deletes what the plan says for policies with `dryRun: false`, or for every policy with
`--yes` (which also lifts the maxDeletePercent stop). Exit 1 when any delete failed or was stopped.
"""

from __future__ import annotations

import asyncio
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from tagpilot.cli.common import FilesOption, StateOption, err, load, print_json, print_table, sorted_objects


class PlanOutput(StrEnum):
    table = "table"
    json = "json"


PlanOutputOption = Annotated[PlanOutput, typer.Option("-o", "--output", help="Output format.")]


async def _run(files: list[Path], state: Path | None, *, apply: bool, yes: bool) -> tuple[list[dict[str, Any]], int]:
    from tagpilot.config.retention import RetentionPolicy
    from tagpilot.engine.events import NORMAL, EventStream
    from tagpilot.engine.reconciler import Context
    from tagpilot.engine.retention import apply_run, plan_policies, rows
    from tagpilot.gitops import GitClient
    from tagpilot.registry.client import RegistryClient
    from tagpilot.store import Store

    config = load(files)
    policies = [p for p in sorted_objects(config, RetentionPolicy) if not p.spec.suspend]
    if not policies:
        err("warning: no RetentionPolicy (or all suspended) in the configuration")
        return [], 0
    failures = 0
    with Store.open(state) as store:
        async with RegistryClient(cache=store) as registry:
            events = EventStream.recorded_in(store)
            ctx = Context(config, store, registry, GitClient(store.path.parent))
            runs, deployed = await plan_policies(ctx, policies)
            for run in runs:
                if run.error:
                    err(f"error: {run.error}")
                    failures += 1
                elif run.plan is not None and run.plan.blocked and not (apply and yes):
                    err(f"warning: {run.policy.ref} {run.canonical}: {run.plan.blocked}")
            if not apply:
                return rows(runs), failures
            for run in runs:
                if run.error or run.plan is None:
                    continue
                if run.policy.spec.dry_run and not yes:
                    continue
                try:
                    notes = await apply_run(ctx, run, deployed, force=yes)
                except Exception as exc:
                    from tagpilot.errors import TagpilotError

                    if not isinstance(exc, TagpilotError):
                        raise
                    err(f"error: {run.policy.ref}: {run.canonical}: {exc}")
                    failures += 1
                    continue
                for note in notes:
                    events.emit(run.policy.key, NORMAL, note.reason, note.message, **note.metadata)
                failures += sum(1 for ok, e in run.results.values() if not ok and e)
            dry = sorted({r.policy.ref for r in runs if r.policy.spec.dry_run and not yes})
            for ref in dry:
                err(f"note: {ref} has dryRun: true: nothing deleted (set dryRun: false, or pass --yes)")
            return rows(runs, applied=True), failures


def _table(items: list[dict[str, Any]], applied: bool) -> None:
    headers = ["POLICY", "REPOSITORY", "DIGEST", "TAGS", "ACTION"] + (["DELETED"] if applied else []) + ["REASONS"]
    table = []
    for item in items:
        cells = [item["policy"], item["repository"], item["digest"][:19], ",".join(item["tags"]) or "-",
                 item["action"]]
        if applied:
            cells.append("yes" if item["deleted"] else ("failed" if item.get("error") else "no"))
        cells.append("; ".join(item["reasons"] + ([item["error"]] if item.get("error") else [])))
        table.append(cells)
    print_table(headers, table)


def plan(
    files: FilesOption = [],  # noqa: B006 - typer needs a literal default
    output: PlanOutputOption = PlanOutput.table,
    state: StateOption = None,
) -> None:
    """Show what each RetentionPolicy keeps and deletes, per digest and why. Deletes nothing."""
    items, failures = asyncio.run(_run(files, state, apply=False, yes=False))
    print_json(items) if output == PlanOutput.json else _table(items, applied=False)
    if failures:
        raise typer.Exit(1)


def apply(
    files: FilesOption = [],  # noqa: B006 - typer needs a literal default
    yes: Annotated[bool, typer.Option("--yes", help="Delete also for dryRun policies, and past maxDeletePercent.")]
    = False,
    output: PlanOutputOption = PlanOutput.table,
    state: StateOption = None,
) -> None:
    """Delete what the plan says (policies with dryRun: false, or all with --yes). Exit 1 if any delete failed."""
    items, failures = asyncio.run(_run(files, state, apply=True, yes=yes))
    print_json(items) if output == PlanOutput.json else _table(items, applied=True)
    sys.stdout.flush()
    if failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Registry cleanup by RetentionPolicy (Harbor-style rules, never what is deployed).",
                        no_args_is_help=True)
    group.command("plan")(plan)
    group.command("apply")(apply)
    app.add_typer(group, name="retention")
