"""Prometheus metrics of the daemon, on a registry of their own (no process-global state).

Names follow what users already chart: Flux's `gotk_reconcile_duration_seconds{kind,name,namespace}`
and Argo CD Image Updater's `..._images_updated_total` / `..._registry_requests_total{registry}`,
under the `tagpilot_` prefix for ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class _LiveCollector(Collector):
    """Values read at scrape time from the running parts (registry client counters, queue depth)."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        values = self.read()
        requests = CounterMetricFamily("tagpilot_registry_requests", "HTTP requests sent to registries",
                                       labels=["registry"])
        failures = CounterMetricFamily("tagpilot_registry_request_failures",
                                       "registry requests that failed (transport error or status >= 400 but 401)",
                                       labels=["registry"])
        for host, count in sorted(values.get("requests_by_host", {}).items()):
            requests.add_metric([host], count)
        for host, count in sorted(values.get("failures_by_host", {}).items()):
            failures.add_metric([host], count)
        yield requests
        yield failures
        yield GaugeMetricFamily("tagpilot_queue_depth", "objects waiting for a worker",
                                value=values.get("queue_depth", 0))
        yield GaugeMetricFamily("tagpilot_objects", "objects in the configuration",
                                value=values.get("objects", 0))


class Metrics:
    def __init__(self, live: Callable[[], dict[str, Any]] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.reconcile_duration = Histogram(
            "gotk_reconcile_duration_seconds", "duration of one reconcile, as Flux's controllers report it",
            ["kind", "name", "namespace"], registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
        self.reconciles = Counter("tagpilot_reconciles", "reconciles by kind and result", ["kind", "result"],
                                  registry=self.registry)
        self.scans = Counter("tagpilot_scans", "registry scans by result", ["result"], registry=self.registry)
        self.images_updated = Counter("tagpilot_images_updated", "files changed by pushed image updates",
                                      registry=self.registry)
        self.commits_pushed = Counter("tagpilot_commits_pushed", "commits pushed to git remotes",
                                      registry=self.registry)
        self.webhooks = Counter("tagpilot_webhook_requests", "webhook requests by receiver and outcome",
                                ["receiver", "outcome"], registry=self.registry)
        self.ready = Gauge("tagpilot_ready", "1 once the configuration is loaded and the store open",
                           registry=self.registry)
        if live is not None:
            self.registry.register(_LiveCollector(live))

    def render(self) -> bytes:
        return generate_latest(self.registry)
