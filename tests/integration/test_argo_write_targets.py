"""Argo CD write-back targets `helmvalues[:file]` and `kustomization[:dir]` against the real registry and a
real git remote: the file is edited in place byte-exactly (only the changed scalars move), committed with
upstream's message, and a second run commits nothing."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import Pusher
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_argo_cli import app_view, expected_message, local_config, seed_chart, seed_registry

P = "    argocd-image-updater.argoproj.io/"

VALUES = """\
# values of the example chart: comments, order and anchors must survive
common: &common
  pullPolicy: IfNotPresent   # keep
frontend:
  <<: *common
  image: {image}/frontend
  tag: "main-0000000"   # updated by the image updater
backend:
  image: {image}/backend
replicas: 2
"""


def test_helmvalues_target_edits_the_values_file_in_place(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    image = f"{registry.host}/{repo_name}"
    git_remote_file.commit({"env/prod.yaml": VALUES.format(image=image)}, message="prod values")
    before = git_remote_file.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file)
    app = cfg / "application.yaml"
    target = f"{P}write-back-target: helmvalues:/env/prod.yaml\n"
    app.write_text(app.read_text().replace("write-back-method: git\n", f"write-back-method: git\n{target}"))

    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr + result.stdout
    assert git_remote_file.git("rev-parse", "main~1") == before
    assert git_remote_file.read_exact("env/prod.yaml", "main") == VALUES.format(image=image).replace(
        '"main-0000000"', '"main-bbbbbbb"').replace(
        "replicas: 2", "  tag: main-1111111\nreplicas: 2")
    assert ".argocd-source-example.yaml" not in git_remote_file.git("ls-tree", "--name-only", "main").split()
    assert git_remote_file.message() == expected_message(repo_name)
    view = app_view(result)
    assert view["status"]["sourceFile"] == "env/prod.yaml"
    # frontend's current tag is read from the target itself; backend has none there, so the chart's values.yaml
    assert [(i["currentFrom"], i["currentTag"]) for i in view["status"]["images"]] == [
        ("env/prod.yaml", "main-0000000"), ("values.yaml", "main-0000000")]

    head = git_remote_file.head("main")
    again = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert again.code == 0, again.stderr
    assert git_remote_file.head("main") == head
    assert [i["reason"] for i in app_view(again)["status"]["images"]] == [
        "up to date at main-bbbbbbb", "up to date at main-1111111"]


KAPP = """\
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
    argocd-image-updater.argoproj.io/api.force-update: "true"
    argocd-image-updater.argoproj.io/write-back-method: git
    argocd-image-updater.argoproj.io/write-back-target: {target}
