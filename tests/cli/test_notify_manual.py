"""`tagpilot notify template render` and `tagpilot notify send` through the real CLI, against a recording
webhook receiver on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.http import RecordingServer, Reply
from tests.integration.cli import run_tagpilot

CONFIG = """apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: app
  namespace: apps
  annotations:
    notifications.argoproj.io/subscribe.on-any.hook: ops
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
---
apiVersion: v1
kind: Secret
metadata: {name: argocd-notifications-secret}
stringData: {hook-token: tok-0123456789}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-notifications-cm}
data:
  service.webhook.hook: |
    url: URL/in
    headers: [{name: Authorization, value: $hook-token}]
    retryMax: 0
  context: |
    env: prod
  template.hello: |
    message: 'hello {{.recipient}} from {{.app.metadata.name}} in {{.context.env}}'
    webhook:
      hook:
        method: POST
        path: 'objects/{{.app.metadata.name}}'
        body: '{"name": "{{.app.metadata.name}}", "auth": "{{index .secrets \"hook-token\" | len}}"}'
  trigger.on-any: |
    - when: app.metadata.name == 'app'
      send: [hello]
  trigger.on-never: |
    - when: app.metadata.name == 'other'
      send: [hello]
"""


def test_template_render_and_send(tmp_path: Path) -> None:
    with RecordingServer() as rx:
        rx.route("/in/objects/app", Reply(200, "ok"), Reply(500, "down"))
        cfg = tmp_path / "c.yaml"
        cfg.write_text(CONFIG.replace("URL", rx.url))
        state = tmp_path / "state"
        shown = run_tagpilot("notify", "template", "render", "hello", "-f", cfg, "--object", "ImagePolicy/apps/app",
                             "--state", state)
        assert shown.code == 0, shown.stderr
        assert "hello  from app in prod" in shown.stdout and '"path": "objects/{{.app.metadata.name}}"' not in \
            shown.stdout and "objects/app" in shown.stdout
        one = run_tagpilot("notify", "template", "render", "hello", "-f", cfg, "--object", "ImagePolicy/apps/app",
                           "--service", "hook", "--state", state)
        assert one.code == 0 and "POST objects/app" in one.stdout and '"auth": "14"' in one.stdout, one.stdout
        dry = run_tagpilot("notify", "send", "-f", cfg, "--trigger", "on-any", "--object", "ImagePolicy/apps/app",
                           "--dry-run", "--state", state)
        assert dry.code == 0 and "POST objects/app" in dry.stdout and rx.requests == []
        sent = run_tagpilot("notify", "send", "-f", cfg, "--trigger", "on-any", "--object", "ImagePolicy/apps/app",
                            "--state", state)
        assert sent.code == 0 and "hook:ops: sent (status 200)" in sent.stdout, sent.stdout + sent.stderr
        (request,) = rx.requests
        assert request.headers["Authorization"] == "tok-0123456789" and request.json() == {"name": "app",
                                                                                          "auth": "14"}
        failed = run_tagpilot("notify", "send", "-f", cfg, "--trigger", "on-any", "--object", "ImagePolicy/apps/app",
                              "--state", state)
        assert failed.code == 1 and "HTTP 500" in failed.stdout
        never = run_tagpilot("notify", "send", "-f", cfg, "--trigger", "on-never", "--object",
                             "ImagePolicy/apps/app", "--state", state)
        assert never.code != 0 and "no subscription of ImagePolicy/apps/app names trigger 'on-never'" in never.stderr
        missing = run_tagpilot("notify", "template", "render", "nope", "-f", cfg, "--object", "ImagePolicy/apps/app",
                               "--state", state)
        assert missing.code == 2 and "template 'nope' is not defined" in missing.stderr
    events = run_tagpilot("events", "--state", state, "-o", "json")
    reasons = [e["reason"] for e in events.json()]
    assert reasons.count("NotificationSent") == 1 and reasons.count("NotificationFailed") == 1
    assert "tok-0123456789" not in events.stdout
