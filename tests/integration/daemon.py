"""Run `tagpilot run` as a real process on 127.0.0.1 for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.registry import free_port


class DaemonProcess:
    def __init__(self, config: Path, state: Path, *, extra_env: dict[str, str] | None = None,
                 args: Sequence[str] = ()) -> None:
        self.config = config
        self.args = list(args)  # more `tagpilot run` options
        self.state = state
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = state.parent / f"daemon-{self.port}.log"
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, wait_ready: bool = True) -> DaemonProcess:
        env = dict(os.environ, **self.extra_env)
        env.pop("TAGPILOT_STATE", None)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tagpilot", "run", "-f", str(self.config), "--listen", f"127.0.0.1:{self.port}",
             "--state", str(self.state), "--log-format", "json", *self.args],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)
        if wait_ready:
            self.wait(lambda: self.get("/readyz").status_code == 200, what="readyz", timeout=20)
        return self

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kwargs)

    def local_token(self) -> str:
        """The `local` admin token the daemon wrote into <state>/daemon.json (what the CLI sends)."""
        return str(json.loads((self.state / "daemon.json").read_text())["token"])

    def post(self, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        """POST as the local CLI does (with the daemon.json token); `auth=False` posts anonymously."""
        headers = dict(kwargs.pop("headers", None) or {})
        if auth and not path.startswith("/hook/"):
            headers.setdefault("Authorization", f"Bearer {self.local_token()}")
        return httpx.post(self.url + path, timeout=10, headers=headers, **kwargs)

    def wait(self, condition: Callable[[], Any], *, what: str, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"tagpilot run exited ({self.proc.returncode}) while waiting for {what}:\n"
                                     + self.log())
            try:
                value = condition()
                if value:
                    return value
            except (httpx.HTTPError, KeyError, StopIteration, IndexError) as exc:
                last_error = exc
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} ({last_error}); log:\n{self.log()}")

    def view(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        response = self.get(f"/api/v1/objects/{kind}/{namespace}/{name}")
        response.raise_for_status()
        return response.json()

    def log(self) -> str:
        try:
            return self.log_path.read_text()[-6000:]
        except OSError:
            return ""

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        code = self.proc.returncode
        self.proc = None
        return code
