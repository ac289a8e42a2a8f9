"""Benchmark: registry push → commit in git, webhook driven; git alone; webhook throughput.

One run sets up a real CNCF registry (Debian `docker-registry`) that posts its own notifications to
`tagpilot run` through a Flux `Receiver` of type `distribution`, and a bare git remote (file://) with
manifests marked for an ImagePolicy (semver `>=1.0.0`). ImageRepository and automation intervals are
an hour, so only the webhook can cause an update. It measures, prints figures, and never passes or
fails on time; every figure is verified before it is printed, so a broken run cannot look fast.

1. Latency. Each round pushes one new semver tag (`push_tags`), then polls the remote
   (`git --git-dir BARE rev-parse refs/heads/main` every `--poll` seconds) until the head moves; the
   figure is push end → new head visible. Then it checks the new commit: its parent is the old head,
   and `deploy/app.yaml` and `deploy/values.yaml` carry the new tag. The polling adds up to one poll
   interval (half on average) to every figure.

   Triggered runs start at once (a trigger during a run causes one follow-up run as soon as it
   ends); triggered scans take a token from their registry's bucket (10 at once, then 2 a second),
   which bounds webhook storms. "Spaced" rounds wait `--gap` (default 1.5 s) after each commit: the
   latency of an isolated push. "Back-to-back" rounds push the next tag the moment the commit is
   visible: CI pushing one image after another. Beyond the bucket's burst they wait for tokens, so
   they are printed in two parts: the first `--burst` rounds and the rest.
   A warm-up round (not counted) comes first: the registry is still retrying, with its 1 s backoff,
   the notifications of the seed push it made before the daemon listened (they are delivered in
   order, so the first new push waits behind them), and the daemon's git workspace gets warm.

2. Baseline: the same change made with plain git, `--rounds` times, in a clone kept warm of a second
   bare remote seeded identically: rewrite the two files, `git commit -a`, `git push`. Verified the
   same way. The ratio tagpilot/baseline is printed (medians): what the registry notification, the
   scan, the policy and the workspace fetch add on top of the commit and push that any tool pays.

3. Webhook throughput. A `generic` Receiver (no signature; `spec.resources` names the
   ImageRepository) gets `POST /hook/...` as fast as `--clients` concurrent httpx clients can send
   for `--storm` seconds each (default 1 and 8 clients, 5 s). Every response must be 200. Printed:
   requests/s, p50/p99 response time, and how many scans the storm caused (the increase of
   `tagpilot_reconciles_total{kind="ImageRepository",result="success"}` once the daemon is idle):
   the bucket's burst plus two a second, not one per request. Load generator and daemon share this machine's cores,
   so requests/s is a floor for the daemon, not a ceiling.

Everything lives in a temporary directory (registry storage on /dev/shm) and is removed at the end.

    .venv/bin/python bench/latency.py [--rounds N] [--gap S] [--poll S] [--storm S] [--clients 1,8]
                                      [--skip-back-to-back] [--skip-storm]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

import httpx  # noqa: E402
from tests.fixtures.config import flux_automation_config as automation_config  # noqa: E402
from tests.fixtures.config import seed  # noqa: E402
from tests.fixtures.git import GitRemote, git_env, run_git  # noqa: E402
from tests.fixtures.pusher import push_tags  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402
from tests.integration.daemon import DaemonProcess  # noqa: E402
from tests.integration.test_daemon_webhooks import TOKEN, hook_path, receiver_docs  # noqa: E402

REPO = "bench/latency"
SCANS_METRIC = 'tagpilot_reconciles_total{kind="ImageRepository",result="success"}'
GENERIC_RECEIVER = """---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: storm, namespace: apps}
spec:
  type: generic
  secretRef: {name: webhook-token}
  resources:
    - {kind: ImageRepository, name: app}
