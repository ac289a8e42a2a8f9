"""Benchmark: scale in one process. Many ImageRepositories in one `tagpilot run` daemon.

A local CNCF registry (Debian `docker-registry`, storage seeded straight on disk) holds `--repos`
repositories of `--tags` tags each (default 1,000 × 1,000); the configuration has `--objects`
ImageRepositories (default 10,000) spread over them, each with an ImagePolicy (semver), interval 1h,
so after the first round nothing is due. It measures, and never passes or fails on time:

- the first full round: daemon start → every ImageRepository scanned and every ImagePolicy run
  (`tagpilot_reconciles_total` counts, polled on /metrics), against the floor of the same listing
  done by a bare concurrent HTTP loop (8 at a time, GET /v2/<repo>/tags/list, JSON parsed, nothing
  else) over the same object list, in the same run: the ratio is what tagpilot adds (store, policy);
- the daemon's peak RSS (`VmHWM` of /proc/PID/status), against the 300 MB goal;
- the idle CPU between intervals: CPU seconds (utime+stime of /proc/PID/stat) the daemon uses over
  `--idle` seconds after the round, as a percentage of one core (goal: near 0).

With `--standin` the tag lists come from a stand-in (an in-process HTTP/1.1 server answering
`/v2/` and `/v2/<repo>/tags/list` from memory) instead of the CNCF registry: 1,000 × 1,000 tags
seeded on the registry's filesystem layout need about 7 million inodes, more than /dev/shm has on
the benchmark machine (3 million), and on disk the seeding alone takes many minutes. The daemon and
the bare loop list the same bodies from the same server either way.

    .venv/bin/python bench/scale.py [--objects N] [--repos N] [--tags N] [--idle S] [--standin]
"""

from __future__ import annotations

import argparse
import calendar
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.fixtures.pusher import seed_tags_on_disk  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402
from tests.integration.daemon import DaemonProcess  # noqa: E402

BARE_LOOP = r"""
import asyncio, sys, httpx
async def main(base, repos):
    sem = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        async def one(repo):
            async with sem:
                r = await client.get(f"/v2/{repo}/tags/list")
                r.raise_for_status()
                return len(r.json()["tags"] or [])
        counts = await asyncio.gather(*(one(r) for r in repos))
    print(sum(counts))
asyncio.run(main(sys.argv[1], open(sys.argv[2]).read().split()))
"""


class TagListStandIn:
    """A stand-in registry that serves only tag lists, from memory (see the module docstring for why).

    HTTP/1.1 with keep-alive, like the registry; any other path is a 404 and is counted, so a run
    that needed more than tag lists says so instead of measuring the wrong thing."""

    def __init__(self, repos: list[str], tags: int, *, distinct: bool = False) -> None:
        body = json.dumps({"name": "", "tags": [f"1.{j}.0" for j in range(tags)]}).encode()
        self.bodies = {f"/v2/{r}/tags/list": body.replace(b'"name": ""', f'"name": "{r}"'.encode()) for r in repos}
        if distinct:  # each repository's list its own (a first tag 0.0.<i>), the same winner
            self.bodies = {path: body.replace(b'"tags": ["', f'"tags": ["0.0.{i}", "'.encode(), 1)
                           for i, (path, body) in enumerate(self.bodies.items())}
        self.other: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                data = b"{}" if path == "/v2/" else owner.bodies.get(path)
                status = 200
                if data is None:
                    owner.other.append(self.path)
                    status, data = 404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> TagListStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BenchFailure(RuntimeError):
    """The run did not do what it should; no figure from it may be printed."""


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def last_reconcile(log: str) -> float:
    """The epoch time of the daemon's last `reconciled ...` line (`--log-format json`, ms resolution)."""
    last = None
    for line in log.splitlines():
        if '"msg": "reconciled ' in line:
            last = line
    if last is None:
        raise BenchFailure("no reconcile in the daemon's log")
    stamp = json.loads(last)["ts"]
    return calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) + float(stamp[19:-1])


