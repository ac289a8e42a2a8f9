"""The `tagpilot` command line: thin; it parses input, calls the engine, renders output.

Exit codes, decided here once for every command (`main`): 0 success; 1 an object failed or a
warning a person must act on (the message says which and why); 2 usage or configuration errors
(`ConfigError`, a bad flag); 3 an internal error (a bug: a one-line message, never a traceback,
unless TAGPILOT_DEBUG=1). Expected failures are `TagpilotError`s (errors.py): commands let them
propagate and this handler prints `error: <message>`.
"""

from __future__ import annotations

import os
import sys

import typer

from tagpilot import __version__
from tagpilot.cli import (
    approvals_cmd,
    copy_cmd,
    get_cmd,
    notify_cmd,
    objects,
    policy_eval,
    policy_live,
    promote_cmd,
    reconcile,
    retention_cmd,
    run,
    sensor_cmd,
    template_cmd,
    update_cmd,
)
from tagpilot.cli import scan as scan_cmd

app = typer.Typer(
    name="tagpilot",
    help="Keeps the container images deployed through GitOps up to date (Flux and Argo CD formats).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Every command module has `register(target)`: the root app, or the group its commands belong to.
scan_cmd.register(app)
reconcile.register(app)
get_cmd.register(app)
objects.register(app)
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
notify_app = typer.Typer(help="Test and send notifications (argocd-notifications triggers).", no_args_is_help=True)
app.add_typer(notify_app, name="notify")
notify_cmd.register(notify_app)
retention_cmd.register(app)
approvals_cmd.register(app)
copy_cmd.register(app)
promote_cmd.register(app)


@app.command()
def version() -> None:
    """Print tagpilot's version."""
    print(__version__)


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def main() -> None:
    sys.exit(run(sys.argv[1:]))


def run(argv: list[str]) -> int:
    """Run one command line; map the exception tree to an exit code (the module docstring lists them)."""
    from tagpilot.errors import TagpilotError

    try:
        # standalone: typer prints usage errors and help itself and exits 2 / 0 through SystemExit
        app(args=argv, prog_name="tagpilot")
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (EXIT_OK if done.code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except TagpilotError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except Exception as exc:
        if os.environ.get("TAGPILOT_DEBUG"):
            raise
        print(f"internal error: {exc.__class__.__name__}: {exc} (a bug in tagpilot; run again with "
              "TAGPILOT_DEBUG=1 for the traceback and report it)", file=sys.stderr, flush=True)
        return EXIT_INTERNAL
    return EXIT_OK
