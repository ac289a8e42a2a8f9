"""Benchmark: a full scan of 1,000 repositories x 20 tags plus one repository with 10,000 tags.

Runs on a local CNCF registry (Debian's docker-registry) whose storage is seeded straight on disk.
Three ways to list every repository's tags, each in its own process so wall time and peak memory
(max RSS) are measured alike:
  tagpilot   `tagpilot scan -f CONFIG -o json`: load config, scan concurrently, store status + tags
  skopeo     `skopeo list-tags` once per repository, 8 processes at a time (like `xargs -P8`)
  bare loop  an httpx.AsyncClient doing GET /v2/<repo>/tags/list, 8 at a time, parsing JSON, nothing else
The bare loop and tagpilot (cold: a new state directory; warm: the same state again) run in turn,
`--rounds` times (default 3), and each figure is the median of its rounds: on a shared 2-core machine
one run of either can be 0.3 s off. The ratio of the medians is issue 16's goal (scan <= 1.2x the bare
loop). Prints figures and ratios; never asserts on time. Usage: python bench/scan.py [--repos N]
[--big-tags N] [--rounds N] [--profile FILE]: also run the cold scan once more under cProfile (untimed)
and write its stats to FILE (read them with `python -m pstats FILE`), to see where the time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import run_measured  # noqa: E402
from tests.fixtures.pusher import seed_tags_on_disk  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402

BARE_LOOP = r"""
import asyncio, sys, httpx
async def main(base, repos):
    sem = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        async def one(repo):
            async with sem:
                r = await client.get(f"/v2/{repo}/tags/list", params={"n": 1000})
                r.raise_for_status()
                return len(r.json()["tags"] or [])
        counts = await asyncio.gather(*(one(r) for r in repos))
    print(sum(counts))
asyncio.run(main(sys.argv[1], sys.argv[2].split(",")))
"""

SKOPEO = r"""
import subprocess, sys
from concurrent.futures import ThreadPoolExecutor
host, repos = sys.argv[1], sys.argv[2].split(",")
def one(repo):
    out = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", f"docker://{host}/{repo}"],
                         capture_output=True, check=True).stdout
    return out.count(b'"') // 2 - 2
with ThreadPoolExecutor(8) as pool:
    print(sum(pool.map(one, repos)))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--big-tags", type=int, default=10_000)
    parser.add_argument("--skip-skopeo", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; figures are their medians")
    parser.add_argument("--profile", type=Path, help="write cProfile stats of one more cold scan here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tagpilot-bench-") as tmp:
        work = Path(tmp)
        registry = RegistryServer(workdir=work / "registry", auth="none").start()
        try:
            t0 = time.perf_counter()
            repos = [f"bench/app-{i:04d}" for i in range(args.repos)]
            for repo in repos:
                seed_tags_on_disk(registry.root, repo, [f"1.{j}.0" for j in range(args.tags)])
            seed_tags_on_disk(registry.root, "bench/big", [f"build-{j:05d}" for j in range(args.big_tags)])
            repos.append("bench/big")
            total_tags = args.repos * args.tags + args.big_tags
            print(f"seeded {len(repos)} repositories, {total_tags} tags in {time.perf_counter() - t0:.1f}s")

            config = work / "config.yaml"
            config.write_text("---\n".join(
                f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: r{i}\n"
                f"spec:\n  image: {registry.host}/{repo}\n  interval: 5m\n  insecure: true\n"
                for i, repo in enumerate(repos)))

            runs: dict[str, list[tuple[float, float]]] = {}
            scan = [sys.executable, "-m", "tagpilot", "scan", "-f", str(config), "-o", "json"]
            for round_ in range(args.rounds):
                secs, rss, out = run_measured([sys.executable, "-c", BARE_LOOP, registry.url, ",".join(repos)])
                assert int(out) == total_tags, out
                runs.setdefault("bare loop", []).append((secs, rss))
                env = dict(os.environ, TAGPILOT_STATE=str(work / f"state-{round_}"))
                secs, rss, out = run_measured(scan, env=env)
                assert out.count('"successful scan: found') == len(repos)
                runs.setdefault("tagpilot", []).append((secs, rss))
                secs, rss, _ = run_measured(scan, env=env)
                runs.setdefault("tagpilot (2nd run, warm state)", []).append((secs, rss))
            for name, measured in runs.items():
                print(f"{name:34} " + " ".join(f"{secs:5.2f}" for secs, _ in measured) + " s")
            results = {name: (statistics.median(s for s, _ in measured), max(r for _, r in measured))
                       for name, measured in runs.items()}
            if args.profile:
                profiled = dict(env, TAGPILOT_STATE=str(work / "state-profiled"))
                run_measured([sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve()), "-m", "tagpilot",
                              "scan", "-f", str(config), "-o", "json"], env=profiled)
                print(f"profile of a cold scan written to {args.profile}")
            if not args.skip_skopeo:
                secs, rss, out = run_measured([sys.executable, "-c", SKOPEO, registry.host, ",".join(repos)])
                results["skopeo list-tags x8"] = (secs, rss)
        finally:
            registry.stop()

    bare = results["bare loop"][0]
    print(f"\nmedians of {args.rounds} rounds: tagpilot / bare loop = {results['tagpilot'][0] / bare:.2f}x cold, "
          f"{results['tagpilot (2nd run, warm state)'][0] / bare:.2f}x warm (issue 16's goal: <= 1.2x)")
    base = results["tagpilot"][0]
    print(f"\n{'variant':34} {'seconds':>8} {'repos/s':>9} {'vs tagpilot':>12}")
    for name, (secs, _rss) in results.items():
        print(f"{name:34} {secs:8.2f} {len(repos) / secs:9.0f} {secs / base:11.2f}x")
    print("\npeak RSS of the measured process, MiB (for skopeo: the driver only): "
          + ", ".join(f"{name}: {rss:.0f}" for name, (_s, rss) in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
