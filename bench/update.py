"""Benchmark: write-back over a large manifest tree, against grep and against plain git.

Builds a tree of 10,000 YAML files (200 of them with setters markers) in a temporary directory and
measures three things; it prints figures and ratios and never passes or fails on time.

1. In process: `update_tree` (dry run, then a real write) against `grep -rl '"$imagepolicy"'`, which
   is the floor: reading every byte once.
2. The command line as a CI step runs it: `python -m tagpilot update --path TREE --set ...` in a
   subprocess against the `grep -rl` subprocess. The 200 marked files are put back before each run, so
   every run really rewrites them (checked after each run).
3. Commit and push: the tree lives in a bare git remote (file://); a local CNCF registry serves the
   image. `tagpilot reconcile -f CONFIG --state STATE` scans the registry, evaluates the ImagePolicies,
   rewrites the 200 files, commits and pushes. It runs twice: cold (the clone into the state
   directory's workspace cache is part of the run), then, after a new tag is pushed, warm (fetch only).
   Against it, plain git makes the same commit on an identical copy of the remote: cold is
   `git clone --depth 1`, `sed -i` on the 200 files, `git add -A && git commit && git push`; warm is
   the same in the clone it already has, after `git fetch` + `git reset --hard`. Every run is checked
   before any figure is printed: the remote head moved, a marked file has the new tag, and tagpilot's
   commit has exactly the tree plain git's commit has (the same bytes in every file). A third
   reconcile with nothing new (scan, evaluate, fetch, no commit) shows the fixed cost. This repeats
   for `--rounds` rounds, each from the seed commit and an empty state directory; best and median
   are printed, because writing 10,000 files costs whatever the disk is doing at that moment
   (`--tmpdir /dev/shm` takes the disk out of both sides).

    .venv/bin/python bench/update.py [--files N] [--marked M] [--repeat R] [--rounds N]
                                     [--tmpdir DIR] [--skip-update] [--skip-git]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.fixtures.git import GitRemote, git_env, run_git  # noqa: E402
from tests.fixtures.pusher import push_tags  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402

from tagpilot.update import ImageRef, update_tree  # noqa: E402

PLAIN = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}
  namespace: team-{team}
  labels:
    app.kubernetes.io/name: svc-{i}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: svc-{i}
  template:
    metadata:
      labels:
        app: svc-{i}
    spec:
      containers:
        - name: app
          image: registry.example.com/team-{team}/svc-{i}:1.0.{i}
          ports:
            - containerPort: 8080
          env:
            - name: LOG_LEVEL
              value: info
          resources:
            limits: {{cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
spec:
  ports:
    - port: 80
      targetPort: 8080
"""

MARKED_LINE = 'image: {image}:1.0.0 # {{"$imagepolicy": "flux-system:app-{p}"}}'
UNMARKED_LINE = "image: registry.example.com/team-{team}/svc-{i}:1.0.{i}"
DEFAULT_IMAGE = "registry.example.com/team-{team}/svc-{i}"


