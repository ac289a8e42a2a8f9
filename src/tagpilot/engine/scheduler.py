"""The scheduler: keeps every object converged, reacts to triggers at once, never runs one object twice.

Level-triggered like a Kubernetes controller. Each object has at most one run at a time; a trigger
that arrives while it runs marks it dirty, so exactly one more run follows (no event is lost, none
is repeated, a storm of webhooks costs one or two runs). Objects are due again after their
`interval` (with jitter so that many repositories do not hit a registry in the same second), after
a failure with exponential backoff capped at the interval, and never on their own once `Stalled`
(an invalid spec: only a configuration change or a manual trigger runs it again). The dependents a
run reports (policies after a new tag list, automations after a new latest image) run at once.
Triggered runs start at once (a trigger during a run causes exactly one follow-up run as soon as it
ends), but triggered runs of objects that talk to a registry (`controller.rate_key`) take a token from
that registry's bucket (`scan_burst` at once, then `scan_rate` a second): back-to-back pushes of
different images reach git in milliseconds, while a storm of webhooks for one repository costs a
handful of scans, not one per delivery (registries rate-limit). Interval and startup runs take no
token: they are already spread by the interval and its jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tagpilot.engine.controller import Controller, ObjectKey, ReconcileResult
from tagpilot.registry.limits import backoff_delay

log = logging.getLogger("tagpilot.scheduler")

BACKOFF_BASE = 5.0


class ScanBucket:
    """A non-blocking token bucket: `reserve` takes a token now or books the next one and says when.

    Unlike `registry.limits.TokenBucket` nothing waits here: the scheduler turns the wait into a due
    time, so a deferred run holds no worker and further triggers coalesce into it."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, burst)
        self.tokens = self.capacity
        self.updated = now

    def reserve(self, now: float) -> float:
        """Take a token; the seconds until it is really there (0: run now). Tokens may go negative:
        each booking pushes the next one a further 1/rate seconds out."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= 1
        return 0.0 if self.tokens >= -1e-9 else -self.tokens / self.rate


@dataclass(slots=True)
class _State:
    running: bool = False
    queued: bool = False
    dirty: bool = False
    force: bool = False
    failures: int = 0
    next_due: float | None = None
    reason: str = ""
    deferred: bool = False  # a triggered run waits for its registry's token (next_due)


class Scheduler:
    """Runs `controller.reconcile` for due and triggered objects with bounded concurrency."""

    def __init__(self, controller: Controller, *, workers: int = 8, jitter: float = 0.1,
                 backoff_base: float = BACKOFF_BASE, scan_rate: float = 2.0, scan_burst: float = 10.0,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] | None = None,
                 on_run_started: Callable[[ObjectKey, float], None] | None = None) -> None:
        self.controller = controller
        self.on_run_started = on_run_started  # (key, epoch seconds): the daemon clears kept promises
        self.workers = workers
        self.jitter = jitter
        self.backoff_base = backoff_base
        self.scan_rate = scan_rate
        self.scan_burst = scan_burst
        self._buckets: dict[str, ScanBucket] = {}
        self.rng = rng or random.Random()
        self._clock = clock
        self._states: dict[ObjectKey, _State] = {}
        # every next_due set, as (due, seq, key): the timer pops what is due instead of walking every
        # object on each wake (at 10,000 objects that walk, once per finished run, was the daemon's
        # largest cost). An entry whose state's next_due has since changed is stale and dropped.
        self._due: list[tuple[float, int, ObjectKey]] = []
        self._seq = itertools.count()
        self._timer_until = 0.0  # when the timer wakes on its own: an earlier due time must wake it
        self._queue: asyncio.Queue[ObjectKey] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.runs = 0  # completed reconciles, for tests and metrics
        self.first_round_done = False
        self._finished = asyncio.Condition()

    def now(self) -> float:
        return self._clock() if self._clock else time.monotonic()  # the event loop's clock on Linux

    # --- triggers -----------------------------------------------------------------------------------

    def trigger(self, key: ObjectKey, reason: str = "requested", *, force: bool = True) -> bool:
        """Ask for a run of `key` now; coalesces with a queued or running one. False if unknown."""
        if self.controller.get(key) is None:
            return False
        state = self._states.setdefault(key, _State())
        state.force = state.force or force
        state.reason = reason
        if state.running:
            state.dirty = True
        elif not state.queued and not state.deferred:
            wait = self._reserve(key)
            if wait > 0:  # the registry's bucket is empty: run when its token is there, coalesce until then
                due = self.now() + wait
                state.deferred = True
                self._set_due(key, state, due if state.next_due is None else min(state.next_due, due))
            else:
                self._enqueue(key, state)
        return True

    def _reserve(self, key: ObjectKey) -> float:
        """Seconds a triggered run of `key` must wait for its registry's token (0 for other kinds)."""
        rate_key = getattr(self.controller, "rate_key", None)
        bucket_name = rate_key(key) if rate_key is not None else None
        if bucket_name is None:
            return 0.0
        now = self.now()
        bucket = self._buckets.get(bucket_name)
        if bucket is None:
            bucket = self._buckets[bucket_name] = ScanBucket(self.scan_rate, self.scan_burst, now)
        return bucket.reserve(now)

    def _set_due(self, key: ObjectKey, state: _State, due: float | None) -> None:
        """Set `state.next_due`, index it for the timer, and wake the timer when it is due sooner than
        the timer would wake by itself."""
        state.next_due = due
        if due is None:
            return
        if len(self._due) > 2 * len(self._states) + 64:  # mostly stale entries: rebuild from the states
            self._due = [(s.next_due, next(self._seq), k) for k, s in self._states.items() if s.next_due is not None]
            heapq.heapify(self._due)
        else:
            heapq.heappush(self._due, (due, next(self._seq), key))
        if due < self._timer_until:
            self._wake.set()

    def _enqueue(self, key: ObjectKey, state: _State) -> None:
        state.queued = True
        self._queue.put_nowait(key)

    def queue_depth(self) -> int:
        return self._queue.qsize()

    def sync(self, *, changed: Iterable[ObjectKey] = ()) -> None:
        """After a configuration (re)load: forget removed objects, run new and changed ones."""
        keys = set(self.controller.keys())
        for key in list(self._states):
            if key not in keys and not self._states[key].running:
                del self._states[key]
        for key in sorted(keys):
            if key not in self._states:
                # a new object: run it now, but let a repository skip a scan that is not due (restart-safe)
                self.trigger(key, "startup", force=False)
        for key in changed:
            if key in keys:
                self.trigger(key, "configuration changed")
        self._wake.set()

    # --- running ------------------------------------------------------------------------------------

    async def start(self, *, forced: Iterable[ObjectKey] = ()) -> None:
        """Start the workers and the timer, and the first round: every object once, in dependency order
        (the same path as `tagpilot reconcile`), so no policy runs before its repository's scan.
        `forced` objects (runs promised before a restart) run in full, never skipped as not due."""
        self._stopping = False
        self._tasks = [asyncio.create_task(self._worker(i), name=f"tagpilot-worker-{i}") for i in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._timer(), name="tagpilot-timer"))
        known = list(self.controller.keys())
        keys = [key for key in known if key not in self._states]  # those not already triggered
        for key in keys:
            self._states.setdefault(key, _State()).reason = "startup"
        promised = set(forced)
        self._tasks.append(asyncio.create_task(self._first_round(keys, promised), name="tagpilot-first-round"))

    async def _first_round(self, keys: list[ObjectKey], promised: set[ObjectKey]) -> None:
        from tagpilot.engine.rounds import run_round

        order = getattr(self.controller, "order", lambda _key: 0)
        await run_round(keys, lambda key: self._run(
            key, "requested before a restart" if key in promised else "startup", force=key in promised,
            follow=False), order, keep=False)
        self.first_round_done = True

    async def stop(self, *, grace: float = 30.0) -> None:
        """Let running reconciles finish (up to `grace` seconds), then cancel the rest."""
        self._stopping = True
        self._wake.set()
        workers = [t for t in self._tasks if t.get_name().startswith("tagpilot-worker")]
        timer = [t for t in self._tasks if t not in workers]
        for task in timer:
            task.cancel()
        for _ in workers:
            self._queue.put_nowait(("", "", ""))  # a sentinel per worker
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*workers, return_exceptions=True), timeout=grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _worker(self, _index: int) -> None:
        while True:
            key = await self._queue.get()
            if key == ("", "", "") or self._stopping:
                return
            state = self._states.setdefault(key, _State())
            state.queued = False
            if state.running:  # the first round runs it right now: one more run after it
                state.dirty = True
                continue
            force, state.force = state.force, False
            await self._run(key, state.reason, force=force)

    async def _run(self, key: ObjectKey, reason: str, *, force: bool, follow: bool = True) -> ReconcileResult:
        """Run `key` now, never twice at once (waits for a run in progress), then schedule what follows.

        `follow=False` (the first round) leaves the dependents to the caller."""
        state = self._states.setdefault(key, _State())
        async with self._finished:
            await self._finished.wait_for(lambda: not state.running)
            state.running = True
        if self.on_run_started is not None:
            self.on_run_started(key, time.time())
        try:
            result = await self.controller.reconcile(key, force=force)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug must not kill the daemon; report it and back off
            log.exception("reconcile of %s failed unexpectedly", "/".join(key))
            result = ReconcileResult(key, ok=False, error=f"internal error: {exc.__class__.__name__}: {exc}")
        finally:
            state.running = False
            self.runs += 1
            async with self._finished:
                self._finished.notify_all()
        self._log(key, reason, result)
        state.reason = ""
        self._schedule_next(key, state, result)
        if follow:
            for dependent in result.dependents:
                self.trigger(dependent, f"input changed: {'/'.join(key)}")
        if state.dirty and not self._stopping:
            state.dirty = False
            self.trigger(key, "triggered while running", force=True)
        return result

    @staticmethod
    def _log(key: ObjectKey, reason: str, result: ReconcileResult) -> None:
        """One line per run: failures at warning level; successes name what they did."""
        name = "/".join(key)
        why = f" ({reason})" if reason else ""
        if result.skipped:
            log.debug("skipped %s%s: %s", name, why, result.skipped)
        elif not result.ok:
            log.warning("reconcile of %s%s failed: %s", name, why, result.error)
        elif result.commit:
            log.info("reconciled %s%s: pushed %s (%d file(s))", name, why, result.commit[:7], result.files_changed)
        else:
            log.info("reconciled %s%s: ok%s", name, why, " (output changed)" if result.dependents else "")

    def _schedule_next(self, key: ObjectKey, state: _State, result: ReconcileResult) -> None:
        interval = self.controller.interval(key)
        now = self.now()
        state.deferred = False  # whatever a deferred trigger waited for, this run has done it
        if result.ok:
            state.failures = 0
            if interval:
                self._set_due(key, state, now + interval * (1 + self.rng.uniform(-self.jitter, self.jitter)))
            else:
                state.next_due = None
        elif result.stalled:
            state.next_due = None  # retrying cannot fix it; a change or a manual trigger will
        else:
            state.failures += 1
            delay = backoff_delay(state.failures - 1, base=self.backoff_base, cap=interval or 300.0,
                                  rand=self.rng.random, jitter=self.jitter, jitter_above=True)
            self._set_due(key, state, now + delay)

    async def _timer(self) -> None:
        while not self._stopping:
            now = self.now()
            due = self._due
            while due and due[0][0] <= now:
                when, _seq, key = heapq.heappop(due)
                state = self._states.get(key)
                if state is None or state.next_due != when:
                    continue  # stale: the object's due time changed (or it left the configuration)
                if state.running or state.queued:
                    continue  # its run ends in _schedule_next, which sets the next due time
                state.next_due = None
                state.deferred = False
                if self.controller.get(key) is not None:
                    state.force = True
                    state.reason = state.reason or "interval"
                    self._enqueue(key, state)
            timeout = due[0][0] - now if due else 3600.0
            self._wake.clear()
            self._timer_until = now + max(0.05, timeout)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, timeout))
