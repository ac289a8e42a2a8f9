"""What commands share that does not need typer: loading configuration, output, and a plain parser.

The commands a CI job or a cron runs on every build (`update`, `scan`, `reconcile`) are served
without typer when their command line is plain (`read_plain`): importing typer and the pydantic
adapters it builds for every parameter costs ~35 ms, about a twentieth of a warm `tagpilot
reconcile`. `cli/common.py` adds the typer options on top of this module and re-exports it, so a
command module imports one or the other.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from tagpilot.config.loader import Config
    from tagpilot.engine.kinds import Kind
    from tagpilot.store import Store

T = TypeVar("T")

FILES_HELP = "A YAML file or a directory (recursive *.yaml/*.yml); repeatable."
OUTPUT_HELP = "Output format."


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


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
    from tagpilot.store import Store  # not for `update`, which imports this module and no store

    return Store.open(state)


def sorted_objects(config: Config, model: type[T]) -> list[T]:
    return sorted(config.of_kind(model), key=lambda o: (o.namespace, o.name))  # type: ignore[attr-defined]


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


def render_views(views: list[dict[str, Any]], output: Output, kind: Kind | None) -> None:
    """Print `views` as a table (the kind's columns; KIND first for mixed kinds), JSON or YAML
    (`tagpilot get`, `tagpilot scan`)."""
    if output is Output.json:
        print_json(views)
        return
    if output is Output.yaml:
        import yaml

        print(yaml.safe_dump(views, sort_keys=False, default_flow_style=False), end="")
        return
    columns = kind.columns if kind else ()
    headers = ([] if kind else ["KIND"]) + ["NAMESPACE", "NAME", *(c.header for c in columns),
                                            "READY", "SUSPENDED", "MESSAGE"]
    from tagpilot.engine.kinds import KINDS

    reconciled = KINDS.reconciled_names()
    rows = []
    for view in views:
        # kinds nothing reconciles (receivers, sensors) have no Ready condition: say so, not "Unknown"
        ready, message = condition_summary(view["status"]) if view["kind"] in reconciled else ("-", "")
        cells = [] if kind else [view["kind"]]
        cells += [view["namespace"], view["name"], *(column.value(view) for column in columns)]
        cells += [ready, "True" if view.get("suspended") else "False", message]
        rows.append(cells)
    print_table(headers, rows)


Arity = Literal["one", "many", "flag"]
# the options every configuration-reading command has, as `read_plain` wants them
FILES_STATE_OUTPUT: dict[str, tuple[str, Arity]] = {
    "-f": ("files", "many"), "--file": ("files", "many"),
    "--state": ("state", "one"),
    "-o": ("output", "one"), "--output": ("output", "one"),
}


def files_output_state(options: Mapping[str, Any]) -> tuple[list[Path], Output, Path | None]:
    """`-f`, `-o` and `--state` of `read_plain`'s result as typer hands them to a command: paths, a
    table unless told otherwise, and an explicit ``--state=`` as ``Path("")`` (the current directory,
    as with typer), not as absent."""
    state = options.get("state")
    return ([Path(f) for f in options["files"]], options.get("output", Output.table),
            Path(state) if state is not None else None)


def read_plain(argv: Sequence[str], options: Mapping[str, tuple[str, Arity]]) -> dict[str, Any] | None:
    """The options of a plain command line, as typer would read them; None for anything typer
    should see and report itself: help, an unknown option, a positional argument, an option given
    twice that takes one value, a value that looks like an option or is not a valid `-o` format,
    a shell-completion request.

    `options` maps each spelling (``-f``, ``--file``) to (its name, "one", "many" or "flag"). Values
    are strings, lists of strings for "many" (``[]`` when absent), True for a flag given; ``-o`` /
    ``--output`` becomes an `Output`. Values are given as ``--name VALUE`` or ``--name=VALUE``.
    """
    if any(k.startswith("_TAGPILOT_COMPLETE") for k in os.environ):
        return None
    found: dict[str, Any] = {name: [] for name, arity in options.values() if arity == "many"}
    args = list(argv)
    while args:
        spelling, eq, value = args.pop(0).partition("=")
        if spelling not in options or (eq and not spelling.startswith("--")):
            return None
        name, arity = options[spelling]
        if arity == "flag":
            if eq:
                return None
            found[name] = True
            continue
        if not eq:
            if not args or args[0].startswith("-"):
                return None
            value = args.pop(0)
        if arity == "many":
            found[name].append(value)
        elif name in found:
            return None
        else:
            found[name] = value
    if "output" in found:
        if found["output"] not in Output.__members__:
            return None
        found["output"] = Output(found["output"])
    return found
