"""Flux Provider/Alert: read unchanged, refused when tagpilot cannot deliver, delivering tagpilot's events in
Flux's payload shapes to real local receivers (generic-hmac checked as Flux's Receiver checks it; Slack's
chat.postMessage, Feishu/Lark are stand-ins, see tests/notify/receivers.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagpilot.config.loader import load_config
from tagpilot.engine.events import NORMAL, WARNING, Event, Reason
from tagpilot.errors import ConfigError, ConfigErrors
from tagpilot.notify.notifier import Notifier
from tagpilot.store import Store
from tests.fixtures.http import RecordingServer
from tests.notify.receivers import feishu_stand_in, hmac_ok, slack_stand_in

TOKEN = "hmac-token-0123456789"
POLICY = """apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: app
  namespace: apps
  labels: {team: web}
  annotations: {event.toolkit.fluxcd.io/cluster: prod-eu}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: fleet, namespace: apps}
spec:
  interval: 5m
  sourceRef: {kind: GitRepository, name: fleet}
  git: {commit: {author: {name: bot, email: bot@example.com}}, push: {branch: main}}
  update: {path: ./deploy, strategy: Setters}
"""
FLUX = """---
apiVersion: v1
kind: Secret
metadata: {name: hook, namespace: apps}
stringData:
  address: URL/hook
  token: TOKEN
  headers: |
    X-Team: web
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: hook, namespace: apps}
spec:
  type: generic-hmac
  secretRef: {name: hook}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: all, namespace: apps}
spec:
  providerRef: {name: hook}
  summary: image updates in prod
  eventMetadata: {env: prod}
  eventSources:
    - kind: ImagePolicy
      name: '*'
      matchLabels: {team: web}
    - {kind: ImageUpdateAutomation, name: fleet}
  exclusionList: ['^ignored']
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: errors, namespace: apps}
spec:
  providerRef: {name: slack}
  eventSeverity: error
  eventSources: [{kind: ImagePolicy, name: app}]
---
apiVersion: v1
kind: Secret
metadata: {name: slack, namespace: apps}
stringData: {token: xoxb-slack-token}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: slack, namespace: apps}
spec:
  type: slack
  channel: '#deploys'
  address: URL/api/chat.postMessage
  secretRef: {name: slack}
