"""Argo CD Image Updater, end to end: the seed-001 Application against a real registry and git remote.

`tagpilot reconcile -f` reads the Application's annotations, picks the newest `main-<sha>` build of
each image (image config `created`), writes `.argocd-source-example.yaml` beside the chart with
upstream's bytes, commits with upstream's message and author, and pushes; a second run commits nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "argo-style"
SEED_REPO = "https://github.com/Hugh-yw/kubernetes-example-helm.git"


def _day(n: int) -> dt.datetime:
    return dt.datetime(2024, 1, n, 12, 0, tzinfo=dt.UTC)


def seed_registry(registry: RegistryServer, repo: str) -> None:
    """`main-<sha>` builds with created dates, and newer tags that allow-tags must keep out."""
    for image, tags in (("frontend", [("main-aaaaaaa", 1), ("main-bbbbbbb", 3), ("main-ccccccc", 2),
                                      ("feature-x", 5), ("latest", 6)]),
                        ("backend", [("main-1111111", 4), ("main-2222222", 2), ("dev-9", 9)])):
        for tag, day in tags:
            push_tags(registry, f"{repo}/{image}", [tag], created=_day(day))


def localize(text: str, registry: RegistryServer, repo: str, remote_url: str = SEED_REPO) -> str:
    """An example file with its placeholders replaced: the images `cyw/...` by the local registry's
    repositories under `repo`, the seed repository URL by `remote_url`."""
    return text.replace("cyw/", f"{registry.host}/{repo}/").replace(SEED_REPO, remote_url)


def seed_app(registry: RegistryServer, repo: str, remote_url: str, *, name: str = "example", path: str = ".",
             pull_secret: bool = True) -> str:
    """The seed-001 Application (examples/argo-style/config) for the local registry and remote, optionally
    renamed, on another source path, or without its pull-secret annotations."""
    app = localize((EXAMPLE / "config" / "application.yaml").read_text(), registry, repo, remote_url)
    app = app.replace("  name: example\n", f"  name: {name}\n").replace("    path: .\n", f"    path: {path}\n")
    if not pull_secret:
        app = "".join(line for line in app.splitlines(keepends=True) if ".pull-secret:" not in line)
    return app


def expected_source(image: str, frontend: str = "main-bbbbbbb", backend: str = "main-1111111") -> str:
    """The `.argocd-source-example.yaml` upstream writes for the seed Application (`image`: the local
    registry and repository prefix)."""
    return ("helm:\n  parameters:\n"
            f"  - name: backend.image\n    value: {image}/backend\n    forcestring: true\n"
            f"  - name: backend.tag\n    value: {backend}\n    forcestring: true\n"
            f"  - name: frontend.image\n    value: {image}/frontend\n    forcestring: true\n"
            f"  - name: frontend.tag\n    value: {frontend}\n    forcestring: true\n")


def expected_message(repo: str, frontend: str = "main-bbbbbbb", backend: str = "main-1111111") -> str:
    """Upstream's default commit message for the seed Application's first update."""
    return ("build: automatic update of example\n\n"
            f"updates image {repo}/frontend tag 'main-0000000' to '{frontend}'\n"
            f"updates image {repo}/backend tag 'main-0000000' to '{backend}'")


def local_config(tmp_path: Path, registry: RegistryServer, repo: str, remote: GitRemote, *,
                 extra: str = "") -> Path:
    """The example configuration with its placeholders replaced by the local registry and remote."""
    app = seed_app(registry, repo, remote.url)
    auths = json.dumps({"auths": {registry.host: {"username": "u", "password": "p"}}})
    secret = (EXAMPLE / "config" / "dockerhub-secret.yaml").read_text()
    secret = secret.split("  .dockerconfigjson: |\n")[0] + f"  .dockerconfigjson: '{auths}'\n"
    repo_secret = (EXAMPLE / "config" / "repo-secret.yaml").read_text().replace(SEED_REPO, remote.url)
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "application.yaml").write_text(app + extra)
    (cfg / "dockerhub-secret.yaml").write_text(secret)
    (cfg / "repo-secret.yaml").write_text(repo_secret)
    return cfg


def seed_chart(remote: GitRemote, registry: RegistryServer, repo: str, prefix: str = "") -> None:
    files = {}
    for path in sorted((EXAMPLE / "deploy-repo").rglob("*")):
        if path.is_file():
            text = localize(path.read_text(), registry, repo)
            files[prefix + str(path.relative_to(EXAMPLE / "deploy-repo"))] = text
    remote.commit(files, message="the example chart")


def app_view(result, name: str = "example") -> dict:
    return next(v for v in result.json() if v["kind"] == "Application" and v["name"] == name)


def test_seed_application_writes_argocd_source_commits_once_then_nothing(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file)
    state = tmp_path / "state"
    image = f"{registry.host}/{repo_name}"

    first = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert first.code == 0, first.stderr + first.stdout
    head = git_remote_file.head("main")
    assert head != before
    assert git_remote_file.read_exact(".argocd-source-example.yaml", "main") == expected_source(image)
    assert git_remote_file.read_exact("values.yaml", "main").count("main-0000000") == 2  # untouched
    assert git_remote_file.message() == expected_message(repo_name)
    assert git_remote_file.log("main", fmt="%an <%ae>")[0] == "argocd-image-updater <noreply@argoproj.io>"
    view = app_view(first)
    assert view["namespace"] == "argocd"
    assert view["status"]["lastPushCommit"] == head
    assert view["status"]["sourceFile"] == ".argocd-source-example.yaml"
    assert view["status"]["images"] == [
        {"alias": "frontend", "image": f"{image}/frontend", "currentTag": "main-0000000", "currentFrom": "values.yaml",
         "selectedTag": "main-bbbbbbb", "strategy": "newest-build",
         "reason": "updated from main-0000000 to main-bbbbbbb"},
        {"alias": "backend", "image": f"{image}/backend", "currentTag": "main-0000000", "currentFrom": "values.yaml",
         "selectedTag": "main-1111111", "strategy": "newest-build",
         "reason": "updated from main-0000000 to main-1111111"},
    ]
    # the old strategy name works, and the status says it is deprecated
    assert [w["annotation"] for w in view["status"]["warnings"]] == [
        "argocd-image-updater.argoproj.io/update-strategy"] * 2

    second = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert second.code == 0, second.stderr
    assert git_remote_file.head("main") == head  # nothing changed, nothing committed
    images = app_view(second)["status"]["images"]
    assert [(i["currentFrom"], i["reason"]) for i in images] == [
        (".argocd-source-example.yaml", "up to date at main-bbbbbbb"),
        (".argocd-source-example.yaml", "up to date at main-1111111")]
    ready = next(c for c in app_view(second)["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    reconciling = next(c for c in app_view(second)["status"]["conditions"] if c["type"] == "Reconciling")
    assert (reconciling["status"], reconciling["reason"]) == ("False", "Idle")  # stored True during the run

    table = run_tagpilot("get", "applications", "-f", cfg, "--state", state)
    assert table.code == 0, table.stderr
    assert "frontend=main-bbbbbbb" in table.stdout and head[:7] in table.stdout


def test_applications_sharing_a_repository_land_in_one_commit(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name, prefix="staging/")
    before = git_remote_file.head("main")
    second_app = "---\n" + seed_app(registry, repo_name, git_remote_file.url, name="example-staging",
                                    path="staging")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file, extra=second_app)

    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr + result.stdout
    assert git_remote_file.log("main")[0] == "build: automatic update of 2 applications"
    assert git_remote_file.git("rev-parse", "main~1") == before  # one commit for both
    assert "value: main-bbbbbbb" in git_remote_file.read_exact(".argocd-source-example.yaml", "main")
    assert "value: main-bbbbbbb" in git_remote_file.read_exact("staging/.argocd-source-example-staging.yaml", "main")
    commits = {app_view(result, n)["status"]["lastPushCommit"] for n in ("example", "example-staging")}
    assert commits == {git_remote_file.head("main")}


def test_write_back_argocd_is_stalled_and_names_git(registry: RegistryServer, repo_name: str,
                                                    git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file)
    app = cfg / "application.yaml"
    app.write_text(app.read_text().replace("    argocd-image-updater.argoproj.io/write-back-method: git\n", ""))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    stalled = next(c for c in app_view(result)["status"]["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == "WriteBackNeedsCluster"
    assert "without a cluster" in stalled["message"] and "write-back-method: git" in stalled["message"]
    assert git_remote_file.head("main") == before


KUSTOMIZE_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: kapp
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: web={image}/frontend:latest, api={image}/backend
    argocd-image-updater.argoproj.io/web.update-strategy: digest
    argocd-image-updater.argoproj.io/web.kustomize.image-name: example/web
    argocd-image-updater.argoproj.io/api.update-strategy: alphabetical
    argocd-image-updater.argoproj.io/api.allow-tags: regexp:^main-
    argocd-image-updater.argoproj.io/write-back-method: git
{force}spec:
  destination: {{namespace: web, server: https://kubernetes.default.svc}}
  source:
    repoURL: {url}
    path: k
status:
  summary:
    images: [{image}/frontend:latest]
"""

