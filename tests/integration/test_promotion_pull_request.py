"""`push.pullRequest` on a Promotion: the promotion goes to a head branch of a real git remote and a pull
request into the environment branch is opened, updated in place by a newer candidate and by a rollback,
and its merge is read back.

Real: the docker-registry (the copy to demo-test), the git remote (file://), the CLI. The forge API is a
stand-in: `FakeGitHub` below answers GitHub's pull-request endpoints on a `RecordingServer`
(tests/fixtures/http.py), because no GitHub, GitLab or Gitea can run in this environment; the tests
assert the exact requests tagpilot sends (method, path, query, title, body, head, base, labels, auth).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.http import RecordedRequest, RecordingServer, Reply
from tests.fixtures.pusher import Pusher, PushError
from tests.integration.cli import run_tagpilot
from tests.integration.test_promotion import KEY, Setup

pytestmark = pytest.mark.integration

TOKEN = "ghp_promotion-token-value"
HEAD = "promote/demo-test"


class FakeGitHub:
    """A stand-in for GitHub's pull-request API (no forge can run here): list, open, update, read, label."""

    def __init__(self, server: RecordingServer, owner: str, repo: str) -> None:
        self.server = server
        self.base = f"/api/v3/repos/{owner}/{repo}"
        self.pulls: dict[int, dict[str, Any]] = {}
        server.route(self.base + "/pulls", self._pulls)
        for number in range(1, 4):
            server.route(f"{self.base}/pulls/{number}", self._pull)

    @property
    def api(self) -> str:
        return self.server.url_for("/api/v3")

    def _pulls(self, request: RecordedRequest) -> Reply:
        if request.method == "POST":
            number = len(self.pulls) + 1
            self.pulls[number] = {**request.json(), "number": number, "state": "open", "merged": False,
                                  "html_url": f"https://forge.example/pull/{number}"}
            return Reply(201, self.pulls[number])
        open_ = [p for p in self.pulls.values() if p["state"] == "open"
                 and f"remotes:{p['head']}" == request.query.get("head", [""])[0]
                 and p["base"] == request.query.get("base", [""])[0]]
        return Reply(200, open_)

    def _pull(self, request: RecordedRequest) -> Reply:
        pull = self.pulls[int(request.path.rsplit("/", 1)[1])]
        if request.method == "PATCH":
            pull.update(request.json())
        return Reply(200, pull)

    def merge(self, number: int) -> None:
        self.pulls[number].update(state="closed", merged=True)

    def calls(self, start: int = 0) -> list[tuple[str, str]]:
        return [(r.method, r.path.removeprefix(self.base)) for r in self.server.requests[start:]]


@pytest.fixture
def env(tmp_path: Path, registry, git_environ: dict[str, str], repo_name: str) -> Setup:
    return Setup(tmp_path, registry, git_environ, repo_name.replace("/", "-"))


def _with_pull_request(env: Setup, forge: FakeGitHub, extra: str = "") -> None:
    promotion = env.config / "test.yaml"
    promotion.write_text(promotion.read_text() + (
        "  push:\n    pullRequest:\n      github: {}\n      labels: [promotion]\n"
        f"      api: {forge.api}\n" + extra))
    git = env.config / "git.yaml"
    git.write_text(git.read_text() + "  secretRef:\n    name: forge-token\n---\napiVersion: v1\nkind: Secret\n"
                   f"metadata: {{name: forge-token, namespace: default}}\nstringData: {{token: {TOKEN}}}\n")


