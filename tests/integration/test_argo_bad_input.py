"""Bad input on an Argo CD Application, against the real registry and git remote: each is reported
clearly (condition, or a load error naming file, line, object and annotation) and nothing is written.
(A missing pull Secret: test_argo_cli.test_missing_pull_secret_fails_the_image_and_writes_nothing; a
bad allow-tags regexp: below; a broken branch template: test_argo_write_targets.)"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_argo_cli import app_view, local_config, seed_chart, seed_registry

P = "argocd-image-updater.argoproj.io/"


def _setup(registry: RegistryServer, repo: str, remote: GitRemote, tmp_path: Path, old: str, new: str) -> Path:
    seed_registry(registry, repo)
    seed_chart(remote, registry, repo)
    cfg = local_config(tmp_path, registry, repo, remote)
    app = cfg / "application.yaml"
    text = app.read_text()
    assert old in text
    app.write_text(text.replace(old, new))
    return cfg


def _ready(result, name: str = "example") -> dict:
    return next(c for c in app_view(result, name)["status"]["conditions"] if c["type"] == "Ready")


def test_unknown_strategy_falls_back_to_semver_with_a_warning_and_writes_nothing(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    """As upstream: an unknown strategy is semver (with a warning); the `main-<sha>` tags are not semver,
    so no tag qualifies: the Application is not Ready, says why per image, and git is untouched."""
    cfg = _setup(registry, repo_name, git_remote_file, tmp_path, f"{P}update-strategy: latest",
                 f"{P}update-strategy: newest")
    before = git_remote_file.head("main")
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    assert git_remote_file.head("main") == before
    view = app_view(result)
    assert [(w["annotation"], w["message"].split(";")[0]) for w in view["status"]["warnings"]] == [
        (f"{P}update-strategy", "unknown update strategy 'newest'")] * 2  # once per image it applies to
    assert "unknown update strategy 'newest'" in result.stderr  # and said on the terminal
    assert [i["strategy"] for i in view["status"]["images"]] == ["semver", "semver"]
    ready = _ready(result)
    assert ready["status"] == "False" and "frontend:" in ready["message"] and "backend:" in ready["message"]
    assert all(i["reason"].startswith("no tag selected") for i in view["status"]["images"])


def test_bad_allow_tags_regexp_matches_nothing_and_writes_nothing(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    cfg = _setup(registry, repo_name, git_remote_file, tmp_path, f"{P}frontend.allow-tags: regexp:^main",
                 f"{P}frontend.allow-tags: regexp:^(main")
    before = git_remote_file.head("main")
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    # as upstream, the image that selected nothing is skipped and the other one is still updated:
    # nothing is written for frontend
    assert git_remote_file.git("rev-parse", "main~1") == before
    written = git_remote_file.read_exact(".argocd-source-example.yaml", "main")
    assert "backend.tag" in written and "frontend" not in written
    frontend = app_view(result)["status"]["images"][0]
    assert frontend["reason"].startswith("no tag selected") and "selectedTag" not in frontend
    assert "frontend:" in _ready(result)["message"]


def test_helm_and_kustomize_both_set_is_a_load_error_naming_the_annotation(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    cfg = _setup(registry, repo_name, git_remote_file, tmp_path, f"    {P}image-list:",
                 f"    {P}frontend.kustomize.image-name: web\n    {P}image-list:")
    before = git_remote_file.head("main")
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 2, result.stdout
    assert f"{cfg / 'application.yaml'}:" in result.stderr and "Application/argocd/example" in result.stderr
    assert "both helm and kustomize manifest targets" in result.stderr
    assert f"{P}frontend.kustomize.image-name" in result.stderr
    assert git_remote_file.head("main") == before
