"""Commit signing keys: OpenPGP (gpg) as Flux does, and ssh (tagpilot; git ≥ 2.34).

A gpg key is imported into a private, temporary GNUPGHOME (the user's keyring is never touched)
that is removed, agent included, when the commit is done; a passphrase goes to a 0600 file named by
`passphrase-file` in that home's gpg.conf, with loopback pinentry (no prompt, no argv). An ssh key is
written to a 0600 temporary file that `user.signingkey` names. Configuration reaches `git commit`
through GIT_CONFIG_* environment variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tagpilot.config.core import Secret
from tagpilot.errors import SigningError
from tagpilot.gitops.auth import write_private

GPG_KEY = "git.asc"  # Flux's key names in the signing Secret
PASSPHRASE_KEY = "passphrase"
SSH_KEY = "identity"


@dataclass
class SigningKey:
    kind: Literal["gpg", "ssh"]
    key: bytes = field(repr=False)
    passphrase: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"SigningKey(kind={self.kind!r}, passphrase={'set' if self.passphrase else 'unset'})"


def signing_key_from_secret(secret: Secret, kind: Literal["gpg", "ssh"] = "gpg") -> SigningKey:
    """Flux's layout: `git.asc` (+ `passphrase`) for gpg; tagpilot: `identity` (+ `passphrase`) for ssh."""
    values = secret.values()
    name = GPG_KEY if kind == "gpg" else SSH_KEY
    key = values.get(name)
    if not key:
        raise SigningError(f"Secret {secret.namespace}/{secret.name} has no key {name!r} for a {kind} signing key")
    passphrase = values.get(PASSPHRASE_KEY)
    return SigningKey(kind, key, passphrase.decode("utf-8", "replace") if passphrase else None)


async def _gpg(gpg: str, args: list[str], env: dict[str, str], input: bytes | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        gpg, "--batch", *args, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(input), 60)
    if proc.returncode != 0:
        # gpg's stderr names keys and files, never the passphrase (it only reads it from the file)
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise SigningError(f"gpg {args[0]} failed: {last[0]}")
    return out.decode("utf-8", "replace")


@contextlib.asynccontextmanager
async def signing_config(
    key: SigningKey | None, env: dict[str, str], *, gpg: str = "gpg", ssh_keygen: str = "ssh-keygen"
) -> AsyncIterator[tuple[list[tuple[str, str]], dict[str, str]]]:
    """Yield (git config pairs, extra environment) that make `git commit` sign with `key`."""
    if key is None:
        yield [], {}
        return
    # short path: gpg-agent's socket lives in GNUPGHOME and socket paths are limited to ~108 bytes
    home = Path(tempfile.mkdtemp(prefix="tp-sign-"))
    gpg_env = {**env, "GNUPGHOME": str(home)}
    try:
        if key.kind == "ssh":
            path = write_private(home, "signing-key", key.key)
            extra: dict[str, str] = {}
            if key.passphrase:  # ssh-keygen -Y sign asks SSH_ASKPASS (set by the caller's env)
                extra = {"TAGPILOT_GIT_PASSWORD": key.passphrase, "SSH_ASKPASS_REQUIRE": "force"}
            yield (
                [
                    ("gpg.format", "ssh"),
                    ("gpg.ssh.program", ssh_keygen),
                    ("user.signingkey", str(path)),
                    ("commit.gpgsign", "true"),
                ],
                extra,
            )
            return
        conf = "batch\nno-tty\npinentry-mode loopback\n"
        if key.passphrase:
            pw = write_private(home, "passphrase", key.passphrase.encode())
            conf += f"passphrase-file {pw}\n"
        (home / "gpg.conf").write_text(conf)
        (home / "gpg-agent.conf").write_text("allow-loopback-pinentry\n")
        await _gpg(gpg, ["--import"], gpg_env, key.key)
        listing = await _gpg(gpg, ["--with-colons", "--list-secret-keys"], gpg_env)
        fingerprints = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
        if not fingerprints:
            raise SigningError("the gpg signing key contains no secret key")
        yield (
            [
                ("gpg.format", "openpgp"),
                ("gpg.program", gpg),
                ("user.signingkey", fingerprints[0]),
                ("commit.gpgsign", "true"),
            ],
            {"GNUPGHOME": str(home)},
        )
    finally:
        if key.kind == "gpg" and shutil.which("gpgconf"):
            with contextlib.suppress(Exception):
                proc = await asyncio.create_subprocess_exec(
                    "gpgconf", "--kill", "gpg-agent", env=gpg_env,
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                )  # fmt: skip
                await asyncio.wait_for(proc.wait(), 10)
        shutil.rmtree(home, ignore_errors=True)
