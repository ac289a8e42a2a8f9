"""The `tagpilot` command line: thin; it parses input, calls the engine, renders output."""

from __future__ import annotations

import typer

from tagpilot import __version__
from tagpilot.cli import objects, policy_eval, policy_live, reconcile, run, sensor_cmd, template_cmd, update_cmd
from tagpilot.cli import scan as scan_cmd

app = typer.Typer(
    name="tagpilot",
    help="Keeps the container images deployed through GitOps up to date (Flux and Argo CD formats).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
get_app = typer.Typer(help="Show stored status.", no_args_is_help=True)
app.add_typer(get_app, name="get")

scan_cmd.register(app, get_app)
reconcile.register(app, get_app)
objects.register(app, get_app)
policy_app = typer.Typer(help="Evaluate and test image policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
policy_eval.register(policy_app)
policy_live.register(policy_app)
update_cmd.register(app)
run.register(app)
sensor_app = typer.Typer(help="Test Argo Events sensor filters.", no_args_is_help=True)
app.add_typer(sensor_app, name="sensor")
sensor_cmd.register(sensor_app)
template_app = typer.Typer(help="Go text/template rendering (commit messages, notifications).", no_args_is_help=True)
app.add_typer(template_app, name="template")
template_cmd.register(template_app)


@app.command()
def version() -> None:
    """Print tagpilot's version."""
    print(__version__)


def main() -> None:
    app()
