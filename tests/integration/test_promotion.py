"""Promotions end to end, as the seed-004 pipeline runs them: real registry, real git remote, the real CLI.

examples/environments is the configuration (the test only points `localhost:5000` and the git URL at
the servers of this run): builds land in demo-dev/demo and on the dev branch through the automation;
the Promotion copies what the dev branch names to demo-test/demo (same digest) and commits the test
branch. Gates (soak, verify against a local HTTP server), the rollback hold and the chain run the same way.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagpilot.store import Store
from tests.fixtures.git import GitRemote
from tests.fixtures.http import Reply
from tests.fixtures.pusher import Pusher, build_image
from tests.integration.cli import run_tagpilot

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "environments"
KEY = "Promotion/default/demo-test"


class Setup:
    """The example wired to this run's registry and git remote."""

    def __init__(self, tmp_path: Path, registry, git_environ: dict[str, str], prefix: str) -> None:
        self.registry = registry
        self.prefix = prefix  # repository prefix unique to the test: {prefix}/demo-dev/demo
        self.remote = GitRemote.create(tmp_path / "remotes", "demo-helm.git", env=git_environ, branch="dev")
        for branch in ("dev", "test"):
            text = (EXAMPLE / "config-repo" / branch / "helm" / "values.yaml").read_text()
            self.remote.commit({"helm/values.yaml": self._local(text)}, f"{branch} environment", branch=branch)
        self.config = tmp_path / "config"
        shutil.copytree(EXAMPLE / "config", self.config)
        for file in self.config.glob("*.yaml"):
            file.write_text(self._localized(file.name))
        self.state = tmp_path / "state"
        self.digests: dict[str, str] = {}

    def _local(self, text: str) -> str:
        return text.replace("localhost:5000/", f"{self.registry.host}/{self.prefix}/")

    def _localized(self, name: str) -> str:
        """The example's config/<name> pointed at this run's registry and git remote."""
        text = (EXAMPLE / "config" / name).read_text()
        return self._local(text).replace("file:///srv/git/demo-helm.git", self.remote.url)

    def add_prod_stage(self) -> None:
        """A third environment: a prod branch (test's values naming demo-prod) and config/prod.yaml, a
        Promotion from the example's test Promotion to the prod branch and demo-prod repository."""
        self.remote.commit({"helm/values.yaml": self.values("test").replace("demo-test:", "demo-prod:")
                            .replace("demo-test/demo", "demo-prod/demo")}, "prod environment", branch="prod")
        prod = self._localized("test.yaml").replace("name: demo-test\n  namespace", "name: demo-prod\n  namespace") \
            .replace("kind: ImageUpdateAutomation\n    name: demo-dev", "kind: Promotion\n    name: demo-test") \
            .replace("demo-test/demo", "demo-prod/demo").replace("branch: test", "branch: prod")
        (self.config / "prod.yaml").write_text(prod)

    def build(self, tag: str) -> str:
        """A CI build: push demo-dev/demo:<tag> (an image of its own)."""
        image = build_image(labels={"build": tag})
        with Pusher(self.registry) as p:
            self.digests[tag] = p.push(f"{self.prefix}/demo-dev/demo", image, [tag])
        return self.digests[tag]

    def run(self, *args: str) -> object:
        return run_tagpilot(*args, "-f", self.config, "--state", self.state)

    def values(self, branch: str) -> str:
        return self.remote.read_file("helm/values.yaml", ref=branch)

    def target_digest(self, tag: str) -> str:
        with Pusher(self.registry) as p:
            return p.get_manifest(f"{self.prefix}/demo-test/demo", tag)[2]


@pytest.fixture
def env(tmp_path: Path, registry, git_environ: dict[str, str], repo_name: str) -> Setup:
    return Setup(tmp_path, registry, git_environ, repo_name.replace("/", "-"))


