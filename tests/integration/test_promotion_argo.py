"""Promotions from and into Argo CD Applications (Image Updater annotations), end to end: real registry,
real git remote (file://), the real CLI; no stand-in (the Applications write back to git, no cluster).

- source: the dev environment is an Application whose updater writes `.argocd-source-demo-dev.yaml` on
  the dev branch; the Promotion reads that file back (not a live status) and promotes to the test branch.
- target: the test environment is an Application with `write-back-target: helmvalues:values.yaml`; the
  Promotion writes the promoted tag into that values file (byte-exact edit), and a prod Promotion reads
  the test stage back from the Application's files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.pusher import Pusher, build_image
from tests.integration.test_promotion import Setup

pytestmark = pytest.mark.integration

P = "    argocd-image-updater.argoproj.io/"


def application(name: str, image: str, url: str, branch: str, extra: str = "") -> str:
    return (f"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {name}\n  namespace: argocd\n"
            f"  annotations:\n{P}image-list: demo={image}\n{P}demo.helm.image-name: image.repository\n"
            f"{P}demo.helm.image-tag: image.tag\n{P}write-back-method: git\n{extra}"
            "spec:\n  project: default\n  destination: {server: https://kubernetes.default.svc, namespace: demo}\n"
            f"  source: {{repoURL: {url}, path: helm, targetRevision: {branch}, helm: {{}}}}\n")


def push_test_image(env: Setup) -> str:
    """demo-test/demo:1.0.0 pushed (what the test environment runs today); its image name."""
    with Pusher(env.registry) as p:
        p.push(f"{env.prefix}/demo-test/demo", build_image(labels={"build": "1.0.0"}), ["1.0.0"])
    return f"{env.registry.host}/{env.prefix}/demo-test/demo"


def source_application(env: Setup) -> None:
    """The dev environment as an Application whose updater writes its .argocd-source file on the dev
    branch, and the test Promotion reading it (instead of the dev automation)."""
    (env.config / "dev.yaml").write_text(application(
        "demo-dev", f"{env.registry.host}/{env.prefix}/demo-dev/demo", env.remote.url, "dev"))
    promotion = env.config / "test.yaml"
    promotion.write_text(promotion.read_text().replace(
        "    kind: ImageUpdateAutomation\n    name: demo-dev\n",
        "    kind: Application\n    name: demo-dev\n    namespace: argocd\n"))


def target_application(env: Setup, *, image: str = "", extra: str = "") -> None:
    """The test Promotion writing into Application argocd/demo-test (its alias `image`, if given) instead
    of its setters target; `extra` is appended to the Promotion (e.g. a push block)."""
    promotion = env.config / "test.yaml"
    text = promotion.read_text()
    target = text[text.index("  target:\n"):text.index("  gate:\n")]
    new_target = "  target:\n    applicationRef: {name: demo-test, namespace: argocd}\n" + (
        f"    image: {image}\n" if image else "")
    promotion.write_text(text.replace(target, new_target) + extra)


@pytest.fixture
def env(tmp_path: Path, registry, git_environ: dict[str, str], repo_name: str) -> Setup:
    return Setup(tmp_path, registry, git_environ, repo_name.replace("/", "-"))


def test_application_source_is_read_back_from_its_argocd_source_file(env: Setup) -> None:
    source_application(env)
    digest = env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 0, result.stderr
    written = env.remote.read_file("helm/.argocd-source-demo-dev.yaml", ref="dev")
    assert "value: 1.1.0" in written and "tag: 1.0.0 #" in env.values("dev")  # Argo's file, values untouched
    test = env.values("test")
    assert "tag: 1.1.0 #" in test and f"{env.prefix}/demo-test/demo #" in test
    assert env.target_digest("1.1.0") == digest
    status = env.run("get", "promotions", "-o", "json").json()[0]["status"]
    assert status["candidate"]["readFrom"] == {"tag": "helm/.argocd-source-demo-dev.yaml"}
    assert "Application/argocd/demo-dev" in env.run("get", "promotions").stdout

    # a hand edit of the Application's file on dev counts: git, not memory, is the source
    env.remote.commit({"helm/.argocd-source-demo-dev.yaml": written.replace("1.1.0", "1.0.0") + "\n"},
                      "revert dev by hand", branch="dev")
    # (the Application keeps to 1.0.x now, so its own run does not write 1.1.0 again)
    (env.config / "dev.yaml").write_text(application(
        "demo-dev", f"{env.registry.host}/{env.prefix}/demo-dev/demo", env.remote.url, "dev",
        f"{P}demo.allow-tags: regexp:^1\\.0\\.\n"))
    env.build("1.0.0")
    assert env.run("reconcile").code == 0
    assert "tag: 1.0.0 #" in env.values("test")


def test_application_source_mistakes_name_the_fix(env: Setup) -> None:
    source_application(env)
    promotion = env.config / "test.yaml"
    promotion.write_text(promotion.read_text().replace("  image: demo\n", "  image: web\n"))
    env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 1
    assert "has no image 'web' in its argocd-image-updater.argoproj.io/image-list (it has: demo)" in result.stderr
    assert "tag: 1.0.0 #" in env.values("test")


def test_promotion_into_an_application_writes_its_helm_values_then_prod_reads_it(env: Setup) -> None:
    test_image = push_test_image(env)  # what test runs today is in its registry already
    (env.config / "argo-test.yaml").write_text(application(
        "demo-test", test_image, env.remote.url, "test", f"{P}write-back-target: helmvalues:values.yaml\n"))
    target_application(env, image="demo")
    env.add_prod_stage()
    before = env.values("test")
    digest = env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 0, result.stderr
    # the values file edited in place: only the tag scalar moved, comments and markers stay
    assert env.values("test") == before.replace("tag: 1.0.0 #", "tag: 1.1.0 #")
    assert env.remote.message("test").startswith("test: promote demo ")
    assert env.target_digest("1.1.0") == digest
    assert "tag: 1.1.0 #" in env.values("prod") and "demo-prod/demo #" in env.values("prod")
    with Pusher(env.registry) as p:
        assert p.get_manifest(f"{env.prefix}/demo-prod/demo", "1.1.0")[2] == digest
    views = {v["name"]: v for v in env.run("get", "promotions", "-o", "json").json()}
    assert views["demo-prod"]["status"]["candidate"]["readFrom"] == {"tag": "helm/values.yaml"}
    assert "Application/argocd/demo-test" in env.run("get", "promotions").stdout
    head = env.remote.head("test")
    again = env.run("reconcile")  # the Application's own run finds 1.1.0 written: nothing more
    assert again.code == 0, again.stderr
    assert env.remote.head("test") == head


def test_promotion_into_an_application_through_a_pull_request(env: Setup, http_recorder) -> None:
    """push.pullRequest with an Application target: the write-back file goes to promote/<name>, a request into
    the Application's branch is opened with the token of its Argo CD repository Secret (the forge API is the
    FakeGitHub STAND-IN of test_promotion_pull_request; no forge runs here)."""
    from tests.integration.test_promotion_pull_request import FakeGitHub

    forge = FakeGitHub(http_recorder, "remotes", "demo-helm")
    test_image = push_test_image(env)
    (env.config / "argo-test.yaml").write_text(
        application("demo-test", test_image, env.remote.url, "test")
        + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: repo\n  namespace: argocd\n  labels: "
        "{argocd.argoproj.io/secret-type: repository}\n"
        f"stringData: {{url: '{env.remote.url}', username: bot, password: ghp_app-token}}\n")
    target_application(env, extra=f"  push:\n    pullRequest:\n      github: {{}}\n      api: {forge.api}\n")
    test_before = env.remote.head("test")
    env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 0, result.stderr
    assert env.remote.head("test") == test_before  # only proposed
    written = env.remote.read_file("helm/.argocd-source-demo-test.yaml", ref="promote/demo-test")
    assert "- name: image.tag\n    value: 1.1.0\n" in written
    listed, opened, *_ = http_recorder.wait_for(2)
    assert listed.headers["authorization"] == "Bearer ghp_app-token"
    assert (opened.json()["head"], opened.json()["base"]) == ("promote/demo-test", "test")
    view = env.run("get", "promotions", "-o", "json").json()
    request = next(v for v in view if v["name"] == "demo-test")["status"]["lastPromoted"]["pullRequest"]
    assert (request["number"], request["base"], request["state"]) == (1, "test", "open")
    assert "ghp_app-token" not in result.stdout + result.stderr


def test_application_target_pull_request_without_a_token_pushes_nothing(env: Setup) -> None:
    test_image = f"{env.registry.host}/{env.prefix}/demo-test/demo"
    (env.config / "argo-test.yaml").write_text(application("demo-test", test_image, env.remote.url, "test"))
    target_application(env, extra="  push:\n    pullRequest: {github: {}}\n")
    env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 1
    assert "needs token credentials" in result.stdout + result.stderr
    assert env.remote.head("promote/demo-test") is None


def test_promotion_into_an_application_with_the_default_write_back_writes_its_argocd_source_file(
        env: Setup) -> None:
    test_image = push_test_image(env)
    (env.config / "argo-test.yaml").write_text(application("demo-test", test_image, env.remote.url, "test"))
    target_application(env)
    before = env.values("test")
    env.build("1.1.0")
    result = env.run("reconcile")
    assert result.code == 0, result.stderr
    assert env.values("test") == before  # the values file is the Application's input, not its write-back target
    written = env.remote.read_file("helm/.argocd-source-demo-test.yaml", ref="test")
    assert "- name: image.tag\n    value: 1.1.0\n" in written and f"value: {test_image}" in written
    assert env.remote.message("test").startswith("test: promote demo ")
    head = env.remote.head("test")
    assert env.run("reconcile").code == 0 and env.remote.head("test") == head  # both agree now
