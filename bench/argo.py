"""Benchmark: one full Argo CD Image Updater cycle for 1,000 Applications × 2 images, one deployment repo.

Upstream serialises the Applications of one repository behind a per-repository lock and makes one
clone, commit and push per Application (13 minutes a cycle for ~500 apps: argocd-image-updater #175,
#475, #961, #1572). tagpilot lands all of them in ONE commit. This measures it; it prints figures and a
ratio and never passes or fails on time; every run is verified before a figure is printed.

Set-up (not timed): a real CNCF registry (Debian `docker-registry`) on 127.0.0.1 with `--apps` × 2
distinct repositories (`bench/app-NNNN-frontend`, `-backend`), each with two `main-<sha>` builds of
different `created` dates; a bare git remote (file://) with one Helm chart directory per Application
(`apps/app-NNNN/Chart.yaml`, `values.yaml` at `main-aaaaaaa`); one configuration file with the
Applications, each the seed-001 Application (two aliased images, `allow-tags: regexp:^main`,
`update-strategy: newest-build`, Helm parameters, `write-back-method: git`) with its own path.

1. tagpilot: `tagpilot reconcile -f APPS --state STATE -o json` in a subprocess, from an empty state
   directory: list 2,000 repositories' tags, fetch each allowed tag's image config (`created`),
   select, clone, write 1,000 `.argocd-source-app-NNNN.yaml` files, one commit, one push. Wall time
   and the peak RSS of that process (`wait4`). Verified: the remote's main moved by exactly one
   commit that changes exactly the 1,000 files, each naming `main-bbbbbbb`, and every Application's
   status names that commit. Then the same command again (nothing new: scan, select, fetch, no
   commit): the fixed cost of a cycle.
2. Baseline, the same number of plain `git commit` runs: in a clone of an identical remote, for each
   Application, write the very file tagpilot wrote, `git add` it and `git commit` (upstream's shape:
   one commit per Application, here without its clone, fetch and push, so a floor for it). Wall time
   and the peak RSS of the largest git process. Verified: the final tree is byte-identical to the
   tree of tagpilot's commit.

Everything lives in a temporary directory (by default on /dev/shm) and is removed at the end.

    .venv/bin/python bench/argo.py [--apps N] [--tmpdir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from measure import run_measured  # noqa: E402
from tests.fixtures.git import GitRemote, git_env, run_git  # noqa: E402
from tests.fixtures.pusher import Pusher, build_image  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402

OLD, NEW = "main-aaaaaaa", "main-bbbbbbb"
CHART = "apiVersion: v2\nname: app-{i}\nversion: 0.1.0\n"
VALUES = """\
# image names and tags the image updater overrides in .argocd-source-app-{i}.yaml
frontend:
  image: {host}/bench/app-{i}-frontend
  tag: {old}
backend:
  image: {host}/bench/app-{i}-backend
  tag: {old}
"""
APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: app-{i}
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: >-
      frontend={host}/bench/app-{i}-frontend, backend={host}/bench/app-{i}-backend
    argocd-image-updater.argoproj.io/update-strategy: newest-build
    argocd-image-updater.argoproj.io/allow-tags: regexp:^main
    argocd-image-updater.argoproj.io/frontend.helm.image-name: frontend.image
    argocd-image-updater.argoproj.io/frontend.helm.image-tag: frontend.tag
    argocd-image-updater.argoproj.io/backend.helm.image-name: backend.image
    argocd-image-updater.argoproj.io/backend.helm.image-tag: backend.tag
    argocd-image-updater.argoproj.io/write-back-method: git
spec:
  destination: {{namespace: app-{i}, server: https://kubernetes.default.svc}}
  project: default
  source: {{repoURL: {url}, path: apps/app-{i}, targetRevision: main}}
"""


