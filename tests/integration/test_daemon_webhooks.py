"""The daemon reacting to webhooks: the registry's own notifications, GitLab pushes through an Argo
Events sensor (with the skip-ci loop stopper), a storm of deliveries, and outages of registry and git."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx

from tests.fixtures.config import flux_automation_config, seed
from tests.fixtures.git import GitRemote
from tests.fixtures.http import RecordingServer
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer, free_port
from tests.integration.daemon import DaemonProcess

TOKEN = "s3cret-webhook-token"


def hook_path(name: str, namespace: str, token: str = TOKEN) -> str:
    return "/hook/" + hashlib.sha256((token + name + namespace).encode()).hexdigest()


def receiver_docs(kind: str, name: str = "registry", namespace: str = "apps", extra: str = "") -> str:
    return f"""---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  type: {kind}
  secretRef: {{name: webhook-token}}
{extra}---
apiVersion: v1
kind: Secret
metadata: {{name: webhook-token, namespace: {namespace}}}
stringData: {{token: {TOKEN}}}
"""


def ready(view: dict) -> dict:
    return next((c for c in view["status"].get("conditions", []) if c["type"] == "Ready"), {})


def test_registry_notifications_drive_the_update(registry_factory, repo_name: str, git_remote_file: GitRemote,
                                                 tmp_path: Path) -> None:
    state = tmp_path / "state"
    cfg = tmp_path / "config.yaml"
    daemon = DaemonProcess(cfg, state)  # its port is known before it starts
    registry = registry_factory(notifications=[{
        "name": "tagpilot", "url": daemon.url + hook_path("registry", "apps"),
        "headers": {"Authorization": [f"Bearer {TOKEN}"]}, "timeout": "2s", "threshold": 3, "backoff": "1s",
    }])
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0"])
    seed(git_remote_file, image)
    cfg.write_text(flux_automation_config(image, git_remote_file.url).replace("interval: 1s", "interval: 1h")
                   + receiver_docs("distribution"))
    daemon.start()
    try:
        daemon.wait(lambda: ready(daemon.view("ImageRepository", "apps", "app")).get("status") == "True",
                    what="first scan")
        before = git_remote_file.head("main")
        push_tags(registry, repo_name, ["1.1.0"])  # the registry posts its notification to the daemon
        daemon.wait(lambda: "1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main"), what="push",
                    timeout=30)
        assert git_remote_file.head("main") != before
        deliveries = daemon.get("/api/v1/events", params={"kind": "Receiver"}).json()
        accepted = [e for e in deliveries if e["reason"] == "Accepted"]
        assert accepted and any("ImageRepository/apps/app" in e["data"]["reconcile"] for e in accepted)
        assert TOKEN not in json.dumps(deliveries) and TOKEN not in daemon.log()
        # the URL a registry must be given is printed at start; nobody computes the hash by hand
        assert (f"Receiver/apps/registry (distribution) listens on POST {daemon.url}{hook_path('registry', 'apps')}"
                in daemon.log())
        # a wrong token is refused and changes nothing
        bad = daemon.post(hook_path("registry", "apps"), content=b'{"events": []}',
                          headers={"Authorization": "Bearer nope",
                                   "Content-Type": "application/vnd.docker.distribution.events.v1+json"})
        assert bad.status_code == 401
        assert daemon.post("/hook/" + "0" * 64, content=b"{}").status_code == 404
        metrics = daemon.get("/metrics").text
        assert 'tagpilot_webhook_requests_total{outcome="accepted",receiver="registry"}' in metrics
        assert 'tagpilot_webhook_requests_total{outcome="rejected_401",receiver="registry"}' in metrics
    finally:
        assert daemon.stop() == 0


def test_storm_of_webhooks_coalesces(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0"])
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"""apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app, namespace: apps}}
spec: {{image: {image}, interval: 1h, insecure: true}}
""" + receiver_docs("generic", extra="  resources:\n    - {kind: ImageRepository, name: app}\n"))
    daemon = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        daemon.wait(lambda: ready(daemon.view("ImageRepository", "apps", "app")).get("status") == "True",
                    what="first scan")
        rss_before = _rss(daemon)
        push_tags(registry, repo_name, ["9.9.9"])
        path = hook_path("registry", "apps")
        statuses: dict[int, int] = {}
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            for _ in range(1000):
                code = client.post(path, content=b"{}").status_code
                statuses[code] = statuses.get(code, 0) + 1
        assert statuses == {200: 1000}
        # none lost: the last scan saw the tag pushed before the storm
        daemon.wait(lambda: "9.9.9" in daemon.view("ImageRepository", "apps", "app")["status"][
            "lastScanResult"]["latestTags"], what="scan after the storm")
        scans = sum(1 for e in daemon.get("/api/v1/events", params={"kind": "ImageRepository", "limit": 1000}).json()
                    if e["reason"] == "NewTags")
        assert scans <= 3  # the startup scan, then one or two coalesced runs, not a thousand
        metrics = daemon.get("/metrics").text
        runs = _metric(metrics, 'tagpilot_reconciles_total{kind="ImageRepository",result="success"}')
        assert runs < 50, runs
        assert _rss(daemon) - rss_before < 60 * 1024  # KiB: memory stays flat
    finally:
        daemon.stop()


def _rss(daemon: DaemonProcess) -> int:
    assert daemon.proc is not None
    for line in Path(f"/proc/{daemon.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def gitlab_push(message: str, ref: str = "refs/heads/main") -> bytes:
    return json.dumps({"object_kind": "push", "ref": ref, "project": {"name": "dev-docs"},
                       "commits": [{"id": "abc", "message": message}], "total_commits_count": 1}).encode()


def test_sensor_stops_the_update_loop(registry: RegistryServer, repo_name: str, git_remote_file: GitRemote,
                                      tmp_path: Path, http_recorder: RecordingServer) -> None:
    """A push that is tagpilot's own update commit (skip-ci) must not start the pipeline again."""
    pipeline = http_recorder  # a stand-in CI pipeline endpoint for the sensor's http trigger
    pipeline_url = pipeline.url_for("/build")
    hook_port = free_port()  # the EventSource's own port, served besides --listen
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url).replace("interval: 1s", "interval: 1h") + f"""---
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata: {{name: gitlab, namespace: apps}}
spec:
  webhook:
    push:
      endpoint: /gitlab/push
      method: POST
      port: "{hook_port}"
    guarded:
      endpoint: /guarded
      method: POST
      port: "{hook_port}"
      authSecret: {{name: webhook-token, key: token}}
---
apiVersion: v1
kind: Secret
metadata: {{name: webhook-token, namespace: apps}}
stringData: {{token: {TOKEN}}}
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata: {{name: dev-docs-release, namespace: apps}}
spec:
  dependencies:
    - name: push
      eventSourceName: gitlab
      eventName: push
      filters:
        data:
          - {{path: body.object_kind, type: string, value: [push]}}
          - {{path: body.project.name, type: string, value: [dev-docs]}}
        exprs:
          - expr: ref =~ "refs/heads/release-" || ref == "refs/heads/main"
            fields: [{{name: ref, path: body.ref}}]
          - expr: msg !~ "skip-ci"
            fields: [{{name: msg, path: body.commits.0.message}}]
  triggers:
    - template:
        name: pipeline
        http:
          url: {pipeline_url}
          method: POST
          payload:
            - src: {{dependencyName: push, dataKey: body.ref}}
              dest: branch
            - src: {{dependencyName: push, dataKey: body.commits.0.message}}
              dest: message
""")
    daemon = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        daemon.wait(lambda: "1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main"), what="update")
        update_message = git_remote_file.message()
        assert update_message.startswith("skip-ci")
        # the git server posts its push hook for tagpilot's commit: filtered, the pipeline stays quiet
        response = daemon.post("/gitlab/push", content=gitlab_push(update_message),
                               headers={"X-Gitlab-Event": "Push Hook", "Content-Type": "application/json"})
        assert response.status_code == 200 and response.json()["fired"] == []
        # a developer's push starts the pipeline, with the parameters built from the event; this one
        # arrives on the port the EventSource names, as a git server set up for Argo Events sends it
        response = httpx.post(f"http://127.0.0.1:{hook_port}/gitlab/push", content=gitlab_push("fix the docs"),
                              headers={"X-Gitlab-Event": "Push Hook", "Content-Type": "application/json"}, timeout=10)
        assert response.json()["fired"] == ["pipeline"]
        pipeline.wait_for(1, timeout=10)
        received = [json.loads(request.body or b"{}") for request in pipeline.requests]
        assert received == [{"branch": "refs/heads/main", "message": "fix the docs"}]
        decisions = daemon.wait(lambda: len(d := daemon.get("/api/v1/events", params={"kind": "Sensor"}).json()) == 2
                                and d, what="the trigger's outcome recorded")
        assert [e["reason"] for e in decisions] == ["Filtered", "Fired"]
        assert decisions[1]["data"]["ok"] is True
        # the daemon's log says what happened to each delivery, and which filter rejected the first
        log = daemon.log()
        assert "webhook filtered Sensor/apps/dev-docs-release" in log and "expr filter 1" in log
        assert "webhook fired Sensor/apps/dev-docs-release" in log
        assert daemon.post("/gitlab/push", content=b"x" * (1 << 20 + 1)).status_code == 413
        # an EventSource with authSecret wants the bearer token
        assert daemon.post("/guarded", content=b"{}").status_code == 401
        assert daemon.post("/guarded", content=b"{}", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert daemon.post("/guarded", content=b"{}", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert daemon.get("/gitlab/push").status_code == 405
    finally:
        daemon.stop()


def test_registry_and_git_outages_recover(registry_factory, repo_name: str, git_remote_file: GitRemote,
                                          tmp_path: Path) -> None:
    registry = registry_factory()
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url).replace("interval: 1s", "interval: 1h"))
    daemon = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        daemon.wait(lambda: "1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main"), what="first push")
        good = daemon.view("ImageRepository", "apps", "app")["status"]["lastScanResult"]
        # the registry goes away: the scan fails, the last good result stays
        registry.stop()
        daemon.post("/api/v1/objects/ImageRepository/apps/app/reconcile", json={})
        daemon.wait(lambda: ready(daemon.view("ImageRepository", "apps", "app")).get("status") == "False",
                    what="scan failure", timeout=60)
        assert daemon.view("ImageRepository", "apps", "app")["status"]["lastScanResult"] == good
        assert daemon.view("ImagePolicy", "apps", "app")["status"]["latestRef"]["tag"] == "1.1.0"
        # the registry comes back (same storage) with a new tag; the git remote is away meanwhile
        registry.start()
        push_tags(registry, repo_name, ["1.2.0"])
        hidden = git_remote_file.path.with_name("hidden.git")
        git_remote_file.path.rename(hidden)
        daemon.post("/api/v1/objects/ImageRepository/apps/app/reconcile", json={})
        daemon.wait(lambda: ready(daemon.view("ImageUpdateAutomation", "apps", "fleet")).get("status") == "False",
                    what="git failure", timeout=60)
        hidden.rename(git_remote_file.path)
        daemon.post("/api/v1/objects/ImageUpdateAutomation/apps/fleet/reconcile", json={})
        daemon.wait(lambda: "1.2.0" in git_remote_file.read_file("deploy/app.yaml", "main"), what="push after",
                    timeout=60)
        assert [s for s in git_remote_file.log("main") if s.startswith("skip-ci")].__len__() == 2
    finally:
        daemon.stop()


