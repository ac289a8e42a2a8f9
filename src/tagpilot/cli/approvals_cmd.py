"""`tagpilot approvals list|show`, `approve`, `reject`, `pin`, `unpin` (docs/approvals.md).

They need only the state directory, or talk to a running daemon (`<state>/daemon.json`) so it acts
at once. `pin` and `unpin` also take `-f`: without a daemon they then reconcile the object right
away, so the pinned tag is committed and pushed by the command itself.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from tagpilot.cli.api_client import DaemonClient, DaemonError
from tagpilot.cli.common import Output, OutputOption, StateOption, key_of, load, open_store, print_json, print_table
from tagpilot.cli.objects import ObjectArg

ByOption = Annotated[str, typer.Option("--by", help="Who decides (checked against tagpilot.dev/approvers).")]
CommentOption = Annotated[str, typer.Option("--comment", help="Why; kept with the decision and shown in events.")]
PolicyOption = Annotated[str | None, typer.Option("--policy", metavar="NS:NAME", help="The ImagePolicy to hold.")]
AliasOption = Annotated[str | None, typer.Option("--alias", help="The image alias to hold (Argo CD).")]
PinFiles = Annotated[list[Path] | None, typer.Option("-f", "--file", help="Configuration: reconcile the object now.")]


def _local_book(state: Path | None) -> Any:
    from tagpilot.approvals.book import ApprovalBook
    from tagpilot.engine.events import EventStream

    store = open_store(state)
    return store, ApprovalBook(store), EventStream.recorded_in(store)


def _through_daemon(client: DaemonClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        return client.post(path, body, expect=(200,))
    except DaemonError as exc:
        raise DaemonError(str(exc).replace('{"detail":', "").rstrip("}")) from None


def approvals_list(state: StateOption = None, output: OutputOption = Output.table) -> None:
    """Approval requests: pending, approved, rejected, expired, superseded, stale."""
    client = DaemonClient.find(state)
    if client is not None:
        import httpx

        try:
            response = httpx.get(f"{client.url}/api/v1/approvals", timeout=client.timeout)
            found = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise DaemonError(f"the daemon at {client.url} did not answer: {exc.__class__.__name__}") from None
        if response.status_code != 200 or not isinstance(found, list):
            raise DaemonError(f"the daemon at {client.url} answered {response.status_code}: {response.text[:300]}")
    else:
        from tagpilot.approvals.decisions import listing

        store, book, _events = _local_book(state)
        with store:
            found = listing(book)
    if output is not Output.table:
        print_json(found)
        return
    rows = [[r["id"], r["object"], r["state"], f"{len(r['approvedBy'])}/{r['required']}",
             ", ".join(f"{i['image']} {i['from']}->{i['to']}" for i in r["images"]), r["deadline"]] for r in found]
    print_table(["ID", "OBJECT", "STATE", "APPROVALS", "IMAGES", "DEADLINE"], rows)


def approvals_show(request_id: Annotated[str, typer.Argument(help="The request's id.")],
                   state: StateOption = None) -> None:
    """One request in full: images, diff, every decision (who, when, comment)."""
    from tagpilot.approvals.decisions import DecisionError

    store, book, _events = _local_book(state)
    with store:
        request = book.get(request_id)
    if request is None:
        raise DecisionError(f"approval request {request_id!r} not found; `tagpilot approvals list` shows them")
    print_json(request.detail())


def _decide(verb: str, request_id: str, by: str, comment: str, state: Path | None) -> None:
    client = DaemonClient.find(state)
    if client is not None:
        answer = _through_daemon(client, f"/approvals/{request_id}/{verb}", {"by": by, "comment": comment})
        state_now = answer.get("state")
    else:
        from tagpilot.approvals import decisions

        store, book, events = _local_book(state)
        with store:
            request = getattr(decisions, verb)(book, events, request_id, by, comment)
        answer, state_now = request.to_json(), request.state
    done = f"{len(answer['approvedBy'])}/{answer['required']} approvals" if verb == "approve" else "rejected"
    tail = "; pushed at the object's next reconcile" if state_now == "approved" else ""
    print(f"approval request {answer['id']} for {answer['object']}: {state_now} ({done}){tail}")


def approve(request_id: Annotated[str, typer.Argument(help="The request's id.")], by: ByOption,
            comment: CommentOption = "", state: StateOption = None) -> None:
    """Approve a request; after the required number of distinct approvers the change is pushed."""
    _decide("approve", request_id, by, comment, state)


def reject(request_id: Annotated[str, typer.Argument(help="The request's id.")], by: ByOption,
           comment: CommentOption = "", state: StateOption = None) -> None:
    """Reject a request: it is closed, and its tags are never proposed again for that object."""
    _decide("reject", request_id, by, comment, state)


def _check_object(files: list[Path] | None, key: tuple[str, str, str]) -> tuple[Any, tuple[str, str, str]]:
    from tagpilot.engine.kinds import KINDS
    from tagpilot.errors import ConfigError

    key = KINDS.normalize(key)
    if not files:
        return None, key
    config = load(files)
    if key not in config.objects:
        raise ConfigError(f"{'/'.join(key)} is not in the configuration given with -f")
    return config, key


async def _reconcile_now(config: Any, state: Path | None, key: tuple[str, str, str]) -> Any:
    from tagpilot.engine.local import local_controller

    async with local_controller(config, state) as controller:
        return await controller.reconcile(key)


def pin(target: ObjectArg, tag: Annotated[str, typer.Option("--tag", help="The tag to hold.")],
        policy: PolicyOption = None, alias: AliasOption = None,
        reason: Annotated[str, typer.Option("--reason", help="Why (in the commit message and events).")] = "",
        by: Annotated[str, typer.Option("--by", help="Who pins.")] = "",
        files: PinFiles = None, state: StateOption = None) -> None:
    """Write tag T for a policy or alias and hold it there until `tagpilot unpin`."""
    from tagpilot.approvals import decisions

    name = decisions.pin_target(policy, alias)
    config, key = _check_object(files, key_of(target))
    client = DaemonClient.find(state)
    if client is not None:
        _through_daemon(client, f"/objects/{key[0]}/{key[1]}/{key[2]}/pin",
                        {"policy": policy, "alias": alias, "tag": tag, "reason": reason, "by": by})
        print(f"{'/'.join(key)}: {name} pinned at {tag} (through the daemon at {client.url})")
        return
    store, book, events = _local_book(state)
    with store:
        decisions.pin(book, events, key, name, tag, reason=reason, by=by)
    print(f"{'/'.join(key)}: {name} pinned at {tag}")
    _apply_now(config, state, key)


def unpin(target: ObjectArg, policy: PolicyOption = None, alias: AliasOption = None,
          by: Annotated[str, typer.Option("--by", help="Who unpins.")] = "",
          files: PinFiles = None, state: StateOption = None) -> None:
    """Release a pin: automation resumes for that policy or alias (for a Promotion: its rollback hold)."""
    from tagpilot.approvals import decisions

    if target.split("/", 1)[0].lower() == "promotion" and policy is None and alias is None:
        from tagpilot.cli.promote_cmd import release_hold

        release_hold(target, files or [], state)
        return

    name = decisions.pin_target(policy, alias)
    config, key = _check_object(files, key_of(target))
    client = DaemonClient.find(state)
    if client is not None:
        _through_daemon(client, f"/objects/{key[0]}/{key[1]}/{key[2]}/unpin",
                        {"policy": policy, "alias": alias, "by": by})
        print(f"{'/'.join(key)}: {name} unpinned (through the daemon at {client.url})")
        return
    store, book, events = _local_book(state)
    with store:
        decisions.unpin(book, events, key, name, by=by)
    print(f"{'/'.join(key)}: {name} unpinned")
    _apply_now(config, state, key)


def _apply_now(config: Any, state: Path | None, key: tuple[str, str, str]) -> None:
    """With -f: reconcile the object now; without: say when it takes effect."""
    if config is None:
        print("takes effect at the object's next reconcile (pass -f to reconcile it now)")
        return
    result = asyncio.run(_reconcile_now(config, state, key))
    if not result.ok:
        from tagpilot.errors import TagpilotError

        raise TagpilotError(f"{'/'.join(key)}: {result.error}")
    print(f"pushed commit {result.commit[:7]}" if result.commit else "no change to push")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Approval requests of gated objects.", no_args_is_help=True)
    group.command("list")(approvals_list)
    group.command("show")(approvals_show)
    app.add_typer(group, name="approvals")
    app.command("approve")(approve)
    app.command("reject")(reject)
    app.command("pin")(pin)
    app.command("unpin")(unpin)
