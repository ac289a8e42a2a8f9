"""`argocd-image-updater-config`: registries.conf, commit identity and template, against the real
registry (htpasswd auth) and a git remote, for an ImageUpdater and an annotated Application alike."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from tests.fixtures.git import GitRemote
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_argo_cli import EXAMPLE, SEED_REPO, seed_chart, seed_registry
from tests.integration.test_argo_updater_cli import condition, view

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: argocd-image-updater-config, namespace: argocd}}
data:
  git.user: Release Bot
  git.email: bot@example.invalid
  git.commit-message-template: |
    chore({{{{ .AppName }}}}): images
    {{{{ range .AppChanges }}}}- {{{{ .Image }}}} {{{{ .OldTag }}}} -> {{{{ .NewTag }}}}
    {{{{ end }}}}
  log.levle: debug
  registries.conf: |
    registries:
    - name: Local
      prefix: registry.example
      api_url: http://{host}
      credentials: env:LOCAL_CREDS
      credsexpire: 5m
      defaultns: {ns}
      default: true
      limit: 50
      ping: true
      tagsortmode: none
"""

CR = """\
apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata: {{name: via-conf, namespace: argocd}}
spec:
  commonUpdateSettings: {{updateStrategy: newest-build, allowTags: "regexp:^main"}}
  writeBackConfig: {{method: git}}
  applicationRefs:
  - namePattern: example
    images:
    - alias: frontend
      imageName: frontend
      manifestTargets: {{helm: {{name: frontend.image, tag: frontend.tag}}}}
"""


def write_config(tmp_path: Path, registry: RegistryServer, repo: str, remote: GitRemote, *, cm: str) -> Path:
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "cm.yaml").write_text(cm)
    (cfg / "cr.yaml").write_text(CR.format())
    app = (EXAMPLE / "image-updater" / "application.yaml").read_text().replace(SEED_REPO, remote.url)
    (cfg / "application.yaml").write_text(app)
    return cfg


def test_registries_conf_routes_bare_images_with_credentials_and_commit_settings(
        registry_htpasswd: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    registry = registry_htpasswd
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    cm = CONFIGMAP.format(host=registry.host, ns=repo_name)
    cfg = write_config(tmp_path, registry, repo_name, git_remote_file, cm=cm)
    env = {"LOCAL_CREDS": f"{registry.user}:{registry.secret}"}

    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json", env=env)
    # the misspelt key is a warning naming file and line: exit 1, but the update is done
    assert f"{cfg / 'cm.yaml'}:11: ConfigMap/argocd/argocd-image-updater-config: log.levle: not a key" in result.stderr
    assert result.code == 1, result.stderr
    status = view(result, "ImageUpdater", "via-conf")["status"]
    assert condition(status, "Ready")["reason"] == "ReconcileSucceeded", status
    # `frontend` is read from the default registry's api_url under defaultns; the written name stays
    assert "  - name: frontend.image\n    value: frontend\n" in git_remote_file.read_exact(
        ".argocd-source-example.yaml", "main")
    assert "value: main-bbbbbbb" in git_remote_file.read_exact(".argocd-source-example.yaml", "main")
    assert git_remote_file.log("main", fmt="%an <%ae>")[0] == "Release Bot <bot@example.invalid>"
    assert git_remote_file.message() == "chore(example): images\n- frontend main-0000000 -> main-bbbbbbb"
    assert registry.secret not in result.stdout + result.stderr

    # without the credentials the registry refuses, and the image says so
    bad = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state2", "-o", "json",
                       env={"LOCAL_CREDS": f"{registry.user}:wrong"})
    assert bad.code == 1
    apps = view(bad, "ImageUpdater", "via-conf")["status"]["applications"]
    assert apps[0]["images"][0]["reason"].startswith("registry:"), apps
    assert "wrong" not in bad.stdout


