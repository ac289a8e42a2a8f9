"""engine/metrics.py's CompactHistogram exposes exactly what prometheus_client's Histogram does.

Both are fed the same observations (bucket edges, beyond the last bucket, a label needing escapes)
and rendered by prometheus_client's own `generate_latest`; only the `_created` timestamps (the time
each series was first observed) may differ."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from tagpilot.engine.metrics import CompactHistogram, Metrics

BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LABELS = ["kind", "name", "namespace"]


def _without_created_times(text: str) -> str:
    return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 T", text)


def test_compact_histogram_renders_as_prometheus_client_histogram() -> None:
    reference, compact = CollectorRegistry(), CollectorRegistry()
    ours = CompactHistogram("gotk_reconcile_duration_seconds", "doc", LABELS, BUCKETS, compact)
    theirs = Histogram("gotk_reconcile_duration_seconds", "doc", LABELS, registry=reference, buckets=BUCKETS)
    for key, seconds in [(("ImageRepository", "app", "apps"), 0.07), (("ImagePolicy", "p", 'we"ird\\'), 100),
                         (("ImageRepository", "app", "apps"), 0.01), (("ImagePolicy", "q", "apps"), 60),
                         (("ImagePolicy", "q", "apps"), 1e-9), (("ImagePolicy", "q", "apps"), 0.5)]:
        ours.labels(*key).observe(seconds)
        theirs.labels(*key).observe(seconds)
    expected, got = generate_latest(reference).decode(), generate_latest(compact).decode()
    assert got.count("_created{") == 3
    assert _without_created_times(got) == _without_created_times(expected)


def test_daemon_metrics_keep_the_flux_histogram() -> None:
    metrics = Metrics()
    metrics.reconcile_duration.labels("ImageRepository", "app", "apps").observe(0.2)
    text = metrics.render().decode()
    assert "# TYPE gotk_reconcile_duration_seconds histogram" in text
    assert 'gotk_reconcile_duration_seconds_bucket{kind="ImageRepository",le="0.25",name="app",namespace="apps"} 1.0' \
        in text
    assert 'gotk_reconcile_duration_seconds_sum{kind="ImageRepository",name="app",namespace="apps"} 0.2' in text


def test_render_text_is_generate_latest_byte_for_byte() -> None:
    """The daemon's /metrics renders this family itself (no Sample object per line); the text must be
    exactly what prometheus_client's generate_latest gives for the same histogram, created times included."""
    registry = CollectorRegistry()
    ours = CompactHistogram("gotk_reconcile_duration_seconds", 'doc with \\ and\nnewline', LABELS, BUCKETS, registry)
    assert ours.render_text() == generate_latest(registry).decode()  # no series yet: HELP and TYPE only
    for key, seconds in [(("ImageRepository", "app", "apps"), 0.07), (("ImagePolicy", "p", 'we"ird\\\nx'), 100),
                         (("ImageRepository", "app", "apps"), 0.01), (("ImagePolicy", "q", "apps"), 1e-9)]:
        ours.labels(*key).observe(seconds)
    assert ours.render_text() == generate_latest(registry).decode()
    metrics = Metrics()
    metrics.reconcile_duration.labels("ImagePolicy", "p", "apps").observe(0.3)
    metrics.scans.labels("success").inc()
    text = metrics.render().decode()
    assert text.startswith(metrics.reconcile_duration.render_text()) and "tagpilot_scans_total" in text
    assert text.count("# TYPE gotk_reconcile_duration_seconds histogram") == 1


def test_the_scrape_is_written_in_pieces_that_make_up_the_whole() -> None:
    from tagpilot.engine.metrics import chunks

    metrics = Metrics()
    for i in range(300):
        metrics.reconcile_duration.labels("ImagePolicy", f"p{i}", "apps").observe(0.2)
    body = metrics.render()
    pieces = list(chunks(body, 4096))
    assert b"".join(pieces) == body and len(pieces) == -(-len(body) // 4096)
    assert all(len(p) == 4096 for p in pieces[:-1]) and list(chunks(b"", 4096)) == []
