"""The `tagpilot` command line: thin; it parses input, calls the engine, renders output.

Exit codes, decided here once for every command (`main`): 0 success; 1 an object failed or a
warning a person must act on (the message says which and why); 2 usage or configuration errors
(`ConfigError`, a bad flag); 3 an internal error (a bug: a one-line message, never a traceback,
unless TAGPILOT_DEBUG=1). Expected failures are `TagpilotError`s (errors.py): commands let them
propagate and this handler prints `error: <message>`.
"""

from __future__ import annotations

import errno
import gc
import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from tagpilot import __version__

if TYPE_CHECKING:
    import typer

# Every command module has `register(target)`: the root app, or the group its commands belong to.
# One row per module, in the order `tagpilot --help` lists them: the module under tagpilot.cli, the
# group it registers into (None: the root), and the first words of the command lines it serves. A
# command line whose first word is in the table imports only the modules serving that word (the
# command modules import the engine, registries, templates...: most of a `tagpilot update`'s time
# was spent importing code it never ran); anything else (`--help`, `version`, a typo) builds the
# whole application, so help and "no such command" are unchanged. tests/cli/test_main.py checks
# the table against what the modules register.
COMMANDS: tuple[tuple[str, str | None, tuple[str, ...]], ...] = (
    ("scan", None, ("scan",)),
    ("reconcile", None, ("reconcile",)),
    ("get_cmd", None, ("get",)),
    ("objects", None, ("events", "suspend", "resume")),
    ("policy_eval", "policy", ("policy",)),
    ("policy_live", "policy", ("policy",)),
    ("update_cmd", None, ("update",)),
    ("run", None, ("run",)),
    ("sensor_cmd", "sensor", ("sensor",)),
    ("template_cmd", "template", ("template",)),
    ("notify_cmd", "notify", ("notify",)),
    ("retention_cmd", None, ("retention",)),
    ("approvals_cmd", None, ("approvals", "approve", "reject", "pin", "unpin")),
    ("copy_cmd", None, ("copy",)),
    ("promote_cmd", None, ("promote", "history")),
)
# Commands whose module has `run_plain(argv) -> int | None`: a plain command line of theirs runs
# without typer (its import and its parse are ~35 ms); None sends the line to typer as usual.
PLAIN_RUNNERS = {"update": "update_cmd", "scan": "scan", "reconcile": "reconcile"}
# Commands that talk to registries: their first SSL context is built in a thread from the start
# (`registry/tlsprefetch.py`).
REGISTRY_COMMANDS = frozenset({"scan", "reconcile", "retention", "copy", "promote"})
GROUPS = {
    "policy": "Evaluate and test image policies.",
    "sensor": "Test Argo Events sensor filters.",
    "template": "Go text/template rendering (commit messages, notifications).",
    "notify": "Test and send notifications (argocd-notifications triggers).",
}


def version() -> None:
    """Print tagpilot's version."""
    print(__version__)


def build_app(word: str | None = None) -> tuple[typer.Typer, dict[str, typer.Typer]]:
    """The application (and its groups by name) with the modules serving `word`; every module if None.

    `version` is always registered: besides being a command, it keeps the application a group even
    when one module registers one command (typer would make a lone command the root).
    """
    import typer

    root = typer.Typer(
        name="tagpilot",
        help="Keeps the container images deployed through GitOps up to date (Flux and Argo CD formats).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    groups: dict[str, typer.Typer] = {}
    for module, group, words in COMMANDS:
        if word is not None and word not in words:
            continue
        target = root
        if group is not None:
            if group not in groups:
                groups[group] = typer.Typer(help=GROUPS[group], no_args_is_help=True)
                root.add_typer(groups[group], name=group)
            target = groups[group]
        importlib.import_module(f"tagpilot.cli.{module}").register(target)
    root.command("version")(version)
    return root, groups


def app_for(argv: list[str]) -> typer.Typer:
    """The application to run `argv` with: only the modules its first word needs, when it names one."""
    word = argv[0] if argv else None
    known = any(word in words for _, _, words in COMMANDS)
    return build_app(word if known else None)[0]


def __getattr__(name: str) -> Any:
    """`app` and the groups (`policy_app`, ...) of the whole application, built on first use."""
    if name == "app" or (name.endswith("_app") and name[: -len("_app")] in GROUPS):
        full, groups = build_app()
        globals().update(app=full, **{f"{g}_app": t for g, t in groups.items()})
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


# Python collects its youngest generation every 700 new container objects. A command runs a second or
# two and allocates a few hundred thousand objects, nearly all of them alive until it exits: a warm
# `tagpilot reconcile` ran 128 collections (35 ms, 5 % of it) to find next to no garbage. Commands
# collect every 100,000 instead (a scan of 10,000 repositories still collects, every few seconds);
# the daemon, which lives for weeks, puts Python's default back (`cli/run.py`).
COMMAND_GC_THRESHOLD = (100_000, 10, 10)
DEFAULT_GC_THRESHOLD = gc.get_threshold()


def main() -> None:
    gc.set_threshold(*COMMAND_GC_THRESHOLD)
    code = run(sys.argv[1:])
    # The interpreter's shutdown collects garbage over every object still alive (a scan of 1,001
    # repositories: 60-95 ms, 3-4 % of the command). Frozen, they are skipped by those collections and
    # still released, closed and flushed as their modules are torn down: only cyclic garbage left at
    # exit is not collected, which the process's end returns to the system anyway.
    gc.freeze()
    sys.exit(code)


def _run_plain(module: str, argv: list[str]) -> int | None:
    """`run_plain` of a command module; a closed pipe ends it as typer's command would: exit 1 and
    nothing more written (`tagpilot scan -o json | head`)."""
    try:
        return importlib.import_module(f"tagpilot.cli.{module}").run_plain(argv)  # type: ignore[no-any-return]
    except OSError as e:
        if e.errno != errno.EPIPE:
            raise
        devnull = open(os.devnull, "w")  # noqa: SIM115 - the interpreter's final flush must not fail
        sys.stdout = sys.stderr = devnull
        return EXIT_FAILED


def run(argv: list[str]) -> int:
    """Run one command line; map the exception tree to an exit code (the module docstring lists them)."""
    from tagpilot.errors import TagpilotError

    try:
        if argv[:1] and argv[0] in REGISTRY_COMMANDS:
            from tagpilot.registry import tlsprefetch

            tlsprefetch.start()  # the CA bundle is parsed on the other core while the command imports
        plain = PLAIN_RUNNERS.get(argv[0]) if argv else None
        if plain is not None:  # a CI step's or cron job's command: without typer when the options are plain
            code = _run_plain(plain, argv[1:])
            if code is not None:
                return code
        # standalone: typer prints usage errors and help itself and exits 2 / 0 through SystemExit
        app_for(argv)(args=argv, prog_name="tagpilot")
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
