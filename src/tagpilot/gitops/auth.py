"""Git credentials and the environment that hands them to git without exposing them.

Where secrets go, and why:
- http(s) Basic: git asks `GIT_ASKPASS`, a helper script that holds no secret itself; it prints
  `TAGPILOT_GIT_USERNAME`/`TAGPILOT_GIT_PASSWORD` from the environment of that one git process.
  Nothing lands in the URL, `.git/config`, argv (visible in `ps`) or a file on disk.
- Bearer token: `http.extraHeader` through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`
  (environment, not `-c` on argv).
- ssh: the private key and known_hosts go to 0600 files in a 0700 temporary directory that is removed
  when the command ends; `GIT_SSH_COMMAND` points ssh at them with strict host key checking. A key
  passphrase (Flux keeps it under `password`) is answered through the same askpass helper.
- `ca.crt`: a temporary file named by `http.sslCAInfo`.
`Redactor` removes the secrets (and any `user:password@` in URLs) from text that goes into errors.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import re2

from tagpilot.config.core import Secret

ASKPASS_SCRIPT = """#!/bin/sh
# tagpilot askpass helper: holds no secret, answers git/ssh prompts from this process's environment
case "$1" in
  [Uu]sername*) printf '%s\\n' "$TAGPILOT_GIT_USERNAME" ;;
  *) printf '%s\\n' "$TAGPILOT_GIT_PASSWORD" ;;
esac
"""

_USERINFO = re2.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


@dataclass
class GitAuth:
    """Credentials for one remote, as read from a GitRepository's Secret. `repr` shows only which are set."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    identity: bytes | None = field(default=None, repr=False)
    known_hosts: bytes | None = field(default=None, repr=False)
    ca_cert: bytes | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        set_ = [n for n in ("password", "bearer_token", "identity", "known_hosts", "ca_cert") if getattr(self, n)]
        return f"GitAuth(username={self.username!r}, set={set_})"

    def secrets(self) -> list[str]:
        """The values that must never appear in a message."""
        return [s for s in (self.password, self.bearer_token) if s]


def auth_from_secret(secret: Secret | None) -> GitAuth | None:
    """Read Flux's GitRepository Secret keys: `username`/`password`, `bearerToken`, `identity` +
    `known_hosts` (ssh; `password` is then the key's passphrase), `ca.crt` (or the older `caFile`)."""
    if secret is None:
        return None
    values = secret.values()

    def text(key: str) -> str | None:
        raw = values.get(key)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    auth = GitAuth(
        username=text("username"),
        password=text("password"),
        bearer_token=text("bearerToken"),
        identity=values.get("identity"),
        known_hosts=values.get("known_hosts"),
        ca_cert=values.get("ca.crt") or values.get("caFile"),
    )
    if not any((auth.username, auth.password, auth.bearer_token, auth.identity, auth.known_hosts, auth.ca_cert)):
        return None
    return auth


class Redactor:
    """Replace secrets and URL userinfo in text that leaves the process (errors, logs)."""

    def __init__(self, secrets: list[str]) -> None:
        # longest first, so a secret that contains another is removed whole
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(r"\1***@", text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def strip_userinfo(url: str) -> str:
    """The URL as it may be shown: `https://user:pw@host/x` → `https://***@host/x`."""
    return _USERINFO.sub(r"\1***@", url)


def config_env(pairs: list[tuple[str, str]], base: dict[str, str] | None = None) -> dict[str, str]:
    """Git configuration through the environment (git ≥ 2.31), appended to any pairs already in `base`."""
    out: dict[str, str] = {}
    start = int((base or {}).get("GIT_CONFIG_COUNT", "0") or 0)
    for offset, (key, value) in enumerate(pairs):
        out[f"GIT_CONFIG_KEY_{start + offset}"] = key
        out[f"GIT_CONFIG_VALUE_{start + offset}"] = value
    out["GIT_CONFIG_COUNT"] = str(start + len(pairs))
    return out


def write_private(directory: Path, name: str, content: bytes) -> Path:
    """Create `directory/name` readable by us only (0600), without a window where it is wider."""
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content if content.endswith(b"\n") else content + b"\n")
    return path


def ensure_askpass(bin_dir: Path) -> Path:
    """Write the askpass helper once (it contains no secret) and return its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "tagpilot-askpass"
    if not path.exists() or path.read_text() != ASKPASS_SCRIPT:
        tmp = bin_dir / f".askpass-{os.getpid()}"
        tmp.write_text(ASKPASS_SCRIPT)
        tmp.chmod(0o700)
        tmp.replace(path)
    return path


@contextlib.contextmanager
def credential_env(
    auth: GitAuth | None, *, askpass: Path, ssh: str = "ssh", tmp_root: Path | None = None
) -> Iterator[dict[str, str]]:
    """Environment variables for one git command that must authenticate; temporary files are
    removed when the block ends (also on error or cancellation)."""
    env: dict[str, str] = {
        "GIT_ASKPASS": str(askpass),
        "SSH_ASKPASS": str(askpass),
        "SSH_ASKPASS_REQUIRE": "force",
        "TAGPILOT_GIT_USERNAME": "",
        "TAGPILOT_GIT_PASSWORD": "",
    }
    ssh_opts = ["-o", "BatchMode=yes"]
    pairs: list[tuple[str, str]] = []
    tmpdir: Path | None = None
    try:
        if auth is not None:
            if auth.username:
                env["TAGPILOT_GIT_USERNAME"] = auth.username
            if auth.password:
                env["TAGPILOT_GIT_PASSWORD"] = auth.password
            if auth.bearer_token:
                pairs.append(("http.extraHeader", f"Authorization: Bearer {auth.bearer_token}"))
            if auth.identity or auth.known_hosts or auth.ca_cert:
                if tmp_root is not None:
                    tmp_root.mkdir(parents=True, exist_ok=True)
                tmpdir = Path(tempfile.mkdtemp(prefix="cred-", dir=tmp_root))  # 0700
            if auth.identity and tmpdir is not None:
                key = write_private(tmpdir, "identity", auth.identity)
                # a passphrase-protected key is answered by askpass; without one, ssh must not prompt
                ssh_opts = ["-i", str(key), "-o", "IdentitiesOnly=yes"]
                ssh_opts += ["-o", "BatchMode=no"] if auth.password else ["-o", "BatchMode=yes"]
            if auth.known_hosts and tmpdir is not None:
                hosts = write_private(tmpdir, "known_hosts", auth.known_hosts)
                ssh_opts += ["-o", f"UserKnownHostsFile={hosts}", "-o", "StrictHostKeyChecking=yes"]
            if auth.ca_cert and tmpdir is not None:
                ca = write_private(tmpdir, "ca.crt", auth.ca_cert)
                pairs.append(("http.sslCAInfo", str(ca)))
        env["GIT_SSH_COMMAND"] = shlex.join([ssh, *ssh_opts])
        env.update(config_env(pairs))
        yield env
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
