"""Benchmark: `tagpilot retention plan` over 100 repositories x 1,000 tags (one digest per tag).

Runs on a local CNCF registry (Debian's docker-registry) whose storage is seeded straight on disk;
the state database is given first-seen times spread over 100 days, so the rules have work to do
(`nDaysSinceLastPush: 30` plus an `always` rule on a regexp, ~70% of digests to delete).
Every variant runs in its own process so wall time and peak memory (max RSS) are measured alike:
  tagpilot        `tagpilot retention plan -f CONFIG -o json` (cold: manifests fetched and cached)
  tagpilot warm   the same again (manifests come from the state database's cache)
  list loop       an httpx.AsyncClient doing GET /v2/<repo>/tags/list, 16 at a time, nothing else
  list+HEAD loop  the same, then HEAD every tag with the manifest Accept headers, 16 at a time: the
                  least any digest-aware plan must do on a registry that reports no push times
Prints figures and ratios; never asserts on time. Usage: python bench/retention.py [--repos N] [--tags N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from measure import run_measured as timed  # noqa: E402
from tests.fixtures.pusher import seed_tags_on_disk  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402

LOOP = r"""
import asyncio, sys, httpx
ACCEPT = ("application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
          "application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.docker.distribution.manifest.list.v2+json")
async def main(base, repos, head):
    sem = asyncio.Semaphore(16)
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        async def tags(repo):
            async with sem:
                r = await client.get(f"/v2/{repo}/tags/list", params={"n": 10000})
                r.raise_for_status()
                return repo, r.json()["tags"] or []
        async def one(repo, tag):
            async with sem:
                r = await client.head(f"/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT})
                r.raise_for_status()
                return r.headers["docker-content-digest"]
        listed = await asyncio.gather(*(tags(r) for r in repos))
        if head:
            digests = await asyncio.gather(*(one(r, t) for r, ts in listed for t in ts))
            print(len(set(digests)))
        else:
            print(sum(len(ts) for _r, ts in listed))
asyncio.run(main(sys.argv[1], sys.argv[2].split(","), sys.argv[3] == "head"))
"""

DAY = 86400.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--tags", type=int, default=1000)
    args = parser.parse_args()

    from tagpilot.registry.reference import parse_repository
    from tagpilot.store import Store

    with tempfile.TemporaryDirectory(prefix="tagpilot-bench-") as tmp:
        work = Path(tmp)
        registry = RegistryServer(workdir=work / "registry", auth="none").start()
        try:
            t0 = time.perf_counter()
            repos = [f"bench/app-{i:03d}" for i in range(args.repos)]
            tags = [f"20260{1 + j % 9}{10 + j % 18:02d}-{j:05d}" for j in range(args.tags)]
            tags[0:5] = ["v1.0.0", "v1.1.0", "v2.0.0", "latest", "stable"]
            base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

            index = {t: i for i, t in enumerate(tags)}
            created_of = lambda tag: base + dt.timedelta(minutes=index[tag])  # noqa: E731 - one digest per tag
            for repo in repos:
                seed_tags_on_disk(registry.root, repo, tags, created=created_of)
            print(f"seeded {len(repos)} repositories x {len(tags)} tags (one digest each) "
                  f"in {time.perf_counter() - t0:.1f}s")

            state = work / "state"
            now = time.time()
            with Store.open(state) as store:  # what scans over 100 days would have recorded
                for repo in repos:
                    canonical = parse_repository(f"{registry.host}/{repo}").canonical_name
                    for step in range(10):
                        seen = tags[: (step + 1) * len(tags) // 10]
                        store.record_tags_seen(canonical, seen, now - (100 - step * 10) * DAY)

            config = work / "config.yaml"
            refs = "".join(f"    - name: r{i}\n" for i in range(len(repos)))
            config.write_text("---\n".join(
                f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: r{i}\n"
                f"spec:\n  image: {registry.host}/{repo}\n  interval: 5m\n  insecure: true\n"
                for i, repo in enumerate(repos)) + f"""---
apiVersion: tagpilot.dev/v1alpha1
kind: RetentionPolicy
metadata: {{name: cleanup}}
spec:
  imageRepositoryRefs:
{refs}  maxDeletePercent: 100
  protect: {{deployed: false, tags: [{{pattern: stable}}]}}
  rules:
    - template: nDaysSinceLastPush
      params: {{nDaysSinceLastPush: 30}}
    - template: always
      tagSelectors: [{{kind: regexp, pattern: '^v\\d+\\.\\d+\\.\\d+$'}}]
""")
            results: dict[str, tuple[float, float]] = {}
            env = dict(os.environ, TAGPILOT_STATE=str(state))
            secs, rss, out = timed([sys.executable, "-c", LOOP, registry.url, ",".join(repos), "list"])
            assert int(out) == len(repos) * len(tags), out
            results["list loop"] = (secs, rss)
            secs, rss, out = timed([sys.executable, "-c", LOOP, registry.url, ",".join(repos), "head"])
            results["list+HEAD loop"] = (secs, rss)
            secs, rss, out = timed([sys.executable, "-m", "tagpilot", "retention", "plan", "-f", str(config),
                                    "-o", "json"], env=env)
            results["tagpilot retention plan"] = (secs, rss)
            planned = out.count('"action": "delete"'), out.count('"action": "retain"')
            secs, rss, _ = timed([sys.executable, "-m", "tagpilot", "retention", "plan", "-f", str(config),
                                  "-o", "json"], env=env)
            results["tagpilot retention plan (warm)"] = (secs, rss)
        finally:
            registry.stop()

    print(f"plan: {planned[0]} digests to delete, {planned[1]} to retain")
    base_secs = results["list+HEAD loop"][0]
    total = len(repos) * len(tags)
    print(f"\n{'variant':32} {'seconds':>8} {'tags/s':>9} {'vs list+HEAD':>13} {'peak RSS MiB':>13}")
    for name, (secs, rss) in results.items():
        print(f"{name:32} {secs:8.2f} {total / secs:9.0f} {secs / base_secs:12.2f}x {rss:13.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
