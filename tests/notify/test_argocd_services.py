"""argocd-notifications services beyond webhooks, from the ConfigMap through the notifier to real local servers:
email to a real aiosmtpd SMTP server (with AUTH); Slack's chat.postMessage, Teams (legacy connector answers `1`),
Teams Workflows, Telegram's Bot API, WeCom and Google Chat to STAND-INS on the shared RecordingServer (no
such service can run here; see tests/notify/receivers.py)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tagpilot.config.loader import load_config
from tagpilot.engine.events import WARNING, Event
from tagpilot.notify.notifier import Notifier
from tagpilot.store import Store
from tests.fixtures.http import RecordingServer, Reply
from tests.notify.receivers import slack_stand_in, telegram_stand_in

POLICY = """apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: app
  namespace: apps
  annotations:
    notifications.argoproj.io/subscribe.on-failed.slack: "#deploys"
    notifications.argoproj.io/subscribe.on-failed.teams: ops
    notifications.argoproj.io/subscribe.on-failed.teams-workflows: ops
    notifications.argoproj.io/subscribe.on-failed.telegram: "-1001|7"
    notifications.argoproj.io/subscribe.on-failed.email: a@example.com,b@example.com
    notifications.argoproj.io/subscribe.on-failed.wecom: ""
    notifications.argoproj.io/subscribe.on-failed.googlechat: team
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
---
apiVersion: v1
kind: Secret
metadata: {name: argocd-notifications-secret}
stringData:
  slack-token: xoxb-0123456789
  telegram-token: "123456:telegram-bot-token"
  smtp-password: smtp-pass-word
---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-notifications-cm}
data:
  service.slack: |
    token: $slack-token
    apiURL: BASE/api
    username: tagpilot
    icon: ":rocket:"
    retryMax: 0
  service.teams: |
    recipientUrls: {ops: BASE/teams}
    retryMax: 0
  service.teams-workflows: |
    recipientUrls: {ops: BASE/workflows}
  service.telegram: |
    token: $telegram-token
    apiURL: BASE/telegram
  service.email: |
    host: 127.0.0.1
    port: SMTP_PORT
    from: tagpilot@example.com
    username: tagpilot
    password: $smtp-password
    timeout: 3s
  service.wecom: |
    url: BASE/cgi-bin/webhook/send?key=wecom-key
  service.googlechat: |
    webhooks: {team: BASE/chat}
  template.failed: |
    message: '{{.app.metadata.name}} failed: {{.event.message}}'
    email:
      subject: '[tagpilot] {{.app.metadata.name}} failed'
    slack:
      attachments: '[{"color": "danger", "title": "{{.event.reason}}"}]'
    teams:
      title: 'tagpilot: {{.app.metadata.name}}'
      facts: '[{"name": "reason", "value": "{{.event.reason}}"}]'
    wecom:
      msgtype: markdown
      markdown: {content: '**{{.app.metadata.name}}** {{.event.message}}'}
  trigger.on-failed: |
    - when: event.type == 'Warning'
      send: [failed]
"""


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


def _auth(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"tagpilot" and data.password == b"smtp-pass-word"
    return AuthResult(success=ok)


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Controller, Mailbox]]:
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd connects to its own port once started: it needs a real one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=_auth, auth_require_tls=False)
    controller.start()
    yield controller, box
    controller.stop()


def test_each_service_gets_its_payload(tmp_path: Path, smtp: tuple[Controller, Mailbox]) -> None:
    controller, box = smtp
    with RecordingServer() as rx:
        rx.route("/api/chat.postMessage", slack_stand_in("xoxb-0123456789"))
        rx.route("/teams", Reply(200, "1"))
        rx.route("/telegram/bot123456:telegram-bot-token/sendMessage", telegram_stand_in())
        rx.route("/cgi-bin/webhook/send", Reply(200, {"errcode": 0, "errmsg": "ok"}))
        cfg = tmp_path / "c.yaml"
        cfg.write_text(POLICY.replace("BASE", rx.url).replace("SMTP_PORT", str(controller.port)))
        config = load_config([cfg])
        with Store.open(tmp_path / "state") as store:
            notifier = Notifier(lambda: config, store)
            notifier(Event(("ImagePolicy", "apps", "app"), WARNING, "ScanFailed", "registry down"))
            asyncio.run(notifier.drain())
            asyncio.run(notifier.aclose())
            events = store.events(kind="ImagePolicy")
        by_path = {r.path: r for r in rx.requests}
    failed = [e["message"] for e in events if e["reason"] == "NotificationFailed"]
    assert failed == [] and len([e for e in events if e["reason"] == "NotificationSent"]) == 7
    slack = by_path["/api/chat.postMessage"]
    assert slack.json() == {"channel": "#deploys", "text": "app failed: registry down",
                            "attachments": [{"color": "danger", "title": "ScanFailed"}], "username": "tagpilot",
                            "icon_emoji": ":rocket:"}
    teams = by_path["/teams"].json()
    assert teams["@type"] == "MessageCard" and teams["title"] == "tagpilot: app"
    assert teams["sections"] == [{"facts": [{"name": "reason", "value": "ScanFailed"}]}]
    card = by_path["/workflows"].json()["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["version"] == "1.4"  # no teams-workflows block: the message as a TextBlock
    assert card["content"]["body"] == [{"type": "TextBlock", "text": "app failed: registry down", "wrap": True}]
    telegram = by_path["/telegram/bot123456:telegram-bot-token/sendMessage"].json()
    assert telegram == {"chat_id": "-1001", "message_thread_id": 7, "text": "app failed: registry down",
                        "parse_mode": "Markdown"}
    assert by_path["/cgi-bin/webhook/send"].json() == {"msgtype": "markdown",
                                                        "markdown": {"content": "**app** registry down"}}
    assert by_path["/chat"].json() == {"text": "app failed: registry down"}
    (rcpts, content), = box.messages
    assert rcpts == ["a@example.com", "b@example.com"]
    assert b"Subject: [tagpilot] app failed" in content and b"app failed: registry down" in content
    text = str(events)
    assert "xoxb-0123456789" not in text and "telegram-bot-token" not in text and "smtp-pass-word" not in text


def test_teams_connector_answer_other_than_1_and_bad_smtp_password_fail(tmp_path: Path,
                                                                       smtp: tuple[Controller, Mailbox]) -> None:
    controller, _box = smtp
    with RecordingServer() as rx:
        rx.route("/teams", Reply(200, "Webhook message delivery failed with error: Microsoft Teams endpoint "
                                 "returned HTTP error 413"))
        cfg = tmp_path / "c.yaml"
        text = POLICY.replace("BASE", rx.url).replace("SMTP_PORT", str(controller.port))
        cfg.write_text(text.replace("smtp-password: smtp-pass-word", "smtp-password: wrong-password"))
        config = load_config([cfg])
        with Store.open(tmp_path / "state") as store:
            notifier = Notifier(lambda: config, store)
            notifier(Event(("ImagePolicy", "apps", "app"), WARNING, "ScanFailed", "registry down"))
            asyncio.run(notifier.drain())
            asyncio.run(notifier.aclose())
            failed = {e["data"]["service"]: e["message"] for e in store.events(kind="ImagePolicy")
                      if e["reason"] == "NotificationFailed"}
    assert "teams answered 'Webhook message delivery failed" in failed["teams"]
    # aiosmtpd answers 535 to PLAIN; smtplib then tries LOGIN, which aiosmtpd leaves hanging until the timeout
    assert failed["email"].startswith("trigger on-failed: email service 'email'")
    assert "wrong-password" not in failed["email"]