def test_promotion_opens_then_updates_a_pull_request_and_reads_its_merge(env: Setup, http_recorder) -> None:
    forge = FakeGitHub(http_recorder, "remotes", "demo-helm")
    _with_pull_request(env, forge)
    digest = env.build("1.1.0")
    test_before = env.remote.head("test")
    result = env.run("reconcile")
    assert result.code == 0, result.stderr
    assert env.remote.head("test") == test_before and "tag: 1.0.0 #" in env.values("test")  # only proposed
    proposed = env.remote.read_file("helm/values.yaml", ref=HEAD)
    assert "tag: 1.1.0 #" in proposed and f"{env.prefix}/demo-test/demo #" in proposed
    assert env.target_digest("1.1.0") == digest  # the copy does not wait for the merge
    listed, opened, labelled = http_recorder.wait_for(3)
    assert (listed.method, listed.path) == ("GET", forge.base + "/pulls")
    assert listed.query == {"state": ["open"], "base": ["test"], "head": [f"remotes:{HEAD}"]}
    assert listed.headers["authorization"] == f"Bearer {TOKEN}"
    assert (opened.method, opened.path) == ("POST", forge.base + "/pulls")
    body = opened.json()
    assert (body["head"], body["base"]) == (HEAD, "test")
    assert body["title"] == (f"test: promote demo {env.registry.host}/{env.prefix}/demo-dev/demo:1.1.0 -> "
                             f"{env.registry.host}/{env.prefix}/demo-test/demo:1.1.0 ({digest})")
    assert body["body"] == ("This pull request was created automatically by tagpilot for Promotion/default/"
                            f"demo-test ({env.config / 'test.yaml'}:3).")
    assert (labelled.method, labelled.path, labelled.json()) == ("POST", forge.base + "/issues/1/labels",
                                                                 {"labels": ["promotion"]})
    view = env.run("get", "promotions", "-o", "json").json()[0]["status"]
    request = view["lastPromoted"]["pullRequest"]
    assert (request["number"], request["url"], request["action"], request["state"]) == (
        1, "https://forge.example/pull/1", "opened", "open")
    assert view["lastPromoted"]["commit"] == env.remote.head(HEAD)
    ready = next(c for c in view["conditions"] if c["type"] == "Ready")
    assert "pull request #1 opened: https://forge.example/pull/1" in ready["message"]

    # nothing new: the request's state is read, nothing pushed or opened
    head = env.remote.head(HEAD)
    assert env.run("reconcile").code == 0
    assert env.remote.head(HEAD) == head and forge.calls(3) == [("GET", "/pulls/1")]

    # a newer build: the same branch and request, updated in place
    env.build("1.2.0")
    assert env.run("reconcile").code == 0
    assert "tag: 1.2.0 #" in env.values(HEAD) and "tag: 1.0.0 #" in env.values("test")
    assert forge.calls(4) == [("GET", "/pulls/1"), ("GET", "/pulls"), ("PATCH", "/pulls/1")]
    assert "demo-test/demo:1.2.0" in forge.pulls[1]["title"] and len(forge.pulls) == 1

    # a rollback is proposed on the same request and holds later candidates
    rollback = env.run("promote", KEY, "--tag", "1.1.0")
    assert rollback.code == 0, rollback.stderr
    assert "tag: 1.1.0 #" in env.values(HEAD) and "demo-test/demo:1.1.0" in forge.pulls[1]["title"]
    history = env.run("history", KEY, "-o", "json").json()
    assert [(h["to"].rsplit(":", 1)[1], h["rollback"], h["pullRequest"]) for h in history] == [
        ("1.1.0", True, "https://forge.example/pull/1"), ("1.2.0", False, "https://forge.example/pull/1"),
        ("1.1.0", False, "https://forge.example/pull/1")]
    assert "PULL REQUEST" in env.run("history", KEY).stdout

    # a person merges: the next run reads it back, the environment runs it, the hold still holds
    env.remote.commit({"helm/values.yaml": env.values(HEAD) + "\n"}, "Merge pull request #1", branch="test")
    forge.merge(1)
    env.build("1.3.0")
    assert env.run("reconcile").code == 0
    assert "tag: 1.1.0 #" in env.values("test") and "tag: 1.1.0 #" in env.values(HEAD)
    status = env.run("get", "promotions", "-o", "json").json()[0]["status"]
    assert status["lastPromoted"]["pullRequest"]["state"] == "merged" and status["hold"]["tag"] == "1.1.0"
    events = run_tagpilot("events", KEY, "--state", env.state, "-o", "json").json()
    actions = [e["data"]["action"] for e in events if e["reason"] == "PullRequest"]
    assert actions == ["opened", "updated", "updated", "merged"]
    assert TOKEN not in (result.stdout + result.stderr + str(events) + str(status))


