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
    scheduler = Scheduler(controller, workers=2, min_gap=0.0)  # type: ignore[arg-type]
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
    scheduler = Scheduler(controller, workers=3, backoff_base=0.1, jitter=0.0, min_gap=0.0,  # type: ignore[arg-type]
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


async def test_unknown_objects_are_refused_and_stop_is_graceful() -> None:
    controller = RecordingController(delay=0.3)
    scheduler = Scheduler(controller, workers=1)  # type: ignore[arg-type]
    assert scheduler.trigger(("ImagePolicy", "ns", "nope"), "x") is False
    await scheduler.start()
    await asyncio.sleep(0.05)
    await scheduler.stop(grace=2.0)  # waits for the run in progress
    assert controller.running == set()


async def test_triggers_after_a_run_wait_for_the_minimum_gap() -> None:
    controller = RecordingController()
    scheduler = Scheduler(controller, workers=2, min_gap=0.5)  # type: ignore[arg-type]
    await scheduler.start()
    await settle(scheduler, 0.1)  # startup runs done
    controller.calls.clear()
    for _ in range(20):  # a storm spread over 0.4 s
        scheduler.trigger(REPO, "webhook")
        await asyncio.sleep(0.02)
    await settle(scheduler, 0.8)
    await scheduler.stop()
    assert controller.calls == [(REPO, True)]  # one run for the whole storm, none lost