def test_github_push_signature(tmp_path: Path) -> None:
    """A GitHub receiver checks X-Hub-Signature-256 (the reference vector's algorithm)."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text(receiver_docs("github", name="gh", extra="  events: [push]\n  resources:\n"
                                 "    - {kind: ImageRepository, name: app}\n")
                   + "---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
                     "metadata: {name: app, namespace: apps}\nspec: {image: 127.0.0.1:1/x/y, interval: 1h}\n")
    daemon = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        body = b'{"ref": "refs/heads/main"}'
        signature = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
        ok = daemon.post(hook_path("gh", "apps"), content=body, headers={**headers, "X-Hub-Signature-256": signature})
        assert ok.status_code == 200, ok.text
        bad = daemon.post(hook_path("gh", "apps"), content=body,
                          headers={**headers, "X-Hub-Signature-256": "sha256=00"})
        assert bad.status_code == 400
        other = daemon.post(hook_path("gh", "apps"), content=body,
                            headers={**headers, "X-GitHub-Event": "issues", "X-Hub-Signature-256": signature})
        # an event not in spec.events is refused, as Flux does ("GitHub event 'issues' is not allowed")
        assert other.status_code == 400
        assert daemon.get("/api/v1/events", params={"kind": "Receiver"}).json()[-1]["data"]["reconcile"] == []
    finally:
        daemon.stop()


def test_git_push_receiver_runs_the_automations_of_its_repository(registry: RegistryServer, repo_name: str,
                                                                  git_remote_file: GitRemote, tmp_path: Path) -> None:
    """A GitLab push hook naming the GitRepository re-runs the automations that write to it at once."""
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(flux_automation_config(image, git_remote_file.url).replace("interval: 1s", "interval: 1h")
                   + receiver_docs("gitlab", name="git", extra="  events: [Push Hook]\n  resources:\n"
                                   "    - {kind: GitRepository, name: fleet}\n"))
    daemon = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        daemon.wait(lambda: "1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main"), what="first push")
        # someone reverts the tag by hand; the push hook makes tagpilot put it right at once (no 1h wait)
        git_remote_file.commit({"deploy/app.yaml": git_remote_file.read_exact("deploy/app.yaml").replace(
            "1.1.0", "1.0.0")}, message="manual revert")
        response = daemon.post(hook_path("git", "apps"), content=gitlab_push("manual revert"),
                               headers={"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": TOKEN})
        assert response.status_code == 200, response.text
        daemon.wait(lambda: "1.1.0" in git_remote_file.read_file("deploy/app.yaml", "main"), what="re-applied")
        delivery = daemon.get("/api/v1/events", params={"kind": "Receiver"}).json()[-1]
        assert delivery["data"]["reconcile"] == ["GitRepository/apps/fleet"]
    finally:
        daemon.stop()
