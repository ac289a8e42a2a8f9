"""`tagpilot promote`, `tagpilot unpin`, `tagpilot history`: a Promotion by hand, its hold, its record.

`promote Promotion/NS/NAME` runs the promotion now through the controller (status, events and history
as the daemon records them). `--tag T` promotes an earlier tag: a rollback, recorded as such, which
holds automatic promotion (the status' `hold`) until `unpin`. Kargo's auto-promotion holds, without a cluster.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tagpilot.cli.common import FilesOption, Output, OutputOption, StateOption, key_of, load, open_store, print_json
from tagpilot.engine.events import Reason

KeyArgument = Annotated[str, typer.Argument(metavar="Promotion/NAMESPACE/NAME")]


def _promotion_key(config: Any, text: str) -> tuple[str, str, str]:
    from tagpilot.config.promotion import Promotion
    from tagpilot.errors import ConfigError

    kind, namespace, name = key_of(text)
    if kind.lower() not in ("promotion", "promotions", "promo"):
        raise typer.BadParameter(f"{text!r}: expected Promotion/NAMESPACE/NAME")
    if config.get(Promotion, namespace, name) is None:
        raise ConfigError(f"Promotion/{namespace}/{name} is not in the configuration")
    return ("Promotion", namespace, name)


async def _promote(files: list[Path], state: Path | None, target: str, tag: str | None, dry_run: bool) -> Any:
    from tagpilot.engine.local import local_controller
    from tagpilot.engine.promotion import MANUAL, ManualRequest, current_user

    config = load(files)
    key = _promotion_key(config, target)
    token = MANUAL.set(ManualRequest(tag=tag, by=current_user()))
    try:
        async with local_controller(config, state) as controller:
            return await controller.reconcile(key, force=True, dry_run=dry_run)
    finally:
        MANUAL.reset(token)


def promote(
    target: KeyArgument,
    tag: Annotated[str | None, typer.Option("--tag", help="Promote this earlier tag: a rollback that holds "
                                            "automatic promotion until `tagpilot unpin`.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be promoted; change nothing.")] = False,
    files: FilesOption = [],  # noqa: B006 - typer needs a literal default
    state: StateOption = None,
) -> None:
    """Promote now (gates still apply to the candidate), or a given tag (a rollback, gates bypassed)."""
    result = asyncio.run(_promote(files, state, target, tag, dry_run))
    outcome = result.outcome
    if not result.ok:
        print(f"error: {'/'.join(result.key)}: {result.error}", file=sys.stderr)
        raise typer.Exit(1)
    message = outcome.message if outcome is not None and outcome.message else \
        (outcome.status.ready_message("") if outcome is not None else "")
    print(f"{'/'.join(result.key)}: {message}")


def release_hold(target: str, files: list[Path], state: Path | None) -> None:
    """`tagpilot unpin Promotion/NS/NAME` (the command is approvals_cmd's, which sends Promotions here):
    release a rollback's hold, so the next run promotes the source's candidate again."""
    config = load(files)
    key = _promotion_key(config, target)
    with open_store(state) as store:
        stored = store.get_object(*key)
        status = dict(stored.status) if stored else {}
        hold = status.pop("hold", None)
        if not hold:
            print(f"{'/'.join(key)}: not held; nothing to unpin", file=sys.stderr)
            raise typer.Exit(1)
        store.set_status(*key, status)
        store.add_event(*key, "Normal", Reason.UNPINNED, f"hold at {hold.get('tag')} released; automatic promotion "
                        "resumes", {"tag": hold.get("tag")})
    print(f"{'/'.join(key)}: unpinned (was held at {hold.get('tag')} since {hold.get('at')}); the next run promotes "
          f"the candidate")


def history(target: KeyArgument, files: FilesOption = [],  # noqa: B006
            state: StateOption = None, output: OutputOption = Output.table) -> None:
    """Every promotion this Promotion made, newest first: when, what triggered it, from -> to, commit."""
    config = load(files)
    key = _promotion_key(config, target)
    with open_store(state) as store:
        rows = store.promotion_history(key[1], key[2])
    if output == Output.json:
        print_json(rows)
        return
    from tagpilot.cli.common import print_table

    requests = any(r.get("pullRequest") for r in rows)  # a column only for Promotions that propose
    print_table(["TIME", "TO", "DIGEST", "COMMIT", "ROLLBACK", "TRIGGER", *(["PULL REQUEST"] if requests else [])],
                [[r["time"], r["to"], r["digest"][:19], r["commit"][:7], "yes" if r["rollback"] else "",
                  r["trigger"], *([r.get("pullRequest") or ""] if requests else [])] for r in rows])


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
    app.command("history")(history)
