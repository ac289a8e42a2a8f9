"""Commands on single objects and the events log: `events`, `suspend`, `resume`.

They read the state directory directly (SQLite lets them read while a daemon writes) and, for
changes, go through a running daemon's API when there is one (`<state>/daemon.json`), so the daemon
acts at once; without a daemon they change the store and the next run picks it up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tagpilot.cli.api_client import DaemonClient
from tagpilot.cli.common import (
    Output,
    OutputOption,
    StateOption,
    key_of,
    open_store,
    print_json,
    print_table,
)

ObjectArg = Annotated[str, typer.Argument(metavar="KIND/NAMESPACE/NAME",
                                          help="e.g. ImageRepository/apps/podinfo (KIND/NAME means namespace default)")]


def events(
    target: Annotated[str | None, typer.Argument(metavar="[KIND/NAMESPACE/NAME]", help="Only this object.")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="Only this kind.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000)] = 50,
    output: OutputOption = Output.table,
    state: StateOption = None,
) -> None:
    """Recent events: scans with new tags, selections, commits pushed, failures, webhook deliveries."""
    namespace = name = None
    if target:
        kind, namespace, name = key_of(target)

    def body() -> list[dict[str, Any]]:
        with open_store(state) as store:
            return store.events(kind=kind, namespace=namespace, name=name, limit=limit)

    found = body()
    if output is Output.json:
        print_json(found)
        return
    rows = [[e["time"], e["type"],
             f"{e['kind']}/{e['namespace']}/{e['name']}", e["reason"], e["message"][:160]] for e in found]
    print_table(["TIME", "TYPE", "OBJECT", "REASON", "MESSAGE"], rows)


def _set_suspended(target: str, state: Path | None, suspended: bool) -> None:
    key = key_of(target)
    verb = "suspend" if suspended else "resume"
    done = "suspended" if suspended else "resumed"
    client = DaemonClient.find(state)
    if client is not None:
        client.object_action(key, verb)
        print(f"{'/'.join(key)} {done} (through the daemon at {client.url})")
        return

    def body() -> None:
        from tagpilot.engine.events import NORMAL, EventStream, Reason
        from tagpilot.engine.kinds import KINDS

        normalized = KINDS.normalize(key)
        with open_store(state) as store:
            store.set_suspended(*normalized, suspended)
            reason = Reason.SUSPENDED if suspended else Reason.RESUMED
            EventStream.recorded_in(store).emit(normalized, NORMAL, reason, f"{done} from the CLI")

    body()
    print(f"{'/'.join(key)} {done}")


def suspend(target: ObjectArg, state: StateOption = None) -> None:
    """Stop reconciling an object (kept in the state directory; the YAML files are not touched)."""
    _set_suspended(target, state, True)


def resume(target: ObjectArg, state: StateOption = None) -> None:
    """Reconcile a suspended object again."""
    _set_suspended(target, state, False)


def register(app: typer.Typer) -> None:
    app.command("events")(events)
    app.command("suspend")(suspend)
    app.command("resume")(resume)
