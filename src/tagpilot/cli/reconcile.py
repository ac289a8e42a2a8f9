"""`tagpilot reconcile`, `tagpilot get policies` and `tagpilot get automations`.

`reconcile` runs one round of the controllers, in dependency order: scan the ImageRepositories that
are due, evaluate every ImagePolicy against the stored tags, then run every ImageUpdateAutomation
(commit and push, or with `--dry-run` print the diff and the commit message and push nothing).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tagpilot.engine.automation import AutomationOutcome

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
    stored_views,
)
from tagpilot.errors import ConfigError


async def _reconcile(files: list[Path], state: Path | None, dry_run: bool
                     ) -> tuple[list[dict[str, Any]], list[str], list[AutomationOutcome]]:
    from tagpilot.config.flux_automation import ImageUpdateAutomation
    from tagpilot.config.flux_image import ImagePolicy, ImageRepository
    from tagpilot.engine.automation import AutomationReconciler
    from tagpilot.engine.policies import PolicyReconciler
    from tagpilot.engine.scan import Scanner
    from tagpilot.engine.status import object_view
    from tagpilot.gitops import GitClient
    from tagpilot.registry.client import RegistryClient

    config = load(files)
    views: list[dict[str, Any]] = []
    failures: list[str] = []
    automations: list[AutomationOutcome] = []
    with open_store(state) as store:
        async with RegistryClient(cache=store) as client:
            scans = await Scanner(config, store, client).scan_all(
                sorted_objects(config, ImageRepository), only_if_due=True)
            for scan in scans:
                views.append(object_view(scan.repository, scan.status))
                if not scan.ok:
                    failures.append(f"{scan.repository.ref}: {scan.error}")
            reconciler = PolicyReconciler(config, store, client)
            for outcome in await reconciler.reconcile_all(sorted_objects(config, ImagePolicy)):
                views.append(object_view(outcome.policy, outcome.status))
                if not outcome.ok:
                    failures.append(f"{outcome.policy.ref}: {outcome.error}")
        runner = AutomationReconciler(config, store, GitClient(store.path.parent))
        results = await asyncio.gather(*(runner.reconcile(a, dry_run=dry_run)
                                         for a in sorted_objects(config, ImageUpdateAutomation)))
        for result in results:
            automations.append(result)
            for skipped in result.skipped_files:
                err(f"warning: {result.automation.ref}: skipped {skipped['path']}: {skipped['reason']}")
            views.append(object_view(result.automation, result.status))
            if not result.ok:
                failures.append(f"{result.automation.ref}: {result.error}")
    return views, failures, automations


def _summary_rows(views: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for view in views:
        ready, message = condition_summary(view["status"])
        if view["spec"].get("suspend"):
            message = f"suspended; {message}"
        rows.append([view["kind"], view["namespace"], view["name"], ready, message])
    return rows


def _print_dry_run(outcomes: list[AutomationOutcome]) -> None:
    for outcome in outcomes:
        if not outcome.ok or outcome.skipped:
            continue
        if not outcome.diff:
            print(f"# {outcome.automation.ref}: no change")
            continue
        print(f"# {outcome.automation.ref}: would commit {len(outcome.files)} file(s) with the message:")
        print("\n".join(f"#   {line}" for line in outcome.message.splitlines()) or "#")
        sys.stdout.write(outcome.diff if outcome.diff.endswith("\n") else outcome.diff + "\n")


async def _reconcile_one(files: list[Path], state: Path | None, target: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Without a daemon: run the object now, then whatever its result makes due (as the daemon would)."""
    from tagpilot.engine.controller import Controller, parse_key
    from tagpilot.engine.status import object_view
    from tagpilot.gitops import GitClient
    from tagpilot.registry.client import RegistryClient

    config = load(files)
    key = parse_key(target)
    views, failures = [], []
    with open_store(state) as store:
        async with RegistryClient(cache=store) as client:
            controller = Controller(config, store, client, GitClient(store.path.parent))
            if controller.get(key) is None:
                raise ConfigError(f"{'/'.join(key)} is not in the configuration")
            todo, done = [key], set()
            while todo:
                current = todo.pop(0)
                if current in done:
                    continue
                done.add(current)
                result = await controller.reconcile(current, force=True)
                views.append(object_view(controller.get(current), store.get_object(*current).status))
                if not result.ok:
                    failures.append(f"{'/'.join(current)}: {result.error}")
                todo.extend(result.dependents)
    return views, failures


