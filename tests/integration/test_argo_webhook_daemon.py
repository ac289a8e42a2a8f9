"""Argo CD Image Updater's `/webhook?type=...` endpoint on a real daemon (127.0.0.1), with the real
registry and a git remote: a Harbor push notification makes the ImageUpdater that watches the image
commit at once; bad secrets, unknown types, oversized and hostile bodies are refused and change nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.daemon import DaemonProcess
from tests.integration.test_argo_cli import seed_chart, seed_registry
from tests.integration.test_argo_updater_cli import cr_config

HARBOR = "harbor-s3cret"
GHCR = "ghcr-s3cret"
CM = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: argocd-image-updater-config, namespace: argocd}}
data:
  webhook.harbor-secret: {HARBOR}
  webhook.ghcr-secret: {GHCR}
"""


def harbor_push(host: str, repo: str, tag: str) -> dict:
    return {"type": "PUSH_ARTIFACT", "event_data": {
        "resources": [{"tag": tag, "resource_url": f"{host}/{repo}:{tag}", "digest": "sha256:" + "0" * 64}],
        "repository": {"repo_full_name": repo, "name": repo.rsplit("/", 1)[1]}}}


def test_harbor_push_triggers_the_image_updater_and_bad_deliveries_change_nothing(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    cfg = cr_config(tmp_path, registry, repo_name, git_remote_file)
    (cfg / "cm.yaml").write_text(CM)
    daemon = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        first = daemon.wait(lambda: (v := daemon.view("ImageUpdater", "argocd", "example-updater"))
                            ["status"].get("lastUpdatedAt") and v, what="first round")
        head = git_remote_file.head("main")
        assert first["status"]["applicationsMatched"] == 1
        # a newer main- build, then its push notification: the CR runs now, not in 2 minutes
        push_tags(registry, f"{repo_name}/frontend", ["main-ddddddd"], created=dt.datetime(2024, 2, 1, tzinfo=dt.UTC))
        body = json.dumps(harbor_push(registry.host, f"{repo_name}/frontend", "main-ddddddd"))
        headers = {"Content-Type": "application/json"}

        # refused: no or a wrong secret, an unknown or unsupported type, junk, too big, too deep
        assert daemon.post("/webhook?type=harbor", content=body, headers=headers).status_code == 401
        assert daemon.post("/webhook?type=harbor", content=body,
                           headers={**headers, "Authorization": "nope"}).status_code == 401
        bad_type = daemon.post("/webhook?type=gcr", content=body)
        assert bad_type.status_code == 400 and "unknown webhook type" in bad_type.json()["error"]
        assert daemon.post("/webhook?type=acr", content=body).status_code == 400
        assert daemon.post("/webhook?type=quay.io&secret=x", content=body).status_code == 403  # no quay secret
        auth = {**headers, "Authorization": HARBOR}
        assert daemon.post("/webhook?type=harbor", content=b"{not json", headers=auth).status_code == 400
        assert daemon.post("/webhook?type=harbor", content=b"[" * 200_000 + b"]" * 200_000,
                           headers=auth).status_code in (400, 413)
        assert daemon.post("/webhook?type=harbor", content=b"x" * (2 << 20), headers=auth).status_code == 413
        wrong_sig = daemon.post("/webhook?type=ghcr.io", content=b"{}",
                                headers={"X-GitHub-Event": "package", "X-Hub-Signature-256": "sha256=00"})
        assert wrong_sig.status_code == 401
        for response_text in (bad_type.text,):
            assert HARBOR not in response_text and GHCR not in response_text
        assert git_remote_file.head("main") == head

        # a signed GHCR delivery for an image nobody watches: accepted, nothing queued
        ghcr = json.dumps({"action": "published", "package": {
            "name": "Other", "package_type": "CONTAINER", "owner": {"login": "Org"},
            "package_version": {"container_metadata": {"tag": {"name": "v1"}}}}}).encode()
        sig = "sha256=" + hmac.new(GHCR.encode(), ghcr, hashlib.sha256).hexdigest()
        nobody = daemon.post("/webhook?type=ghcr.io", content=ghcr,
                             headers={"X-GitHub-Event": "package", "X-Hub-Signature-256": sig})
        assert nobody.status_code == 200 and nobody.json() == {
            "registry": "ghcr.io", "repository": "org/other", "tag": "v1", "queued": []}

        accepted = daemon.post("/webhook?type=harbor", content=body, headers=auth)
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["queued"] == ["ImageUpdater/argocd/example-updater"]
        daemon.wait(lambda: git_remote_file.head("main") != head, what="the webhook's commit", timeout=30)
        assert "value: main-ddddddd" in git_remote_file.read_exact(".argocd-source-example.yaml", "main")
        assert HARBOR not in daemon.log() and GHCR not in daemon.log()
    finally:
        daemon.stop()