def test_dev_build_lands_in_dev_then_is_promoted_to_test_with_the_same_digest(env: Setup) -> None:
    digest = env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 0, result.stderr
    assert "tag: 1.1.0 #" in env.values("dev")
    test = env.values("test")
    assert f"repository: {env.registry.host}/{env.prefix}/demo-test/demo #" in test
    assert "tag: 1.1.0 #" in test and "replicaCount: 2" in test  # the rest of the test branch untouched
    assert env.target_digest("1.1.0") == digest  # copied, digest preserved
    message = env.remote.message("test")
    assert message.startswith("test: promote demo ") and digest in message
    view = env.run("get", "promotions", "-o", "json").json()[0]
    assert view["status"]["lastPromoted"]["tag"] == "1.1.0"
    assert view["status"]["lastPromoted"]["digest"] == digest
    assert view["status"]["lastPromoted"]["commit"] == env.remote.head("test")
    table = env.run("get", "promotions")
    assert "ImageUpdateAutomation/demo-dev" in table.stdout and "1.1.0" in table.stdout
    # nothing new: no second commit on test
    head = env.remote.head("test")
    assert env.run("reconcile").code == 0
    assert env.remote.head("test") == head
    history = env.run("history", KEY, "-o", "json").json()
    assert [(h["to"].rsplit(":", 1)[1], h["rollback"]) for h in history] == [("1.1.0", False)]


def test_rollback_holds_later_promotions_until_unpin(env: Setup) -> None:
    env.build("1.1.0")
    assert env.run("reconcile").code == 0
    env.build("1.2.0")
    assert env.run("reconcile").code == 0
    assert "tag: 1.2.0 #" in env.values("test")
    dry = env.run("promote", KEY, "--tag", "1.1.0", "--dry-run")
    assert dry.code == 0 and "would promote" in dry.stdout
    assert "tag: 1.2.0 #" in env.values("test")
    rollback = env.run("promote", KEY, "--tag", "1.1.0")
    assert rollback.code == 0, rollback.stderr
    assert "tag: 1.1.0 #" in env.values("test")
    env.build("1.3.0")
    assert env.run("reconcile").code == 0
    assert "tag: 1.3.0 #" in env.values("dev")
    assert "tag: 1.1.0 #" in env.values("test")  # held
    view = env.run("get", "promotions", "-o", "json").json()[0]
    assert view["status"]["hold"]["tag"] == "1.1.0" and "HELD" in env.run("get", "promotions").stdout
    unpin = env.run("unpin", KEY)
    assert unpin.code == 0 and "unpinned" in unpin.stdout
    assert env.run("reconcile").code == 0
    assert "tag: 1.3.0 #" in env.values("test")
    assert env.target_digest("1.3.0") == env.digests["1.3.0"]
    history = env.run("history", KEY, "-o", "json").json()
    assert [(h["to"].rsplit(":", 1)[1], h["rollback"]) for h in history] == [
        ("1.3.0", False), ("1.1.0", True), ("1.2.0", False), ("1.1.0", False)]
    assert "tagpilot promote --tag 1.1.0" in history[1]["trigger"]


def test_soak_gate_waits_then_promotes(env: Setup) -> None:
    promotion = env.config / "test.yaml"
    promotion.write_text(promotion.read_text().replace("    requireReady: true", "    soak: 30m"))
    env.build("1.1.0")
    assert env.run("reconcile").code == 0
    assert "tag: 1.0.0 #" in env.values("test")
    view = env.run("get", "promotions", "-o", "json").json()[0]
    assert view["status"]["gate"]["soak"]["open"] is False and "soaking" in view["status"]["gate"]["soak"]["message"]
    assert "1.1.0 waiting" in env.run("get", "promotions").stdout
    # 31 minutes later (the candidate's first sighting moved back, as time would)
    with Store.open(env.state) as store:
        stored = store.get_object("Promotion", "default", "demo-test")
        assert stored is not None
        status = dict(stored.status)
        since = datetime.now(UTC) - timedelta(minutes=31)
        status["candidate"] = {**status["candidate"], "since": since.strftime("%Y-%m-%dT%H:%M:%SZ")}
        store.set_status("Promotion", "default", "demo-test", status)
    assert env.run("reconcile").code == 0
    assert "tag: 1.1.0 #" in env.values("test")


