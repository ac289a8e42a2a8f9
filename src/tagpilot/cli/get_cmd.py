"""`tagpilot get KIND [NAME]` for every kind in the registry, and `tagpilot get all`.

KIND is resolved in the kind registry (`engine/kinds.py`) when the command runs, so a new kind
needs no change here (and start-up does not import every kind); its table shows the kind's own
columns between NAMESPACE/NAME and READY/SUSPENDED/MESSAGE. The commands read the configuration
and the stored status; nothing is contacted. `-o json` prints a JSON array of `{"kind",
"namespace", "name", "spec", "status", "suspended"}` objects, `-o yaml` the same as YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tagpilot.cli.common import FilesOption, Output, OutputOption, StateOption, load, open_store
from tagpilot.cli.plain import render_views as render
from tagpilot.errors import ConfigError

if TYPE_CHECKING:
    from tagpilot.engine.kinds import Kind

NameArg = Annotated[str | None, typer.Argument(metavar="[NAME]", help="Only the object of this name.")]
NamespaceOption = Annotated[str | None, typer.Option("-n", "--namespace", help="Only this namespace.")]


def views_of(kinds: list[Kind], files: list[Path], state: Path | None, name: str | None = None,
             namespace: str | None = None) -> list[dict[str, Any]]:
    """The objects of `kinds` (in that order), each with its stored status and whether it is suspended."""
    from tagpilot.engine.kinds import KINDS

    config = load(files)
    views = []
    with open_store(state) as store:
        for kind in kinds:
            found = sorted(config.of_kind(kind.model), key=lambda o: (o.namespace, o.name))
            for obj in found:
                if (name and obj.name != name) or (namespace and obj.namespace != namespace):
                    continue
                views.append(KINDS.view(config, store, obj))
    if name and not views:
        where = f" in namespace {namespace}" if namespace else ""
        raise ConfigError(f"no {'/'.join(k.name for k in kinds)} named {name!r}{where} in the configuration")
    return views


def get(
    kind: Annotated[str, typer.Argument(
        metavar="KIND", help="all, or a kind: imagerepositories, imagepolicies, imageupdateautomations, "
        "gitrepositories, receivers, eventsources, sensors (singular and short names work: policy, repo...)")],
    name: NameArg = None,
    namespace: NamespaceOption = None,
    files: FilesOption = [],  # noqa: B006 - typer needs a literal default
    output: OutputOption = Output.table,
    state: StateOption = None,
) -> None:
    """Show objects with their stored status (no registry or git is contacted)."""
    from tagpilot.engine.kinds import KINDS

    if kind.lower() == "all":
        kinds = KINDS.reconciled() + [k for k in KINDS.all() if not k.reconciled and k.listed]
        render(views_of(kinds, files, state, name, namespace), output, None)
        return
    found = KINDS.find(kind)
    if found is None or not found.listed:
        names = ", ".join(["all", *(k.plural for k in KINDS.all() if k.listed)])
        raise typer.BadParameter(f"unknown kind {kind!r}; one of: {names}", param_hint="KIND")
    render(views_of([found], files, state, name, namespace), output, found)


def register(app: typer.Typer) -> None:
    app.command("get")(get)
