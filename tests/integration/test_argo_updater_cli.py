"""Argo CD Image Updater v1.x `ImageUpdater` CRs, end to end against the real registry and git remotes.

The example CR (examples/argo-style/image-updater) with its placeholders replaced by the local registry
and remote updates the seed Application exactly as the annotations do; refs are matched by specificity
and label selectors; what tagpilot cannot do (pull requests, method argocd) fails the CR with
upstream's conditions and writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.http import Reply
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_argo_cli import (
    EXAMPLE,
    SEED_REPO,
    _day,
    expected_source,
    localize,
    seed_app,
    seed_chart,
    seed_registry,
)

CR_DIR = EXAMPLE / "image-updater"


def cr_config(tmp_path: Path, registry: RegistryServer, repo: str, remote: GitRemote, *,
              cr_edit=lambda text: text, extra_apps: str = "") -> Path:
    cfg = tmp_path / "config"
    cfg.mkdir()
    cr = localize((CR_DIR / "imageupdater.yaml").read_text(), registry, repo)
    (cfg / "imageupdater.yaml").write_text(cr_edit(cr))
    app = (CR_DIR / "application.yaml").read_text().replace(SEED_REPO, remote.url)
    (cfg / "application.yaml").write_text(app + extra_apps)
    auths = json.dumps({"auths": {registry.host: {"username": "u", "password": "p"}}})
    (cfg / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: dockerhub-secret, namespace: argocd}\n"
        f"type: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{auths}'\n")
    return cfg


def view(result, kind: str, name: str) -> dict:
    return next(v for v in result.json() if v["kind"] == kind and v["name"] == name)


def condition(status: dict, type_: str) -> dict:
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_example_image_updater_updates_the_application_like_the_annotations(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    cfg = cr_config(tmp_path, registry, repo_name, git_remote_file)
    state = tmp_path / "state"
    image = f"{registry.host}/{repo_name}"

    first = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert first.code == 0, first.stderr + first.stdout
    head = git_remote_file.head("main")
    assert git_remote_file.git("rev-parse", "main~1") == before  # one commit
    assert git_remote_file.read_exact(".argocd-source-example.yaml", "main") == expected_source(image)
    assert git_remote_file.log("main", fmt="%an <%ae>")[0] == "argocd-image-updater <noreply@argoproj.io>"
    cr = view(first, "ImageUpdater", "example-updater")
    assert set(cr) == {"kind", "namespace", "name", "spec", "status"}
    assert cr["namespace"] == "argocd"
    assert cr["spec"]["applicationRefs"][0]["namePattern"] == "example*"
    status = cr["status"]
    assert status["applicationsMatched"] == 1 and status["imagesManaged"] == 2
    assert [(u["alias"], u["image"], u["newVersion"], u["applicationsUpdated"], u["message"])
            for u in status["recentUpdates"]] == [
        ("frontend", f"{image}/frontend", "main-bbbbbbb", 1, "Updated from main-0000000 to main-bbbbbbb."),
        ("backend", f"{image}/backend", "main-1111111", 1, "Updated from main-0000000 to main-1111111.")]
    assert status["lastUpdatedAt"] == status["recentUpdates"][0]["updatedAt"]
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "ReconcileSucceeded")
    assert condition(status, "Ready")["message"] == "Reconciled 1 applications, 2 images updated."
    assert (condition(status, "Error")["status"], condition(status, "Error")["reason"]) == ("False", "NoErrors")
    assert (condition(status, "Reconciling")["status"], condition(status, "Reconciling")["reason"]) == ("False", "Idle")
    assert status["applications"][0]["lastPushCommit"] == head
    assert status["applications"][0]["images"][0]["strategy"] == "newest-build"

    second = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert second.code == 0, second.stderr
    assert git_remote_file.head("main") == head
    status2 = view(second, "ImageUpdater", "example-updater")["status"]
    assert condition(status2, "Ready")["message"] == "Reconciled 1 applications, 0 images updated."
    assert status2["recentUpdates"] == status["recentUpdates"]  # kept until the next update, as upstream

    table = run_tagpilot("get", "imageupdaters", "-f", cfg, "--state", state)
    assert table.code == 0, table.stderr
    header, row = table.stdout.splitlines()[:2]
    assert header.split()[:6] == ["NAMESPACE", "NAME", "APPS", "IMAGES", "LAST", "CHECKED"]
    assert row.split()[:4] == ["argocd", "example-updater", "1", "2"]
    as_json = run_tagpilot("get", "imageupdaters", "-f", cfg, "--state", state, "-o", "json")
    assert as_json.code == 0 and as_json.json()[0]["status"]["applicationsMatched"] == 1


MORE_APPS = """
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: example-prod
  namespace: argocd
  labels: {tier: prod}
