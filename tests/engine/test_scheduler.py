"""Scheduling rules: one run per object at a time, coalesced triggers, dependents, intervals, backoff.

The controller here is a recording stand-in (the scheduler only calls `reconcile`, `get`, `keys` and
`interval`), so the rules can be checked without registries; the daemon's end-to-end tests run the
real controller.
"""

from __future__ import annotations

import asyncio
import random

from tagpilot.engine.controller import ObjectKey, ReconcileResult
from tagpilot.engine.scheduler import Scheduler

REPO: ObjectKey = ("ImageRepository", "ns", "repo")
POLICY: ObjectKey = ("ImagePolicy", "ns", "policy")
AUTO: ObjectKey = ("ImageUpdateAutomation", "ns", "auto")


class RecordingController:
    def __init__(self, *, delay: float = 0.0, intervals: dict | None = None) -> None:
        self.calls: list[tuple[ObjectKey, bool]] = []
        self.delay = delay
        self.running: set[ObjectKey] = set()
        self.overlaps = 0
        self.results: dict[ObjectKey, list[ReconcileResult]] = {}
        self.intervals = intervals or {}
        self.dependents: dict[ObjectKey, list[ObjectKey]] = {}

    def keys(self) -> list[ObjectKey]:
        return [REPO, POLICY, AUTO]

    def get(self, key: ObjectKey) -> object | None:
        return object() if key in self.keys() else None

    def interval(self, key: ObjectKey) -> float | None:
        return self.intervals.get(key)

    async def reconcile(self, key: ObjectKey, *, force: bool = True) -> ReconcileResult:
        if key in self.running:
            self.overlaps += 1
        self.running.add(key)
        self.calls.append((key, force))
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.running.discard(key)
        queued = self.results.get(key)
        result = queued.pop(0) if queued else ReconcileResult(key, ok=True)
        result.dependents = result.dependents or list(self.dependents.get(key, []))
        return result


