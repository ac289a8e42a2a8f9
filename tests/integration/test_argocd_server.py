"""ArgoCDServer: the seed-004 ConfigMap's Argo CD triggers (on-deployed, on-sync-failed, on-health-degraded)
fire from Applications read through Argo CD's REST API.

No Argo CD can run here: the API server is a STAND-IN (the shared RecordingServer) that checks the Bearer
token and serves `GET /api/v1/applications` from tests/fixtures/data/argocd_applications.json, an
ApplicationList in Argo CD's JSON shape (metadata, spec.source/destination, status.sync/health/summary/
operationState) written for this test; the Feishu bot is the signature-checking stand-in."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.http import RecordedRequest, RecordingServer, Reply
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_argo_cli import app_view, local_config, seed_chart, seed_registry
from tests.notify.receivers import feishu_stand_in

EXAMPLE = Path(__file__).parents[2] / "examples" / "notifications" / "argocd-notifications-feishu.yaml"
APPLICATIONS = Path(__file__).parents[1] / "fixtures" / "data" / "argocd_applications.json"
SECRET = "feishu-signing-secret-for-tests"
TOKEN = "argocd-api-token-0123456789"


def argocd_api(request: RecordedRequest, applications: dict | None = None) -> Reply:
    """The stand-in Argo CD API: checks the token, serves `applications` (default: the recorded list)."""
    if request.headers.get("Authorization") != f"Bearer {TOKEN}":
        return Reply(401, {"error": "invalid session: token signature is invalid", "code": 16})
    return Reply(200, applications if applications is not None else json.loads(APPLICATIONS.read_text()))


def server_config(url: str) -> str:
    """An ArgoCDServer at `url` with its token Secret."""
    return f"""apiVersion: tagpilot.dev/v1alpha1
kind: ArgoCDServer
metadata: {{name: argocd, namespace: argocd}}
spec:
  url: {url}
  secretRef: {{name: argocd-api}}
---
apiVersion: v1
kind: Secret
metadata: {{name: argocd-api, namespace: argocd}}
stringData: {{token: {TOKEN}}}
"""


def test_seed_triggers_fire_from_live_applications(tmp_path: Path) -> None:
    with RecordingServer() as rx:
        rx.route("/api/v1/applications", argocd_api)
        rx.route("/open-apis/bot/v2/hook/test-token", feishu_stand_in(SECRET))
        text = EXAMPLE.read_text()
        text = re.sub(r"feishu-url: .*", f"feishu-url: {rx.url}/open-apis/bot/v2/hook/test-token", text)
        text = re.sub(r"feishu-signing-secret: .*", f"feishu-signing-secret: {SECRET}", text)
        configs = tmp_path / "config"
        configs.mkdir()
        (configs / "notifications.yaml").write_text(text)
        (configs / "argocd.yaml").write_text(server_config(rx.url))
        state = tmp_path / "state"
        first = run_tagpilot("reconcile", "-f", configs, "--state", state)
        assert first.code == 0, first.stderr
        cards = [r for r in rx.requests if r.path.startswith("/open-apis/")]
        texts = [json.dumps(r.json()["card"], ensure_ascii=False) for r in cards]
        assert all("sign" in r.json() for r in cards)
        # web: on-deployed + on-sync-succeeded; api: on-sync-failed; worker: on-health-degraded + on-sync-succeeded
        assert len(cards) == 5, texts
        assert sum("web" in t for t in texts) == 2 and sum("api" in t for t in texts) == 1
        assert any("worker" in t and "Degraded" in t for t in texts)
        second = run_tagpilot("reconcile", "-f", configs, "--state", state)
        assert second.code == 0, second.stderr
        assert len([r for r in rx.requests if r.path.startswith("/open-apis/")]) == 5  # nothing changed, nothing sent
        listed = run_tagpilot("get", "argocdservers", "-f", configs, "--state", state)
        assert listed.code == 0 and "argocd" in listed.stdout
        (configs / "argocd.yaml").write_text((configs / "argocd.yaml").read_text().replace(TOKEN, "wrong-token"))
        refused = run_tagpilot("reconcile", "-f", configs, "--state", state)
        assert refused.code == 1 and "Argo CD refused the token (HTTP 401)" in refused.stderr + refused.stdout
        assert "wrong-token" not in refused.stderr + refused.stdout
    events = run_tagpilot("events", "--state", state, "-o", "json")
    sent = [e for e in events.json() if e["reason"] == "NotificationSent"]
    assert len(sent) == 5 and {e["kind"] for e in sent} == {"Application"}


def test_live_status_gives_an_application_its_current_images(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    """Without `status` in the file, the current tags are what Argo CD reports running (as upstream reads
    them from the cluster), here from the stand-in API: frontend runs main-ccccccc, not git's main-0000000."""
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    image = f"{registry.host}/{repo_name}"
    live = {"items": [{"metadata": {"name": "example", "namespace": "argocd"},
                       "status": {"sync": {"status": "Synced"}, "health": {"status": "Healthy"},
                                  "summary": {"images": [f"{image}/frontend:main-ccccccc",
                                                         f"{image}/backend:main-0000000"]}}}]}
    with RecordingServer() as rx:
        rx.route("/api/v1/applications", lambda request: argocd_api(request, live))
        cfg = local_config(tmp_path, registry, repo_name, git_remote_file, extra="---\n" + server_config(rx.url))
        result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr
    images = {i["alias"]: i for i in app_view(result)["status"]["images"]}
    assert (images["frontend"]["currentTag"], images["frontend"]["currentFrom"]) == (
        "main-ccccccc", "status.summary.images")
    assert images["frontend"]["reason"] == "updated from main-ccccccc to main-bbbbbbb"
    assert images["backend"]["currentTag"] == "main-0000000"
    assert "main-bbbbbbb" in git_remote_file.read_exact(".argocd-source-example.yaml", "main")
