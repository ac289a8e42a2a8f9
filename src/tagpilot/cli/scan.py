"""`tagpilot scan`: list the tags of every ImageRepository now and store them.

A plain command line (`-f`, `--state`, `-o` with ordinary values: `run_plain`) runs without typer,
as `update` does: a cron job or CI step pays for the scan, not for parsing three options. Anything
else (`--help`, a typo, a completion request) goes through typer, which prints its usual messages.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tagpilot.cli.plain import (
    FILES_STATE_OUTPUT,
    Output,
    err,
    files_output_state,
    load,
    read_plain,
    render_views,
    sorted_objects,
)

if TYPE_CHECKING:
    import typer


async def _scan(files: list[Path], state: Path | None) -> list[tuple[dict[str, Any], str | None]]:
    """Scan every ImageRepository now, through the controller (status, events and metrics as the daemon)."""
    from tagpilot.config.flux_image import ImageRepository
    from tagpilot.engine.local import local_controller
    from tagpilot.engine.status import object_view

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


def run_scan(files: list[Path], output: Output, state: Path | None) -> int:
    """Scan, print the ImageRepositories in `output`'s format and the failures; the exit code."""
    scanned = asyncio.run(_scan(files, state))
    from tagpilot.engine.kinds import KINDS

    render_views([view for view, _error in scanned], output, KINDS.get("ImageRepository"))
    errors = [error for _view, error in scanned if error]
    for error in errors:
        err(f"error: {error}")
    return 1 if errors else 0


def run_plain(argv: Sequence[str]) -> int | None:
    """`tagpilot scan ARGV` without typer: its exit code, or None when typer must parse `argv`."""
    options = read_plain(argv, FILES_STATE_OUTPUT)
    if options is None:
        return None
    return run_scan(*files_output_state(options))


def register(app: typer.Typer) -> None:
    import typer

    from tagpilot.cli.common import FilesOption, OutputOption, StateOption

    def scan(
        files: FilesOption = [],  # noqa: B006 - typer needs a literal default
        output: OutputOption = Output.table,
        state: StateOption = None,
    ) -> None:
        """Scan every ImageRepository now, concurrently, and store the tags and status.

        Exit 0 when every scan succeeded, 1 when any failed (its status says why), 2 for invalid configuration.
        """
        code = run_scan(files, output, state)
        if code:
            raise typer.Exit(code)

    # typer reads the annotations, which `from __future__ import annotations` left as text: give it
    # the objects (they live in this function, not in the module's globals)
    scan.__annotations__.update(files=FilesOption, output=OutputOption, state=StateOption)
    app.command("scan")(scan)
