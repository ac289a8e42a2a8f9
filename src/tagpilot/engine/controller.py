"""One entry point to reconcile any object by key: the reconcile skeleton, for every kind.

The scheduler knows nothing about kinds; it asks the controller to reconcile `(kind, namespace,
name)` and gets back whether it worked, whether retrying can help, and which other objects must
run now because their inputs changed: a scan with a new tag list re-evaluates the policies over
that repository; a policy whose `latestRef` moved runs the automations that select it. This is how
a registry webhook turns into a commit within a second, without polling.

The controller does the parts every kind shares (generation, stored status, suspension, failure
conditions, saving, events, dependents) and finds the kind's reconciler, interval and dependents in
the kind registry (`engine/kinds.py`): no kind is named here.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tagpilot.engine.events import NORMAL, WARNING, EventStream
from tagpilot.engine.keys import ObjectKey, parse_key
from tagpilot.engine.kinds import KINDS, Kind, KindRegistry
from tagpilot.engine.reconciler import Context, Outcome, Reconciler, Stalled
from tagpilot.engine.status import RECONCILING, is_suspended, spec_hash, spec_view
from tagpilot.errors import TagpilotError
from tagpilot.store.protocols import ObjectSource, Store

__all__ = ["Controller", "ObjectKey", "ReconcileResult", "parse_key"]


@dataclass
class ReconcileResult:
    key: ObjectKey
    ok: bool
    skipped: str | None = None
    stalled: bool = False
    error: str | None = None
    dependents: list[ObjectKey] = field(default_factory=list)
    seconds: float = 0.0
    commit: str | None = None  # automations: the commit pushed by this run
    files_changed: int = 0
    outcome: Outcome | None = None  # the reconciler's full answer (status, dry-run diff, warnings)


class Controller:
    """Reconciles objects of the current configuration; the configuration can be swapped at run time."""

    def __init__(self, config: ObjectSource, store: Store, registry: Any = None, git: Any = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_result: Callable[[ReconcileResult], None] | None = None,
                 events: EventStream | None = None, kinds: KindRegistry = KINDS) -> None:
        self.ctx = Context(config=config, store=store, registry=registry, git=git, clock=clock)
        self.kinds = kinds
        self.on_result = on_result
        self.events = events or EventStream()
        # one reconciler of each kind for the process: e.g. the scanner's global concurrency bound
        # then holds across runs
        self._reconcilers: dict[str, Reconciler] = {}

    @property
    def config(self) -> ObjectSource:
        return self.ctx.config

    @property
    def store(self) -> Store:
        return self.ctx.store

    def set_config(self, config: ObjectSource) -> None:
        self.ctx.config = config

    def reconciler(self, kind: Kind) -> Reconciler:
        if kind.name not in self._reconcilers:
            assert kind.reconciler is not None
            self._reconcilers[kind.name] = kind.reconciler(self.ctx)
        return self._reconcilers[kind.name]

    # --- what exists and how it relates ------------------------------------------------------------

    def _reconciled_kinds(self) -> dict[str, int]:
        """The reconciled kinds present in the configuration, with their `order`. Only those: asking
        for every kind would import every engine module (engine/kinds.py)."""
        order = {}
        for name in {key[0] for key in self.config.objects}:
            kind = self.kinds.get(name)
            if kind is not None and kind.reconciled:
                order[name] = kind.order
        return order

    def keys(self) -> list[ObjectKey]:
        """Every reconciled object, in dependency order (kinds' `order`), then by namespace and name."""
        order = self._reconciled_kinds()
        return sorted((key for key in self.config.objects if key[0] in order), key=lambda k: (order[k[0]], k))

    def count(self) -> int:
        """How many objects `keys()` lists, without sorting them (read on every /metrics scrape)."""
        order = self._reconciled_kinds()
        return sum(1 for key in self.config.objects if key[0] in order)

    def order(self, key: ObjectKey) -> int:
        """Where the object's kind runs in a round (its inputs' kinds first)."""
        kind = self.kinds.get(key[0])
        if kind is None:
            return 0
        obj = self.get(key) if kind.object_order is not None else None
        return kind.order + kind.object_order(self.ctx.config, obj) if obj is not None and kind.object_order else \
            kind.order

    def get(self, key: ObjectKey) -> Any:
        """The reconciled object named by `key`, or None."""
        kind = self.kinds.get(key[0])
        if kind is None or not kind.reconciled:
            return None
        return self.config.get(kind.model, key[1], key[2])

    def expand(self, key: ObjectKey) -> list[ObjectKey]:
        """What a request to reconcile `key` runs: itself for reconciled kinds; for an input kind (a
        GitRepository named by a git push webhook) what its kind says it runs; otherwise nothing."""
        key = self.kinds.normalize(key)
        kind = self.kinds.get(key[0])
        if kind is None:
            return []
        if kind.reconciled:
            return [key] if self.get(key) is not None else []
        obj = self.config.get(kind.model, key[1], key[2])
        return kind.runs(self.config, obj) if kind.runs and obj is not None else []

    def interval(self, key: ObjectKey) -> float | None:
        """How often the object is due on its own (None: only when its inputs change)."""
        obj = self.get(key)
        kind = self.kinds.get(key[0])
        return kind.interval(obj) if obj is not None and kind else None

    def rate_key(self, key: ObjectKey) -> str | None:
        """The registry host a triggered run of `key` scans (the scheduler's per-registry token bucket),
        or None for objects that do not call a registry."""
        if key[0] != "ImageRepository":
            return None
        image = getattr(getattr(self.get(key), "spec", None), "image", None)
        if not isinstance(image, str):
            return None
        from tagpilot.registry.reference import InvalidReference, parse_reference

        try:
            return parse_reference(image).api_host
        except InvalidReference:
            return None  # the run reports the invalid spec; nothing to rate-limit

    def rerun_after_change(self, changed: Iterable[ObjectKey]) -> list[ObjectKey]:
        """A changed input that any object may read (a Secret, a GitRepository) re-runs every
        reconciled object that talks to the outside (those with an interval of their own)."""
        if not any((kind := self.kinds.get(key[0])) and kind.rerun_on_change for key in changed):
            return []
        return [key for key in self.keys() if self.interval(key) is not None]

    # --- the skeleton -------------------------------------------------------------------------------

    async def reconcile(self, key: ObjectKey, *, force: bool = True, dry_run: bool = False) -> ReconcileResult:
        """Reconcile one object. `force=False` lets a kind skip work that is not due (scans)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        key = self.kinds.normalize(key)
        obj = self.get(key)
        if obj is None:
            result = ReconcileResult(key, ok=False, error=f"{'/'.join(key)} is not in the configuration")
        else:
            result = await self._reconcile(self.kinds.get(key[0]), key, obj,  # type: ignore[arg-type]
                                           force=force, dry_run=dry_run)
        result.seconds = loop.time() - started
        if self.on_result:
            self.on_result(result)
        return result

    async def _reconcile(self, kind: Kind, key: ObjectKey, obj: Any, *, force: bool, dry_run: bool) -> ReconcileResult:
        store = self.store
        generation = store.observe_spec(*key, spec_hash(spec_view(obj)))
        stored = store.get_object(*key)
        status = kind.status.from_json(copy.deepcopy(stored.status) if stored else {})
        if is_suspended(obj, store):
            outcome = Outcome(status, skipped="suspended", persist=False)
        else:
            in_progress = kind.reports_progress and not dry_run
            if in_progress:
                status.set_condition(RECONCILING, True, "Reconciling", "Image update check in progress.",
                                     self.ctx.clock(), generation)
                store.set_status(*key, status.to_json())
            try:
                outcome = await self.reconciler(kind).reconcile(obj, status, generation, force=force, dry_run=dry_run)
            except TagpilotError as exc:
                status.mark_failed(exc.reason, str(exc), self.ctx.clock(), generation,
                                   stalled=isinstance(exc, Stalled))
                outcome = Outcome(status, ok=False, error=str(exc), persist=not dry_run)
            except BaseException:  # cancelled (daemon stop) or a bug: nothing is in progress any more
                if in_progress:
                    store.set_status(*key, stored.status if stored else {})
                raise
            if kind.reports_progress:
                outcome.status.set_condition(RECONCILING, False, "Idle", "Last check completed. Awaiting next cycle.",
                                             self.ctx.clock(), generation)
            if in_progress and not outcome.persist:  # a run that keeps the stored status: undo "in progress"
                store.set_status(*key, stored.status if stored else {})
        if outcome.persist:
            store.set_status(*key, outcome.status.to_json())
        for note in outcome.notes:
            self.events.emit(key, NORMAL, note.reason, note.message, derived=note.derived, **note.metadata)
        for warning in outcome.warnings:
            self.events.emit(key, WARNING, warning.reason, warning.message, **warning.metadata)
        result = ReconcileResult(key, ok=outcome.ok, skipped=outcome.skipped,
                                 stalled=outcome.status.stalled and not outcome.ok,
                                 error=outcome.error, commit=outcome.commit, files_changed=len(outcome.files),
                                 outcome=outcome)
        if not outcome.ok and outcome.error:
            self.events.emit(key, WARNING, outcome.status.ready_reason(), outcome.error)
        if outcome.ok and outcome.changed:
            dependents = kind.dependents(self.config, obj)
            result.dependents = dependents + [k for k in self.kinds.readers_of(self.config, key) if k not in dependents]
        return result
