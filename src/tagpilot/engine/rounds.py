"""One round: every object once, in dependency order, following what each result makes due.

The one run-once path: `tagpilot reconcile` (all objects, or one and what it makes due) and the
daemon's first round both use it, so a policy never runs before the scan it reads, and an
automation never before the policies it writes. Objects of the same kind run concurrently (their
reconcilers bound their own I/O); a kind runs after every kind it depends on finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable

from tagpilot.engine.controller import ReconcileResult
from tagpilot.engine.keys import ObjectKey

Runner = Callable[[ObjectKey], Awaitable[ReconcileResult]]


async def run_round(keys: Iterable[ObjectKey], run: Runner, order: Callable[[ObjectKey], int], *,
                    keep: bool = True) -> list[ReconcileResult]:
    """Run `keys`, lowest `order` first, and the dependents their results name (each object once).

    Results come back in the order they were run (by kind order, then key). `keep=False` (the
    daemon's first round, which reads none of them) returns none and holds each result only until
    its dependents are known: a kept result holds the object's whole status, ~20,000 of them at
    10,000 ImageRepositories and ImagePolicies."""
    pending = set(keys)
    done: set[ObjectKey] = set()
    results: list[ReconcileResult] = []
    while pending:
        lowest = min(order(key) for key in pending)
        group = sorted(key for key in pending if order(key) == lowest)
        pending.difference_update(group)
        done.update(group)

        async def one(key: ObjectKey) -> list[ObjectKey] | ReconcileResult:
            result = await run(key)
            return result if keep else result.dependents

        for answer in await asyncio.gather(*(one(key) for key in group)):
            if isinstance(answer, ReconcileResult):
                results.append(answer)
                answer = answer.dependents
            pending.update(dep for dep in answer if dep not in done)
    return results
