"""The long-running tagpilot: configuration, store, clients, controller and scheduler, wired together.

`tagpilot run` builds one `Daemon` and serves it over HTTP (`tagpilot.server`). The daemon owns the
lifecycle rules: the configuration loads before anything runs (an invalid one stops the start);
a reload (SIGHUP, or a changed file under `-f`) swaps the configuration only when the new one is
valid, and runs new and changed objects at once; a stop lets running reconciles finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tagpilot.config.loader import Config, load_config
from tagpilot.config.source import expand_paths
from tagpilot.engine.controller import Controller, ObjectKey, ReconcileResult, parse_key
from tagpilot.engine.events import NORMAL, EventStream, Reason, log_lines
from tagpilot.engine.kinds import KINDS
from tagpilot.engine.metrics import Metrics
from tagpilot.engine.scheduler import Scheduler
from tagpilot.engine.status import spec_hash
from tagpilot.engine.webhooks import Webhooks
from tagpilot.errors import TagpilotError
from tagpilot.gitops import GitClient
from tagpilot.registry.client import RegistryClient
from tagpilot.store import Store
from tagpilot.store.db import state_dir as resolve_state_dir
from tagpilot.store.lock import StateLock
from tagpilot.store.private import write_private

log = logging.getLogger("tagpilot.daemon")


def _fingerprints(config: Config) -> dict[tuple[str, str, str], str]:
    return {key: spec_hash(obj.model_dump(mode="json", by_alias=True)) for key, obj in config.objects.items()}


def _mtimes(files: Sequence[Path]) -> dict[str, float]:
    out = {}
    for path in expand_paths(files):
        with contextlib.suppress(OSError):
            out[str(path)] = path.stat().st_mtime
    return out


class Daemon:
    def __init__(self, files: Sequence[Path], state_dir: Path, *, workers: int = 8, watch_interval: float = 2.0,
                 stop_grace: float = 30.0) -> None:
        self.files = list(files)
        self.state_dir = state_dir
        self.workers = workers
        self.watch_interval = watch_interval
        self.stop_grace = stop_grace
        self.ready = False
        self.config: Config | None = None
        self.last_reload_error: str | None = None
        self.metrics = Metrics(live=self._live_values)
        self._watch_task: asyncio.Task[None] | None = None
        self._mtimes: dict[str, float] = {}
        self.state_lock = StateLock(state_dir)
        # the CLI on this machine authenticates with this admin token, written 0600 into daemon.json
        self.local_token = secrets.token_urlsafe(32)

    # --- lifecycle ----------------------------------------------------------------------------------

    @property
    def pointer_file(self) -> Path:
        """`<state>/daemon.json`: where CLI commands find the running daemon's API."""
        return Path(self.state_dir) / "daemon.json"

    def announce(self, url: str) -> None:
        """Tell CLI commands on this machine where the API is (they read it from the state directory),
        and tell the person starting it where each webhook receiver listens."""
        self._log_receivers(url)
        write_private(self.pointer_file, json.dumps({"url": url, "pid": os.getpid(),
                                                    "token": self.local_token}))  # 0600

    def _log_receivers(self, url: str) -> None:
        """Receiver URLs are hashes of secrets: print them, so nobody computes them by hand."""
        from tagpilot.config.flux_notification import Receiver
        from tagpilot.engine.inputs import receiver_path

        for receiver in sorted(self.config.of_kind(Receiver) if self.config else [], key=lambda r: r.key):
            path = receiver_path(self.config, receiver)  # type: ignore[arg-type]
            if path:
                log.info("Receiver %s (%s) listens on POST %s%s", receiver.ref, receiver.spec.type, url, path)
            else:
                log.warning("Receiver %s is not served: its Secret has no key 'token'", receiver.ref)

    async def start(self) -> None:
        """Lock the state directory (one daemon per directory), load the configuration (ConfigError
        stops the start), open the store, start reconciling."""
        self.state_lock.acquire()
        try:
            self.config = load_config(self.files)
        except BaseException:
            self.state_lock.release()
            raise
        for message in self.config.ignored:
            log.warning(message)
        self._mtimes = _mtimes(self.files)
        self.store = Store.open(self.state_dir)
        self.registry = RegistryClient(cache=self.store)
        self.git = GitClient(self.state_dir)
        self.events = EventStream.recorded_in(self.store)
        self.events.subscribe(log_lines(logging.getLogger("tagpilot.events")))
        from tagpilot.notify.notifier import Notifier  # notifications: a subscriber delivering on its own task

        self.notifier = Notifier(lambda: self.config, self.store)
        self.events.subscribe(self.notifier)
        self._notify_task = asyncio.create_task(self.notifier.run(), name="tagpilot-notifications")
        self.controller = Controller(self.config, self.store, self.registry, self.git, on_result=self._observe,
                                     events=self.events)
        self.scheduler = Scheduler(self.controller, workers=self.workers,
                                   on_run_started=lambda key, started: self.store.clear_pending(*key, started))
        self.webhooks = Webhooks(self.store, self.request_reconcile,
                                 lambda receiver, outcome: self.metrics.webhooks.labels(receiver, outcome).inc())
        self.webhooks.set_config(self.config)
        # runs accepted (202) before a restart, persisted by request_reconcile: run them in full now
        promised = [key for key, _reason in self.store.pending() if self.controller.get(key) is not None]
        await self.scheduler.start(forced=promised)
        self._watch_task = asyncio.create_task(self._watch_files(), name="tagpilot-config-watch")
        self.ready = True
        self.metrics.ready.set(1)
        log.info("tagpilot started: %d objects from %s, state in %s", len(self.config.objects),
                 ", ".join(map(str, self.files)), self.state_dir)

    async def stop(self) -> None:
        self.ready = False
        self.metrics.ready.set(0)
        if self._watch_task:
            self._watch_task.cancel()
            await asyncio.gather(self._watch_task, return_exceptions=True)
        await self.scheduler.stop(grace=self.stop_grace)
        self._notify_task.cancel()
        await asyncio.gather(self._notify_task, return_exceptions=True)
        await self.notifier.aclose()
        await self.webhooks.aclose()
        await self.registry.aclose()
        self.store.close()
        with contextlib.suppress(OSError):
            self.pointer_file.unlink()  # ours: we hold the lock, no other daemon wrote it
        self.state_lock.release()
        log.info("tagpilot stopped")

    def reload(self) -> tuple[bool, str]:
        """Re-read the configuration; keep the running one when the new one is invalid."""
        try:
            new = load_config(self.files)
        except (TagpilotError, yaml.YAMLError, ValueError, OSError) as exc:
            # any unreadable configuration (a ConfigError, or a YAML reader error for a NUL byte) is
            # the user's to fix: the API answers 400 and the watcher keeps running
            self.last_reload_error = str(exc)
            log.error("configuration reload rejected, the running configuration stays: %s", exc)
            return False, str(exc)
        assert self.config is not None
        old, fresh = _fingerprints(self.config), _fingerprints(new)
        changed = [key for key, digest in fresh.items() if key in old and old[key] != digest]
        added = [key for key in fresh if key not in old]
        removed = [key for key in old if key not in fresh]
        self.config = new
        self.controller.set_config(new)
        # a changed Secret or GitRepository re-runs what may read it
        changed += self.controller.rerun_after_change(changed)
        self.webhooks.set_config(new)
        self.scheduler.sync(changed=changed)
        self._mtimes = _mtimes(self.files)
        self.last_reload_error = None
        message = f"configuration reloaded: {len(added)} added, {len(changed)} changed, {len(removed)} removed"
        log.info(message)
        return True, message

    async def _watch_files(self) -> None:
        while True:
            await asyncio.sleep(self.watch_interval)
            try:
                current = _mtimes(self.files)
            except TagpilotError:
                continue  # a directory disappeared: the next reload reports it
            if current != self._mtimes:
                self._mtimes = current
                self.reload()

    # --- what the API and CLI ask ---------------------------------------------------------------------

    def request_reconcile(self, key: ObjectKey, reason: str = "requested") -> bool:
        """Queue `key` (a GitRepository queues its automations). False when nothing matches."""
        targets = self.controller.expand(key)
        for target in targets:
            self.store.add_pending(*target, reason)  # before the caller answers 202: survives kill -9
            self.scheduler.trigger(target, reason)
        return bool(targets)

    def set_suspended(self, key: ObjectKey, suspended: bool, *, by: str | None = None) -> bool:
        key = self.controller.kinds.normalize(key)
        if self.controller.get(key) is None:
            return False
        self.store.set_suspended(*key, suspended)
        self.events.emit(key, NORMAL, Reason.SUSPENDED if suspended else Reason.RESUMED,
                         "suspended" if suspended else "resumed", **({"by": by} if by else {}))
        if not suspended:
            self.scheduler.trigger(key, "resumed")
        return True

    def views(self, kind: str | None = None) -> list[dict[str, Any]]:
        assert self.config is not None
        out = []
        wanted = KINDS.find(kind).name if kind and KINDS.find(kind) else kind
        listed = {k.name for k in KINDS.all() if k.listed}
        for key in sorted(self.config.objects):
            if key[0] not in listed or (wanted and key[0] != wanted):
                continue
            out.append(KINDS.view(self.config, self.store, self.config.objects[key]))
        return out

    def view(self, key: ObjectKey) -> dict[str, Any] | None:
        """One object's view, as `views` lists it (only the listed kinds), built for that object alone:
        building every view of its kind to pick one cost ~70 MB at 10,000 objects."""
        assert self.config is not None
        key = KINDS.normalize(key)
        obj = self.config.objects.get(key)
        kind = KINDS.get(key[0])
        if obj is None or kind is None or not kind.listed:
            return None
        return KINDS.view(self.config, self.store, obj)

    @staticmethod
    def parse_key(text: str) -> ObjectKey:
        return KINDS.normalize(parse_key(text))

    # --- metrics ------------------------------------------------------------------------------------

    def _observe(self, result: ReconcileResult) -> None:
        kind, namespace, name = result.key
        outcome = "skipped" if result.skipped else ("success" if result.ok else "failure")
        self.metrics.reconciles.labels(kind, outcome).inc()
        if result.skipped:
            return
        self.metrics.reconcile_duration.labels(kind, name, namespace).observe(result.seconds)
        if result.outcome is not None and result.outcome.operation == "scan":
            self.metrics.scans.labels("success" if result.ok else "failure").inc()
        if result.commit:
            self.metrics.commits_pushed.inc()
            self.metrics.images_updated.inc(result.files_changed)

    def _live_values(self) -> dict[str, Any]:
        if not self.ready:
            return {}
        return {
            "requests_by_host": dict(self.registry.requests_by_host),
            "failures_by_host": dict(self.registry.failures_by_host),
            "queue_depth": self.scheduler.queue_depth(),
            "objects": self.controller.count(),
        }


def state_dir_from(value: Path | None) -> Path:
    """The daemon's state directory: the same rule as every command's (`tagpilot.store.db.state_dir`)."""
    return resolve_state_dir(value)
