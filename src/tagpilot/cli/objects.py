"""Commands on single objects and the events log: `get all`, `events`, `suspend`, `resume`.

They read the state directory directly (SQLite lets them read while a daemon writes) and, for
changes, go through a running daemon's API when there is one (`<state>/daemon.json`), so the daemon
acts at once; without a daemon they change the store and the next run picks it up.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

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
    running_daemon,
    sorted_objects,
)
from tagpilot.engine.keys import ObjectKey, parse_key
from tagpilot.engine.status import object_view

ObjectArg = Annotated[str, typer.Argument(metavar="KIND/NAMESPACE/NAME",
                                          help="e.g. ImageRepository/apps/podinfo (KIND/NAME means namespace default)")]


def key_of(text: str) -> ObjectKey:
    try:
        return parse_key(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def get_all(
    files: FilesOption = [],  # noqa: B006
    output: OutputOption = Output.table,
    state: StateOption = None,
) -> None:
    """Every ImageRepository, ImagePolicy and ImageUpdateAutomation with its stored status."""

    from tagpilot.config.flux_automation import ImageUpdateAutomation
    from tagpilot.config.flux_image import ImagePolicy, ImageRepository

    def body() -> list[dict[str, Any]]:
        config = load(files)  # once, and one store, for the three kinds
        with open_store(state) as store:
            views = []
            for model in (ImageRepository, ImagePolicy, ImageUpdateAutomation):
                for obj in sorted_objects(config, model):
                    stored = store.get_object(obj.kind, obj.namespace, obj.name)
                    views.append(object_view(obj, stored.status if stored else {}))
            return views

    views = run_guarded(body)
    if output is Output.json:
        print_json(views)
        return
    rows = []
    for view in views:
        ready, message = condition_summary(view["status"])
        rows.append([view["kind"], view["namespace"], view["name"], ready, message])
    print_table(["KIND", "NAMESPACE", "NAME", "READY", "MESSAGE"], rows)


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

    found = run_guarded(body)
    if output is Output.json:
        print_json(found)
        return
    rows = [[time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e["time"])), e["type"],
             f"{e['kind']}/{e['namespace']}/{e['name']}", e["reason"], e["message"][:160]] for e in found]
    print_table(["TIME", "TYPE", "OBJECT", "REASON", "MESSAGE"], rows)


def _set_suspended(target: str, state: Path | None, suspended: bool) -> None:
    key = key_of(target)
    verb = "suspend" if suspended else "resume"
    done = "suspended" if suspended else "resumed"
    url = running_daemon(state)
    if url is not None:
        import httpx

        try:
            response = httpx.post(f"{url}/api/v1/objects/{key[0]}/{key[1]}/{key[2]}/{verb}", json={},
                                  timeout=10)  # the API takes JSON only (no cross-site form posts)
        except httpx.HTTPError as exc:
            err(f"error: the daemon at {url} did not answer: {exc.__class__.__name__}")
            raise typer.Exit(1) from None
        if response.status_code == 404:
            err(f"error: {'/'.join(key)} is not in the running daemon's configuration")
            raise typer.Exit(1)
        if response.status_code >= 400:
            err(f"error: the daemon at {url} answered {response.status_code}")
            raise typer.Exit(1)
        print(f"{'/'.join(key)} {done} (through the daemon at {url})")
        return

    def body() -> None:
        with open_store(state) as store:
            store.set_suspended(*key, suspended)
            store.add_event(*key, "Normal", "Suspended" if suspended else "Resumed", f"{done} from the CLI")

    run_guarded(body)
    print(f"{'/'.join(key)} {done}")


def suspend(target: ObjectArg, state: StateOption = None) -> None:
    """Stop reconciling an object (kept in the state directory; the YAML files are not touched)."""
    _set_suspended(target, state, True)


def resume(target: ObjectArg, state: StateOption = None) -> None:
    """Reconcile a suspended object again."""
    _set_suspended(target, state, False)


def register(app: typer.Typer, get_app: typer.Typer) -> None:
    get_app.command("all")(get_all)
    app.command("events")(events)
    app.command("suspend")(suspend)
    app.command("resume")(resume)
