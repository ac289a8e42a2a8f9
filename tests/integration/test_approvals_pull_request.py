"""Pull-request mode: the change goes to a branch of a real git remote and a request is opened, then
updated in place by a newer tag.

The forge API (GitHub's REST API here) is a stand-in: `RecordingServer` (tests/fixtures/http.py)
answering as GitHub does, because no GitHub, GitLab or Gitea can run in this environment; the test
asserts the exact requests tagpilot sends (method, path, title, body, head, base, labels, auth header).
"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.config import flux_automation_config, seed
from tests.fixtures.git import GitRemote
from tests.fixtures.http import RecordingServer, Reply
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot

TOKEN = "ghp_secret-token-value"


def test_pull_request_opened_then_updated_in_place(registry: RegistryServer, repo_name: str,
                                                   git_remote_file: GitRemote, http_recorder: RecordingServer,
                                                   tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.1.0"])
    seed(git_remote_file, image)
    before = git_remote_file.head("main")
    text = flux_automation_config(image, git_remote_file.url, automations={"pr": "./deploy"}, scan_interval="1h",
                                  secret="forge-token", template='"chore: update {{ .AutomationObject }}"')
    text = text.replace("push: {branch: main}", "push: {branch: tagpilot/updates}")
    text = text.replace("metadata: {name: pr, namespace: apps}\n", (
        "metadata:\n  name: pr\n  namespace: apps\n  annotations:\n"
        "    tagpilot.dev/pull-request: github\n"
        f"    tagpilot.dev/pull-request-api: {http_recorder.url_for('/api/v3')}\n"
        "    tagpilot.dev/pull-request-labels: \"images,automated\"\n"))
    text += ("---\napiVersion: v1\nkind: Secret\nmetadata: {name: forge-token, namespace: apps}\n"
             f"stringData: {{token: {TOKEN}}}\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    state = tmp_path / "state"
    pulls = "/api/v3/repos/remotes/fleet/pulls"
    http_recorder.route(pulls, Reply(200, []), Reply(201, {"number": 7, "html_url": "https://forge/pull/7"}),
                        Reply(200, [{"number": 7, "html_url": "https://forge/pull/7"}]))
    http_recorder.route(pulls + "/7", Reply(200, {"number": 7, "state": "open"}), Reply(200, {"number": 7}),
                        Reply(200, {"number": 7, "state": "closed", "merged": False}))

    result = run_tagpilot("reconcile", "-f", cfg, "--state", state)
    assert result.code == 0, result.stderr
    assert git_remote_file.head("main") == before  # the checkout branch is untouched
    assert ':1.1.0"' in git_remote_file.read_exact("deploy/app.yaml", "tagpilot/updates")
    listed, opened, labelled = http_recorder.wait_for(3)
    assert (listed.method, listed.path) == ("GET", pulls)
    assert listed.query == {"state": ["open"], "base": ["main"], "head": ["remotes:tagpilot/updates"]}
    assert listed.headers["authorization"] == f"Bearer {TOKEN}"
    assert (opened.method, opened.path) == ("POST", pulls)
    assert opened.json() == {"title": "chore: update apps/pr", "head": "tagpilot/updates", "base": "main",
                             "body": "This pull request was created automatically by tagpilot for "
                                     "ImageUpdateAutomation/apps/pr."}
    assert (labelled.method, labelled.path) == ("POST", "/api/v3/repos/remotes/fleet/issues/7/labels")
    assert labelled.json() == {"labels": ["images", "automated"]}

    push_tags(registry, repo_name, ["1.2.0"])
    again = run_tagpilot("reconcile", "-f", cfg, "--state", state)
    assert again.code == 0, again.stderr
    assert ':1.2.0"' in git_remote_file.read_exact("deploy/app.yaml", "tagpilot/updates")
    requests = http_recorder.wait_for(6)
    assert [(r.method, r.path) for r in requests[3:]] == [("GET", pulls + "/7"), ("GET", pulls),
                                                          ("PATCH", pulls + "/7")]
    assert requests[5].json()["title"] == "chore: update apps/pr"

    # a person closes the request without merging and deletes the branch: not re-created for 1.2.0
    git_remote_file.git("update-ref", "-d", "refs/heads/tagpilot/updates")
    third = run_tagpilot("reconcile", "-f", cfg, "--state", state)
    assert third.code == 0, third.stderr
    assert "tagpilot/updates" not in git_remote_file.branches()
    assert [(r.method, r.path) for r in http_recorder.wait_for(7)[6:]] == [("GET", pulls + "/7")]
    events = run_tagpilot("events", "ImageUpdateAutomation/apps/pr", "--state", state, "-o", "json").json()
    actions = [e["data"]["action"] for e in events if e["reason"] == "PullRequest"]
    assert actions == ["opened", "updated", "closed"]
    assert TOKEN not in (result.stdout + result.stderr + again.stdout + again.stderr + str(events))
