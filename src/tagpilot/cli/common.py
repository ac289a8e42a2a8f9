"""Pieces every command shares: loading configuration, the state directory, output and exit codes.

Expected failures are `TagpilotError`s: commands let them propagate, and `cli.main.run` prints
their message (no traceback) and exits with the error's exit code (2 for invalid configuration, 1
otherwise).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from tagpilot.store import DEFAULT_STATE_DIR, Store

if TYPE_CHECKING:
    from tagpilot.config.loader import Config
    from tagpilot.engine.keys import ObjectKey

T = TypeVar("T")


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


FilesOption = Annotated[
    list[Path],
    typer.Option("-f", "--file", help="A YAML file or a directory (recursive *.yaml/*.yml); repeatable."),
]
StateOption = Annotated[
    Path | None,
    typer.Option("--state", envvar="TAGPILOT_STATE", help=f"State directory (default ./{DEFAULT_STATE_DIR})."),
]
OutputOption = Annotated[Output, typer.Option("-o", "--output", help="Output format.")]


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load(files: Sequence[Path]) -> Config:
    """Load the configuration named by -f; kinds nobody reads are reported once on stderr."""
    if not files:
        from tagpilot.errors import ConfigError

        raise ConfigError("no configuration given: pass -f FILE or -f DIR")
    from tagpilot.config.loader import load_config  # the models are the heaviest import: load on use

    config = load_config(files)
    for message in config.ignored:
        err(f"warning: {message}")
    return config


def open_store(state: Path | None) -> Store:
    """The state database of `--state` (else `$TAGPILOT_STATE`, else ./.tagpilot: `store.db.state_dir`)."""
    return Store.open(state)


def key_of(text: str) -> ObjectKey:
    """`KIND/NAMESPACE/NAME` from the command line, or a usage error (exit 2)."""
    from tagpilot.engine.keys import parse_key

    try:
        return parse_key(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def sorted_objects(config: Config, model: type[T]) -> list[T]:
    return sorted(config.of_kind(model), key=lambda o: (o.namespace, o.name))  # type: ignore[attr-defined]


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


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain aligned table (like kubectl's), readable in a terminal and in a CI log alike."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["   ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines += ["   ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    sys.stdout.write("\n".join(lines) + "\n")


def condition_summary(status: dict[str, Any]) -> tuple[str, str]:
    """(READY column, MESSAGE column) from a status' Ready condition."""
    for condition in status.get("conditions", []):
        if condition.get("type") == "Ready":
            return condition.get("status", "Unknown"), condition.get("message", "")
    return "Unknown", "not reconciled yet"
