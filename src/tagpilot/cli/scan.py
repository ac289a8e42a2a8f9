"""`tagpilot scan`: list the tags of every ImageRepository now and store them."""

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
    load,
    sorted_objects,
)
from tagpilot.engine.status import object_view


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
            status = result.outcome.status.to_json() if result.outcome else {}
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
    from tagpilot.cli.get_cmd import render
    from tagpilot.engine.kinds import KINDS

    render([view for view, _error in scanned], output, KINDS.get("ImageRepository"))
    errors = [error for _view, error in scanned if error]
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