async def settle(scheduler: Scheduler, seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


async def test_startup_runs_everything_once_without_forcing() -> None:
    controller = RecordingController()
    scheduler = Scheduler(controller, workers=4)  # type: ignore[arg-type]
    await scheduler.start()
    await settle(scheduler)
    await scheduler.stop()
    assert sorted(controller.calls) == sorted([(REPO, False), (POLICY, False), (AUTO, False)])


async def test_storm_of_triggers_coalesces_into_one_more_run() -> None:
    controller = RecordingController(delay=0.2)
    scheduler = Scheduler(controller, workers=4)  # type: ignore[arg-type]
    await scheduler.start()
    await asyncio.sleep(0.05)  # the startup run of REPO is in progress
    for _ in range(1000):
        scheduler.trigger(REPO, "webhook")
    await settle(scheduler, 1.6)
    await scheduler.stop()
    repo_runs = [c for c in controller.calls if c[0] == REPO]
    assert repo_runs == [(REPO, False), (REPO, True)]  # the startup run, then exactly one more
    assert controller.overlaps == 0


async def test_triggers_while_queued_do_not_duplicate() -> None:
    controller = RecordingController(delay=0.1)
    scheduler = Scheduler(controller, workers=1)  # type: ignore[arg-type]
    for _ in range(50):
        scheduler.trigger(POLICY, "x")
    assert scheduler.queue_depth() == 1
    await scheduler.start()
    await settle(scheduler, 0.6)
    await scheduler.stop()
    assert [c for c in controller.calls if c[0] == POLICY] == [(POLICY, True)]


async def test_dependents_run_after_a_change() -> None:
    controller = RecordingController()
    controller.dependents = {REPO: [POLICY], POLICY: [AUTO]}
    scheduler = Scheduler(controller, workers=2)  # type: ignore[arg-type]
    await scheduler.start()
    await settle(scheduler)
    controller.calls.clear()
    scheduler.trigger(REPO, "webhook")
    await settle(scheduler)
    await scheduler.stop()
    assert [c[0] for c in controller.calls] == [REPO, POLICY, AUTO]


async def test_interval_reruns_and_failures_back_off_and_stalled_stops() -> None:
    controller = RecordingController(intervals={REPO: 0.2})
    controller.results[POLICY] = [ReconcileResult(POLICY, ok=False, error="registry down")] * 3
    controller.results[AUTO] = [ReconcileResult(AUTO, ok=False, stalled=True, error="bad spec")]
    scheduler = Scheduler(controller, workers=3, backoff_base=0.1, jitter=0.0,  # type: ignore[arg-type]
                          rng=random.Random(1))
    await scheduler.start()
    await settle(scheduler, 0.75)
    await scheduler.stop()
    repo_runs = sum(1 for c in controller.calls if c[0] == REPO)
    policy_runs = sum(1 for c in controller.calls if c[0] == POLICY)
    auto_runs = sum(1 for c in controller.calls if c[0] == AUTO)
    assert 3 <= repo_runs <= 5  # every 0.2 s
    assert 3 <= policy_runs <= 4  # retried at 0.1, 0.2, 0.4 s after each failure: backoff, not a hot loop
    assert auto_runs == 1  # stalled: not retried on its own


async def test_due_times_are_indexed_without_growing_and_a_sooner_one_wakes_the_timer() -> None:
    """The timer pops due objects from an index (no walk of every object per wake): re-setting one
    object's due time many times keeps the index bounded, and only the latest due time runs."""
    controller = RecordingController(intervals={REPO: 3600.0})
    scheduler = Scheduler(controller, workers=2, jitter=0.0)  # type: ignore[arg-type]
    await scheduler.start()
    await settle(scheduler)
    assert scheduler._states[REPO].next_due is not None  # due again in an hour
    controller.calls.clear()
    state = scheduler._states[REPO]
    for i in range(5000):  # e.g. a deferred trigger per webhook: each booking re-sets the due time
        scheduler._set_due(REPO, state, scheduler.now() + 1000.0 + i)
    assert len(scheduler._due) <= 2 * len(scheduler._states) + 65
    scheduler._set_due(REPO, state, scheduler.now() + 0.1)  # sooner than the timer's own wake-up
    await settle(scheduler, 0.5)
    await scheduler.stop()
    assert controller.calls == [(REPO, True)]  # run once, at the latest due time set


async def test_unknown_objects_are_refused_and_stop_is_graceful() -> None:
    controller = RecordingController(delay=0.3)
    scheduler = Scheduler(controller, workers=1)  # type: ignore[arg-type]
    assert scheduler.trigger(("ImagePolicy", "ns", "nope"), "x") is False
    await scheduler.start()
    await asyncio.sleep(0.05)
    await scheduler.stop(grace=2.0)  # waits for the run in progress
    assert controller.running == set()


class RegistryController(RecordingController):
    """Also names the registry each object scans, as the real controller's `rate_key` does."""

    def rate_key(self, key: ObjectKey) -> str | None:
        return "registry.example" if key == REPO else None


async def test_a_trigger_right_after_a_run_starts_at_once() -> None:
    controller = RegistryController()
    scheduler = Scheduler(controller, workers=2)  # type: ignore[arg-type]
    await scheduler.start()
    await settle(scheduler, 0.1)  # startup runs done
    controller.calls.clear()
    for _ in range(3):  # back-to-back pushes: each trigger follows the previous run's end
        scheduler.trigger(REPO, "webhook")
        await asyncio.sleep(0.03)
    await scheduler.stop()
    assert controller.calls == [(REPO, True)] * 3  # no fixed gap: every one ran within its 30 ms


async def test_a_storm_is_bounded_by_the_registry_bucket_and_loses_nothing() -> None:
    controller = RegistryController(delay=0.01)
    scheduler = Scheduler(controller, workers=2, scan_rate=2.0, scan_burst=3.0)  # type: ignore[arg-type]
    await scheduler.start()
    await settle(scheduler, 0.1)
    controller.calls.clear()
    for _ in range(100):  # a storm spread over 1 s
        scheduler.trigger(REPO, "webhook")
        await asyncio.sleep(0.01)
    storm_runs = len(controller.calls)
    await settle(scheduler, 0.8)
    await scheduler.stop()
    # the burst, then about two a second: a handful, not a hundred (and never two at once)
    assert 3 <= storm_runs <= 6, controller.calls
    assert controller.overlaps == 0
    assert controller.calls[-1] == (REPO, True)
    assert len(controller.calls) <= storm_runs + 1  # the last trigger ran once after the storm, once only
    assert all(c[0] == REPO for c in controller.calls)


async def test_objects_without_a_registry_take_no_token() -> None:
    controller = RegistryController()
    scheduler = Scheduler(controller, workers=2, scan_rate=0.1, scan_burst=1.0)  # type: ignore[arg-type]
    await scheduler.start()
    await settle(scheduler, 0.1)
    controller.calls.clear()
    for _ in range(3):
        scheduler.trigger(POLICY, "input changed")
        await asyncio.sleep(0.03)
    scheduler.trigger(REPO, "webhook")  # takes the only token
    await asyncio.sleep(0.03)
    scheduler.trigger(REPO, "webhook")  # waits 10 s for the next one: deferred, not lost, not run now
    await asyncio.sleep(0.05)
    assert scheduler._states[REPO].deferred
    await scheduler.stop()
    assert controller.calls == [(POLICY, True)] * 3 + [(REPO, True)]


def test_the_controller_names_the_registry_of_image_repositories(tmp_path) -> None:
    """The real controller's `rate_key`: one bucket per registry host, none for other kinds."""
    from tagpilot.config.loader import load_config
    from tagpilot.engine.controller import Controller
    from tagpilot.store.db import Store

    cfg = tmp_path / "config.yaml"
    cfg.write_text("""apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: a, namespace: apps}
spec: {image: "127.0.0.1:5000/team/a", interval: 1h}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: hub, namespace: apps}
spec: {image: nginx, interval: 1h}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: a, namespace: apps}
spec: {imageRepositoryRef: {name: a}, policy: {semver: {range: ">=1.0.0"}}}
""")
    controller = Controller(load_config([cfg]), Store.open(tmp_path / "state"))
    assert controller.rate_key(("ImageRepository", "apps", "a")) == "127.0.0.1:5000"
    assert controller.rate_key(("ImageRepository", "apps", "hub")) == "index.docker.io"
    assert controller.rate_key(("ImagePolicy", "apps", "a")) is None