spec:
  source: {repoURL: @URL@, path: prod, targetRevision: main}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: example-staging
  namespace: argocd
spec:
  source: {repoURL: @URL@, path: staging, targetRevision: main}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: example-other-ns
  namespace: team-b
spec:
  source: {repoURL: @URL@, path: staging, targetRevision: main}
"""

PROD_REF = """\
  - namePattern: example-*
    labelSelectors:
      matchExpressions:
      - {key: tier, operator: In, values: [prod]}
    commonUpdateSettings:
      allowTags: regexp:^main-a
    images:
    - alias: frontend
      imageName: IMAGE/frontend
      commonUpdateSettings: {updateStrategy: alphabetical, allowTags: regexp:^main-c}
      manifestTargets:
        helm: {name: frontend.image, tag: frontend.tag}
"""


def test_refs_by_specificity_labels_and_precedence_one_commit(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    """`example-*` with a label selector beats the broader `example*` for the labelled app; an image's
    commonUpdateSettings beat its ref's, which beat the spec's; apps of another namespace are not
    matched; every matched app of the CR lands in one commit."""
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name, prefix="prod/")
    seed_chart(git_remote_file, registry, repo_name, prefix="staging/")
    before = git_remote_file.head("main")
    image = f"{registry.host}/{repo_name}"

    def edit(text: str) -> str:
        return text.replace("  applicationRefs:\n", "  applicationRefs:\n" + PROD_REF.replace("IMAGE", image))

    cfg = cr_config(tmp_path, registry, repo_name, git_remote_file, cr_edit=edit,
                    extra_apps=MORE_APPS.replace("@URL@", git_remote_file.url))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr + result.stdout
    assert git_remote_file.git("rev-parse", "main~1") == before  # three applications, one commit
    # prod: alphabetical among main-c* (the image's allowTags beat the ref's main-a)
    assert "value: main-ccccccc" in git_remote_file.read_exact("prod/.argocd-source-example-prod.yaml", "main")
    # staging and example: the spec's newest-build
    assert "value: main-bbbbbbb" in git_remote_file.read_exact(
        "staging/.argocd-source-example-staging.yaml", "main")
    status = view(result, "ImageUpdater", "example-updater")["status"]
    assert status["applicationsMatched"] == 3 and status["imagesManaged"] == 5
    assert {a["name"]: a["namePattern"] for a in status["applications"]} == {
        "example": "example*", "example-prod": "example-*", "example-staging": "example*"}
    frontend = {(u["alias"], u["newVersion"]): u["applicationsUpdated"] for u in status["recentUpdates"]}
    assert frontend[("frontend", "main-bbbbbbb")] == 2 and frontend[("frontend", "main-ccccccc")] == 1


def test_pull_request_without_a_token_and_method_argocd_are_refused_with_conditions_and_nothing_written(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    cfg = cr_config(tmp_path, registry, repo_name, git_remote_file, cr_edit=lambda t: t.replace(
        "    method: git\n", "    method: git\n    gitConfig:\n      branch: main\n      pullRequest:\n"
                            "        github: {}\n"))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    status = view(result, "ImageUpdater", "example-updater")["status"]
    ready, error = condition(status, "Ready"), condition(status, "Error")
    assert (ready["status"], ready["reason"]) == ("True", "ReconcileCompletedWithErrors")
    assert (error["status"], error["reason"]) == ("True", "PartialErrors")
    [run] = status["applications"]
    assert "writeBackConfig.gitConfig.pullRequest needs token credentials" in run["error"]
    assert f"{cfg / 'application.yaml'}:" in run["error"]
    assert git_remote_file.head("main") == before and git_remote_file.branches() == ["main"]

    text = (cfg / "imageupdater.yaml").read_text()
    start, end = text.index("  writeBackConfig:\n"), text.index("  applicationRefs:\n")
    (cfg / "imageupdater.yaml").write_text(text[:start] + text[end:])
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    error = condition(view(result, "ImageUpdater", "example-updater")["status"], "Error")
    assert "writeBackConfig.method is 'argocd'" in error["message"] and "method: git" in error["message"]
    assert git_remote_file.head("main") == before


def test_partial_errors_and_use_annotations(registry: RegistryServer, repo_name: str,
                                            git_remote_file: GitRemote, tmp_path: Path) -> None:
    """A ref with `useAnnotations: true` reads the Application's annotations; an image whose
    repository does not exist is a partial error (Ready True, ReconcileCompletedWithErrors)."""
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name, prefix="staging/")
    image = f"{registry.host}/{repo_name}"
    annotated = seed_app(registry, repo_name, git_remote_file.url, name="legacy\n  namespace: argocd",
                         path="staging", pull_secret=False)

    def edit(text: str) -> str:
        text = text.replace("imageName: " + image + "/backend", "imageName: " + image + "/does-not-exist")
        return text.replace("  applicationRefs:\n", "  applicationRefs:\n  - namePattern: legacy\n"
                                                    "    useAnnotations: true\n")

    cfg = cr_config(tmp_path, registry, repo_name, git_remote_file, cr_edit=edit, extra_apps="---\n" + annotated)
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1, result.stderr
    status = view(result, "ImageUpdater", "example-updater")["status"]
    assert (condition(status, "Ready")["status"], condition(status, "Ready")["reason"]) == (
        "True", "ReconcileCompletedWithErrors")
    assert (condition(status, "Error")["reason"], condition(status, "Error")["message"]) == (
        "PartialErrors", "1 error(s) occurred during image update checks.")
    apps = {a["name"]: a for a in status["applications"]}
    assert apps["legacy"]["namePattern"] == "legacy"
    assert [i["selectedTag"] for i in apps["legacy"]["images"]] == ["main-bbbbbbb", "main-1111111"]
    assert "value: main-1111111" in git_remote_file.read_exact("staging/.argocd-source-legacy.yaml", "main")
    # the frontend of `example` was still written; the missing backend is named
    assert "value: main-bbbbbbb" in git_remote_file.read_exact(".argocd-source-example.yaml", "main")
    backend = apps["example"]["images"][1]
    assert backend["image"].endswith("/does-not-exist") and backend["reason"].startswith("registry:"), backend
    assert "Application/argocd/example: backend: registry:" in result.stderr


def test_bad_image_updaters_are_load_errors_naming_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("""\
apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata: {name: a, namespace: argocd}
spec:
  applicationRefs:
  - namePattern: "app-["
    images: [{alias: x, imageName: nginx}]
