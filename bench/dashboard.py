"""Benchmark: the dashboard's overview on 1,000 objects, server time (no HTTP), against a baseline.

Builds a configuration of `--targets` image setups (ImageRepository + ImagePolicy + ImageUpdateAutomation
each, selected by labels; one GitRepository), about 1,000 objects at the default 333; fills a store with
a Ready status per object (latest tags, latestRef, observedPolicies) and `--events` events. Then, `--rounds`
times: the overview's data (`dashboard.data.overview`) and its HTML (the `overview.html` template, cards
left out: they are other routes), and as the baseline the object listing `GET /api/v1/objects` computes
(`KINDS.view` of every object, JSON-encoded). Prints medians and the ratio; the target is < 200 ms.
Every run checks the rendered page has one row per target, so a broken run cannot look fast.

    .venv/bin/python bench/dashboard.py [--targets 333] [--rounds 15] [--events 5000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from tagpilot.config.loader import load_config
from tagpilot.dashboard import data
from tagpilot.dashboard.pages import TEMPLATES
from tagpilot.engine.kinds import KINDS
from tagpilot.store import Store

READY = {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "ok",
         "lastTransitionTime": "2026-01-01T00:00:00Z"}


def config_text(targets: int) -> str:
    docs = ["apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: {name: fleet, namespace: apps}\n"
            "spec: {url: 'https://github.com/acme/fleet', interval: 1h, ref: {branch: main}}\n"]
    for i in range(targets):
        docs.append(
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
            f"metadata: {{name: app{i}, namespace: apps}}\n"
            f"spec: {{image: registry.example/team/app{i}, interval: 1h}}\n---\n"
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
            f"metadata: {{name: app{i}, namespace: apps, labels: {{app: app{i}}}}}\n"
            f"spec: {{imageRepositoryRef: {{name: app{i}}}, policy: {{semver: {{range: '>=1.0.0'}}}}}}\n---\n"
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageUpdateAutomation\n"
            f"metadata: {{name: app{i}, namespace: apps}}\n"
            f"spec:\n  interval: 1h\n  sourceRef: {{kind: GitRepository, name: fleet}}\n"
            f"  policySelector: {{matchLabels: {{app: app{i}}}}}\n"
            f"  git: {{commit: {{author: {{name: t, email: t@example.invalid}}}}, push: {{branch: main}}}}\n"
            f"  update: {{path: ./apps/app{i}, strategy: Setters}}\n")
    return "---\n".join(docs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=333)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config.yaml"
        path.write_text(config_text(args.targets))
        config = load_config([path])
        store = Store.open(Path(tmp) / "state")
        for i in range(args.targets):
            store.set_status("ImageRepository", "apps", f"app{i}", {"conditions": [READY], "lastScanResult": {
                "tagCount": 40, "scanTime": "2026-01-01T00:00:00Z",
                "latestTags": [f"1.{j}.0" for j in range(9, -1, -1)]}})
            store.set_status("ImagePolicy", "apps", f"app{i}", {"conditions": [READY], "latestRef": {
                "name": f"registry.example/team/app{i}", "tag": "1.9.0"}})
            store.set_status("ImageUpdateAutomation", "apps", f"app{i}", {"conditions": [READY], "observedPolicies": {
                f"app{i}": {"name": f"registry.example/team/app{i}", "tag": "1.8.0"}}})
        kinds = ("ImageRepository", "ImagePolicy", "ImageUpdateAutomation")
        for n in range(args.events):
            store.add_event(kinds[n % 3], "apps", f"app{n % args.targets}", "Normal", "Pushed", "pushed",
                            {"commit": "ab"})
        print(f"{len(config.objects)} objects, {args.targets} image targets, {args.events} events; "
              f"{args.rounds} rounds (medians)")
        template = TEMPLATES.get_template("overview.html")
        dash, base = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            rows = data.overview(config, store)
            page = template.render(data=rows, cards=[], deliveries=data.deliveries(store, 10), user=None, csrf="",
                                   version="bench", path="/", may=lambda _role: False)
            dash.append(time.perf_counter() - started)
            assert page.count('<tr class="row"') == args.targets, "the page lost rows"
            started = time.perf_counter()
            listing = json.dumps([KINDS.view(config, store, obj) for key, obj in sorted(config.objects.items())
                                  if key[0] != "Secret"])
            base.append(time.perf_counter() - started)
            assert listing.count('"kind"') >= len(config.objects)
        store.close()
    d, b = statistics.median(dash), statistics.median(base)
    print(f"overview (data + HTML):      {d * 1000:7.1f} ms   {'under' if d < 0.2 else 'OVER'} the 200 ms target")
    print(f"baseline GET /api/v1/objects: {b * 1000:7.1f} ms")
    print(f"ratio overview/baseline:      {d / b:7.2f}x")


if __name__ == "__main__":
    main()