"""
POLICY_KEY = ("ImagePolicy", "apps", "app")
AUTOMATION_KEY = ("ImageUpdateAutomation", "apps", "fleet")


@pytest.fixture(scope="module")
def server() -> Iterator[RecordingServer]:
    with RecordingServer() as rx:
        yield rx


@pytest.fixture
def rx(server: RecordingServer) -> RecordingServer:
    server.clear()
    return server


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def run(notifier: Notifier, *events: Event) -> None:
    for event in events:
        notifier(event)
    asyncio.run(notifier.drain())
    asyncio.run(notifier.aclose())


def pushed(commit: str = "a" * 40) -> Event:
    return Event(AUTOMATION_KEY, NORMAL, Reason.PUSHED, "pushed", {"commit": commit, "branch": "main",
                                                                  "commitMessage": "update app to 1.1.0"}, 1700000000)


def test_events_reach_the_providers_in_fluxs_shape(tmp_path: Path, rx: RecordingServer) -> None:
    rx.route("/api/chat.postMessage", slack_stand_in("xoxb-slack-token"))
    config = load_config([write(tmp_path, POLICY + FLUX.replace("URL", rx.url).replace("TOKEN", TOKEN))])
    now = [1700000000.0]
    with Store.open(tmp_path / "state") as store:
        latest = Event(POLICY_KEY, NORMAL, Reason.LATEST_IMAGE_CHANGED, "latest",
                       {"latestRef": {"name": "reg/app", "tag": "1.1.0"}}, 1700000000)
        failed = Event(POLICY_KEY, WARNING, "ScanFailed", "registry down", {}, 1700000000)
        ignored = Event(POLICY_KEY, WARNING, "X", "ignored message", {}, 1700000000)
        run(Notifier(lambda: config, store, clock=lambda: now[0]), latest, pushed(), failed, ignored)
        hooks = [r for r in rx.requests if r.path == "/hook"]
        slack = [r for r in rx.requests if r.path == "/api/chat.postMessage"]
        assert len(hooks) == 3 and len(slack) == 2  # `ignored` excluded from /hook, errors only on slack
        assert all(hmac_ok(TOKEN, r) for r in hooks) and {r.headers["X-Team"] for r in hooks} == {"web"}
        first, push = hooks[0].json(), hooks[1].json()
        assert first["involvedObject"] == {"apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImagePolicy",
                                           "name": "app", "namespace": "apps"}
        assert first["message"] == "Latest image tag for 'reg/app' resolved to 1.1.0"
        assert first["metadata"] == {"cluster": "prod-eu", "env": "prod", "summary": "image updates in prod"}
        assert first["severity"] == "info" and first["reportingController"] == "image-reflector-controller"
        assert first["timestamp"] == "2023-11-14T22:13:20Z"
        assert push["message"] == f"pushed commit '{'a' * 40}' to branch 'main'\nupdate app to 1.1.0"
        assert push["metadata"]["image.toolkit.fluxcd.io/revision"] == f"main@sha1:{'a' * 40}"
        assert hooks[2].json()["severity"] == "error"
        attachment = slack[0].json()["attachments"][0]
        assert slack[0].json()["channel"] == "#deploys" and attachment["color"] == "danger"
        assert attachment["author_name"] == "imagepolicy/app.apps" and attachment["text"] == "registry down"
        # Flux's 5-minute duplicate suppression, kept in the store: a new process does not re-send
        rx.clear()
        run(Notifier(lambda: config, store, clock=lambda: now[0] + 60), latest)
        assert rx.requests == []
        now[0] += 301
        run(Notifier(lambda: config, store, clock=lambda: now[0]), latest)
        assert len(rx.requests) == 1
        sent = [e for e in store.events(kind="ImagePolicy") if e["reason"] == "NotificationSent"]
        assert {e["data"]["service"] for e in sent} == {"Provider/apps/hook", "Provider/apps/slack"}
        assert TOKEN not in str(store.events()) and "xoxb-slack-token" not in str(store.events())


def test_slack_api_error_in_a_200_is_a_failed_delivery(tmp_path: Path, rx: RecordingServer) -> None:
    rx.route("/api/chat.postMessage", slack_stand_in("another-token"))
    config = load_config([write(tmp_path, POLICY + FLUX.replace("URL", rx.url).replace("TOKEN", TOKEN))])
    with Store.open(tmp_path / "state") as store:
        run(Notifier(lambda: config, store), Event(POLICY_KEY, WARNING, "ScanFailed", "down", {}))
        failed = [e for e in store.events(kind="ImagePolicy") if e["reason"] == "NotificationFailed"]
        assert len(failed) == 1 and "slack responded with error: invalid_auth" in failed[0]["message"]
        assert [i["state"] for i in store.outbox() if i["service"] == "Provider/apps/slack"] == ["pending"]


def test_signed_lark_provider_and_suspend(tmp_path: Path, rx: RecordingServer) -> None:
    rx.route("/open-apis/bot/v2/hook/t", feishu_stand_in("lark-signing-secret"))
    lark = f"""---