"""


class BenchFailure(RuntimeError):
    """A measured run did not do what it should; no figure from it may be printed."""


# -- small helpers ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample: a value that was observed."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least the first
    return ordered[int(rank) - 1]


def summary(values: Sequence[float]) -> str:
    return (f"median {statistics.median(values) * 1000:7.1f} ms   p90 {percentile(values, 90) * 1000:7.1f} ms   "
            f"worst {max(values) * 1000:7.1f} ms   best {min(values) * 1000:7.1f} ms   (n={len(values)})")


def rev_parse(bare: Path, env: dict[str, str]) -> str:
    """The commit `main` points at in a bare remote (one cheap git process)."""
    result = subprocess.run(["git", "--git-dir", str(bare), "rev-parse", "refs/heads/main"], env=env,
                            capture_output=True, check=True)
    return result.stdout.decode().strip()


def metric(text: str, name: str) -> float:
    """A sample's value from Prometheus text exposition (0 when absent: the counter has not moved)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def verify_commit(remote: GitRemote, head: str, parent: str, image: str, tag: str) -> None:
    """The commit at `head` is one commit on top of `parent` and carries `tag` in both marked files."""
    parents = remote.git("rev-list", "--parents", "-n", "1", head).split()[1:]
    if parents != [parent]:
        raise BenchFailure(f"{head[:7]}: expected exactly one new commit on {parent[:7]}, parents are {parents}")
    app = remote.read_exact("deploy/app.yaml", head)
    values = remote.read_exact("deploy/values.yaml", head)
    if f'"{image}:{tag}"' not in app or f"tag: '{tag}'" not in values:
        raise BenchFailure(f"{head[:7]} does not carry {tag} in deploy/app.yaml and deploy/values.yaml")


# -- 1. latency -------------------------------------------------------------------------------------


@dataclass
class Tags:
    """Fresh semver tags, each newer than the last: 1.1.0, 1.2.0, ..."""

    minor: int = 0

    def next(self) -> str:
        self.minor += 1
        return f"1.{self.minor}.0"


@dataclass
class LatencyRun:
    daemon: DaemonProcess
    registry: RegistryServer
    remote: GitRemote
    image: str
    poll: float
    timeout: float = 30.0
    tags: Tags = field(default_factory=Tags)
    stages: list[dict[str, float]] = field(default_factory=list)

    def _last_event_id(self) -> int:
        events = self.daemon.get("/api/v1/events", params={"limit": 1}).json()
        return events[-1]["id"] if events else 0

    def round(self) -> tuple[float, str]:
        """Push one new tag; return (push end → new head visible, in seconds; the tag)."""
        tag = self.tags.next()
        before = rev_parse(self.remote.path, self.remote.env)
        since = self._last_event_id()
        push_tags(self.registry, REPO, [tag])
        start = time.perf_counter()
        pushed_at = time.time()  # the daemon stamps its events with the wall clock
        deadline = start + self.timeout
        while True:
            head = rev_parse(self.remote.path, self.remote.env)
            if head != before:
                elapsed = time.perf_counter() - start
                break
            if self.daemon.proc is None or self.daemon.proc.poll() is not None:
                raise BenchFailure(f"tagpilot run exited while waiting for {tag}:\n{self.daemon.log()}")
            if time.perf_counter() > deadline:
                raise BenchFailure(f"no commit for {tag} within {self.timeout}s; daemon log:\n{self.daemon.log()}")
            time.sleep(self.poll)
        verify_commit(self.remote, head, before, self.image, tag)
        self.stages.append(self._stages(since, pushed_at, head))
        return elapsed, tag

    def _stages(self, since: int, pushed_at: float, head: str) -> dict[str, float]:
        """When each step's event was recorded, in seconds after the push ended (the daemon's own log).

        Only read after the commit was seen, so it costs the measured figure nothing.
        """
        # the push lands in git a moment before the daemon records its Pushed event: wait for it (bounded)
        deadline = time.monotonic() + 5
        while True:
            events = self.daemon.get("/api/v1/events", params={"since": since, "limit": 1000}).json()
            if any(_stage(e) == STAGES[3] for e in events) or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        found: dict[str, float] = {}
        for event in events:
            stage = _stage(event)
            if stage and stage not in found:
                # event times are RFC 3339 with milliseconds, as `tagpilot events` prints them
                recorded = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
                found[stage] = recorded - pushed_at
        if found.get("pushed (event)") is None:
            raise BenchFailure(f"the daemon recorded no Pushed event for commit {head[:7]}")
        return found

    def rounds(self, n: int, gap: float) -> list[float]:
        figures = []
        for _ in range(n):
            elapsed, _tag = self.round()
            figures.append(elapsed)
            if gap:
                time.sleep(gap)
        return figures


# -- 2. baseline ------------------------------------------------------------------------------------


def baseline(remote: GitRemote, clone: Path, image: str, rounds: int) -> list[float]:
    """The same change with plain git in a warm clone: edit both files, `git commit -a`, `git push`."""
    env = remote.env
    remote.clone(clone)
    run_git(["config", "user.name", "tagpilot"], env=env, cwd=clone)
    run_git(["config", "user.email", "tagpilot@example.invalid"], env=env, cwd=clone)
    tags = Tags()
    current = "1.0.0"
    figures = []
    for _ in range(rounds):
        tag = tags.next()
        before = rev_parse(remote.path, env)
        start = time.perf_counter()
        app, values = clone / "deploy" / "app.yaml", clone / "deploy" / "values.yaml"
        app.write_text(app.read_text().replace(f'"{image}:{current}"', f'"{image}:{tag}"'))
        values.write_text(values.read_text().replace(f"tag: '{current}'", f"tag: '{tag}'"))
        subprocess.run(["git", "commit", "-q", "-a", "-m", f"skip-ci: {image}:{tag}"], cwd=clone, env=env,
                       check=True)
        subprocess.run(["git", "push", "-q", "origin", "main"], cwd=clone, env=env, check=True)
        figures.append(time.perf_counter() - start)
        verify_commit(remote, rev_parse(remote.path, env), before, image, tag)
        current = tag
    return figures