def test_a_pull_request_closed_without_merging_is_not_reopened(env: Setup, http_recorder) -> None:
    forge = FakeGitHub(http_recorder, "remotes", "demo-helm")
    _with_pull_request(env, forge)
    env.build("1.1.0")
    assert env.run("reconcile").code == 0
    forge.pulls[1].update(state="closed")
    assert env.run("reconcile").code == 0
    assert forge.calls(3) == [("GET", "/pulls/1")]  # read back, not re-opened
    status = env.run("get", "promotions", "-o", "json").json()[0]["status"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert status["lastPromoted"]["pullRequest"]["state"] == "closed" and "closed without merging" in ready["message"]
    assert env.run("reconcile").code == 0 and forge.calls(4) == []  # a closed request is not polled again
    env.build("1.2.0")  # a newer candidate is proposed again, in a new request
    assert env.run("reconcile").code == 0
    assert forge.calls(4) == [("GET", "/pulls"), ("POST", "/pulls"), ("POST", "/issues/2/labels")]
    assert forge.pulls[2]["state"] == "open" and "tag: 1.2.0 #" in env.values(HEAD)


def test_a_failed_request_is_retried_from_the_pushed_branch(env: Setup, http_recorder) -> None:
    """The forge refuses once: the run fails (exit 1, the forge's answer, no token), nothing is recorded as
    promoted; the next run finds the head branch has the change and opens the request without a new commit."""
    forge = FakeGitHub(http_recorder, "remotes", "demo-helm")
    _with_pull_request(env, forge)
    http_recorder.route(forge.base + "/pulls", Reply(502, "bad gateway"), forge._pulls)
    env.build("1.1.0")
    failed = env.run("reconcile")
    assert failed.code == 1 and "the pull request failed" in failed.stderr and "502" in failed.stderr
    assert TOKEN not in failed.stderr + failed.stdout
    head = env.remote.head(HEAD)
    assert head is not None and "tag: 1.1.0 #" in env.values(HEAD)
    status = env.run("get", "promotions", "-o", "json").json()[0]["status"]
    assert status.get("lastPromoted") is None
    assert env.run("reconcile").code == 0
    assert env.remote.head(HEAD) == head and forge.pulls[1]["head"] == HEAD
    [entry] = env.run("history", KEY, "-o", "json").json()
    assert (entry["commit"], entry["pullRequest"]) == (head, "https://forge.example/pull/1")


@pytest.mark.parametrize(("push", "message"), [
    ("  push:\n    pullRequest: {github: {}, gitlab: {}}\n", "exactly one of github"),
    ("  push:\n    branch: test\n    pullRequest: {gitea: {}}\n", "a head branch of its own"),
    ("  push:\n    pullRequest: {github: {}, api: ftp://x}\n", "http(s) URL"),
])
def test_pull_request_mistakes_are_load_errors(tmp_path: Path, push: str, message: str) -> None:
    config = tmp_path / "p.yaml"
    config.write_text((Path(__file__).resolve().parents[2] / "examples/environments/config/test.yaml").read_text()
                      + push)
    result = run_tagpilot("get", "promotions", "-f", config, "--state", tmp_path / "s")
    assert result.code == 2 and message in result.stderr and "p.yaml" in result.stderr, result.stderr


def test_a_pull_request_without_a_token_fails_before_anything_is_copied_or_pushed(env: Setup, http_recorder) -> None:
    forge = FakeGitHub(http_recorder, "remotes", "demo-helm")
    promotion = env.config / "test.yaml"
    promotion.write_text(promotion.read_text() + f"  push:\n    pullRequest:\n      github: {{}}\n"
                                                 f"      api: {forge.api}\n")
    env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 1 and "spec.push.pullRequest needs an API token" in result.stderr, result.stderr
    assert HEAD not in env.remote.branches() and http_recorder.requests == []
    with Pusher(env.registry) as p, pytest.raises(PushError, match="NAME_UNKNOWN"):
        p.list_tags(f"{env.prefix}/demo-test/demo")  # nothing was copied
