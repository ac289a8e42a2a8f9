"""Workspaces: one git working copy per remote and checkout reference, under the state directory.

`<state>/workspaces/<sha256(url, ref)[:16]>/` is the working copy; `<...>.lock` next to it is held
with `fcntl.flock` while a caller uses it. flock locks belong to an open file description, so two
users in one process exclude each other as well as two processes do; the lock is released by the
kernel if the process dies, so a crash never leaves a stale lock. The wait polls with a non-blocking
attempt and an asyncio sleep so that it never blocks the event loop and can be cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagpilot.config.flux_source import DEFAULT_BRANCH, GitRepositoryRef
from tagpilot.gitops.auth import GitAuth


@dataclass(frozen=True)
class CheckoutRef:
    """What to check out; Flux's precedence is commit > name > semver > tag > branch."""

    branch: str | None = None
    tag: str | None = None
    semver: str | None = None
    name: str | None = None
    commit: str | None = None

    @classmethod
    def from_spec(cls, ref: GitRepositoryRef | None) -> CheckoutRef:
        """From a GitRepository or ImageUpdateAutomation `ref`; none at all means Flux's default branch."""
        if ref is None or not any((ref.branch, ref.tag, ref.semver, ref.name, ref.commit)):
            return cls(branch=DEFAULT_BRANCH)
        return cls(branch=ref.branch, tag=ref.tag, semver=ref.semver, name=ref.name, commit=ref.commit)

    def key(self) -> str:
        return "\n".join(f"{k}={v}" for k, v in sorted(vars(self).items()) if v)

    def describe(self) -> str:
        for kind in ("commit", "name", "semver", "tag", "branch"):
            value = getattr(self, kind)
            if value:
                return f"{kind} {value!r}"
        return "default branch"


def workspace_key(url: str, ref: CheckoutRef) -> str:
    return hashlib.sha256(f"{url}\n{ref.key()}".encode()).hexdigest()[:16]


class WorkspaceLock:
    """An exclusive flock on a file, acquired without blocking the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    async def acquire(self, poll: float = 0.02, max_poll: float = 0.5) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            delay = poll
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, max_poll)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


@dataclass
class Workspace:
    """A locked working copy, checked out at `head`. Use it as an async context manager (or call
    `release()`): the lock is held until then, so one automation at a time works in it."""

    path: Path
    url: str
    ref: CheckoutRef
    timeout: float
    head: str
    checkout_branch: str | None  # the branch to build on and push to by default; None for tags/commits
    auth: GitAuth | None = field(default=None, repr=False)
    lock: WorkspaceLock | None = field(default=None, repr=False)
    # a screened workspace (`prepare(screen=...)`): only files containing `screen` are on disk, and
    # `screened` says which blobs they were (gitops/screened.py); None: a full checkout
    screen: str | None = None
    screened: Any = field(default=None, repr=False)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    async def __aenter__(self) -> Workspace:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.release()
