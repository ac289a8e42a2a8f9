"""Pieces every command shares: loading configuration, the state directory, output and exit codes.

The parts that do not need typer are in `cli/plain.py` (re-exported here); this module adds the
typer options every command spells the same way. Expected failures are `TagpilotError`s: commands
let them propagate, and `cli.main.run` prints their message (no traceback) and exits with the
error's exit code (2 for invalid configuration, 1 otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tagpilot.cli.plain import (  # noqa: F401 - re-exported for the command modules
    FILES_HELP,
    OUTPUT_HELP,
    Output,
    condition_summary,
    err,
    load,
    open_store,
    print_json,
    print_table,
    sorted_objects,
)
from tagpilot.store import DEFAULT_STATE_DIR

if TYPE_CHECKING:
    from tagpilot.engine.keys import ObjectKey

STATE_HELP = f"State directory (default ./{DEFAULT_STATE_DIR})."
FilesOption = Annotated[list[Path], typer.Option("-f", "--file", help=FILES_HELP)]
StateOption = Annotated[Path | None, typer.Option("--state", envvar="TAGPILOT_STATE", help=STATE_HELP)]
OutputOption = Annotated[Output, typer.Option("-o", "--output", help=OUTPUT_HELP)]


def key_of(text: str) -> ObjectKey:
    """`KIND/NAMESPACE/NAME` from the command line, or a usage error (exit 2)."""
    from tagpilot.engine.keys import parse_key

    try:
        return parse_key(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def stored_views(files: Sequence[Path], state: Path | None, model: type[Any]) -> list[dict[str, Any]]:
    """`{"kind", "namespace", "name", "spec", "status"}` for every object of `model`, status from the store."""
    from tagpilot.engine.status import object_view

    config = load(files)
    with open_store(state) as store:
        views = []
        for obj in sorted_objects(config, model):
            stored = store.get_object(obj.kind, obj.namespace, obj.name)
            views.append(object_view(obj, stored.status if stored else {}))
    return views
