"""The engine for one command: a controller over the state directory, for `reconcile`, `scan` and the like.

CLI commands and the daemon build the same controller and publish to the same kind of event stream,
with the store's event log subscribed, so `tagpilot events` shows what a command did exactly as it
shows what the daemon did.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from tagpilot.engine.controller import Controller, ReconcileResult
from tagpilot.engine.events import EventStream
from tagpilot.engine.keys import ObjectKey
from tagpilot.engine.rounds import run_round
from tagpilot.store import Store
from tagpilot.store.protocols import ObjectSource

NOTIFIER_KINDS = ("ConfigMap", "Provider", "Alert")  # argocd-notifications-cm, Flux's Provider and Alert


@contextlib.asynccontextmanager
async def local_controller(config: ObjectSource, state: Path | None) -> AsyncIterator[Controller]:
    """A controller with its own store, registry client and git client, closed on exit."""
    from tagpilot.gitops import GitClient
    from tagpilot.registry.client import RegistryClient

    with Store.open(state) as store:
        async with RegistryClient(cache=store) as registry:
            events = EventStream.recorded_in(store)
            notifier = None
            # the notifier reads only these kinds; without them (and its ~35 ms of imports) it has nothing to send
            if any(key[0] in NOTIFIER_KINDS for key in config.objects):
                from tagpilot.notify.notifier import Notifier

                notifier = Notifier(lambda: config, store)
                events.subscribe(notifier)
            try:
                yield Controller(config, store, registry, GitClient(store.path.parent), events=events)
                if notifier is not None:
                    await notifier.drain()  # what the command's events triggered, delivered before it exits
            finally:
                if notifier is not None:
                    await notifier.aclose()


async def reconcile_round(controller: Controller, keys: Iterable[ObjectKey] | None = None, *, force: bool = True,
                          dry_run: bool = False) -> list[ReconcileResult]:
    """Every object (or `keys` and what their results make due) once, in dependency order."""
    targets = controller.keys() if keys is None else list(keys)
    return await run_round(targets, lambda key: controller.reconcile(key, force=force, dry_run=dry_run),
                           controller.order)
