"""A reconcile accepted with 202 survives kill -9: it is persisted before the answer and run in full at start.

In process, against the real registry: the first daemon accepts a request and "dies" before any worker
takes it (its scheduler is stopped first, so the test does not depend on timing); the second daemon on
the same state directory runs it at start, although the repository's scan is not due for an hour.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tagpilot.engine.daemon import Daemon
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer

KEY = ("ImageRepository", "default", "app")


async def wait_for(condition, what: str, timeout: float = 20.0):
    for _ in range(int(timeout / 0.05)):
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def tag_count(daemon: Daemon) -> int | None:
    stored = daemon.store.get_object(*KEY)
    return ((stored.status if stored else {}).get("lastScanResult") or {}).get("tagCount")


async def test_an_accepted_trigger_runs_after_a_crash(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    push_tags(registry, repo_name, ["1.0.0"])
    config = tmp_path / "config.yaml"
    config.write_text("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: app}\n"
                      f"spec: {{image: {registry.host}/{repo_name}, interval: 1h, insecure: true}}\n")
    state = tmp_path / "state"

    first = Daemon([config], state)
    await first.start()
    await wait_for(lambda: tag_count(first) == 1, "the first scan")
    await first.scheduler.stop(grace=5)  # no worker will take what comes next
    push_tags(registry, repo_name, ["1.1.0"])
    assert first.request_reconcile(KEY, "registry notification")  # what the API does before answering 202
    assert first.store.pending() == [(KEY, "registry notification")]
    # kill -9: nothing else runs; the kernel would drop the lock
    first.state_lock.release()
    await first.registry.aclose()
    first.store.close()

    second = Daemon([config], state)
    await second.start()
    try:
        await wait_for(lambda: tag_count(second) == 2, "the promised scan after the restart")
        await wait_for(lambda: second.store.pending() == [], "the promise cleared")
    finally:
        await second.stop()