def test_registries_conf_and_git_settings_apply_to_annotated_applications(
        registry_htpasswd: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    registry = registry_htpasswd
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    keyfile = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bot@example.invalid", "-f", str(keyfile)],
                   check=True)
    cm = CONFIGMAP.format(host=registry.host, ns=repo_name).replace(
        "  log.levle: debug\n", f"  git.commit-signing-method: ssh\n  git.commit-signing-key: {keyfile}\n")
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "cm.yaml").write_text(cm)
    app = (EXAMPLE / "config" / "application.yaml").read_text().replace(SEED_REPO, git_remote_file.url)
    app = app.replace("cyw/", "registry.example/").replace("pull-secret: pullsecret:argocd/dockerhub-secret",
                                                           "pull-secret: env:LOCAL_CREDS")
    (cfg / "application.yaml").write_text(app)
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json",
                          env={"LOCAL_CREDS": f"{registry.user}:{registry.secret}"})
    assert result.code == 0, result.stderr + result.stdout
    text = git_remote_file.read_exact(".argocd-source-example.yaml", "main")
    assert "value: registry.example/frontend\n" in text and "value: main-1111111\n" in text
    assert git_remote_file.log("main", fmt="%an <%ae>")[0] == "Release Bot <bot@example.invalid>"
    # signed with git.commit-signing-key (method ssh), verified by git
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'bot@example.invalid namespaces="git" {(tmp_path / "id_ed25519.pub").read_text()}')
    git_remote_file.git("-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-commit", "main")


def test_bad_registries_conf_is_a_load_error_naming_the_key(tmp_path: Path) -> None:
    cm = tmp_path / "cm.yaml"
    cm.write_text("""\
apiVersion: v1
kind: ConfigMap
metadata: {name: argocd-image-updater-config, namespace: argocd}
data:
  registries.conf: |
    registries:
    - {name: a, prefix: a.io, default: true}
    - {name: b, prefix: b.io, default: true, ratelimit: 5}
""")
    result = run_tagpilot("reconcile", "-f", cm, "--state", tmp_path / "s")
    assert result.code == 2
    assert f"{cm}:5" in result.stderr and "unknown field(s) ratelimit" in result.stderr
    assert "(the rate limit field is `limit`)" in result.stderr
    cm.write_text(cm.read_text().replace(", ratelimit: 5", ""))
    result = run_tagpilot("reconcile", "-f", cm, "--state", tmp_path / "s")
    assert result.code == 2
    assert "cannot set registry b.io as default - only one default registry allowed" in result.stderr
    cm.write_text(cm.read_text().replace("default: true}\n    - {name: b, prefix: b.io, default: true}",
                                         "default: true}") + "  git.commit-signing-key: ABCDEF12\n")
    result = run_tagpilot("reconcile", "-f", cm, "--state", tmp_path / "s")
    assert result.code == 2 and f"{cm}:8" in result.stderr and "a key id of a keyring is not supported" in result.stderr


def test_tagsortmode_trusts_the_registrys_list_order_instead_of_build_dates(
        registry_htpasswd: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    """With `tagsortmode`, newest-build reads no image configs (as upstream): the registry's list order
    names the newest (`latest-first` the first allowed tag listed, `latest-last` the last), whatever
    the build dates say (main-bbbbbbb is the newest build)."""
    registry = registry_htpasswd
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    listed = httpx.get(f"http://{registry.host}/v2/{repo_name}/frontend/tags/list",
                       auth=(registry.user, registry.secret)).json()["tags"]
    allowed = [t for t in listed if t.startswith("main")]
    assert len(allowed) == 3 and allowed[0] != allowed[-1]  # one of the two modes cannot pick main-bbbbbbb
    cm = CONFIGMAP.format(host=registry.host, ns=repo_name).replace("  log.levle: debug\n", "")
    env = {"LOCAL_CREDS": f"{registry.user}:{registry.secret}"}
    cfg = write_config(tmp_path, registry, repo_name, git_remote_file, cm=cm)
    for mode, expected in (("latest-last", allowed[-1]), ("latest-first", allowed[0])):
        (cfg / "cm.yaml").write_text(cm.replace("tagsortmode: none", f"tagsortmode: {mode}"))
        result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json", env=env)
        assert result.code == 0, result.stderr
        assert f"value: {expected}\n" in git_remote_file.read_exact(".argocd-source-example.yaml", "main"), mode