def build(root: Path, files: int, marked: int, policies: int, image: str = DEFAULT_IMAGE) -> dict[Path, bytes]:
    """Write `files` manifests in 100-file directories under `root/apps`; every (files // marked)-th is marked.

    A marked file's image is `image` (formatted with i/team/p) at tag 1.0.0, with a marker naming
    policy `flux-system:app-<i % policies>`. Returns the marked files and their original bytes, so a
    run can be undone by writing those bytes back.
    """
    step = max(files // max(marked, 1), 1)
    marked_line = MARKED_LINE.replace("{image}", image)
    template_marked = PLAIN.replace(UNMARKED_LINE, marked_line)
    originals: dict[Path, bytes] = {}
    for i in range(files):
        d = root / f"apps/team-{i % 20}/dir-{i // 100}"
        d.mkdir(parents=True, exist_ok=True)
        is_marked = len(originals) < marked and i % step == 0
        text = (template_marked if is_marked else PLAIN).format(i=i, team=i % 20, p=len(originals) % policies)
        path = d / f"svc-{i}.yaml"
        path.write_text(text)
        if is_marked:
            originals[path] = text.encode()
    return originals


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a command; stop the benchmark with its stderr when it fails (a failed run has no figure)."""
    proc = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv[:4]))} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def tagpilot_env() -> dict[str, str]:
    """The environment for `python -m tagpilot` subprocesses: our `src` importable, no stray state dir."""
    env = dict(os.environ)
    env.pop("TAGPILOT_STATE", None)
    # an installed tagpilot has its bytecode compiled; without this every run would recompile ~120 modules
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return env


def grep_marked(tree: Path) -> list[str]:
    out = subprocess.run(
        ["grep", "-rl", "--include=*.yaml", '"$imagepolicy"', str(tree)], capture_output=True, text=True, check=False
    ).stdout
    return out.splitlines()


# -- 1 and 2: update_tree and `tagpilot update` against grep -------------------------------------------------


def bench_update(files: int, marked: int, repeat: int, tmpdir: str | None) -> None:
    policies = {("flux-system", f"app-{p}"): ImageRef(f"registry.example.com/x/app-{p}", "2.0.0") for p in range(20)}
    tmp = Path(tempfile.mkdtemp(prefix="tagpilot-bench-update-", dir=tmpdir))
    try:
        originals = build(tmp, files, marked, len(policies))
        size = sum(p.stat().st_size for p in tmp.rglob("*.yaml"))
        print(f"tree: {files} files, {len(originals)} marked, {size / 1e6:.1f} MB")

        grep_times, dry_times = [], []
        grep_files = 0
        result: Any = None
        for _ in range(repeat):
            t, out = timed(lambda: grep_marked(tmp))
            grep_times.append(t)
            grep_files = len(out)
            t, result = timed(lambda: update_tree(tmp, ".", policies, dry_run=True))
            dry_times.append(t)
        write_time, written = timed(lambda: update_tree(tmp, ".", policies))
        if len(written.files) != len(originals) or grep_files != len(originals):
            raise SystemExit(f"expected {len(originals)} files; grep listed {grep_files}, wrote {len(written.files)}")

        # the command line, as a CI step runs it; every run starts from the unchanged tree
        sample = next(iter(originals))
        argv = [sys.executable, "-m", "tagpilot", "update", "--path", str(tmp)]
        for (ns, name), ref in policies.items():
            argv += ["--set", f"{ns}:{name}={ref.name}:{ref.tag}"]
        env = tagpilot_env()
        # what the command costs before it reads a file: the interpreter and the modules `update` imports
        floor_argv = [sys.executable, "-c", "import tagpilot.cli.main, tagpilot.cli.update_cmd"]
        cli_times, floor_times = [], []
        for _ in range(repeat):
            for path, data in originals.items():
                path.write_bytes(data)
            t, out = timed(lambda: run(argv, env=env))
            cli_times.append(t)
            updated = sum(line.startswith("updated ") for line in out.splitlines())
            if updated != len(originals) or b":2.0.0 #" not in sample.read_bytes():
                raise SystemExit(f"tagpilot update rewrote {updated} files, expected {len(originals)}")
            floor_times.append(timed(lambda: run(floor_argv, env=env))[0])

        grep_best, dry_best, cli_best, floor_best = min(grep_times), min(dry_times), min(cli_times), min(floor_times)
        print(f"grep -rl:                  {grep_best * 1000:8.1f} ms  ({grep_files} files listed)")
        print(
            f"update_tree (dry run):     {dry_best * 1000:8.1f} ms  "
            f"({len(result.files)} files, {len(result.changes)} changes, {result.scanned} read)"
        )
        print(f"update_tree (write):       {write_time * 1000:8.1f} ms  ({len(written.files)} files written)")
        print(
            f"tagpilot update (CLI):     {cli_best * 1000:8.1f} ms  ({len(originals)} files written, best of {repeat})"
        )
        print(f"  of which python + import: {floor_best * 1000:7.1f} ms  (`import tagpilot.cli.update_cmd`)")
        print(f"ratio dry run / grep:      {dry_best / grep_best:8.2f}x")
        print(f"ratio CLI / grep:          {cli_best / grep_best:8.2f}x  (goal: CLI <= 300 ms)")
        print(f"per marked file:           {(dry_best - grep_best) / max(len(originals), 1) * 1e6:8.0f} µs above grep")
    finally:
        shutil.rmtree(tmp)


# -- 3: reconcile's commit-and-push against plain git ---------------------------------------------------------


def reconcile_config(image: str, url: str, policies: int) -> str:
    """One ImageRepository, `policies` ImagePolicies on it (the markers name them), one automation over ./apps."""
    docs = [
        f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
        f"metadata: {{name: app, namespace: flux-system}}\n"
        f"spec:\n  image: {image}\n  interval: 1s\n  insecure: true\n"
    ]
    docs += [
        f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
        f"metadata: {{name: app-{p}, namespace: flux-system}}\n"
        f"spec:\n  imageRepositoryRef: {{name: app}}\n  policy:\n    semver: {{range: '>=1.0.0'}}\n"
        for p in range(policies)
    ]
    docs.append(
        f"apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        f"metadata: {{name: fleet, namespace: flux-system}}\n"
        f"spec:\n  url: {url}\n  interval: 1m\n  ref: {{branch: main}}\n"
    )
    docs.append(
        "apiVersion: image.toolkit.fluxcd.io/v1beta2\nkind: ImageUpdateAutomation\n"
        "metadata: {name: fleet, namespace: flux-system}\n"
        "spec:\n  interval: 3m\n  sourceRef: {kind: GitRepository, name: fleet}\n"
        "  git:\n    checkout: {ref: {branch: main}}\n"
        "    commit:\n      author: {name: tagpilot, email: tagpilot@example.invalid}\n"
        "      messageTemplate: 'bench: update images'\n"
        "    push: {branch: main}\n"
        "  update: {path: ./apps, strategy: Setters}\n"
    )
    return "---\n".join(docs)


def check_pushed(remote: GitRemote, before: str | None, sample: str, tag: str, who: str) -> str:
    """The remote head moved and a marked file carries the new tag; return the new head."""
    head = remote.head()
    if head is None or head == before:
        raise SystemExit(f"{who}: the remote head did not move ({before})")
    content = remote.read_exact(sample)
    if f"/bench/app:{tag} #" not in content:
        raise SystemExit(f"{who}: {sample} at the remote head does not have tag {tag}")
    return head


def same_tree(ours: GitRemote, ours_head: str, plain: GitRemote, plain_head: str, what: str) -> None:
    """tagpilot's commit and plain git's commit must hold the same bytes in every file."""
    if ours.git("rev-parse", f"{ours_head}^{{tree}}") != plain.git("rev-parse", f"{plain_head}^{{tree}}"):
        raise SystemExit(f"{what}: tagpilot's commit and plain git's commit have different trees")


class Sample(list[float]):
    """Seconds of one variant over the rounds."""

    def best(self) -> float:
        return min(self)

    def median(self) -> float:
        return statistics.median(self)


def bench_git(files: int, marked: int, policies: int, rounds: int, tmpdir: str | None) -> None:
    work = Path(tempfile.mkdtemp(prefix="tagpilot-bench-push-", dir=tmpdir))
    registry = RegistryServer(workdir=work / "registry", auth="none").start()
    try:
        env = git_env(work / "git-home")
        image = f"{registry.host}/bench/app"
        push_tags(registry, "bench/app", ["1.0.0"])

        # the seed tree: one commit, pushed to two identical bare remotes (tagpilot's and plain git's)
        seed = work / "seed"
        originals = build(seed, files, marked, policies, image=image)
        rels = [str(p.relative_to(seed)) for p in originals]
        run_git(["init", "--quiet", "--initial-branch=main", str(seed)], env=env)
        run_git(["add", "-A"], env=env, cwd=seed)
        # gc.auto=0: 10,000 loose objects would start a detached `gc --auto` that races the rmtree below
        run_git(["-c", "gc.auto=0", "commit", "--quiet", "-m", "seed"], env=env, cwd=seed)
        seed_commit = run_git(["rev-parse", "HEAD"], env=env, cwd=seed)
        ours = GitRemote.create(work / "remotes", "ours.git", env=env)
        plain = GitRemote.create(work / "remotes", "plain.git", env=env)
        for remote in (ours, plain):
            run_git(["push", "--quiet", remote.url, "main"], env=env, cwd=seed)
        shutil.rmtree(seed)
        print(f"\ngit remote: {files} files, {len(originals)} marked, {policies} ImagePolicies on {image}")
        print(f"work tree in {work} ({rounds} rounds; each starts from the seed commit and an empty state dir)")

        cfg = work / "config.yaml"
        cfg.write_text(reconcile_config(image, ours.url, policies))
        state = work / "state"
        reconcile = [sys.executable, "-m", "tagpilot", "reconcile", "-f", str(cfg), "--state", str(state), "-o", "json"]
        tp_env = tagpilot_env()
        sample = rels[0]
        clone = work / "plain-clone"
        t_cold, g_cold, t_warm, g_warm, t_idle = Sample(), Sample(), Sample(), Sample(), Sample()
        minor = 0

        def sed(old: str, new: str) -> list[str]:
            return ["sed", "-i", f"s|/bench/app:{re.escape(old)} #|/bench/app:{new} #|", *rels]

        def plain_cold(new: str) -> None:
            run_git(["clone", "--quiet", "--depth", "1", "--branch", "main", plain.url, str(clone)], env=env)
            run(sed("1.0.0", new), env=env, cwd=clone)
            run_git(["add", "-A"], env=env, cwd=clone)
            run_git(["commit", "--quiet", "-m", "bench: update images"], env=env, cwd=clone)
            run_git(["push", "--quiet", "origin", "main"], env=env, cwd=clone)

        def plain_warm(old: str, new: str) -> None:
            run_git(["fetch", "--quiet", "origin", "main"], env=env, cwd=clone)
            run_git(["reset", "--quiet", "--hard", "origin/main"], env=env, cwd=clone)
            run(sed(old, new), env=env, cwd=clone)
            run_git(["add", "-A"], env=env, cwd=clone)
            run_git(["commit", "--quiet", "-m", "bench: update images"], env=env, cwd=clone)
            run_git(["push", "--quiet", "origin", "main"], env=env, cwd=clone)

        for _ in range(rounds):
            for remote in (ours, plain):
                remote.git("update-ref", "refs/heads/main", seed_commit)
            shutil.rmtree(state, ignore_errors=True)
            shutil.rmtree(clone, ignore_errors=True)

            # a new image; tagpilot cold: the clone into the workspace cache is part of the run
            minor += 1
            first = f"1.{minor}.0"
            push_tags(registry, "bench/app", [first])
            t, _ = timed(lambda: run(reconcile, env=tp_env))
            t_cold.append(t)
            cold_head = check_pushed(ours, seed_commit, sample, first, "tagpilot reconcile (cold)")
            # plain git, cold: clone --depth 1, sed the marked files, add, commit, push
            t, _ = timed(lambda first=first: plain_cold(first))
            g_cold.append(t)
            plain_cold_head = check_pushed(plain, seed_commit, sample, first, "plain git (cold)")
            same_tree(ours, cold_head, plain, plain_cold_head, "cold")

            # another image; the ImageRepository (interval 1s) is due again after a second (not timed)
            minor += 1
            second = f"1.{minor}.0"
            push_tags(registry, "bench/app", [second])
            time.sleep(1.1)
            t, _ = timed(lambda: run(reconcile, env=tp_env))
            t_warm.append(t)
            warm_head = check_pushed(ours, cold_head, sample, second, "tagpilot reconcile (warm)")
            t, _ = timed(lambda first=first, second=second: plain_warm(first, second))
            g_warm.append(t)
            plain_warm_head = check_pushed(plain, plain_cold_head, sample, second, "plain git (warm)")
            same_tree(ours, warm_head, plain, plain_warm_head, "warm")
            history = ours.log(fmt="%an")
            if history[:2] != ["tagpilot", "tagpilot"] or len(history) != 3:
                raise SystemExit(f"unexpected history on tagpilot's remote: {ours.log(fmt='%h %an %s')}")

            # nothing new: scan + evaluate + fetch, nothing to commit (the fixed cost of a reconcile)
            time.sleep(1.1)
            t, _ = timed(lambda: run(reconcile, env=tp_env))
            t_idle.append(t)
            if ours.head() != warm_head:
                raise SystemExit("tagpilot reconcile (no change) moved the remote head")

        print("(checked: each run moved the remote head, a marked file has the new tag, and tagpilot's")
        print(" commits have the same trees as plain git's)")
        # plain git's own warm run varies 0.26-0.51 s on a shared 2-core VM: both ratios are printed
        print(f"{'variant':56} {'best s':>7} {'median s':>9} {'best vs git':>12} {'median vs git':>14}")
        rows = [
            ("tagpilot reconcile, cold (clone into workspace)", t_cold, g_cold),
            ("plain git: clone --depth 1, sed, add, commit, push", g_cold, g_cold),
            ("tagpilot reconcile, warm (fetch only)", t_warm, g_warm),
            ("plain git: fetch, reset --hard, sed, add, commit, push", g_warm, g_warm),
            ("tagpilot reconcile, nothing new (no commit)", t_idle, None),
        ]
        for name, mine, base in rows:
            ratio = f"{mine.best() / base.best():11.2f}x" if base is not None else ""
            median_ratio = f"{mine.median() / base.median():13.2f}x" if base is not None else ""
            print(f"{name:56} {mine.best():7.2f} {mine.median():9.2f} {ratio:>12} {median_ratio:>14}")
        print(f"tagpilot warm / plain git cold (a CI job clones every time): {t_warm.best() / g_cold.best():.2f}x")
    finally:
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--marked", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--policies", type=int, default=20, help="ImagePolicies in the git benchmark")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the git benchmark (cold, warm, idle)")
    parser.add_argument(
        "--tmpdir", help="where the trees go (default: the system temp dir; /dev/shm takes the disk out)"
    )
    parser.add_argument("--skip-update", action="store_true", help="only the commit-and-push benchmark")
    parser.add_argument("--skip-git", action="store_true", help="only the update_tree / CLI benchmark")
    args = parser.parse_args()
    if not args.skip_update:
        bench_update(args.files, args.marked, args.repeat, args.tmpdir)
    if not args.skip_git:
        bench_git(args.files, args.marked, args.policies, args.rounds, args.tmpdir)


if __name__ == "__main__":
    main()
