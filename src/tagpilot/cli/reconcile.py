"""`tagpilot reconcile` and `tagpilot get policies`.

`reconcile` runs one round of the controllers, in dependency order: scan the ImageRepositories that
are due, then evaluate every ImagePolicy against the stored tags.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

from tagpilot.cli.common import (
    FilesOption,
    Output,
    OutputOption,
    StateOption,
    condition_summary,
    err,
    load,
    open_store,
    print_json,
    print_table,
    run_guarded,
    sorted_objects,
    stored_views,
)
from tagpilot.config.flux_image import ImagePolicy, ImageRepository
from tagpilot.engine.policies import PolicyReconciler, latest_text
from tagpilot.engine.scan import Scanner
from tagpilot.engine.status import object_view
from tagpilot.registry.client import RegistryClient


async def _reconcile(files: list[Path], state: Path | None) -> tuple[list[dict[str, Any]], list[str]]:
    config = load(files)
    views: list[dict[str, Any]] = []
    failures: list[str] = []
    with open_store(state) as store:
        async with RegistryClient(cache=store) as client:
            scans = await Scanner(config, store, client).scan_all(
                sorted_objects(config, ImageRepository), only_if_due=True)
            for scan in scans:
                views.append(object_view(scan.repository, scan.status))
                if not scan.ok:
                    failures.append(f"{scan.repository.ref}: {scan.error}")
            reconciler = PolicyReconciler(config, store, client)
            for outcome in await reconciler.reconcile_all(sorted_objects(config, ImagePolicy)):
                views.append(object_view(outcome.policy, outcome.status))
                if not outcome.ok:
                    failures.append(f"{outcome.policy.ref}: {outcome.error}")
    return views, failures


def _summary_rows(views: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for view in views:
        ready, message = condition_summary(view["status"])
        if view["spec"].get("suspend"):
            message = f"suspended; {message}"
        rows.append([view["kind"], view["namespace"], view["name"], ready, message])
    return rows


def reconcile(
    files: FilesOption = [],  # noqa: B006 - typer needs a literal default
    output: OutputOption = Output.table,
    state: StateOption = None,
) -> None:
    """Run every controller once: scan the ImageRepositories that are due, then evaluate every ImagePolicy.

    Exit 0 on success, 1 if any object failed, 2 for invalid configuration.
    """
    views, failures = run_guarded(lambda: asyncio.run(_reconcile(files, state)))
    if output is Output.json:
        print_json(views)
    else:
        print_table(["KIND", "NAMESPACE", "NAME", "READY", "MESSAGE"], _summary_rows(views))
    for failure in failures:
        err(f"error: {failure}")
    if failures:
        raise typer.Exit(1)


def get_policies(
    files: FilesOption = [],  # noqa: B006
    output: OutputOption = Output.table,
    state: StateOption = None,
) -> None:
    """Show the stored `latestRef` and Ready condition of every ImagePolicy."""

    views = run_guarded(lambda: stored_views(files, state, ImagePolicy))
    if output is Output.json:
        print_json(views)
        return
    rows = []
    for view in views:
        ready, message = condition_summary(view["status"])
        rows.append([view["namespace"], view["name"], latest_text(view["status"]), ready, message])
    print_table(["NAMESPACE", "NAME", "LATEST IMAGE", "READY", "MESSAGE"], rows)


def register(app: typer.Typer, get_app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
    get_app.command("policies")(get_policies)
    get_app.command("policy", hidden=True)(get_policies)
