"""The daemon under attack or faults (issue 9): slowloris, cross-site and DNS-rebinding requests, a storm
of bad webhook deliveries, an oversized body, a NUL byte in a reloaded configuration.

Every attack targets the daemon on 127.0.0.1, is bounded in count, and stops by itself; waits are hang
guards, never assertions on how fast something is.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli import run_tagpilot
from tests.integration.daemon import DaemonProcess

TOKEN = "s3cret-hardening-token"
HALF_OPEN = 300  # sockets that send half a request head and stall
HANG_GUARD = 30.0  # seconds


def config_text() -> str:
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app, namespace: apps}}
spec: {{image: 127.0.0.1:1/app, interval: 1h, insecure: true}}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: gh, namespace: apps}}
spec:
  type: generic-hmac
  secretRef: {{name: webhook-token}}
  resources: [{{kind: ImageRepository, name: app}}]
---
apiVersion: v1
kind: Secret
metadata: {{name: webhook-token, namespace: apps}}
stringData: {{token: {TOKEN}}}
"""


HOOK = "/hook/" + hashlib.sha256((TOKEN + "gh" + "apps").encode()).hexdigest()
SUSPEND = "/api/v1/objects/ImageRepository/apps/app/suspend"


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_text())
    process = DaemonProcess(cfg, tmp_path / "state").start()
    try:
        yield process
    finally:
        assert process.stop() == 0


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset by the server
        return True