apiVersion: v1
kind: Secret
metadata: {{name: lark, namespace: apps}}
stringData: {{address: {rx.url}/open-apis/bot/v2/hook/t, signingSecret: lark-signing-secret}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {{name: lark, namespace: apps}}
spec: {{type: lark, secretRef: {{name: lark}}}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {{name: lark, namespace: apps}}
spec:
  providerRef: {{name: lark}}
  eventSources: [{{kind: ImageUpdateAutomation, name: '*'}}]
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {{name: paused, namespace: apps}}
spec:
  suspend: true
  providerRef: {{name: lark}}
  eventSources: [{{kind: ImageUpdateAutomation, name: '*'}}]
"""
    config = load_config([write(tmp_path, POLICY + lark)])
    with Store.open(tmp_path / "state") as store:
        run(Notifier(lambda: config, store), pushed())
        (request,) = rx.requests
        card = request.json()
        assert card["card"]["header"]["title"]["content"] == "💫 imageupdateautomation/fleet.apps"
        assert card["card"]["elements"][0]["text"]["content"].startswith(f"**pushed commit '{'a' * 40}'")
        assert [e["reason"] for e in store.events(kind="ImageUpdateAutomation")] == ["NotificationSent"]


def test_proxy_is_used(tmp_path: Path, rx: RecordingServer) -> None:
    text = f"""---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {{name: p, namespace: apps}}
spec: {{type: generic, address: "http://hooks.example.invalid/in", proxy: "{rx.url}"}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {{name: a, namespace: apps}}
spec: {{providerRef: {{name: p}}, eventSources: [{{kind: ImageUpdateAutomation, name: fleet}}]}}
"""
    config = load_config([write(tmp_path, POLICY + text)])
    with Store.open(tmp_path / "state") as store:
        run(Notifier(lambda: config, store), pushed())
    (request,) = rx.requests
    assert request.target == "http://hooks.example.invalid/in" and request.headers["Gotk-Component"] == "tagpilot"


def test_matrix_provider_puts_fluxs_message_into_the_room(tmp_path: Path, rx: RecordingServer) -> None:
    """Flux's matrix notifier: PUT /_matrix/client/r0/rooms/ROOM/send/m.room.message/TXN with the token;
    the recorder stands in for a Matrix homeserver (none runs here) and answers as one does."""
    text = f"""---
apiVersion: v1
kind: Secret
metadata: {{name: matrix, namespace: apps}}
stringData: {{token: syt_matrix_access_token}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {{name: p, namespace: apps}}
spec: {{type: matrix, address: "{rx.url}", channel: "!room:matrix.example", secretRef: {{name: matrix}}}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {{name: a, namespace: apps}}
spec: {{providerRef: {{name: p}}, eventSources: [{{kind: ImageUpdateAutomation, name: fleet}}]}}
"""
    config = load_config([write(tmp_path, POLICY + text)])
    with Store.open(tmp_path / "state") as store:
        run(Notifier(lambda: config, store), pushed(), pushed("b" * 40))
        assert "syt_matrix_access_token" not in str(store.events())
    first, second = rx.requests
    prefix = "/_matrix/client/r0/rooms/%21room%3Amatrix.example/send/m.room.message/"
    assert first.method == "PUT" and first.target.startswith(prefix)
    assert len(first.target.removeprefix(prefix)) == 40 and first.target != second.target  # one txn per event
    assert first.headers["Authorization"] == "Bearer syt_matrix_access_token"
    assert first.json() == {"body": f"💫 imageupdateautomation/fleet.apps\npushed commit '{'a' * 40}' to branch "
                                    f"'main'\nupdate app to 1.1.0\n- image.toolkit.fluxcd.io/revision: "
                                    f"main@sha1:{'a' * 40}\n", "msgtype": "m.text"}


@pytest.mark.parametrize(("spec", "needle"), [
    ("type: matrix\n  address: http://x", "needs the key `token`"),
    ("type: datadog\n  address: http://x", "provider type 'datadog' (a Flux provider type) is not delivered"),
    ("type: slackk\n  address: http://x", "'slackk' (not a Flux provider type)"),
    ("type: generic", "a generic provider needs an address"),
    ("type: generic-hmac\n  address: http://x", "needs the key `token`"),
    ("type: generic\n  address: http://x\n  serviceAccountName: sa", "serviceAccountName"),
    ("type: generic\n  address: http://x\n  secretRef: {name: missing}", "Secret apps/missing is not in"),
])
def test_provider_mistakes_are_load_errors(tmp_path: Path, spec: str, needle: str) -> None:
    text = ("apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\n"
            f"metadata: {{name: p, namespace: apps}}\nspec:\n  {spec}\n")
    with pytest.raises((ConfigError, ConfigErrors)) as info:
        load_config([write(tmp_path, text)])
    assert needle in str(info.value) and "c.yaml" in str(info.value)


def test_alert_mistakes_are_load_errors(tmp_path: Path) -> None:
    text = """apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: a, namespace: apps}
spec:
  providerRef: {name: nowhere}
  eventSources: [{kind: ImagePolicy, name: app}]
  inclusionList: ['(unclosed']
"""
    with pytest.raises((ConfigError, ConfigErrors)) as info:
        load_config([write(tmp_path, text)])
    assert "inclusionList[0]: invalid regular expression" in str(info.value)
    with pytest.raises((ConfigError, ConfigErrors)) as info:
        load_config([write(tmp_path, text.replace("  inclusionList: ['(unclosed']\n", ""))])
    assert "Provider apps/nowhere is not in the configuration" in str(info.value)


def test_the_example_alerts_load_and_list(tmp_path: Path) -> None:
    from tagpilot.config.flux_alert import Alert, Provider
    from tests.integration.cli import run_tagpilot

    example = Path(__file__).parents[2] / "examples" / "notifications"
    config = load_config([example])
    assert {p.spec.type for p in config.of_kind(Provider)} == {"lark", "slack"}
    assert {a.name for a in config.of_kind(Alert)} == {"image-updates", "image-errors"}
    result = run_tagpilot("get", "alerts", "-f", example, "--state", tmp_path / "state")
    assert result.code == 0, result.stderr
    assert "image-errors" in result.stdout and "slack-bot" in result.stdout and "error" in result.stdout
    result = run_tagpilot("get", "providers", "-f", example, "--state", tmp_path / "state")
    assert result.code == 0 and "lark" in result.stdout, result.stderr
