"""The reconcile skeleton and the kind registry, in process: two toy kinds, an in-memory store.

Proves the seams of the architecture: a kind registered at run time is reconciled, scheduled in
dependency order and publishes events without any edit to the controller or the rounds, and a
reconciler only decides (suspension, generations, failure conditions, saving and events are the
controller's). The store and the object source are plain dictionaries behind the protocols of
`tagpilot.store.protocols`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from tagpilot.engine.controller import Controller
from tagpilot.engine.events import Event, EventStream
from tagpilot.engine.kinds import Kind, KindRegistry
from tagpilot.engine.reconciler import Context, Note, Outcome, Stalled
from tagpilot.engine.rounds import run_round
from tagpilot.engine.status import ObjectStatus
from tagpilot.store.db import StoredObject

NOW = datetime(2026, 12, 5, tzinfo=UTC)


@dataclass
class Spec:
    value: int = 0
    suspend: bool = False

    def to_yaml_dict(self) -> dict[str, Any]:
        return {"value": self.value, "suspend": self.suspend}


@dataclass
class Toy:
    kind: str
    name: str
    spec: Spec = field(default_factory=Spec)
    namespace: str = "default"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.namespace, self.name)


class Objects:
    """An ObjectSource over a dictionary (a Kubernetes API or a database would do the same)."""

    def __init__(self, *objs: Toy) -> None:
        self.objects = {o.key: o for o in objs}

    def of_kind(self, model: type[Any]) -> list[Any]:
        return [o for o in self.objects.values() if o.kind == model.__name__]

    def get(self, model: type[Any], namespace: str, name: str) -> Any:
        return self.objects.get((model.__name__, namespace, name))

    def secret(self, namespace: str, name: str, *, referenced_by: Any, field_name: str) -> Any:
        raise AssertionError("no secrets here")


class MemoryStore:
    """The StatusStore/TagStore/EventLog protocols over dictionaries."""

    def __init__(self) -> None:
        self.status: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.hashes: dict[tuple[str, str, str], tuple[str, int]] = {}
        self.suspended: set[tuple[str, str, str]] = set()
        self.log: list[tuple[str, ...]] = []

    def get_object(self, kind: str, namespace: str, name: str) -> StoredObject | None:
        key = (kind, namespace, name)
        if key not in self.status:
            return None
        return StoredObject(kind, namespace, name, self.hashes[key][1], self.status[key], self.hashes[key][0])

    def observe_spec(self, kind: str, namespace: str, name: str, spec_hash: str) -> int:
        key = (kind, namespace, name)
        old, generation = self.hashes.get(key, (spec_hash, 1))
        self.hashes[key] = (spec_hash, generation + (old != spec_hash))
        self.status.setdefault(key, {})
        return self.hashes[key][1]

    def set_status(self, kind: str, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.status[(kind, namespace, name)] = status

    def is_suspended(self, kind: str, namespace: str, name: str) -> bool:
        return (kind, namespace, name) in self.suspended

    def set_suspended(self, kind: str, namespace: str, name: str, suspended: bool) -> None:
        (self.suspended.add if suspended else self.suspended.discard)((kind, namespace, name))

    def add_event(self, kind: str, namespace: str, name: str, type_: str, reason: str, message: str,
                  data: dict[str, Any] | None = None, *, grouped: bool = False) -> int:
        self.log.append((kind, name, type_, reason))
        return len(self.log)


class Source:  # the models: only their names matter to the registry lookups here
    pass


class Sink:
    pass


@dataclass
class ToyStatus(ObjectStatus):
    FIELDS = (("seen", "seen"),)
    seen: int | None = None


class SourceReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def reconcile(self, obj: Toy, status: ToyStatus, generation: int, *, force: bool,
                        dry_run: bool = False) -> Outcome:
        if obj.spec.value < 0:
            raise Stalled("value must not be negative", reason="InvalidValue")
        changed = status.seen != obj.spec.value
        status.seen = obj.spec.value
        status.mark_ready(f"saw {obj.spec.value}", self.ctx.clock(), generation)
        return Outcome(status, changed=changed, notes=[Note("Saw", f"saw {obj.spec.value}")] if changed else [])


class SinkReconciler(SourceReconciler):
    pass


def registry() -> KindRegistry:
    kinds = KindRegistry(modules=())
    kinds.register(Kind(name="Sink", model=Sink, plural="sinks", reconciler=SinkReconciler, status=ToyStatus,
                        order=2))
    kinds.register(Kind(name="Source", model=Source, plural="sources", reconciler=SourceReconciler,
                        status=ToyStatus, order=1, interval=lambda obj: 60.0,
                        dependents=lambda source, obj: [k for k in source.objects if k[0] == "Sink"]))
    return kinds


def controller(*objs: Toy) -> tuple[Controller, MemoryStore, list[Event]]:
    store = MemoryStore()
    events: list[Event] = []
    stream = EventStream()
    stream.subscribe(events.append)
    return Controller(Objects(*objs), store, clock=lambda: NOW, events=stream, kinds=registry()), store, events


async def test_a_kind_registered_at_run_time_is_reconciled_with_its_dependents() -> None:
    ctl, store, events = controller(Toy("Source", "a", Spec(3)), Toy("Sink", "b"))
    assert ctl.keys() == [("Source", "default", "a"), ("Sink", "default", "b")]  # dependency order
    assert ctl.interval(("Source", "default", "a")) == 60.0 and ctl.interval(("Sink", "default", "b")) is None
    assert ctl.expand(("sources", "default", "a")) == [("Source", "default", "a")]  # aliases from the registry
    result = await ctl.reconcile(("Source", "default", "a"))
    assert result.ok and result.dependents == [("Sink", "default", "b")]
    saved = store.status[("Source", "default", "a")]
    assert saved["seen"] == 3 and saved["conditions"][0]["reason"] == "Succeeded"
    assert [(e.object, e.type, e.reason) for e in events] == [("Source/default/a", "Normal", "Saw")]
    again = await ctl.reconcile(("Source", "default", "a"))  # nothing moved: no event, no dependents
    assert again.dependents == [] and len(events) == 1


async def test_a_kind_reading_another_runs_after_its_change_without_that_kind_naming_it() -> None:
    kinds = registry()
    kinds.register(Kind(name="Reader", model=Sink, plural="readers", reconciler=SinkReconciler, status=ToyStatus,
                        order=3, reads=lambda obj: [("Source", "default", "a" if obj.spec.value else "z")]))
    store = MemoryStore()
    ctl = Controller(Objects(Toy("Source", "a", Spec(3)), Toy("Sink", "b"), Toy("Reader", "r", Spec(1)),
                             Toy("Reader", "other", Spec(0))), store, clock=lambda: NOW, kinds=kinds)
    result = await ctl.reconcile(("Source", "default", "a"))
    assert result.dependents == [("Sink", "default", "b"), ("Reader", "default", "r")]
    assert (await ctl.reconcile(("Source", "default", "a"))).dependents == []  # nothing moved
    # the readers index is per configuration: a reloaded one (other objects) is read anew
    reloaded = Objects(Toy("Source", "a", Spec(3)), Toy("Reader", "new", Spec(1)))
    assert kinds.readers_of(reloaded, ("Source", "default", "a")) == [("Reader", "default", "new")]
    assert kinds.readers_of(reloaded, ("Source", "default", "z")) == []


async def test_the_skeleton_owns_suspension_and_failure_conditions() -> None:
    ctl, store, events = controller(Toy("Source", "bad", Spec(-1)), Toy("Source", "paused", Spec(1, suspend=True)))
    failed = await ctl.reconcile(("Source", "default", "bad"))
    assert not failed.ok and failed.stalled and failed.error == "value must not be negative"
    status = store.status[("Source", "default", "bad")]
    assert {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]} == {
        "Ready": ("False", "InvalidValue"), "Stalled": ("True", "InvalidValue")}
    assert [(e.type, e.reason) for e in events] == [("Warning", "InvalidValue")]
    skipped = await ctl.reconcile(("Source", "default", "paused"))
    assert skipped.skipped == "suspended" and "seen" not in store.status[("Source", "default", "paused")]


@pytest.mark.parametrize("start", [[("Source", "default", "a")], None])
async def test_a_round_runs_in_dependency_order(start: list[tuple[str, str, str]] | None) -> None:
    ctl, _store, _events = controller(Toy("Sink", "b"), Toy("Source", "a", Spec(5)))
    order: list[str] = []

    async def run(key: tuple[str, str, str]):
        order.append(key[0])
        return await ctl.reconcile(key)

    results = await run_round(start if start is not None else ctl.keys(), run, ctl.order)
    assert order == ["Source", "Sink"]  # the sink ran once, after its input, whether named or a dependent
    assert all(r.ok for r in results)


class Watched:
    pass


class WatchedReconciler:
    """Records the stored status while it runs (what `tagpilot get` beside a daemon would read)."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def reconcile(self, obj: Toy, status: ToyStatus, generation: int, *, force: bool,
                        dry_run: bool = False) -> Outcome:
        stored = self.ctx.store.get_object(*obj.key)
        WatchedReconciler.seen.append(dict(stored.status) if stored else {})
        if obj.spec.value == 2:
            raise KeyboardInterrupt  # stands for a cancellation (daemon stop) in the middle of a run
        status.mark_ready("done", self.ctx.clock(), generation)
        return Outcome(status, persist=not dry_run and obj.spec.value != 1)