---
apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata: {name: b, namespace: argocd}
spec:
  writeBackConfig:
    method: git
    gitConfig: {branch: "main:updates", pullRequest: {github: {}, gitlab: {}}}
  applicationRefs:
  - namePattern: app
    images:
    - {alias: "-x", imageName: nginx}
---
apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata: {name: c, namespace: argocd}
spec:
  applicationRefs:
  - namePattern: app
    commonUpdateSettings: {pullSecret: "pullsecret:other/creds"}
    images:
    - alias: x
      imageName: nginx
      manifestTargets: {helm: {tag: t}, kustomize: {name: n}}
  - namePattern: app2
""")
    result = run_tagpilot("reconcile", "-f", bad, "--state", tmp_path / "state")
    assert result.code == 2, result.stderr
    err = result.stderr
    assert f"{bad}:6" in err and "invalid application name pattern 'app-['" in err
    assert "pullRequest needs exactly one of github" in err
    assert "String should match pattern" in err and f"{bad}:19" in err
    assert "manifestTargets needs exactly one of helm, kustomize or plugin" in err
    assert "images is required unless useAnnotations is true" in err


def test_image_updater_pushes_with_the_argo_cd_repository_secret_over_http(
        registry: RegistryServer, repo_name: str, git_http: GitRemote, tmp_path: Path) -> None:
    """Git credentials of an ImageUpdater's write-back: the `repository` Secret of the URL; a wrong
    password fails the application (partial error) without showing it."""
    seed_registry(registry, repo_name)
    seed_chart(git_http, registry, repo_name)
    before = git_http.head("main")
    cfg = cr_config(tmp_path, registry, repo_name, git_http)
    secret = (EXAMPLE / "config" / "repo-secret.yaml").read_text().replace(SEED_REPO, git_http.url)
    (cfg / "repo-secret.yaml").write_text(secret.replace("username: USERNAME", f"username: {git_http.username}")
                                          .replace("password: PASSWORD", "password: wr0ng-pa55"))
    bad = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "s1", "-o", "json")
    assert bad.code == 1
    assert "wr0ng-pa55" not in bad.stdout + bad.stderr
    assert git_http.head("main") == before
    app = view(bad, "ImageUpdater", "example-updater")["status"]["applications"][0]
    assert "error" in app, app

    (cfg / "repo-secret.yaml").write_text(secret.replace("username: USERNAME", f"username: {git_http.username}")
                                          .replace("password: PASSWORD", f"password: {git_http.password}"))
    good = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "s2", "-o", "json")
    assert good.code == 0, good.stderr
    assert git_http.git("rev-parse", "main~1") == before
    assert "value: main-bbbbbbb" in git_http.read_exact(".argocd-source-example.yaml", "main")


def test_an_approval_gate_on_the_cr_holds_each_matched_application(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    """`tagpilot.dev/approvals` on an ImageUpdater gates the Applications it matches (the manual path)."""
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    cfg = cr_config(tmp_path, registry, repo_name, git_remote_file, cr_edit=lambda text: text.replace(
        "  name: example-updater\n", '  name: example-updater\n  annotations: {tagpilot.dev/approvals: "1"}\n', 1))
    state = tmp_path / "state"
    first = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert first.code == 0, first.stderr
    assert git_remote_file.head("main") == before  # held
    status = view(first, "ImageUpdater", "example-updater")["status"]
    [run] = status["applications"]
    [request] = run_tagpilot("approvals", "list", "--state", state, "-o", "json").json()
    assert request["object"] == "Application/argocd/example" and request["state"] == "pending"
    assert sorted(i["to"] for i in request["images"]) == ["main-1111111", "main-bbbbbbb"]
    assert request["id"] in run["awaitingApproval"]
    assert condition(status, "Ready")["message"] == "Reconciled 1 applications, 0 images updated, 1 awaiting approval."
    approved = run_tagpilot("approve", request["id"], "--by", "alice", "--state", state)
    assert approved.code == 0, approved.stderr
    second = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert second.code == 0, second.stderr
    assert "main-bbbbbbb" in git_remote_file.read_exact(".argocd-source-example.yaml", "main")
    [done] = run_tagpilot("approvals", "list", "--state", state, "-o", "json").json()
    assert done["state"] == "approved" and done["approvedBy"] == ["alice"]


PR_TOKEN = "ghp_argo-pull-request-token"


def test_pull_request_mode_opens_one_request_per_application_and_supersedes_the_old_one(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, http_recorder, tmp_path: Path) -> None:
    """`gitConfig.pullRequest`: upstream's head branch `image-updater-<key>-<sha256>` on the real remote and a
    request into `main`. The GitHub API is a stand-in (RecordingServer: no forge can run here) and the test
    asserts the exact requests. A newer tag makes a new head branch: its request opens, the old one closes."""
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    api = http_recorder.url_for("/api/v3")

    def edit(text: str) -> str:
        text = text.replace("  name: example-updater\n",
                            f"  name: example-updater\n  annotations: {{tagpilot.dev/pull-request-api: '{api}'}}\n", 1)
        return text.replace("    method: git\n", "    method: git\n    gitConfig:\n      branch: main\n"
                            "      pullRequest: {github: {}, labels: [image-updater]}\n", 1)

    cfg = cr_config(tmp_path, registry, repo_name, git_remote_file, cr_edit=edit)
    (cfg / "repo.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: fleet-repo\n  namespace: argocd\n  labels: "
        "{argocd.argoproj.io/secret-type: repository}\n"
        f"stringData: {{url: '{git_remote_file.url}', username: bot, password: {PR_TOKEN}}}\n")
    state = tmp_path / "state"
    pulls = "/api/v3/repos/remotes/fleet/pulls"
    http_recorder.route(pulls, Reply(200, []), Reply(201, {"number": 11, "html_url": "https://forge/pull/11"}),
                        Reply(200, []), Reply(201, {"number": 12, "html_url": "https://forge/pull/12"}))
    http_recorder.route(pulls + "/11", Reply(200, {"number": 11, "state": "open"}),
                        Reply(200, {"number": 11, "state": "open"}), Reply(200, {"number": 11, "state": "closed"}))
    http_recorder.route("/api/v3/repos/remotes/fleet/issues/11/labels", Reply(200, []))
    http_recorder.route("/api/v3/repos/remotes/fleet/issues/12/labels", Reply(200, []))

    first = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert first.code == 0, first.stderr
    assert git_remote_file.head("main") == before  # the base branch is untouched
    [head] = [b for b in git_remote_file.branches() if b.startswith("image-updater-")]
    assert len(head) == len("image-updater-") + 8 + 1 + 64
    assert "main-bbbbbbb" in git_remote_file.read_exact(".argocd-source-example.yaml", head)
    listed, opened, labelled = http_recorder.wait_for(3)
    assert listed.query == {"state": ["open"], "base": ["main"], "head": [f"remotes:{head}"]}
    assert listed.headers["authorization"] == f"Bearer {PR_TOKEN}"
    assert opened.json() == {"title": "build: automatic update of example", "head": head, "base": "main",
                             "body": f"updates image {repo_name}/frontend tag 'main-0000000' to 'main-bbbbbbb'\n"
                                     f"updates image {repo_name}/backend tag 'main-0000000' to 'main-1111111'"}
    assert labelled.json() == {"labels": ["image-updater"]}
    again = run_tagpilot("reconcile", "-f", cfg, "--state", state)  # the same change: the same branch, no new request
    assert again.code == 0, again.stderr
    assert [(r.method, r.path) for r in http_recorder.wait_for(4)[3:]] == [("GET", pulls + "/11")]

    push_tags(registry, f"{repo_name}/frontend", ["main-eeeeeee"], created=_day(8))
    third = run_tagpilot("reconcile", "-f", cfg, "--state", state)
    assert third.code == 0, third.stderr
    heads = sorted(b for b in git_remote_file.branches() if b.startswith("image-updater-"))
    assert len(heads) == 2 and head in heads
    requests = http_recorder.wait_for(9)
    assert [(r.method, r.path) for r in requests[4:]] == [
        ("GET", pulls + "/11"), ("GET", pulls), ("POST", pulls),
        ("POST", "/api/v3/repos/remotes/fleet/issues/12/labels"), ("PATCH", pulls + "/11")]
    assert requests[8].json() == {"state": "closed"}

    # a person closes #12 without merging and deletes its branch: its tags are a "no", the branch stays gone
    [newer] = [b for b in heads if b != head]
    git_remote_file.git("update-ref", "-d", f"refs/heads/{newer}")
    http_recorder.route(pulls + "/12", Reply(200, {"number": 12, "state": "closed", "merged": False}))
    fourth = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert fourth.code == 0, fourth.stderr
    assert newer not in git_remote_file.branches()
    assert [(r.method, r.path) for r in http_recorder.wait_for(10)[9:]] == [("GET", pulls + "/12")]
    frontend = next(i for i in view(fourth, "ImageUpdater", "example-updater")["status"]["applications"][0]["images"]
                    if i["alias"] == "frontend")
    assert "main-eeeeeee was rejected" in frontend["reason"]
    events = run_tagpilot("events", "ImageUpdater/argocd/example-updater", "--state", state, "-o", "json").json()
    actions = [e["data"].get("action") for e in events if e["reason"] == "PullRequest"]
    assert actions == ["opened", "opened", "superseded", "closed"]
    assert PR_TOKEN not in str(events) + first.stdout + first.stderr + third.stderr + fourth.stdout


def test_reconciling_condition_is_true_and_stored_while_a_run_is_in_progress_then_idle(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    """Upstream's `Reconciling` condition: True ("Reconciling") in the stored status while the run is in
    progress — seen by `tagpilot get` beside the running process —, then False ("Idle"). The run is held
    in the middle by a real `ext:` credentials script that waits for a file."""
    import os
    import subprocess
    import sys
    import time

    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    started, go = tmp_path / "started", tmp_path / "go"
    script = tmp_path / "creds.sh"
    script.write_text(f"#!/bin/sh\ntouch {started}\nwhile [ ! -e {go} ]; do sleep 0.05; done\necho u:p\n")
    script.chmod(0o755)
    cfg = cr_config(tmp_path, registry, repo_name, git_remote_file, cr_edit=lambda text: text.replace(
        "pullSecret: pullsecret:argocd/dockerhub-secret", f"pullSecret: ext:{script}"))
    state = tmp_path / "state"
    env = {k: v for k, v in os.environ.items() if k != "TAGPILOT_STATE"}
    run = subprocess.Popen([sys.executable, "-m", "tagpilot", "reconcile", "-f", str(cfg), "--state", str(state),
                            "-o", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "the credentials script never ran"
            time.sleep(0.05)
        during = run_tagpilot("get", "imageupdaters", "-f", cfg, "--state", state, "-o", "json")
        assert during.code == 0, during.stderr
        reconciling = condition(during.json()[0]["status"], "Reconciling")
        assert (reconciling["status"], reconciling["reason"], reconciling["message"]) == (
            "True", "Reconciling", "Image update check in progress.")
        app_during = run_tagpilot("get", "applications", "-f", cfg, "--state", state, "-o", "json")
        # the Application object itself ran first (a full round runs Applications before ImageUpdaters)
        app_reconciling = condition(app_during.json()[0]["status"], "Reconciling")
        assert (app_reconciling["status"], app_reconciling["reason"]) == ("False", "Idle")
    finally:
        go.touch()
        out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err + out
    after = run_tagpilot("get", "imageupdaters", "-f", cfg, "--state", state, "-o", "json")
    status = after.json()[0]["status"]
    reconciling = condition(status, "Reconciling")
    assert (reconciling["status"], reconciling["reason"], reconciling["message"]) == (
        "False", "Idle", "Last check completed. Awaiting next cycle.")
    assert condition(status, "Ready")["reason"] == "ReconcileSucceeded"
    assert [c["type"] for c in status["conditions"]] == ["Reconciling", "Error", "Ready"]  # upstream's order