# -- 3. webhook throughput --------------------------------------------------------------------------


@dataclass
class Storm:
    clients: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    elapsed: float
    scans: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)


async def _storm(base_url: str, path: str, clients: int, seconds: float) -> Storm:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    end = time.perf_counter() + seconds

    async def client() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=base_url, timeout=10, limits=limits) as http:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                response = await http.post(path, content=b"{}", headers={"Content-Type": "application/json"})
                latencies.append(time.perf_counter() - t0)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return Storm(clients, seconds, latencies, statuses, time.perf_counter() - start)


def wait_idle(daemon: DaemonProcess, settle: float = 2.0, timeout: float = 30.0) -> float:
    """The scan counter once it has not moved for `settle` seconds (the coalesced runs are done)."""
    deadline = time.monotonic() + timeout
    last = metric(daemon.get("/metrics").text, SCANS_METRIC)
    still_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        value = metric(daemon.get("/metrics").text, SCANS_METRIC)
        if value != last:
            last, still_since = value, time.monotonic()
        elif time.monotonic() - still_since >= settle:
            return value
    raise BenchFailure("the daemon kept scanning long after the webhook storm ended")


def storm(daemon: DaemonProcess, path: str, clients: int, seconds: float) -> Storm:
    before = wait_idle(daemon)
    result = asyncio.run(_storm(daemon.url, path, clients, seconds))
    if result.statuses != {200: result.requests} or not result.requests:
        raise BenchFailure(f"webhook storm with {clients} clients got statuses {result.statuses}, not all 200")
    result.scans = int(wait_idle(daemon) - before)
    if result.scans < 1:
        raise BenchFailure(f"{result.requests} accepted webhooks caused no scan")
    return result


# -- the run ----------------------------------------------------------------------------------------


def start_daemon(work: Path, extra_env: dict[str, str]) -> tuple[DaemonProcess, RegistryServer, GitRemote, str]:
    """Registry (notifying the daemon), seeded git remote, config with both receivers, running daemon."""
    cfg = work / "config.yaml"
    daemon = DaemonProcess(cfg, work / "state", extra_env=extra_env)  # its port is known before it starts
    registry = RegistryServer(workdir=work / "registry", notifications=[{
        "name": "tagpilot", "url": daemon.url + hook_path("registry", "apps"),
        "headers": {"Authorization": [f"Bearer {TOKEN}"]}, "timeout": "2s", "threshold": 3, "backoff": "1s",
    }]).start()
    return daemon, registry, GitRemote.create(work / "remotes", "fleet.git", env=git_env(work / "git-home")), cfg


