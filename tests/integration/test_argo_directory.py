"""Directory (plain manifest) Applications against the real registry and a real git remote.

Upstream skips them; tagpilot updates the fields that setters markers `NS:APP/ALIAS[:part]` name
(examples/argo-style/directory-app), in the same one commit as the other Applications writing to
the repository; without a marker the Application stays Stalled with a message saying how to opt in,
and a marker naming an alias the Application does not have is an error naming file:line.
"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_argo_cli import EXAMPLE, app_view, local_config, localize, seed_chart, seed_registry

DIR_EXAMPLE = EXAMPLE / "directory-app"
DIR_REPO = "https://github.com/Hugh-yw/kubernetes-example-manifests.git"


def manifests(registry: RegistryServer, repo: str) -> dict[str, str]:
    """The example's manifests with the local registry in the image names."""
    base = DIR_EXAMPLE / "deploy-repo"
    return {str(p.relative_to(base)): localize(p.read_text(), registry, repo)
            for p in sorted(base.rglob("*")) if p.is_file()}


def directory_app(registry: RegistryServer, repo: str, remote: GitRemote, edit=lambda text: text) -> str:
    """The example Application (a second YAML document) with its placeholders replaced."""
    text = localize((DIR_EXAMPLE / "application.yaml").read_text(), registry, repo)
    return "---\n" + edit(text.replace(DIR_REPO, remote.url))


def condition(view: dict, type_: str) -> dict:
    return next(c for c in view["status"]["conditions"] if c["type"] == type_)


def test_directory_app_markers_are_rewritten_in_the_same_commit_as_the_chart_app(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    seed_chart(git_remote_file, registry, repo_name)
    files = manifests(registry, repo_name)
    git_remote_file.commit(files, message="plain manifests")
    before = git_remote_file.head("main")
    cfg = local_config(tmp_path, registry, repo_name, git_remote_file,
                       extra=directory_app(registry, repo_name, git_remote_file))
    state = tmp_path / "state"
    image = f"{registry.host}/{repo_name}"

    dry = run_tagpilot("reconcile", "-f", cfg, "--state", state, "--dry-run")
    assert dry.code == 0, dry.stderr
    assert f'+          image: {image}/frontend:main-bbbbbbb  # {{"$imagepolicy": "argocd:web-app/frontend"}}' \
        in dry.stdout
    assert git_remote_file.head("main") == before

    first = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert first.code == 0, first.stderr + first.stdout
    assert git_remote_file.git("rev-parse", "main~1") == before  # one commit for both Applications
    assert git_remote_file.log("main")[0] == "build: automatic update of 2 applications"
    assert git_remote_file.read_exact("web/frontend.yaml", "main") == files["web/frontend.yaml"].replace(
        "frontend:main-0000000", "frontend:main-bbbbbbb")
    assert git_remote_file.read_exact("web/backend.yaml", "main") == files["web/backend.yaml"].replace(
        "backend:main-0000000", "backend:main-1111111").replace('"main-0000000"', '"main-1111111"')
    assert "value: main-bbbbbbb" in git_remote_file.read_exact(".argocd-source-example.yaml", "main")
    assert f"updates image {repo_name}/backend tag 'main-0000000' to 'main-1111111'" in git_remote_file.message()
    view = app_view(first, "web-app")
    assert view["status"]["sourceFile"] == "web/backend.yaml, web/frontend.yaml"
    assert view["status"]["lastPushCommit"] == git_remote_file.head("main")
    assert [(i["alias"], i["currentTag"], i["currentFrom"], i["selectedTag"], i["reason"])
            for i in view["status"]["images"]] == [
        ("frontend", "main-0000000", "web/frontend.yaml:16", "main-bbbbbbb",
         "updated from main-0000000 to main-bbbbbbb"),
        ("backend", "main-0000000", "web/backend.yaml:15", "main-1111111",
         "updated from main-0000000 to main-1111111")]

    head = git_remote_file.head("main")
    again = run_tagpilot("reconcile", "-f", cfg, "--state", state, "-o", "json")
    assert again.code == 0, again.stderr
    assert git_remote_file.head("main") == head
    assert [(i["currentFrom"], i["reason"]) for i in app_view(again, "web-app")["status"]["images"]] == [
        ("web/frontend.yaml:16", "up to date at main-bbbbbbb"), ("web/backend.yaml:15", "up to date at main-1111111")]


def stalled_and_nothing_written(registry: RegistryServer, repo_name: str, remote: GitRemote, tmp_path: Path,
                                files: dict[str, str], message: str) -> dict:
    """Commit `files` to the remote, reconcile the directory app: exit 1, its Stalled condition (returned)
    and the remote's head where it was."""
    remote.commit(files, message=message)
    before = remote.head("main")
    cfg = tmp_path / "app.yaml"
    cfg.write_text(directory_app(registry, repo_name, remote))
    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 1
    assert remote.head("main") == before  # nothing written, not even correctly marked fields
    return condition(app_view(result, "web-app"), "Stalled")


def test_directory_app_without_markers_stays_stalled_and_says_how_to_opt_in(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    plain = {path: "".join(line.split("  # {")[0] + "\n" for line in text.splitlines())
             for path, text in manifests(registry, repo_name).items()}
    assert all("$imagepolicy" not in text for text in plain.values())
    stalled = stalled_and_nothing_written(registry, repo_name, git_remote_file, tmp_path, plain,
                                          "plain manifests without markers")
    assert stalled["reason"] == "UnsupportedConfiguration"
    assert "upstream skips Directory applications" in stalled["message"]
    assert '`image: <image>:<tag>  # {"$imagepolicy": "argocd:web-app/frontend"}`' in stalled["message"]


def test_directory_app_marker_naming_an_unknown_alias_is_an_error_naming_file_and_line(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    files = manifests(registry, repo_name)
    files["web/backend.yaml"] = files["web/backend.yaml"].replace("web-app/backend:tag", "web-app/api:tag")
    stalled = stalled_and_nothing_written(registry, repo_name, git_remote_file, tmp_path, files,
                                          "a marker with a typo")
    assert stalled["reason"] == "UnknownImageAlias"
    assert stalled["message"].startswith('web/backend.yaml:25: the setters marker {"$imagepolicy": '
                                         '"argocd:web-app/api:tag"} names image \'api\'')
    assert "(its images: backend, frontend)" in stalled["message"]
    assert "add `api=<image>` to the argocd-image-updater.argoproj.io/image-list annotation" in stalled["message"]
