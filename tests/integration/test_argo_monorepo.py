"""Monorepo batching, better than upstream: 50 Applications writing to one repository and branch land in
ONE commit of one run (upstream serialises them behind a per-repository lock, #175/#475/#961/#1572), and
the rejected-push retry applies: another writer that lands on the branch while tagpilot pushes (a real
`pre-receive` hook in the real bare repository commits first) is rebased on, not overwritten."""

from __future__ import annotations

import os
from pathlib import Path

from tests.fixtures.git import GitRemote
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_argo_cli import EXAMPLE, app_view, localize, seed_app, seed_registry

APPS = 50

# On the first push only, another writer's commit lands on main (git's quarantine is left so that the
# commit is real); receive-pack then refuses ours: "cannot lock ref 'refs/heads/main': is at X but expected Y".
RACING_HOOK = """#!/bin/sh
[ -e "$GIT_DIR/raced" ] && exit 0
touch "$GIT_DIR/raced"
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
export GIT_INDEX_FILE="$GIT_DIR/race-index" GIT_AUTHOR_NAME=racer GIT_AUTHOR_EMAIL=racer@example.invalid
export GIT_COMMITTER_NAME=racer GIT_COMMITTER_EMAIL=racer@example.invalid
parent=$(git rev-parse refs/heads/main)
git read-tree "$parent"
blob=$(echo "another writer" | git hash-object -w --stdin)
git update-index --add --cacheinfo "100644,$blob,RACE.txt"
commit=$(git commit-tree "$(git write-tree)" -p "$parent" -m "another writer")
git update-ref refs/heads/main "$commit" "$parent"
exit 0
"""


def applications(registry: RegistryServer, repo: str, url: str) -> str:
    return "---\n".join(seed_app(registry, repo, url, name=f"app-{i:02d}", path=f"apps/app-{i:02d}",
                                 pull_secret=False) for i in range(APPS))


def test_fifty_applications_one_commit_and_the_rejected_push_retry(
        registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path) -> None:
    seed_registry(registry, repo_name)
    files = {}
    for i in range(APPS):
        for path in sorted((EXAMPLE / "deploy-repo").rglob("*")):
            if path.is_file():
                rel = path.relative_to(EXAMPLE / "deploy-repo")
                files[f"apps/app-{i:02d}/{rel}"] = localize(path.read_text(), registry, repo_name)
    before = git_remote_file.commit(files, message="fifty charts")
    hook = git_remote_file.path / "hooks" / "pre-receive"
    hook.write_text(RACING_HOOK)
    os.chmod(hook, 0o755)
    cfg = tmp_path / "apps.yaml"
    cfg.write_text(applications(registry, repo_name, git_remote_file.url))

    result = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json", timeout=300)
    assert result.code == 0, result.stderr[-3000:]
    head = git_remote_file.head("main")
    # ours, on top of the other writer's commit, on top of the seed: ONE commit for fifty applications
    assert git_remote_file.log("main")[:3] == [f"build: automatic update of {APPS} applications", "another writer",
                                               "fifty charts"]
    assert git_remote_file.git("rev-parse", "main~2") == before
    assert git_remote_file.read_exact("RACE.txt", "main") == "another writer\n"  # not overwritten
    changed = git_remote_file.git("diff", "--name-only", "main~1", "main").split()
    assert changed == [f"apps/app-{i:02d}/.argocd-source-app-{i:02d}.yaml" for i in range(APPS)]
    for i in (0, APPS - 1):
        assert "value: main-bbbbbbb" in git_remote_file.read_exact(f"apps/app-{i:02d}/.argocd-source-app-{i:02d}.yaml")
        assert app_view(result, f"app-{i:02d}")["status"]["lastPushCommit"] == head
    body = git_remote_file.message()
    assert body.count("build: automatic update of app-") == APPS  # every application's own message is kept

    again = run_tagpilot("reconcile", "-f", cfg, "--state", tmp_path / "state", "-o", "json", timeout=300)
    assert again.code == 0, again.stderr[-3000:]
    assert git_remote_file.head("main") == head
