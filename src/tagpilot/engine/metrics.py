"""Prometheus metrics of the daemon, on a registry of their own (no process-global state).

Names follow what users already chart: Flux's `gotk_reconcile_duration_seconds{kind,name,namespace}`
and Argo CD Image Updater's `..._images_updated_total` / `..._registry_requests_total{registry}`,
under the `tagpilot_` prefix for ours.
"""

from __future__ import annotations

import io
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class _Observer:
    __slots__ = ("_histogram", "_key")

    def __init__(self, histogram: CompactHistogram, key: tuple[str, ...]) -> None:
        self._histogram, self._key = histogram, key

    def observe(self, amount: float) -> None:
        self._histogram.observe(self._key, amount)


class CompactHistogram(Collector):
    """A labelled histogram exposed exactly as prometheus_client's `Histogram` is (buckets, count,
    sum, created), stored as one array of doubles per label set.

    Flux's `gotk_reconcile_duration_seconds` has a series per object; prometheus_client keeps a
    locked value object per bucket per series, ~4 KB each: 79 MB for 10,000 ImageRepositories and
    their 10,000 ImagePolicies, a quarter of the daemon's memory budget. Here it is ~0.2 KB each."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float],
                 registry: CollectorRegistry | None) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self.bounds = [float(b) for b in buckets] + [float("inf")]
        self._les = [floatToGoString(b) for b in self.bounds]
        # per label values: a count per bucket (not cumulative), then the sum, then the created time
        self._series: dict[tuple[str, ...], array[float]] = {}
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def labels(self, *values: str) -> _Observer:
        return _Observer(self, tuple(str(v) for v in values))

    def observe(self, key: tuple[str, ...], amount: float) -> None:
        with self._lock:
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = array("d", [0.0] * (len(self.bounds) + 2))
                series[-1] = time.time()
            series[-2] += amount
            for i, bound in enumerate(self.bounds):
                if amount <= bound:
                    series[i] += 1
                    break

    def describe(self) -> Iterator[Metric]:
        yield Metric(self.name, self.documentation, "histogram")

    def collect(self) -> Iterator[Metric]:
        family = Metric(self.name, self.documentation, "histogram")
        with self._lock:
            items = [(key, series.tolist()) for key, series in self._series.items()]
        buckets = len(self.bounds)
        for key, values in items:
            labels = dict(zip(self.labelnames, key, strict=True))
            total = 0.0
            for le, count in zip(self._les, values[:buckets], strict=True):
                total += count
                family.add_sample(self.name + "_bucket", {**labels, "le": le}, total)
            family.add_sample(self.name + "_count", labels, total)
            family.add_sample(self.name + "_sum", labels, values[buckets])
            family.add_sample(self.name + "_created", labels, values[buckets + 1])
        yield family

    def render_text(self) -> str:
        """What `generate_latest` prints for this family, byte for byte (see `write_text`)."""
        out = io.BytesIO()
        self.write_text(out)
        return out.getvalue().decode()

    def write_text(self, out: io.BytesIO) -> None:
        """Write what `generate_latest` prints for this family, byte for byte, without a Sample object
        per line: at 10,000 objects this family is ~300,000 lines and going through prometheus_client
        cost the daemon ~2.8 s of CPU per scrape. Labels sorted by name as generate_latest sorts them
        (with the labels kind/name/namespace, `le` sorts second); `_created` lines in a gauge family
        at the end. Written one series at a time into `out` as UTF-8: a list of every line, then its
        join, then its encoding held ~3 copies of the 31 MB text at once (the daemon's peak memory)."""
        name, doc = self.name, self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        with self._lock:
            items = list(self._series.items())  # each series' values are copied when written, not all at once
        labelnames = sorted((*self.labelnames, "le"))
        at = labelnames.index("le")
        buckets = len(self.bounds)
        write = out.write
        write(f"# HELP {name} {doc}\n# TYPE {name} histogram\n".encode())
        created = io.BytesIO()
        for key, series in items:
            with self._lock:
                values = series.tolist()
            pairs = dict(zip(self.labelnames, key, strict=True))
            parts = [f'{k}="{_escape(pairs[k])}"' for k in labelnames if k != "le"]
            before, after = ",".join(parts[:at]), ",".join(parts[at:])
            head, tail = (before + "," if before else ""), ("," + after if after else "")
            plain = ",".join(parts)
            total = 0.0
            lines = []
            for le, count in zip(self._les, values[:buckets], strict=True):
                total += count
                lines.append(f'{name}_bucket{{{head}le="{le}"{tail}}} {floatToGoString(total)}\n')
            lines.append(f"{name}_count{{{plain}}} {floatToGoString(total)}\n")
            lines.append(f"{name}_sum{{{plain}}} {floatToGoString(values[buckets])}\n")
            write("".join(lines).encode())
            created.write(f"{name}_created{{{plain}}} {floatToGoString(values[buckets + 1])}\n".encode())
        if items:
            write(f"# HELP {name}_created {doc}\n# TYPE {name}_created gauge\n".encode())
            write(created.getbuffer())


def _escape(value: str) -> str:
    """A label value as the text format writes it (prometheus_client's escaping)."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')


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


def chunks(body: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    """`body` in pieces, for a response that writes it piece by piece: handed to the server whole,
    a 31 MB scrape was copied twice more into the socket's buffer (the daemon's peak memory)."""
    for start in range(0, len(body), size):
        yield body[start:start + size]


class Metrics:
    def __init__(self, live: Callable[[], dict[str, Any]] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.reconcile_duration = CompactHistogram(
            "gotk_reconcile_duration_seconds", "duration of one reconcile, as Flux's controllers report it",
            ["kind", "name", "namespace"], registry=None,  # rendered by render(), see render_text
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
        out = io.BytesIO()
        self.reconcile_duration.write_text(out)
        out.write(generate_latest(self.registry))
        return out.getvalue()  # the buffer itself, not a copy