def test_verify_gate_asks_a_real_http_server(env: Setup, http_recorder) -> None:
    http_recorder.route("/smoke", Reply(503, "not yet"), Reply(200, "ok"))
    promotion = env.config / "test.yaml"
    verify = f"    verify:\n      url: {http_recorder.url_for('/smoke')}\n      expectStatus: 200"
    promotion.write_text(promotion.read_text().replace("    requireReady: true", verify))
    env.build("1.1.0")
    assert env.run("reconcile").code == 0
    assert "tag: 1.0.0 #" in env.values("test")
    view = env.run("get", "promotions", "-o", "json").json()[0]
    assert "answered 503, expected 200" in view["status"]["gate"]["verify"]["message"]
    assert env.run("reconcile").code == 0
    assert "tag: 1.1.0 #" in env.values("test")
    assert [r.path for r in http_recorder.requests] == ["/smoke", "/smoke"]


def test_chain_dev_test_prod(env: Setup) -> None:
    """prod promotes from the test Promotion: three stages, each reading the previous one's branch."""
    env.add_prod_stage()
    digest = env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 0, result.stderr
    assert "tag: 1.1.0 #" in env.values("prod") and "demo-prod/demo #" in env.values("prod")
    with Pusher(env.registry) as p:
        assert p.get_manifest(f"{env.prefix}/demo-prod/demo", "1.1.0")[2] == digest
    table = env.run("get", "promotions").stdout
    assert "Promotion/demo-test" in table and "ImageUpdateAutomation/demo-dev" in table


def test_approvals_gate_waits_for_a_person_then_promotes_exactly_that(env: Setup) -> None:
    """`gate.approvals: 1` (tagpilot.approvals): the candidate waits as an approval request; after
    `tagpilot approve` the next run copies and commits it, and the history names the approver."""
    promotion = env.config / "test.yaml"
    promotion.write_text(promotion.read_text().replace("    requireReady: true", "    approvals: 1"))
    env.build("1.1.0")
    assert env.run("reconcile").code == 0
    assert "tag: 1.1.0 #" in env.values("dev") and "tag: 1.0.0 #" in env.values("test")  # held
    [request] = run_tagpilot("approvals", "list", "--state", env.state, "-o", "json").json()
    assert request["object"] == KEY and request["required"] == 1
    assert request["images"] == [{"image": f"{env.registry.host}/{env.prefix}/demo-test/demo", "from": "1.0.0",
                                  "to": "1.1.0"}]
    ready = next(c for c in env.run("get", "promotions", "-o", "json").json()[0]["status"]["conditions"]
                 if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "AwaitingApproval") and request["id"] in ready["message"]
    assert env.run("reconcile").code == 0 and "tag: 1.0.0 #" in env.values("test")  # still held, same request
    listed = run_tagpilot("approvals", "list", "--state", env.state, "-o", "json").json()
    assert [r["id"] for r in listed] == [request["id"]]
    approve = run_tagpilot("approve", request["id"], "--by", "alice", "--state", env.state)
    assert approve.code == 0, approve.stderr
    assert env.run("reconcile").code == 0
    assert "tag: 1.1.0 #" in env.values("test") and env.target_digest("1.1.0") == env.digests["1.1.0"]
    [done] = run_tagpilot("approvals", "list", "--state", env.state, "-o", "json").json()
    assert done["state"] == "approved" and done["approvedBy"] == ["alice"]
    [entry] = env.run("history", KEY, "-o", "json").json()
    assert entry["trigger"] == f"approved by alice (approval request {request['id']})"


def test_unknown_and_unsupported_fields_are_load_errors(tmp_path: Path) -> None:
    config = tmp_path / "p.yaml"
    base = (EXAMPLE / "config" / "test.yaml").read_text()
    config.write_text(base.replace("    requireReady: true", "    approvals: 0"))
    result = run_tagpilot("get", "promotions", "-f", config, "--state", tmp_path / "s")
    assert result.code == 2 and "approvals" in result.stderr and "p.yaml" in result.stderr
    config.write_text(base.replace("  interval: 1m", "  intervall: 1m"))
    result = run_tagpilot("get", "promotions", "-f", config, "--state", tmp_path / "s")
    assert result.code == 2 and "intervall" in result.stderr


