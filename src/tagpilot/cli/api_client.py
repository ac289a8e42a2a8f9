"""The one client for a running `tagpilot run`: every CLI command that talks to the daemon uses it.

The daemon announces its API in `<state>/daemon.json` (url, pid). Commands that change state
(`reconcile KIND/NS/NAME`, `suspend`, `resume`) go through it when one runs, so the daemon acts at
once; without one they work on the state directory themselves. Requests carry a JSON content type
(the API refuses other mutating requests, a guard against cross-site requests).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tagpilot.engine.keys import ObjectKey
from tagpilot.errors import TagpilotError
from tagpilot.store.db import state_dir


class DaemonError(TagpilotError):
    """The daemon did not answer, or answered with an error."""


class DaemonClient:
    """HTTP calls to the daemon's JSON API (`/api/v1`)."""

    def __init__(self, url: str, *, timeout: float = 10.0, token: str = "") -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.token = token  # the daemon's `local` admin token from daemon.json (server/auth.py)

    @classmethod
    def find(cls, state: Path | None) -> DaemonClient | None:
        """The daemon using this state directory, if one runs and answers `/healthz`; else None."""
        import httpx

        try:
            pointer = json.loads((state_dir(state) / "daemon.json").read_text())
            os.kill(int(pointer["pid"]), 0)
            url = str(pointer["url"])
            httpx.get(url + "/healthz", timeout=2).raise_for_status()
        except (OSError, ValueError, KeyError, TypeError, httpx.HTTPError):
            return None
        return cls(url, token=str(pointer.get("token") or ""))

    def post(self, path: str, body: dict[str, Any] | None = None, *, expect: tuple[int, ...] = (200, 202)
             ) -> dict[str, Any]:
        """POST JSON to `/api/v1{path}`; a DaemonError says what went wrong (404: not in its configuration)."""
        import httpx

        try:
            response = httpx.post(f"{self.url}/api/v1{path}", json=body or {}, timeout=self.timeout,
                                  headers={"Authorization": f"Bearer {self.token}"} if self.token else {})
        except httpx.HTTPError as exc:
            raise DaemonError(f"the daemon at {self.url} did not answer: {exc.__class__.__name__}") from None
        if response.status_code not in expect:
            raise DaemonError(f"the daemon at {self.url} answered {response.status_code}: {response.text[:300]}")
        try:
            return dict(response.json())
        except (ValueError, TypeError):
            return {}

    def object_action(self, key: ObjectKey, verb: str) -> dict[str, Any]:
        """`reconcile`, `suspend` or `resume` one object."""
        try:
            return self.post(f"/objects/{key[0]}/{key[1]}/{key[2]}/{verb}")
        except DaemonError as exc:
            if " answered 404" in str(exc):
                raise DaemonError(f"{'/'.join(key)} is not in the running daemon's configuration") from None
            raise
