"""Batching (`tagpilot.dev/batch`: one message per subscription for every object of a cycle) and the
per-service rate limits (Feishu 5/s and 100/min, DingTalk 20/min)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tagpilot.config.loader import load_config
from tagpilot.engine.events import NORMAL, Event, Reason
from tagpilot.notify.config import Service
from tagpilot.notify.notifier import Notifier
from tagpilot.notify.ratelimit import RateLimiter, parse_limits
from tagpilot.store import Store
from tests.fixtures.http import RecordingServer

AUTOMATION = """---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: {name}, namespace: apps, labels: {{team: web}}}}
spec:
  interval: 5m
  sourceRef: {{kind: GitRepository, name: fleet}}
  git: {{commit: {{author: {{name: bot, email: bot@example.com}}}}, push: {{branch: main}}}}
  update: {{path: ./deploy, strategy: Setters}}
"""
CM = """---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-notifications-cm}
data:
  service.webhook.hook: |
    url: URL
    retryMax: 0
  template.digest: |
    webhook:
      hook:
        method: POST
        body: '{{.update.count}} images:{{range .update.images}} {{.object}}={{.image}}:{{.newTag}}{{end}}'
  trigger.on-pushed: |
    - when: event.reason == 'Pushed'
      oncePer: update.revision
      send: [digest]
  subscriptions: |
    - recipients: [hook]
      triggers: [on-pushed]
      selector: team=web
      tagpilot.dev/batch: "true"
"""


def pushed(name: str, commit: str, images: range) -> Event:
    changes = [{"file": f"deploy/{i}.yaml", "old": f"reg/app{i}:1.0.0", "new": f"reg/app{i}:1.1.0"} for i in images]
    return Event(("ImageUpdateAutomation", "apps", name), NORMAL, Reason.PUSHED, "pushed",
                 {"commit": commit, "branch": "main", "changes": changes, "files": [c["file"] for c in changes]})


def test_fifty_images_of_two_automations_in_one_cycle_are_one_message(tmp_path: Path) -> None:
    with RecordingServer() as rx:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(AUTOMATION.format(name="front") + AUTOMATION.format(name="back") +
                       CM.replace("URL", rx.url + "/digest"))
        config = load_config([cfg])
        with Store.open(tmp_path / "state") as store:
            notifier = Notifier(lambda: config, store)
            notifier(pushed("front", "a" * 40, range(49)))
            notifier(pushed("back", "b" * 40, range(49, 50)))
            asyncio.run(notifier.drain())
            (request,) = rx.requests
            body = request.text()
            assert body.startswith("50 images: front=reg/app0:1.1.0") and body.endswith(" back=reg/app49:1.1.0")
            # the same commits again (a restart, a second replica): each object's oncePer is already claimed
            notifier(pushed("front", "a" * 40, range(49)))
            notifier(pushed("back", "b" * 40, range(49, 50)))
            asyncio.run(notifier.drain())
            asyncio.run(notifier.aclose())
            assert len(rx.requests) == 1
            (sent,) = [e for e in store.events() if e["reason"] == "NotificationSent"]
            assert sent["data"]["status"] == 200


def test_feishu_limits_five_per_second_and_a_hundred_per_minute() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))
        now[0] += seconds

    limiter = RateLimiter(clock=lambda: now[0], sleep=sleep)
    feishu = Service("feishu", "feishu", {"url": "http://x"})

    async def go(count: int) -> None:
        for _ in range(count):
            await limiter.acquire(feishu)

    asyncio.run(go(5))
    assert waits == []  # five in the same second pass
    asyncio.run(go(1))
    assert waits == [1.0]  # the sixth waits for the first second to pass
    asyncio.run(go(94))
    assert now[0] < 60  # 100 within the first minute
    waits.clear()
    asyncio.run(go(1))
    assert now[0] >= 60 and sum(waits) > 0  # the 101st waits for the minute window
    webhook = Service("webhook", "hook", {"url": "http://x"})
    before = now[0]
    asyncio.run(go(0))
    for _ in range(50):
        asyncio.run(limiter.acquire(webhook))
    assert now[0] == before  # no documented limit, no waiting


def test_rate_limit_option() -> None:
    assert parse_limits(["10/s", "30/m"]) == ((10, 1.0), (30, 60.0))
    assert RateLimiter().limits(Service("dingtalk", "d", {})) == ((20, 60.0),)
    with pytest.raises(ValueError, match="rateLimit '5 per second' must look like 5/s"):
        parse_limits("5 per second")
