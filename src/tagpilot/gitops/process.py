"""Run git as an asyncio subprocess: never through a shell, always with a timeout, in its own
process group (a timeout kills git and the ssh or helper it started), and with an environment that
keeps the user's and the system's git configuration out (only what tagpilot passes applies)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tagpilot.errors import GitAuthError, GitError, GitRefNotFound, GitTimeout
from tagpilot.gitops.auth import Redactor

_AUTH_HINTS = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "terminal prompts disabled",
    "permission denied (publickey",
    "http basic: access denied",
    "the requested url returned error: 401",
    "the requested url returned error: 403",
    "host key verification failed",
)
_NOT_FOUND_HINTS = ("couldn't find remote ref", "remote branch", "not our ref", "no such remote ref")


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment every git command starts from."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "LANG": "C",
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
    }
    # ssh-agent, proxies and the temp dir are transport settings users legitimately rely on
    for name in ("SSH_AUTH_SOCK", "TMPDIR", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "NO_PROXY"):  # fmt: skip
        if name in os.environ:
            env[name] = os.environ[name]
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str
    raw: bytes = b""  # stdout as git wrote it: blob contents, NUL-separated paths


def classify(stderr: str) -> type[GitError]:
    low = stderr.lower()
    if any(hint in low for hint in _AUTH_HINTS):
        return GitAuthError
    if any(hint in low for hint in _NOT_FOUND_HINTS):
        return GitRefNotFound
    return GitError


async def run_git(
    git: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float,
    redact: Redactor,
    input: bytes | None = None,
    check: bool = True,
    what: str | None = None,
) -> GitResult:
    """Run `git ARGS`. With `check`, a non-zero exit raises the GitError subclass its stderr suggests,
    with the redacted stderr in the message; a timeout kills the process group and raises GitTimeout."""
    proc = await asyncio.create_subprocess_exec(
        git,
        *args,
        cwd=cwd,
        env=dict(env),
        stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    label = what or f"git {args[0]}"
    try:
        out, err = await asyncio.wait_for(proc.communicate(input), timeout)
    except TimeoutError:
        _kill(proc)
        await proc.wait()
        raise GitTimeout(f"{label} timed out after {timeout:g}s") from None
    except BaseException:
        _kill(proc)
        with contextlib.suppress(Exception):
            await proc.wait()
        raise
    result = GitResult(proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), out)
    if check and result.returncode != 0:
        raise_for(result, label, redact)
    return result


def raise_for(result: GitResult, label: str, redact: Redactor) -> None:
    detail = redact(result.stderr.strip() or result.stdout.strip()) or f"exit status {result.returncode}"
    raise classify(result.stderr)(f"{label} failed: {detail}")


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
