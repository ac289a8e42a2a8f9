"""`tagpilot scan` and `tagpilot get repositories`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import typer

from tagpilot.cli.common import (
    FilesOption,
    Output,
    OutputOption,
    StateOption,
    condition_summary,
    load,
    print_json,
    print_table,
    sorted_objects,
    stored_views,
)
from tagpilot.engine.status import object_view


def _render(views: list[dict[str, Any]], output: Output) -> None:
    if output is Output.json:
        print_json(views)
        return
    rows = []
    for view in views:
        status = view["status"]
        last = status.get("lastScanResult") or {}
        ready, message = condition_summary(status)
        if view["spec"].get("suspend"):
            ready, message = ready, f"suspended; {message}"
        rows.append([
            view["namespace"], view["name"], view["spec"]["image"], str(last.get("tagCount", "-")),
            (last.get("latestTags") or ["-"])[0], last.get("scanTime", "-"), ready, message,
        ])
    print_table(["NAMESPACE", "NAME", "IMAGE", "TAGS", "LATEST TAG", "LAST SCAN", "READY", "MESSAGE"], rows)


async def _scan(files: list[Path], state: Path | None) -> list[tuple[dict[str, Any], str | None]]:
    """Scan every ImageRepository now, through the controller (status, events and metrics as the daemon)."""
    from tagpilot.config.flux_image import ImageRepository
    from tagpilot.engine.local import local_controller

    config = load(files)
    repos = sorted_objects(config, ImageRepository)
    async with local_controller(config, state) as controller:

        async def run(repo: Any, advance: Any = None) -> tuple[dict[str, Any], str | None]:
            result = await controller.reconcile(repo.key, force=True)
            if advance:
                advance()
            status = result.outcome.status if result.outcome else {}
            return object_view(repo, status), None if result.ok else f"{repo.ref}: {result.error}"

        if sys.stderr.isatty() and len(repos) > 1:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("scanning", total=len(repos))
                return list(await asyncio.gather(*(run(r, lambda: bar.advance(task)) for r in repos)))
        return list(await asyncio.gather(*(run(r) for r in repos)))


def scan(
    files: FilesOption = [],  # noqa: B006 - typer needs a literal default
    output: OutputOption = Output.table,
    state: StateOption = None,
) -> None:
    """Scan every ImageRepository now, concurrently, and store the tags and status.

    Exit 0 when every scan succeeded, 1 when any failed (its status says why), 2 for invalid configuration.
    """
    scanned = asyncio.run(_scan(files, state))
    _render([view for view, _error in scanned], output)
    errors = [error for _view, error in scanned if error]
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        raise typer.Exit(1)


def get_repositories(
    files: FilesOption = [],  # noqa: B006
    output: OutputOption = Output.table,
    state: StateOption = None,
) -> None:
    """Show the stored status of every ImageRepository, without scanning."""

    from tagpilot.config.flux_image import ImageRepository

    _render(stored_views(files, state, ImageRepository)), output


def register(app: typer.Typer, get_app: typer.Typer) -> None:
    app.command("scan")(scan)
    get_app.command("repositories")(get_repositories)
    get_app.command("repository", hidden=True)(get_repositories)