spec:
  destination: {{namespace: web, server: https://kubernetes.default.svc}}
  source:
    repoURL: {url}
    targetRevision: main
    path: overlays/prod
"""

KUSTOMIZATION = """\
---
# base of the web app
resources:
  - deployment.yaml

images:
  - name: example/web  # the web front end
    newTag: "1"
    tagSuffix: -alpine
  - name: example/other
    tagSuffix: -slim

labels:
  - pairs: {{app: web}}
"""


def test_kustomization_target_sets_the_images_entries(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    with Pusher(registry) as pusher:
        digest = pusher.get_manifest(f"{repo_name}/frontend", "latest")[2]
    git_remote_file.commit({"base/kustomization.yaml": KUSTOMIZATION.format(),
                            "base/deployment.yaml": "kind: Deployment\n",
                            "overlays/prod/kustomization.yaml": "resources: [../../base]\n"}, message="kustomize")
    before = git_remote_file.head("main")
    image = f"{registry.host}/{repo_name}"
    cfg = tmp_path / "app.yaml"
    cfg.write_text(KAPP.format(image=image, url=git_remote_file.url, target="kustomization:../../base"))

    dry = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "--dry-run")
    assert dry.code == 0, dry.stderr
    assert git_remote_file.head("main") == before
    assert f"+    newName: {image}/frontend" in dry.stdout

    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr + result.stdout
    # the changed entry loses the key upstream's ElementSetter does not write (tagSuffix); the other keeps it
    assert git_remote_file.read_exact("base/kustomization.yaml", "main") == KUSTOMIZATION.format().replace(
        '  - name: example/web  # the web front end\n    newTag: "1"\n    tagSuffix: -alpine\n',
        f'  - name: example/web  # the web front end\n    newName: {image}/frontend\n    newTag: "latest"\n'
        f'    digest: {digest}\n'
    ).replace("\nlabels:", f"  - name: {image}/backend\n    newTag: main-2222222\n\nlabels:")
    assert "  - name: example/other\n    tagSuffix: -slim\n" in git_remote_file.read_exact("base/kustomization.yaml")
    assert git_remote_file.read_exact("overlays/prod/kustomization.yaml", "main") == "resources: [../../base]\n"
    web = app_view(result, "kapp")["status"]["images"][0]
    assert (web["currentFrom"], web["currentTag"]) == ("base/kustomization.yaml", "1")
    head = git_remote_file.head("main")
    again = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert again.code == 0 and git_remote_file.head("main") == head, again.stderr


def test_kustomization_target_without_a_kustomization_fails_and_writes_nothing(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    git_remote_file.commit({"overlays/prod/kustomization.yaml": "resources: []\n", "other/x.yaml": "a: 1\n"},
                           message="no kustomization in other/")
    before = git_remote_file.head("main")
    cfg = tmp_path / "app.yaml"
    cfg.write_text(KAPP.format(image=f"{registry.host}/{repo_name}", url=git_remote_file.url,
                               target="kustomization:/other"))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    ready = next(c for c in app_view(result, "kapp")["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert "no kustomization.yaml, kustomization.yml, Kustomization in 'other'" in ready["message"]
    assert git_remote_file.head("main") == before


def test_git_branch_template_pushes_to_the_rendered_branch_and_reuses_it(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    """`git-branch: main:<template>` checks out main and pushes to the branch the template renders from
    the changes (`.AppName`, `.Images` with `.Alias`/`.NewTag`, `.SHA256`); the next run finds the branch
    already holds the update and commits nothing; main is never touched."""
    import hashlib

    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file)
    app = cfg / "application.yaml"
    template = "main:{{.AppName}}{{range .Images}}-{{.Alias}}-{{.NewTag}}{{end}}-{{.SHA256}}"
    app.write_text(app.read_text().replace("write-back-method: git\n",
                                           f"write-back-method: git\n{P}git-branch: '{template}'\n"))
    image = f"{registry.host}/{repo_name}"
    sha = hashlib.sha256(f"{repo_name}/frontend-main-0000000-main-bbbbbbb,{repo_name}/backend-main-0000000-"
                         "main-1111111,".encode()).hexdigest()  # upstream's .Name drops the registry
    branch = f"example-frontend-main-bbbbbbb-backend-main-1111111-{sha}"

    # --dry-run names the rendered branch beside the diff and the message, and pushes nothing
    dry = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "--dry-run")
    assert dry.code == 0, dry.stderr
    assert dry.stdout.startswith(f"# Application/argocd/example: would commit 1 file(s) to branch '{branch}' "
                                 "with the message:\n#   build: automatic update of example\n"), dry.stdout
    assert "+  - name: frontend.tag\n+    value: main-bbbbbbb\n" in dry.stdout
    dry_json = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "--dry-run", "-o", "json")
    assert dry_json.code == 0, dry_json.stderr
    assert app_view(dry_json)["dryRun"]["branch"] == branch
    assert git_remote_file.branches() == ["main"] and git_remote_file.head("main") == before

    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr + result.stdout
    assert git_remote_file.head("main") == before
    assert git_remote_file.git("rev-parse", f"{branch}~1") == before
    assert f"value: {image}/frontend" in git_remote_file.read_exact(".argocd-source-example.yaml", branch)
    ready = next(c for c in app_view(result)["status"]["conditions"] if c["type"] == "Ready")
    assert f"to branch '{branch}'" in ready["message"]

    head = git_remote_file.head(branch)
    again = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert again.code == 0, again.stderr
    assert git_remote_file.head(branch) == head and git_remote_file.head("main") == before


def test_a_broken_branch_template_is_stalled_and_writes_nothing(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    before = git_remote_file.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file)
    app = cfg / "application.yaml"
    app.write_text(app.read_text().replace("write-back-method: git\n",
                                           f"write-back-method: git\n{P}git-branch: 'main:up-{{{{.Images'\n"))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    stalled = next(c for c in app_view(result)["status"]["conditions"] if c["type"] == "Stalled")
    assert stalled["reason"] == "BranchTemplateFailed"
    assert "git branch name could not be created from the template: up-{{.Images" in stalled["message"]
    assert git_remote_file.branches() == ["main"] and git_remote_file.head("main") == before


MULTI = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  annotations:
    argocd-image-updater.argoproj.io/image-list: fe={image}/frontend
    argocd-image-updater.argoproj.io/fe.update-strategy: alphabetical
    argocd-image-updater.argoproj.io/fe.allow-tags: regexp:^main-
    argocd-image-updater.argoproj.io/fe.helm.image-tag: frontend.tag
    argocd-image-updater.argoproj.io/fe.helm.image-name: frontend.image
    argocd-image-updater.argoproj.io/write-back-method: git
    argocd-image-updater.argoproj.io/git-repository: {url}
    argocd-image-updater.argoproj.io/write-back-target: helmvalues:/env/prod/values.yaml
spec:
  destination: {{namespace: web, server: https://kubernetes.default.svc}}
  sources:
  - repoURL: https://charts.example.invalid
    chart: web
    targetRevision: 1.2.0
    helm:
      valueFiles: [$values/env/prod/values.yaml]
  - repoURL: {url}
    targetRevision: release
    ref: values
"""


def test_multi_source_app_writes_the_values_repository_on_its_revision(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    """The common multi-source layout: a chart from a Helm repository, values from git (`ref: values`).
    Upstream picks the Helm source; `git-repository` names the values repository, whose source's
    targetRevision (`release`) is the branch written."""
    seed_registry(registry, repo_name)
    image = f"{registry.host}/{repo_name}"
    values = f"frontend:\n  image: {image}/frontend\n  tag: main-aaaaaaa  # pinned by CI\n"
    git_remote_file.commit({"env/prod/values.yaml": values}, message="values", branch="release")
    main_before = git_remote_file.head("main")
    cfg = tmp_path / "app.yaml"
    cfg.write_text(MULTI.format(image=image, url=git_remote_file.url))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr + result.stdout
    assert git_remote_file.read_exact("env/prod/values.yaml", "release") == values.replace(
        "main-aaaaaaa", "main-ccccccc")
    assert git_remote_file.head("main") == main_before
    fe = app_view(result, "web")["status"]["images"][0]
    assert (fe["currentFrom"], fe["currentTag"], fe["selectedTag"]) == ("env/prod/values.yaml", "main-aaaaaaa",
                                                                        "main-ccccccc")
