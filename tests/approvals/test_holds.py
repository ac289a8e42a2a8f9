"""Retention's holds from the manual path: pinned tags and proposed tags of open requests are kept."""

from __future__ import annotations

import time
from pathlib import Path

from tagpilot.approvals.book import ApprovalBook, Pin
from tagpilot.config.loader import load_config
from tagpilot.engine.retention_protect import held
from tagpilot.store import Store

CONFIG = """\
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata: {name: app, namespace: apps}
spec: {image: registry.example/team/app, interval: 5m}
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata: {name: app, namespace: apps}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
"""


def test_pins_and_open_requests_are_held_for_their_own_repository_only(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(CONFIG)
    config = load_config([tmp_path / "config.yaml"])
    key = ("ImageUpdateAutomation", "apps", "prod")
    with Store(tmp_path / "state.db") as store:
        book = ApprovalBook(store)
        assert held(store, "registry.example/team/app", config) == {}
        book.pin(Pin(key, "apps:app", "1.0.0", "rollback", "alice", time.time()))
        open_request = book.create(key, images=[{"image": "registry.example/team/app", "from": "1.0.0",
                                                 "to": "1.2.0"}], targets={}, changes=[], diff="", required=1,
                                   approvers=[], now=0.0, deadline=100.0)
        closed = book.create(key, images=[{"image": "registry.example/team/app", "from": "1.0.0", "to": "1.1.0"}],
                             targets={}, changes=[], diff="", required=1, approvers=[], now=0.0, deadline=100.0)
        book.set_state(closed.id, "rejected", now=1.0)
        holds = held(store, "registry.example/team/app", config)
        assert holds == {"1.0.0": ["pinned: ImageUpdateAutomation/apps/prod holds apps:app at 1.0.0"],
                         "1.2.0": [f"pending approval: request {open_request.id} of ImageUpdateAutomation/apps/prod"]}
        assert held(store, "registry.example/team/other", config) == {}
        # without the configuration a policy pin's image is unknown: only the request is held
        assert list(held(store, "registry.example/team/app")) == ["1.2.0"]
