"""The argocd-notifications ConfigMap: keys, secrets, load-time errors naming the key and its line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tagpilot.config.loader import load_config
from tagpilot.errors import ConfigError
from tagpilot.notify.config import NotifyConfigError, parse_entry, parse_notifications
from tagpilot.notify.notifier import notification_configs
from tagpilot.notify.render import environment, render_request

EXAMPLES = Path(__file__).parents[2] / "examples" / "notifications"
CM = """apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-notifications-cm}
data:
  service.webhook.hook: |
    url: http://127.0.0.1:1/x
  trigger.on-x: |
    - when: "true"
      send: [t]
  template.t: |
    message: hi
"""


def test_the_seed_configmap_loads_and_renders_its_feishu_card() -> None:
    config = load_config([EXAMPLES])
    (ncfg,) = notification_configs(config)
    service = ncfg.services["feishu"]
    assert service.type == "feishu" and service.options["signingSecret"] == "replace-with-the-bot-signing-secret"
    assert service.options["url"].startswith("https://open.feishu.cn/")  # $feishu-url resolved from the Secret
    assert ncfg.context["argocdUrl"] == "https://www.argocd.com"
    on_deployed = ncfg.triggers["on-deployed"].conditions[0]
    assert on_deployed.once_per == "app.status.operationState.operation.sync.revision"
    app = {"metadata": {"name": "demo"}, "spec": {"destination": {"name": "prod", "namespace": "web"}},
           "status": {"operationState": {"phase": "Succeeded", "startedAt": "2024-05-01T12:00:00Z",
                                         "operation": {"sync": {"revision": "c0ffee"}}},
                      "health": {"status": "Healthy"}}}
    env = environment(app, ncfg, update=None, event=None, secrets={}, now=dt.datetime(2024, 5, 1, tzinfo=dt.UTC))
    request = render_request(ncfg, on_deployed.send, service, env)
    card = json.loads(request.body)
    assert request.method == "POST" and card["msg_type"] == "interactive"
    text = json.dumps(card, ensure_ascii=False)
    assert "2024-05-01 12:00:00(Z)" in text  # (call .time.Parse ...).Local.Format "2006-01-02 15:04:05(Z07:00)"
    assert "https://www.argocd.com/applications/demo?operation=true" in text and "c0ffee" in text


def test_secret_reference_missing_is_a_warning_and_left_as_written() -> None:
    ncfg = parse_notifications({"service.feishu": "url: $nope\n"}, {"other": "x"})
    assert ncfg.services["feishu"].options["url"] == "$nope"
    assert "$nope is not a key of Secret argocd-notifications-secret" in ncfg.warnings[0]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("service.pagerduty", "token: x\n",
     "service type 'pagerduty' (a notifications-engine service type) is not supported"),
    ("service.slack", "username: bot\n", "option token is required for a slack service"),
    ("service.wecom", "url: http://x\nsigningSecret: s\n", "option signingSecret is only used by feishu and dingtalk"),
    ("service.teams", "recipientUrls: [a]\n", "recipientUrls/webhooks must map recipient names to URLs"),
    ("service.webhook.a.b", "url: x\n", "invalid service key; expected 'service.<type>(.<name>)'"),
    ("trigger.on-y", "when: true\n", "a trigger must be a YAML list"),
    ("trigger.on-y", "- when: app.x ==\n  send: [t]\n", "[0].when: unexpected end of expression"),
    ("template.u", "message: '{{ .x'\n", "template.u: message:"),
    ("subscriptions", "- recipients: [nope]\n  triggers: [on-x]\n", "recipient service 'nope' is not defined"),
])
def test_errors_name_the_key_and_its_line(tmp_path: Path, key: str, value: str, message: str) -> None:
    body = "".join(f"    {line}\n" for line in value.splitlines())
    path = tmp_path / "cm.yaml"
    path.write_text(CM + f"  {key}: |\n{body}")
    with pytest.raises(ConfigError) as info:
        load_config([path])
    text = str(info.value)
    assert message in text
    line = CM.count("\n") + 1 if key != "subscriptions" else None
    if line:
        assert f"cm.yaml:{line}" in text


def test_other_configmaps_are_still_ignored(tmp_path: Path) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata:\n  service.slack: x\n")
    assert load_config([path]).ignored == ["ignored 1 object(s) of kind ConfigMap: tagpilot does not read this kind"]


def test_duplicate_service_name() -> None:
    with pytest.raises(NotifyConfigError, match="defined twice"):
        parse_notifications({"service.feishu": "url: a\n", "service.webhook.feishu": "url: b\n"})


def test_get_configmaps_lists_the_notifications_configmap(tmp_path: Path) -> None:
    from tests.integration.cli import run_tagpilot

    result = run_tagpilot("get", "configmaps", "-f", EXAMPLES, "--state", tmp_path / "s", "-o", "json")
    assert result.code == 0, result.stderr
    (view,) = result.json()
    assert view["name"] == "argocd-notifications-cm" and "trigger.on-image-pushed" in view["spec"]["data"]


@pytest.mark.parametrize(("key", "value"), [
    ("trigger.on-pushed", "- when: 'true'\n  send: [x]\n  tagpilot.dev/batch: 'yes please'\n"),
    ("subscriptions", "- recipients: [feishu]\n  triggers: [on-pushed]\n  tagpilot.dev/batch: 'ture'\n"),
])
def test_batch_must_be_a_boolean(key: str, value: str) -> None:
    """Never an option that does nothing: a misspelt value is an error, not a silent false."""
    with pytest.raises(NotifyConfigError, match=r"tagpilot\.dev/batch must be \"true\" or \"false\""):
        parse_entry(key, value)