async def test_reconciling_is_stored_true_during_a_run_and_idle_after_it() -> None:
    """A kind with `reports_progress` (the Argo kinds): `Reconciling=True` is in the store while its
    reconciler runs, `False/Idle` after; a run that keeps the stored status (persist=False) or is
    interrupted leaves the stored status as it was; a dry run stores nothing."""
    ctl, store, _ = controller(Toy("Watched", "w", Spec(0)), Toy("Watched", "keep", Spec(1)),
                               Toy("Watched", "stop", Spec(2)))
    ctl.kinds.register(Kind(name="Watched", model=Watched, plural="watched", reconciler=WatchedReconciler,
                            status=ToyStatus, reports_progress=True))
    WatchedReconciler.seen.clear()

    def reconciling(status: dict[str, Any]) -> tuple[str, str, str]:
        c = next(c for c in status["conditions"] if c["type"] == "Reconciling")
        return c["status"], c["reason"], c["message"]

    await ctl.reconcile(("Watched", "default", "w"))
    assert reconciling(WatchedReconciler.seen[-1]) == ("True", "Reconciling", "Image update check in progress.")
    assert reconciling(store.status[("Watched", "default", "w")]) == (
        "False", "Idle", "Last check completed. Awaiting next cycle.")
    dry = await ctl.reconcile(("Watched", "default", "w"), dry_run=True)
    assert reconciling(WatchedReconciler.seen[-1])[0] == "False"  # nothing stored for a dry run
    assert dry.outcome is not None and reconciling(dry.outcome.status.to_json())[1] == "Idle"

    await ctl.reconcile(("Watched", "default", "keep"))
    assert reconciling(WatchedReconciler.seen[-1])[0] == "True"
    assert store.status[("Watched", "default", "keep")] == {}  # as it was before the run
    with pytest.raises(KeyboardInterrupt):
        await ctl.reconcile(("Watched", "default", "stop"))
    assert store.status[("Watched", "default", "stop")] == {}