def proc_status(pid: int, field: str) -> int:
    """A `kB` figure of /proc/PID/status (VmHWM: peak RSS; VmRSS: current)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchFailure(f"no {field} in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def config_text(host: str, objects: int, repos: list[str]) -> str:
    docs = []
    for i in range(objects):
        docs.append(
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
            f"metadata: {{name: r{i}, namespace: apps}}\n"
            f"spec: {{image: {host}/{repos[i % len(repos)]}, interval: 1h, insecure: true}}\n---\n"
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: p{i}, namespace: apps}}\n"
            f"spec: {{imageRepositoryRef: {{name: r{i}}}, policy: {{semver: {{range: '>=1.0.0'}}}}}}\n")
    return "---\n".join(docs)


def run(args: argparse.Namespace, work: Path) -> None:
    repos = [f"scale/app-{i:04d}" for i in range(args.repos)]
    registry: RegistryServer | TagListStandIn
    if args.standin:
        registry = TagListStandIn(repos, args.tags, distinct=args.distinct).start()
    else:
        registry = RegistryServer(workdir=work / "registry", auth="none").start()
    daemon = None
    try:
        t0 = time.perf_counter()
        if isinstance(registry, RegistryServer):
            for repo in repos:
                seed_tags_on_disk(registry.root, repo, [f"1.{j}.0" for j in range(args.tags)])
        where = "stand-in" if args.standin else "CNCF registry"
        print(f"{where}: seeded {args.repos} repositories × {args.tags} tags in {time.perf_counter() - t0:.1f} s; "
              f"{args.objects} ImageRepositories + {args.objects} ImagePolicies")

        # the floor: the same listings (one per ImageRepository) by a bare loop, in its own process
        listing = work / "repos.txt"
        listing.write_text("\n".join(repos[i % len(repos)] for i in range(args.objects)))
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", BARE_LOOP, f"http://{registry.host}", str(listing)],
                             capture_output=True, text=True, check=True).stdout
        bare = time.perf_counter() - t0
        listed = args.objects * (args.tags + (1 if args.distinct else 0))
        if int(out) != listed:
            raise BenchFailure(f"the bare loop listed {out.strip()} tags, not {listed}")

        cfg = work / "config.yaml"
        cfg.write_text(config_text(registry.host, args.objects, repos))
        extra = {"PYTHONPATH": str(ROOT / "src")}
        daemon = DaemonProcess(cfg, work / "state", extra_env=extra)
        t0, wall0 = time.perf_counter(), time.time()
        daemon.start(wait_ready=False)
        spy = None
        if args.py_spy:  # a sampling profile of the daemon's round (py-spy is not a dependency: bring your own)
            assert daemon.proc is not None
            spy = subprocess.Popen([args.py_spy_bin, "record", "--format", "flamegraph" if args.py_spy.endswith(
                ".svg") else "raw", "-o", args.py_spy, "--pid", str(daemon.proc.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        want = float(args.objects)
        # /metrics carries Flux's per-object gotk_reconcile_duration_seconds histogram: at 10,000
        # objects one scrape renders ~300,000 lines and costs the daemon seconds of CPU, so polling it
        # every 0.1 s measured the polling. Poll with a gap of 4x the last scrape (≤ 20 % of the round).
        scrapes: list[float] = []
        deadline = time.monotonic() + args.timeout
        while True:
            if daemon.proc is not None and daemon.proc.poll() is not None:
                raise BenchFailure(f"the daemon exited ({daemon.proc.returncode}):\n{daemon.log()[-3000:]}")
            s0 = time.perf_counter()
            try:
                text = daemon.get("/metrics").text
            except Exception:  # not listening yet
                text = ""
            spent = time.perf_counter() - s0
            if text:
                scrapes.append(spent)
                scans = metric(text, 'tagpilot_reconciles_total{kind="ImageRepository",result="success"}')
                policies = metric(text, 'tagpilot_reconciles_total{kind="ImagePolicy",result="success"}')
                if scans >= want and policies >= want:
                    break
            if time.monotonic() > deadline:
                raise BenchFailure(f"the first full round took longer than {args.timeout:g} s")
            time.sleep(max(0.2, 4 * spent))
        seen_time = time.perf_counter() - t0
        # the polls are seconds apart (each scrape renders the histogram): the round ends at the
        # daemon's last reconcile log line, not at the poll that saw it
        round_time = last_reconcile(daemon.log_path.read_text()) - wall0
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
        assert daemon.proc is not None
        pid = daemon.proc.pid
        view = daemon.view("ImagePolicy", "apps", "p0")
        latest = view["status"].get("latestRef", {}).get("tag")
        if latest != f"1.{args.tags - 1}.0":
            raise BenchFailure(f"ImagePolicy apps/p0 selected {latest!r}, not 1.{args.tags - 1}.0")
        time.sleep(1.0)  # let the round's stragglers (status writes) settle
        c0, w0 = cpu_seconds(pid), time.perf_counter()
        time.sleep(args.idle)
        idle_cpu = (cpu_seconds(pid) - c0) / (time.perf_counter() - w0) * 100
        peak, now = proc_status(pid, "VmHWM"), proc_status(pid, "VmRSS")
        if isinstance(registry, TagListStandIn) and registry.other:
            raise BenchFailure(f"the daemon asked the stand-in for more than tag lists: {registry.other[:3]}")
    finally:
        if daemon is not None and daemon.proc is not None:
            daemon.stop()
        registry.stop()

    print(f"first full round (start → all {args.objects} scanned and evaluated): {round_time:7.2f} s "
          f"(the daemon's last reconcile log line; the poll saw it at {seen_time:.2f} s)")
    print(f"bare loop, the same {args.objects} tag listings (8 at a time):        {bare:7.2f} s")
    print(f"ratio round / bare loop: {round_time / bare:.2f}x  (the round includes process start and config load)")
    print(f"peak RSS: {peak / 1024:.0f} MB (goal ≤ 300 MB); RSS when idle: {now / 1024:.0f} MB")
    print(f"idle CPU over {args.idle:.0f} s after the round: {idle_cpu:.2f} % of one core (goal: near 0)")
    print(f"/metrics scrapes while waiting: {len(scrapes)}, the last took {scrapes[-1]:.2f} s "
          f"(Flux's per-object reconcile histogram: {2 * args.objects} objects' series)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000, help="ImageRepositories (and ImagePolicies)")
    parser.add_argument("--repos", type=int, default=1_000, help="registry repositories they point at")
    parser.add_argument("--tags", type=int, default=1_000, help="tags per repository")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    parser.add_argument("--standin", action="store_true", help="tag lists from an in-memory stand-in, not the "
                        "CNCF registry (1,000 × 1,000 tags do not fit in /dev/shm's inodes)")
    parser.add_argument("--distinct", action="store_true", help="with --standin: every repository lists its own "
                        "tags (one more, 0.0.<i>), so only the ImagePolicies of one repository share a selection")
    parser.add_argument("--py-spy", metavar="OUT", help="record the daemon's first round with py-spy into OUT "
                        "(.svg: a flame graph, else collapsed stacks)")
    parser.add_argument("--py-spy-bin", default="py-spy", help="the py-spy executable")
    parser.add_argument("--timeout", type=float, default=1800.0, help="bound on the first round, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tagpilot-bench-scale-") as tmp:
        try:
            run(args, Path(tmp))
        except BenchFailure as exc:
            print(f"benchmark run failed, no figures: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