KUSTOMIZATION = """\
resources: [deployment.yaml]
images:
- name: example/web
  newTag: "1"
"""


def test_kustomize_app_digest_strategy_dry_run_and_force_update(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    from tests.fixtures.pusher import Pusher

    seed_registry(registry, repo_name)
    with Pusher(registry) as pusher:
        digest = pusher.get_manifest(f"{repo_name}/frontend", "latest")[2]
    git_remote_file.commit({"k/kustomization.yaml": KUSTOMIZATION, "k/deployment.yaml": "kind: Deployment\n"},
                           message="kustomize app")  # no targetRevision: the remote's default branch (HEAD)
    before = git_remote_file.head("main")
    image = f"{registry.host}/{repo_name}"
    cfg = tmp_path / "app.yaml"
    cfg.write_text(KUSTOMIZE_APP.format(image=image, url=git_remote_file.url, force=""))
    state = tmp_path / "state"

    dry = run_tagpilot("reconcile", "-f", cfg, "--state", state, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert git_remote_file.head("main") == before
    assert "# Application/argocd/kapp: would commit 1 file(s) to branch 'main' with the message:" in dry.stdout
    assert f"#   updates image {repo_name}/frontend tag 'latest' to 'latest@{digest}'" in dry.stdout
    assert f"+  - example/web={image}/frontend:latest@{digest}" in dry.stdout

    first = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert first.code == 0, first.stderr
    assert git_remote_file.read_exact("k/.argocd-source-kapp.yaml", "main") == (
        f"kustomize:\n  images:\n  - example/web={image}/frontend:latest@{digest}\n")
    web, api = app_view(first, "kapp")["status"]["images"]
    assert (web["currentFrom"], web["currentTag"], web["selectedTag"], web["strategy"]) == (
        "status.summary.images", "latest", f"latest@{digest}", "digest")
    # api is nowhere in the app's sources: not written without force-update, and the status says why
    assert api["selectedTag"] == "main-2222222" and "currentFrom" not in api
    assert api["reason"].startswith(f"not updated: {image}/backend is not in status.summary.images")
    assert "argocd-image-updater.argoproj.io/api.force-update" in api["reason"]

    cfg.write_text(KUSTOMIZE_APP.format(image=image, url=git_remote_file.url,
                                        force="    argocd-image-updater.argoproj.io/api.force-update: \"true\"\n"))
    forced = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert forced.code == 0, forced.stderr
    assert git_remote_file.read_exact("k/.argocd-source-kapp.yaml", "main") == (
        f"kustomize:\n  images:\n  - example/web={image}/frontend:latest@{digest}\n"
        f"  - {image}/backend:main-2222222\n")
    assert git_remote_file.message() == (f"build: automatic update of kapp\n\n"
                                         f"updates image {repo_name}/backend tag '' to 'main-2222222'")
    web = app_view(forced, "kapp")["status"]["images"][0]
    assert web["reason"] == (f"k/.argocd-source-kapp.yaml already sets latest@{digest} (the current tag latest "
                             "is from status.summary.images)")


def test_missing_pull_secret_fails_the_image_and_writes_nothing(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file)
    (cfg / "dockerhub-secret.yaml").unlink()
    app = cfg / "application.yaml"
    app.write_text(app.read_text().replace("  annotations:\n", "  annotations:\n"
                                           "    argocd-image-updater.argoproj.io/frontend.allow-tag: x\n"))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    ready = next(c for c in app_view(result)["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert "annotation argocd-image-updater.argoproj.io/frontend.pull-secret refers to Secret " \
           "argocd/dockerhub-secret, which is not in the configuration" in ready["message"]
    assert git_remote_file.head("main") == before
    # a misspelt annotation is a warning naming it, the file and the line of the object
    assert f"Application/argocd/example ({cfg / 'application.yaml'}:8): annotation " \
           "argocd-image-updater.argoproj.io/frontend.allow-tag: not an Argo CD Image Updater annotation" \
           in result.stderr


def test_repository_credentials_over_http_and_a_separate_push_branch(
        registry: RegistryServer, repo_name: str, git_http: GitRemote, tmp_path: Path) -> None:
    """`write-back-method: git` pushes with the Argo CD repository Secret of the URL (`argocd repo add`);
    `git-branch: main:image-updates` checks out main and pushes to image-updates."""
    seed_registry(registry, repo_name)
    seed_chart(git_http, registry, repo_name)
    before = git_http.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_http)
    repo_secret = cfg / "repo-secret.yaml"
    repo_secret.write_text(repo_secret.read_text().replace("username: USERNAME", f"username: {git_http.username}")
                           .replace("password: PASSWORD", f"password: {git_http.password}"))
    app = cfg / "application.yaml"
    app.write_text(app.read_text().replace(
        "write-back-method: git\n", "write-back-method: git\n    argocd-image-updater.argoproj.io/git-branch: "
                                    "main:image-updates\n"))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr
    assert git_http.head("main") == before
    assert git_http.git("rev-parse", "image-updates~1") == before
    assert "value: main-bbbbbbb" in git_http.read_exact(".argocd-source-example.yaml", "image-updates")
    assert app_view(result)["status"]["lastPushCommit"] == git_http.head("image-updates")


def test_git_secret_with_a_wrong_password_fails_without_showing_it(
        registry: RegistryServer, repo_name: str, git_http: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_http, registry, repo_name)
    before = git_http.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_http)
    app = cfg / "application.yaml"
    app.write_text(app.read_text().replace("write-back-method: git\n", "write-back-method: git:secret:git-creds\n"))
    (cfg / "git-creds.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: git-creds, namespace: argocd}\n"
        f"stringData: {{username: {git_http.username}, password: wr0ng-pa55word}}\n")
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    ready = next(c for c in app_view(result)["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "AuthenticationFailed", ready
    assert "wr0ng-pa55word" not in result.stdout + result.stderr
    assert git_http.head("main") == before


def test_commit_template_reads_the_new_images_config_labels(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    """`.Labels` of `.AppChanges` are the OCI config labels of the new image (empty when it has none)."""
    seed_registry(registry, repo_name)
    push_tags(registry, f"{repo_name}/frontend", ["main-ddddddd"], created=_day(7),
              labels={"org.opencontainers.image.revision": "0123abc", "team": "web"})
    seed_chart(git_remote_file, registry, repo_name)
    template = ("{{ .AppName }}\n{{ range .AppChanges }}{{ .NewTag }}:{{ range $k, $v := .Labels }} {{ $k }}={{ $v }}"
                "{{ end }};{{ end }}")
    cm = ("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-image-updater-config, namespace: argocd}\n"
          f"data:\n  git.commit-message-template: {json.dumps(template)}\n")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file, extra=cm)
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr
    assert git_remote_file.message() == (
        "example\nmain-ddddddd: org.opencontainers.image.revision=0123abc team=web;main-1111111:;")