def test_image_policy_source_and_directory_per_environment(env: Setup) -> None:
    """No dev automation: staging follows the ImagePolicy, in a directory of the dev branch (no copy)."""
    env.remote.commit({"envs/staging/app.yaml": "image: x/demo:0.0.1 # {\"$imagepolicy\": \"default:staging\"}\n"},
                      "staging directory", branch="dev")
    (env.config / "dev.yaml").unlink()
    (env.config / "test.yaml").write_text("""\
apiVersion: tagpilot.dev/v1alpha1
kind: Promotion
metadata: {name: staging, namespace: default}
spec:
  source: {imagePolicyRef: {name: demo}}
  image: demo
  target: {gitRepositoryRef: {name: demo-helm}, branch: dev, path: ./envs/staging}
  commit:
    messageTemplate: "staging {{ .To }}"
""")
    digest = env.build("1.4.0")
    result = env.run("reconcile")
    assert result.code == 0, result.stderr
    text = env.remote.read_file("envs/staging/app.yaml", ref="dev")
    assert f"image: {env.registry.host}/{env.prefix}/demo-dev/demo:1.4.0@{digest} #" in text
    assert "tag: 1.0.0 #" in env.values("dev")  # the dev values were not touched (no automation)
    assert env.remote.message("dev").startswith("staging ")


def test_target_without_markers_fails_with_the_fix(env: Setup) -> None:
    env.remote.commit({"helm/values.yaml": "image:\n  tag: 1.0.0\n"}, "markers removed", branch="test")
    env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 1
    assert 'no setters marker names default:demo-test' in result.stderr and '"$imagepolicy"' in result.stderr


def test_soak_counts_from_the_commit_that_put_the_candidate_on_the_source_branch(env: Setup) -> None:
    """A tag dev got two hours ago (the commit's time) has soaked 1h although this Promotion sees it for the
    first time; a tag the automation commits now waits."""
    promotion = env.config / "test.yaml"
    promotion.write_text(promotion.read_text().replace("    requireReady: true", "    soak: 1h"))
    env.build("1.1.0")
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S+0000")
    env.remote.commit({"helm/values.yaml": env.values("dev").replace("tag: 1.0.0 #", "tag: 1.1.0 #") + "\n"},
                      "CI set 1.1.0", branch="dev", env={"GIT_COMMITTER_DATE": two_hours_ago,
                                                         "GIT_AUTHOR_DATE": two_hours_ago})
    assert env.run("reconcile").code == 0
    assert "tag: 1.1.0 #" in env.values("test")
    candidate = env.run("get", "promotions", "-o", "json").json()[0]["status"]["candidate"]
    assert candidate["sinceFrom"] == "commit" and candidate["readFrom"]["tag"] == "helm/values.yaml:4"
    assert datetime.fromisoformat(candidate["since"].replace("Z", "+00:00")) < datetime.now(UTC) - timedelta(hours=1)
    env.build("1.2.0")  # the automation commits it to dev now: soaking
    assert env.run("reconcile").code == 0
    assert "tag: 1.2.0 #" in env.values("dev") and "tag: 1.1.0 #" in env.values("test")
    view = env.run("get", "promotions", "-o", "json").json()[0]["status"]
    assert view["gate"]["soak"]["open"] is False and "soaking" in view["gate"]["soak"]["message"]


def test_an_automation_push_runs_the_promotion_reading_it_at_once(env: Setup) -> None:
    """The automation's push is a change whose readers (Promotions with that source) run right after it,
    without waiting for the Promotion's interval, and a promotion runs the next stage of its chain: in the
    daemon the same `dependents` are triggered."""
    import asyncio

    from tagpilot.config.loader import load_config
    from tagpilot.engine.local import local_controller

    env.add_prod_stage()
    env.build("1.1.0")
    config = load_config([env.config])
    test, prod = ("Promotion", "default", "demo-test"), ("Promotion", "default", "demo-prod")

    async def scenario() -> tuple[list, list]:
        async with local_controller(config, env.state) as controller:
            results = {}
            ordered = controller.keys()
            for key in ordered:
                if key[0] != "Promotion":
                    results[key] = await controller.reconcile(key, force=True)
            pushed = results[("ImageUpdateAutomation", "default", "demo-dev")].dependents
            promoted = (await controller.reconcile(test, force=True)).dependents
            return pushed, promoted

    pushed, promoted = asyncio.run(scenario())
    assert pushed == [test] and promoted == [prod]
    assert "tag: 1.1.0 #" in env.values("dev") and "tag: 1.1.0 #" in env.values("test")
    assert "tag: 1.1.0 #" not in env.values("prod")  # the chain's next stage was named, not run here
