"""One daemon per state directory: an exclusive lock, held for the daemon's life.

Two `tagpilot run` on one state directory would both reconcile (two commits for one change),
overwrite each other's `daemon.json`, and the second's stop would delete the pointer while the
first runs. The lock is `flock` on `<state>/daemon.lock`: the kernel drops it when the process dies
(kill -9 included), so a crash never leaves a stale lock behind. CLI commands do not take it: they
work beside a running daemon (SQLite lets them read while it writes) or through its API.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

from tagpilot.errors import StoreError
from tagpilot.store.private import FILE_MODE, secure_dir


class StateLocked(StoreError):
    """Another daemon holds the state directory. Exit 2: it is a usage error, nothing failed."""

    exit_code = 2
    reason = "StateDirectoryInUse"


class StateLock:
    """The exclusive lock on a state directory (`acquire`, `release`, or a context manager)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.directory / "daemon.lock"

    def acquire(self) -> None:
        """Take the lock, or raise StateLocked naming the daemon that holds it (pid, address)."""
        secure_dir(self.directory)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateLocked(f"another tagpilot run uses the state directory {self.directory}"
                              f"{self._holder()}; stop it first, or give this one its own --state") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def _holder(self) -> str:
        """` (pid N, API at URL)` from the running daemon's own files, as far as they say."""
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            pointer = json.loads((self.directory / "daemon.json").read_text())
            return f" (pid {int(pointer['pid'])}, API at {pointer['url']})"
        with contextlib.suppress(OSError, ValueError):
            return f" (pid {int(self.path.read_text().strip())})"
        return ""

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
