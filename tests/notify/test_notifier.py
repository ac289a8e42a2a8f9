"""The subscriber: trigger evaluation per event, dedupe semantics (re-arm, oncePer, restart), outbox."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tagpilot.config.loader import load_config
from tagpilot.engine.events import NORMAL, WARNING, Event, Reason
from tagpilot.notify.notifier import Notifier
from tagpilot.store import Store
from tests.fixtures.http import RecordingServer, Reply

POLICY = """apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: app
  namespace: apps
  labels: {team: web}
  annotations:
    notifications.argoproj.io/subscribe.on-failed.hook: ops;dev
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
"""
CM = """---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-notifications-cm}
data:
  service.webhook.hook: |
    url: URL
    retryMax: 0
  template.latest: |
    webhook:
      hook:
        method: POST
        path: latest
        body: '{{.app.metadata.name}} -> {{.event.metadata.latestRef.tag}}'
  template.failed: |
    message: '{{.recipient}}: {{.event.reason}} {{.event.message}}'
  trigger.on-latest: |
    - when: event.reason == 'LatestImageChanged'
      oncePer: event.metadata.latestRef.tag
      send: [latest]
  trigger.on-failed: |
    - when: event.type == 'Warning'
      send: [failed]
  subscriptions: |
    - recipients: [hook]
      triggers: [on-latest]
      selector: team=web
"""

KEY = ("ImagePolicy", "apps", "app")


def latest(tag: str) -> Event:
    return Event(KEY, NORMAL, Reason.LATEST_IMAGE_CHANGED, f"latest {tag}", {"latestRef": {"tag": tag}})


def failed() -> Event:
    return Event(KEY, WARNING, "ScanFailed", "registry down")


def ok() -> Event:
    return Event(KEY, NORMAL, Reason.RECOVERED, "fine again")


def run(notifier: Notifier, *events: Event) -> None:
    for event in events:
        notifier(event)
    asyncio.run(notifier.drain())
    asyncio.run(notifier.aclose())


def test_triggers_dedupe_and_rearm(tmp_path: Path) -> None:
    with RecordingServer() as rx:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(POLICY + CM.replace("URL", rx.url + "/base"))
        config = load_config([cfg])
        with Store.open(tmp_path / "state") as store:
            run(Notifier(lambda: config, store), latest("1.1.0"), latest("1.1.0"))
            assert [(r.method, r.path, r.body) for r in rx.requests] == [("POST", "/base/latest", b"app -> 1.1.0")]
            # a new process (restart): the same oncePer value is not sent again; a new one is
            run(Notifier(lambda: config, store), latest("1.1.0"), ok(), latest("1.2.0"))
            assert [r.body for r in rx.requests][1:] == [b"app -> 1.2.0"]
            # annotation subscription: one delivery per recipient (argo's webhook GET with the message)
            rx.requests.clear()
            run(Notifier(lambda: config, store), failed(), failed())
            assert sorted(r.body for r in rx.requests) == [b"dev: ScanFailed registry down",
                                                           b"ops: ScanFailed registry down"]
            assert {r.method for r in rx.requests} == {"GET"}
            # still failing: already sent; recovered (condition false, no oncePer) re-arms it
            rx.requests.clear()
            run(Notifier(lambda: config, store), failed(), ok(), failed())
            assert len(rx.requests) == 2
            deliveries = [e for e in store.events(kind="ImagePolicy") if e["reason"] == "NotificationSent"]
            assert len(deliveries) == 6 and {d["data"]["status"] for d in deliveries} == {200}


def test_failed_delivery_stays_in_the_outbox_and_is_retried(tmp_path: Path) -> None:
    with RecordingServer(default=Reply(200, "x")) as rx:
        rx.route("/latest", Reply(500, "x"), Reply(200, "x"))
        cfg = tmp_path / "c.yaml"
        cfg.write_text(POLICY + CM.replace("URL", rx.url))
        config = load_config([cfg])
        now = [1000.0]
        with Store.open(tmp_path / "state") as store:
            run(Notifier(lambda: config, store, clock=lambda: now[0]), latest("2.0.0"))
            (item,) = store.outbox()
            assert item["state"] == "pending" and item["attempts"] == 1 and "HTTP 500" in item["last_error"]
            run(Notifier(lambda: config, store, clock=lambda: now[0]))  # not due yet
            assert len(rx.requests) == 1
            now[0] += 31
            run(Notifier(lambda: config, store, clock=lambda: now[0]))
            assert len(rx.requests) == 2 and store.outbox()[0]["state"] == "sent"
            reasons = [e["reason"] for e in store.events(kind="ImagePolicy")]
            assert reasons.count("NotificationFailed") == 1 and reasons.count("NotificationSent") == 1
