"""End to end: `tagpilot reconcile` pushes a commit → one signed Feishu card at the stand-in (the seed-004
ConfigMap from examples/notifications), nothing on the next reconcile, a 19021 answer recorded as failed."""

from __future__ import annotations

import re
from pathlib import Path

from tagpilot.store import Store
from tests.fixtures.config import flux_automation_config as config
from tests.fixtures.config import seed
from tests.fixtures.git import GitRemote
from tests.fixtures.http import RecordingServer
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.notify.receivers import feishu_stand_in

EXAMPLE = Path(__file__).parents[2] / "examples" / "notifications" / "argocd-notifications-feishu.yaml"
SECRET = "feishu-signing-secret-for-tests"


def notifications(url: str) -> str:
    text = EXAMPLE.read_text()
    text = re.sub(r"feishu-url: .*", f"feishu-url: {url}/open-apis/bot/v2/hook/test-token", text)
    return re.sub(r"feishu-signing-secret: .*", f"feishu-signing-secret: {SECRET}", text)


def test_push_sends_one_signed_card_then_nothing(registry: RegistryServer, repo_name: str,
                                                git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    with RecordingServer() as rx:
        rx.route("/open-apis/bot/v2/hook/test-token", feishu_stand_in(SECRET))
        configs = tmp_path / "config"
        configs.mkdir()
        (configs / "flow.yaml").write_text(config(image, git_remote_file.url))
        (configs / "notifications.yaml").write_text(notifications(rx.url))
        state = tmp_path / "state"
        first = run_tagpilot("reconcile", "-f", configs, "--state", state)
        assert first.code == 0, first.stderr
        head = git_remote_file.head("main")
        assert len(rx.requests) == 1, [r.body for r in rx.requests]
        card = rx.requests[0].json()
        assert rx.requests[0].path == "/open-apis/bot/v2/hook/test-token"
        assert card["msg_type"] == "interactive" and "timestamp" in card and "sign" in card  # accepted: signed
        text = str(card["card"])
        assert "1.0.0 → 1.1.0" in text and head in text and image in text
        second = run_tagpilot("reconcile", "-f", configs, "--state", state)
        assert second.code == 0, second.stderr
        assert len(rx.requests) == 1  # no new commit, no second card (and no re-send after the restart)
    events = run_tagpilot("events", "--state", state, "-o", "json")
    sent = [e for e in events.json() if e["reason"] == "NotificationSent"]
    assert len(sent) == 1 and sent[0]["data"]["status"] == 200 and sent[0]["kind"] == "ImageUpdateAutomation"
    assert SECRET not in events.stdout and "test-token" not in events.stdout


def test_feishu_error_code_is_a_failed_delivery_kept_for_retry(registry: RegistryServer, repo_name: str,
                                                               git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    with RecordingServer() as rx:
        rx.route("/open-apis/bot/v2/hook/test-token", feishu_stand_in("not-the-secret-tagpilot-has"))
        configs = tmp_path / "config"
        configs.mkdir()
        (configs / "flow.yaml").write_text(config(image, git_remote_file.url))
        (configs / "notifications.yaml").write_text(notifications(rx.url))
        state = tmp_path / "state"
        result = run_tagpilot("reconcile", "-f", configs, "--state", state)
    assert result.code == 0, result.stderr
    assert len(rx.requests) == 1
    events = run_tagpilot("events", "--state", state, "-o", "json")
    failed = [e for e in events.json() if e["reason"] == "NotificationFailed"]
    assert len(failed) == 1 and "feishu error code 19021" in failed[0]["message"]
    assert failed[0]["data"]["status"] == 200 and failed[0]["type"] == "Warning"
    assert SECRET not in events.stdout and "test-token" not in events.stdout
    with Store.open(state) as store:
        (item,) = store.outbox()
    assert item["state"] == "pending" and item["attempts"] == 1 and "19021" in item["last_error"]
