"""The Argo CD part of `make demo`: the seed-001 Application (examples/argo-style) updated end to end.

The Application of the tutorial our Argo CD users follow — two aliased images, `main-<sha>` tags
picked by `allow-tags: regexp:^main` and the newest build, Helm parameters, `write-back-method: git`
— with its placeholders replaced by the local registry and a local deployment repository. tagpilot
shows the diff it would write, commits `.argocd-source-example.yaml` with upstream's message and
author, reports per image where the current tag was read, and commits nothing on the next run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fixtures.git import GitRemote, git_env
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer

EXAMPLE = Path(__file__).resolve().parents[1] / "argo-style"
SEED_REPO = "https://github.com/Hugh-yw/kubernetes-example-helm.git"


def _local_config(work: Path, registry: RegistryServer, remote: GitRemote) -> Path:
    """examples/argo-style/config with the images, repository and credentials made local."""
    config = work / "argo-config"
    config.mkdir(parents=True)
    images = {"cyw/frontend": f"{registry.host}/cyw/frontend", "cyw/backend": f"{registry.host}/cyw/backend"}
    for name in ("application.yaml", "dockerhub-secret.yaml", "repo-secret.yaml"):
        text = (EXAMPLE / "config" / name).read_text().replace(SEED_REPO, remote.url)
        for old, new in images.items():
            text = text.replace(old, new)
        if name == "dockerhub-secret.yaml":  # the demo registry accepts anyone; the Secret still names it
            auths = json.dumps({"auths": {registry.host: {"username": "demo", "password": "demo"}}})
            text = text.split("  .dockerconfigjson: |\n")[0] + f"  .dockerconfigjson: '{auths}'\n"
        (config / name).write_text(text)
    return config


def argo_demo(work: Path, registry: RegistryServer, tagpilot: Callable[..., Any],
              banner: Callable[[str], None]) -> None:
    banner("Argo CD Image Updater: the tutorial's Application, annotations unchanged")
    for image, builds in (("cyw/frontend", [("main-e1f492f", 3), ("main-5c0a7d2", 1), ("feature-x", 9)]),
                          ("cyw/backend", [("main-1111111", 4), ("main-2222222", 2)])):
        for tag, day in builds:
            push_tags(registry, image, [tag], created=datetime(2026, 11, day, tzinfo=UTC))
        print(f"pushed {image}: {', '.join(f'{t} (built Nov {d})' for t, d in builds)}")
    remote = GitRemote.create(work / "git", "argo-helm.git", env=git_env(work / "git-home"))
    files = {str(p.relative_to(EXAMPLE / "deploy-repo")): p.read_text().replace("cyw/", f"{registry.host}/cyw/")
             for p in sorted((EXAMPLE / "deploy-repo").rglob("*")) if p.is_file()}
    remote.commit(files, message="the example chart")
    config = _local_config(work, registry, remote)
    print(f"the Helm chart repository the Application deploys: {remote.url}")

    banner("what the Application would write (nothing is pushed)")
    tagpilot("reconcile", "-f", str(config), "--dry-run")
    banner("reconcile: newest main-* build of each image, .argocd-source-example.yaml committed beside the chart")
    tagpilot("reconcile", "-f", str(config))
    print("$ git log -1 -p (the chart repository)")
    print(remote.git("log", "-1", "-p", "--format=%h %an <%ae>%n%n%B", "main"))
    tagpilot("get", "applications", "-f", str(config))
    head = remote.head("main")
    banner("the next run: everything is up to date, nothing is committed")
    tagpilot("reconcile", "-f", str(config))
    if remote.head("main") != head:
        raise SystemExit("demo failed: the second Argo run committed although nothing was new")