def seed_registry(registry: RegistryServer, apps: int) -> None:
    old = build_image(created=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    new = build_image(created=dt.datetime(2024, 1, 2, tzinfo=dt.UTC))
    with Pusher(registry) as pusher:
        for i in range(apps):
            for part in ("frontend", "backend"):
                pusher.push(f"bench/app-{i:04d}-{part}", old, [OLD])
                pusher.push(f"bench/app-{i:04d}-{part}", new, [NEW])


def seed_repo(remote: GitRemote, host: str, apps: int) -> str:
    files = {}
    for i in range(apps):
        files[f"apps/app-{i:04d}/Chart.yaml"] = CHART.format(i=f"{i:04d}")
        files[f"apps/app-{i:04d}/values.yaml"] = VALUES.format(i=f"{i:04d}", host=host, old=OLD)
    return remote.commit(files, message=f"{apps} charts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, default=1000)
    parser.add_argument("--tmpdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    opts = parser.parse_args()
    apps = opts.apps
    work = Path(tempfile.mkdtemp(prefix="tagpilot-bench-argo-", dir=opts.tmpdir))
    registry = RegistryServer(workdir=work / "registry", auth="none").start()
    try:
        env = git_env(work / "home")
        t0 = time.perf_counter()
        seed_registry(registry, apps)
        ours = GitRemote.create(work / "remotes", "ours.git", env=env)
        plain = GitRemote.create(work / "remotes", "plain.git", env=env)
        seed = seed_repo(ours, registry.host, apps)
        plain_seed = seed_repo(plain, registry.host, apps)
        config = work / "apps.yaml"
        config.write_text("---\n".join(APP.format(i=f"{i:04d}", host=registry.host, url=ours.url)
                                       for i in range(apps)))
        print(f"set-up: {apps} Applications, {2 * apps} repositories x 2 tags, {2 * apps} chart files "
              f"({time.perf_counter() - t0:.1f}s, not counted)")

        cmd = [sys.executable, "-m", "tagpilot", "reconcile", "-f", str(config), "--state", str(work / "state"),
               "-o", "json"]
        run_env = {**os.environ, **env, "PYTHONPATH": str(ROOT / "src")}
        cycle, cycle_rss, out = run_measured(cmd, env=run_env)
        head = ours.head("main")
        if ours.git("rev-list", "--count", f"{seed}..main") != "1":
            raise SystemExit(f"expected exactly one new commit on main, got {ours.log('main')[:3]}")
        changed = ours.git("diff", "--name-only", "main~1", "main").split()
        want = [f"apps/app-{i:04d}/.argocd-source-app-{i:04d}.yaml" for i in range(apps)]
        if changed != want:
            raise SystemExit(f"the commit changes {len(changed)} files, not the {apps} expected")
        for i in (0, apps // 2, apps - 1):
            if f"value: {NEW}" not in ours.read_exact(want[i], "main"):
                raise SystemExit(f"{want[i]} does not name {NEW}")
        views = [v for v in json.loads(out) if v["kind"] == "Application"]
        if len(views) != apps or any(v["status"].get("lastPushCommit") != head for v in views):
            raise SystemExit("not every Application's status names the one commit")
        idle, idle_rss, _ = run_measured(cmd, env=run_env)
        if ours.head("main") != head:
            raise SystemExit("the second cycle committed although nothing was new")

        clone = work / "plain-clone"
        run_git(["clone", "--quiet", plain.url, str(clone)], env=env)
        contents = {path: ours.read_exact(path, "main") for path in want}
        start = time.perf_counter()
        git_rss = 0.0
        for i, path in enumerate(want):
            (clone / path).write_text(contents[path])
            for args in (["git", "add", "--", path],
                         ["git", "commit", "--quiet", "-m", f"build: automatic update of app-{i:04d}"]):
                _, rss, _ = run_measured(args, env=env, cwd=clone)
                git_rss = max(git_rss, rss)
        baseline = time.perf_counter() - start
        plain_tree = run_git(["rev-parse", "HEAD^{tree}"], env=env, cwd=clone)
        if plain_tree != ours.git("rev-parse", "main^{tree}"):
            raise SystemExit("plain git's final tree differs from tagpilot's commit")
        if run_git(["rev-list", "--count", f"{plain_seed}..HEAD"], env=env, cwd=clone) != str(apps):
            raise SystemExit("plain git did not make one commit per Application")

        print(f"tagpilot, one full cycle (scan {2 * apps} images, select, write {apps} files, 1 commit, 1 push): "
              f"{cycle:7.2f} s   peak RSS {cycle_rss:5.0f} MiB")
        print(f"tagpilot, next cycle, nothing new (scan, select, fetch, no commit):            "
              f"{idle:7.2f} s   peak RSS {idle_rss:5.0f} MiB")
        print(f"plain git, {apps} x (write, git add, git commit), no clone/fetch/push:           "
              f"{baseline:7.2f} s   peak RSS {git_rss:5.0f} MiB (largest git process)")
        print(f"ratio tagpilot cycle / plain git commits: {cycle / baseline:.2f}x "
              f"({apps / cycle:.0f} applications/s vs {apps / baseline:.0f} commits/s)")
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