def reconcile(
    target: Annotated[str | None, typer.Argument(
        metavar="[KIND/NAMESPACE/NAME]",
        help="Only this object (and what its result makes due). Asks a running daemon when there is one.")] = None,
    files: FilesOption = [],  # noqa: B006 - typer needs a literal default
    output: OutputOption = Output.table,
    state: StateOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the diff and commit message; push nothing.")]
    = False,
) -> None:
    """Run every controller once: scan what is due, evaluate every ImagePolicy, run every ImageUpdateAutomation.

    With KIND/NAMESPACE/NAME: reconcile that object now, through a running `tagpilot run` (it queues it and
    returns) or, without one, here (-f needed). Exit 0 on success, 1 if any object failed, 2 for invalid
    configuration.
    """
    if target is not None and dry_run:
        raise typer.BadParameter("--dry-run runs every automation; it cannot be combined with KIND/NAMESPACE/NAME")
    if target is not None:
        from tagpilot.engine.controller import parse_key

        try:
            parse_key(target)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        url = running_daemon(state)
        if url is not None:
            import httpx

            key = parse_key(target)
            try:
                response = httpx.post(f"{url}/api/v1/objects/{key[0]}/{key[1]}/{key[2]}/reconcile", json={},
                                      timeout=10)  # the API takes JSON only (no cross-site form posts)
            except httpx.HTTPError as exc:
                err(f"error: the daemon at {url} did not answer: {exc.__class__.__name__}")
                raise typer.Exit(1) from None
            if response.status_code != 202:
                err(f"error: the daemon at {url} answered {response.status_code}: {response.text[:300]}")
                raise typer.Exit(1)
            print(f"{'/'.join(key)}: reconcile queued by the daemon at {url}")
            return
        views, failures = run_guarded(lambda: asyncio.run(_reconcile_one(files, state, target)))
        automations: list[AutomationOutcome] = []
    else:
        views, failures, automations = run_guarded(lambda: asyncio.run(_reconcile(files, state, dry_run)))
    if output is Output.json:
        if dry_run:
            for view, outcome in zip((v for v in views if v["kind"] == "ImageUpdateAutomation"), automations,
                                     strict=True):
                view["dryRun"] = {"files": outcome.files, "diff": outcome.diff, "message": outcome.message}
        print_json(views)
    elif dry_run:
        _print_dry_run(automations)
    else:
        print_table(["KIND", "NAMESPACE", "NAME", "READY", "MESSAGE"], _summary_rows(views))
    for failure in failures:
        err(f"error: {failure}")
    if failures:
        raise typer.Exit(1)


def get_policies(
    files: FilesOption = [],  # noqa: B006
    output: OutputOption = Output.table,
    state: StateOption = None,
) -> None:
    """Show the stored `latestRef` and Ready condition of every ImagePolicy."""

    from tagpilot.config.flux_image import ImagePolicy
    from tagpilot.engine.policies import latest_text

    views = run_guarded(lambda: stored_views(files, state, ImagePolicy))
    if output is Output.json:
        print_json(views)
        return
    rows = []
    for view in views:
        ready, message = condition_summary(view["status"])
        rows.append([view["namespace"], view["name"], latest_text(view["status"]), ready, message])
    print_table(["NAMESPACE", "NAME", "LATEST IMAGE", "READY", "MESSAGE"], rows)


def get_automations(
    files: FilesOption = [],  # noqa: B006
    output: OutputOption = Output.table,
    state: StateOption = None,
) -> None:
    """Show the stored status of every ImageUpdateAutomation (last run, last push, Ready)."""
    from tagpilot.config.flux_automation import ImageUpdateAutomation

    views = run_guarded(lambda: stored_views(files, state, ImageUpdateAutomation))
    if output is Output.json:
        print_json(views)
        return
    rows = []
    for view in views:
        status = view["status"]
        ready, message = condition_summary(status)
        rows.append([view["namespace"], view["name"], status.get("lastAutomationRunTime", "-"),
                     (status.get("lastPushCommit") or "-")[:7], status.get("lastPushTime", "-"), ready, message])
    print_table(["NAMESPACE", "NAME", "LAST RUN", "LAST PUSH", "PUSHED AT", "READY", "MESSAGE"], rows)


def register(app: typer.Typer, get_app: typer.Typer) -> None:
    app.command("reconcile")(reconcile)
    get_app.command("policies")(get_policies)
    get_app.command("policy", hidden=True)(get_policies)
    get_app.command("automations")(get_automations)
    get_app.command("automation", hidden=True)(get_automations)