def test_half_open_connections_do_not_starve_the_daemon(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_text())
    daemon = DaemonProcess(cfg, tmp_path / "state", args=["--max-connections", "100", "--header-timeout", "1"])
    daemon.start()
    sockets: list[socket.socket] = []
    try:
        for _ in range(HALF_OPEN):  # three times the connection limit, each stalled in its request head
            sock = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
            sock.sendall(b"POST " + HOOK.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
            sockets.append(sock)
        # the daemon still answers: health, the API and webhooks (the oldest stalled sockets made room)
        assert daemon.get("/healthz").status_code == 200
        assert daemon.get("/api/v1/objects").status_code == 200
        body = b'{"ok": true}'
        signature = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
        assert daemon.post(HOOK, content=body, headers={"X-Signature": signature}).status_code == 200
        # a keep-alive client that stalls in its second request head is closed too
        keep_alive = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
        sockets.append(keep_alive)
        keep_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert keep_alive.recv(4096).startswith(b"HTTP/1.1 200")
        keep_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # every stalled connection is closed by the server (header timeout or eviction)
        for sock in sockets:
            sock.setblocking(False)
        deadline = time.monotonic() + HANG_GUARD
        open_ones = list(sockets)
        while open_ones and time.monotonic() < deadline:
            open_ones = [s for s in open_ones if not _closed_by_peer(s)]
            time.sleep(0.2)
        assert not open_ones, f"{len(open_ones)} stalled connections still open"
        assert daemon.get("/healthz").status_code == 200
    finally:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
        assert daemon.stop() == 0
    log = daemon.log_path.read_text()
    assert len(log) < 64 * 1024, f"the log grew to {len(log)} bytes"
    # 200 evictions, logged once (identical lines within the window are collapsed)
    assert 1 <= log.count("connection limit (100) reached") <= 3, log[-3000:]
    assert "out of system resource" not in log


def test_cross_site_and_rebinding_requests_are_refused(daemon: DaemonProcess, tmp_path: Path) -> None:
    # a page on another site: text/plain needs no CORS preflight, so the browser sends it
    cross = daemon.post(SUSPEND, content=b"{}", headers={"Origin": "http://evil.example",
                                                         "Content-Type": "text/plain"})
    assert cross.status_code == 403 and "Origin 'http://evil.example'" in cross.json()["detail"]
    for origin in ("null", "http://127.0.0.1:1", "http://evil.example"):
        refused = daemon.post(SUSPEND, json={}, headers={"Origin": origin})
        assert refused.status_code == 403, origin
    # DNS rebinding: evil.example resolves to 127.0.0.1, the browser sends its own name as Host
    rebound = daemon.post(SUSPEND, json={}, headers={"Host": f"evil.example:{daemon.port}"})
    assert rebound.status_code == 403 and "--allowed-host" in rebound.json()["detail"]
    assert daemon.get("/api/v1/objects", headers={"Host": "evil.example"}).status_code == 403
    # not JSON: 415, whatever the origin
    for headers in ({"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}, {}):
        assert daemon.post(SUSPEND, content=b"", headers=headers).status_code == 415, headers
    assert daemon.view("ImageRepository", "apps", "app")["suspended"] is False  # nothing persisted
    events = daemon.get("/api/v1/events", params={"kind": "ImageRepository"}).json()
    assert "Suspended" not in [e["reason"] for e in events]
    # what is allowed: the CLI through the daemon, a same-origin page, localhost, an IP address
    state = tmp_path / "state"
    paused = run_tagpilot("suspend", "ImageRepository/apps/app", "--state", state)
    assert paused.code == 0 and "through the daemon" in paused.stdout, paused.stderr
    origin = {"Origin": daemon.url}
    assert daemon.post(SUSPEND.replace("suspend", "resume"), json={}, headers=origin).status_code == 200
    assert daemon.post(SUSPEND, json={}, headers={"Host": f"localhost:{daemon.port}"}).status_code == 200
    assert daemon.get("/api/v1/objects", headers={"Host": "[::1]:9440"}).status_code == 200
    # webhooks are called by servers: any Host and content type (they have their own secrets)
    body = b"payload"
    signature = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    hook = daemon.post(HOOK, content=body, headers={"X-Signature": signature, "Host": "evil.example",
                                                    "Content-Type": "text/plain", "Origin": "http://evil.example"})
    assert hook.status_code == 200


def test_allowed_host_names_another_name_for_the_api(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_text())
    daemon = DaemonProcess(cfg, tmp_path / "state", args=["--allowed-host", "tagpilot.internal"]).start()
    try:
        named = {"Host": "tagpilot.internal:9440", "Origin": "https://tagpilot.internal"}
        assert daemon.post(SUSPEND, json={}, headers=named).status_code == 200
        assert daemon.post(SUSPEND, json={}, headers={"Host": "other.internal"}).status_code == 403
    finally:
        assert daemon.stop() == 0


def test_delivery_storm_keeps_the_history_and_oversized_bodies_are_counted(daemon: DaemonProcess,
                                                                           tmp_path: Path) -> None:
    assert daemon.post(SUSPEND, json={}).status_code == 200
    assert daemon.post(SUSPEND.replace("suspend", "resume"), json={}).status_code == 200
    for n in range(200):  # bad signatures (bounded: the store's own test covers the ring's size)
        assert daemon.post(HOOK, content=b"{}", headers={"X-Signature": f"sha256={n:064x}"}).status_code == 400
    too_large = daemon.post(HOOK, content=b"x" * (3 * 1024 * 1024 + 1))
    assert too_large.status_code == 413 and "larger than" in too_large.json()["message"]

    history = daemon.get("/api/v1/events", params={"deliveries": "false", "limit": 1000}).json()
    reasons = [e["reason"] for e in history if e["kind"] == "ImageRepository"]
    assert reasons.index("Suspended") < reasons.index("Resumed")  # the history is still there
    assert all(e["kind"] != "Receiver" for e in history)
    deliveries = daemon.get("/api/v1/deliveries", params={"limit": 1000}).json()
    assert len(deliveries) == 201 and {e["reason"] for e in deliveries} == {"Rejected"}
    assert deliveries[-1]["data"]["status"] == 413
    # the merged listing and the CLI still show deliveries as before
    assert daemon.get("/api/v1/events", params={"kind": "Receiver"}).json()[-1]["data"]["status"] == 413
    shown = run_tagpilot("events", "Receiver/apps/gh", "--state", tmp_path / "state", "-o", "json")
    assert shown.code == 0 and len(shown.json()) == 50
    metrics = daemon.get("/metrics").text
    assert 'tagpilot_webhook_requests_total{outcome="rejected_413",receiver="gh"} 1.0' in metrics
    assert 'tagpilot_webhook_requests_total{outcome="rejected_400",receiver="gh"} 200.0' in metrics


def test_reload_of_a_config_with_a_nul_byte_answers_400(daemon: DaemonProcess) -> None:
    daemon.config.write_text(config_text().replace("interval: 1h", "interval: 1h, x: \"a\0b\""))
    bad = daemon.post("/api/v1/reload", json={})
    assert bad.status_code == 400 and bad.json()["reloaded"] is False
    assert bad.json()["message"]
    assert daemon.get("/readyz").status_code == 200  # the running configuration stays
    daemon.config.write_text(config_text())
    assert daemon.post("/api/v1/reload", json={}).status_code == 200
    assert "Traceback" not in daemon.log()