def run(args: argparse.Namespace, work: Path) -> int:
    extra_env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)}
    daemon, registry, remote, cfg = start_daemon(work, extra_env)
    try:
        image = f"{registry.host}/{REPO}"
        push_tags(registry, REPO, ["1.0.0"])
        remote.seed({"README.md": "fleet\n"}, message="initial commit")
        seed(remote, image)
        cfg.write_text(automation_config(image, remote.url).replace("interval: 1s", "interval: 1h")
                       + receiver_docs("distribution") + GENERIC_RECEIVER)
        daemon.start()
        daemon.wait(lambda: _ready(daemon, "ImageRepository", "app"), what="first scan")
        daemon.wait(lambda: _ready(daemon, "ImageUpdateAutomation", "fleet"), what="first automation run")

        bench = LatencyRun(daemon, registry, remote, image, poll=args.poll)
        warmup, _ = bench.round()
        time.sleep(args.gap)
        print(f"warm-up round, not counted (behind the registry's retried backlog): {warmup * 1000:.1f} ms")
        bench.stages.clear()
        spaced = bench.rounds(args.rounds, args.gap)
        stages = list(bench.stages)
        back_to_back: list[float] = []
        if not args.skip_back_to_back:
            bench.round()  # not counted: it follows a spaced round's pause, so it is not back-to-back
            back_to_back = bench.rounds(args.rounds, 0.0)

        second = GitRemote.create(work / "remotes", "baseline.git", env=remote.env)
        second.seed({"README.md": "fleet\n"}, message="initial commit")
        seed(second, image)
        plain = baseline(second, work / "clone", image, args.rounds)

        storms: list[Storm] = []
        if not args.skip_storm:
            time.sleep(args.gap)
            for clients in args.clients:
                storms.append(storm(daemon, hook_path("storm", "apps"), clients, args.storm))
        accepted = metric(daemon.get("/metrics").text,
                          'tagpilot_webhook_requests_total{outcome="accepted",receiver="registry"}')
    finally:
        code = daemon.stop()
        registry.stop()
    if code != 0:
        raise BenchFailure(f"tagpilot run exited with {code} on SIGTERM")

    print(f"\nregistry push → commit visible in git (webhook driven, poll every {args.poll * 1000:.0f} ms; "
          f"{int(accepted)} registry notifications accepted)")
    print(f"  tagpilot, spaced by {args.gap:.1f} s:  {summary(spaced)}")
    if back_to_back:
        print(f"  tagpilot, back-to-back:   {summary(back_to_back)}")
        head = back_to_back[:BURST]
        print(f"    first {len(head)} (within the registry bucket's burst): {summary(head)}")
        print(f"    ratio back-to-back (first {len(head)}) / spaced, medians: "
              f"{statistics.median(head) / statistics.median(spaced):.2f}x")
        print("    (beyond the burst, triggered scans of one registry get 2 tokens a second: the bound on storms)")
    print("    where an isolated (spaced) update spends its time, medians after the push ended, from the")
    print("    daemon's event log (wall clock, ms): "
          + ", ".join(f"{name} {statistics.median(s[name] for s in stages if name in s) * 1000:.0f}"
                      for name in STAGES if any(name in s for s in stages)))
    print(f"  plain git commit + push:  {summary(plain)}")
    ratio = statistics.median(spaced) / statistics.median(plain)
    print(f"  ratio tagpilot (spaced) / plain git, medians: {ratio:.1f}x; worst/worst: "
          f"{max(spaced) / max(plain):.1f}x")
    if storms:
        print(f"\nwebhook throughput: generic Receiver, POST /hook/..., {args.storm:.0f} s per run, "
              "all responses 200")
        print(f"  {'clients':>7} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'scans caused':>13}")
        for s in storms:
            print(f"  {s.clients:7d} {s.requests:9d} {s.requests / s.elapsed:8.0f} "
                  f"{percentile(s.latencies, 50) * 1000:8.2f} {percentile(s.latencies, 99) * 1000:8.2f} "
                  f"{s.scans:13d}")
        print("  (scans: increase of tagpilot_reconciles_total{kind=\"ImageRepository\",result=\"success\"}; "
              "the registry bucket allows its burst of 10 plus 2 per second of storm)")
    return 0


BURST = 8  # back-to-back rounds that fit the bucket's burst (10) with the warm-up's and extra scans

STAGES = ("webhook accepted", "scan found tag", "policy selected", "pushed (event)")


def _stage(event: dict[str, Any]) -> str | None:
    """Which step of push → commit an event of the daemon marks, if any."""
    kind, reason = event["kind"], event["reason"]
    if kind == "Receiver" and reason == "Accepted" and "ImageRepository/apps/app" in str(event["data"]):
        return STAGES[0]
    return {("ImageRepository", "NewTags"): STAGES[1], ("ImagePolicy", "LatestImageChanged"): STAGES[2],
            ("ImageUpdateAutomation", "Pushed"): STAGES[3]}.get((kind, reason))


def _ready(daemon: DaemonProcess, kind: str, name: str) -> bool:
    conditions = daemon.view(kind, "apps", name)["status"].get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _clients(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("--clients wants a comma-separated list of positive integers")
    return values


def main(argv: Sequence[str] | None = None, runner: Callable[[argparse.Namespace, Path], int] = run) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="measured rounds per variant (default 20)")
    parser.add_argument("--gap", type=float, default=1.5, help="seconds between spaced rounds (default 1.5)")
    parser.add_argument("--poll", type=float, default=0.02, help="git poll interval, seconds (default 0.02)")
    parser.add_argument("--storm", type=float, default=5.0, help="seconds per webhook storm (default 5)")
    parser.add_argument("--clients", type=_clients, default=[1, 8], help="concurrent clients per storm: 1,8")
    parser.add_argument("--skip-back-to-back", action="store_true")
    parser.add_argument("--skip-storm", action="store_true")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="tagpilot-bench-latency-") as tmp:
        try:
            return runner(args, Path(tmp))
        except BenchFailure as exc:
            print(f"benchmark run failed, no figures: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
