"""Benchmark: `update_tree` over a large manifest tree, against `grep -rl '"$imagepolicy"'`.

Builds a tree of 10,000 YAML files (200 of them with setters markers) in a temporary directory, then
times: grep listing the marked files (the floor: reading every byte once), a dry run of
`update_tree` (pre-screen + parse + rewrite of the marked files), and a real run that writes them.
Prints figures and ratios; it never passes or fails on time.

    PYTHONPATH=src .venv/bin/python bench/update.py [--files N] [--marked M]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tagpilot.update import ImageRef, update_tree

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

MARKED = PLAIN.replace(
    "image: registry.example.com/team-{team}/svc-{i}:1.0.{i}",
    'image: registry.example.com/team-{team}/svc-{i}:1.0.0 # {{"$imagepolicy": "flux-system:app-{p}"}}',
)


def build(root: Path, files: int, marked: int, policies: int) -> None:
    """Write `files` manifests in 100-file directories; every (files // marked)-th one is marked."""
    step = max(files // max(marked, 1), 1)
    count = 0
    for i in range(files):
        d = root / f"apps/team-{i % 20}/dir-{i // 100}"
        d.mkdir(parents=True, exist_ok=True)
        is_marked = count < marked and i % step == 0
        template = MARKED if is_marked else PLAIN
        count += is_marked
        (d / f"svc-{i}.yaml").write_text(template.format(i=i, team=i % 20, p=i % policies))


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--marked", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    policies = {("flux-system", f"app-{p}"): ImageRef(f"registry.example.com/x/app-{p}", "2.0.0") for p in range(20)}

    tmp = Path(tempfile.mkdtemp(prefix="tagpilot-bench-update-"))
    try:
        build(tmp, args.files, args.marked, len(policies))
        size = sum(p.stat().st_size for p in tmp.rglob("*.yaml"))
        print(f"tree: {args.files} files, {args.marked} marked, {size / 1e6:.1f} MB")

        grep_times, dry_times = [], []
        for _ in range(args.repeat):
            t, out = timed(
                lambda: (
                    subprocess.run(
                        ["grep", "-rl", "--include=*.yaml", '"$imagepolicy"', str(tmp)],
                        capture_output=True,
                        text=True,
                        check=False,
                    ).stdout
                )
            )
            grep_times.append(t)
            grep_files = len(out.splitlines())
            t, result = timed(lambda: update_tree(tmp, ".", policies, dry_run=True))
            dry_times.append(t)
        write_time, written = timed(lambda: update_tree(tmp, ".", policies))

        grep_best, dry_best = min(grep_times), min(dry_times)
        print(f"grep -rl:              {grep_best * 1000:8.1f} ms  ({grep_files} files listed)")
        print(
            f"update_tree (dry run): {dry_best * 1000:8.1f} ms  "
            f"({len(result.files)} files, {len(result.changes)} changes, {result.scanned} read)"
        )
        print(f"update_tree (write):   {write_time * 1000:8.1f} ms  ({len(written.files)} files written)")
        print(f"ratio dry run / grep:  {dry_best / grep_best:8.2f}x")
        print(f"per marked file:       {(dry_best - grep_best) / max(args.marked, 1) * 1e6:8.0f} µs above grep")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
