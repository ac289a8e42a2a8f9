"""Signed commits, verified with `git verify-commit`: gpg keys (with and without passphrase), ssh keys."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagpilot.config.core import Secret
from tagpilot.gitops import CheckoutRef, GitClient, SigningError, SigningKey, signing_key_from_secret
from tests.fixtures.git import GitRemote
from tests.gitops.conftest import DEPLOY, Bump, message

MAIN = CheckoutRef(branch="main")
EMAIL = "signer@example.org"


@contextlib.contextmanager
def gpg_home() -> Iterator[dict[str, str]]:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed")
    home = tempfile.mkdtemp(prefix="tpt-gpg-")  # short: gpg-agent socket path limits
    env = {"PATH": os.environ["PATH"], "GNUPGHOME": home}
    try:
        yield env
    finally:
        subprocess.run(["gpgconf", "--kill", "gpg-agent"], env=env, check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def make_gpg_key(env: dict[str, str], passphrase: str) -> tuple[bytes, str]:
    base = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase]
    subprocess.run([*base, "--quick-gen-key", f"Signer <{EMAIL}>", "ed25519", "sign", "never"], env=env,
                   check=True, capture_output=True)  # fmt: skip
    armored = subprocess.run([*base, "--armor", "--export-secret-keys", EMAIL], env=env, check=True,
                             capture_output=True).stdout  # fmt: skip
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys", EMAIL], env=env, check=True,
                             capture_output=True, text=True).stdout  # fmt: skip
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    return armored, fpr


async def _signed_push(client: GitClient, remote: GitRemote, key: SigningKey) -> str:
    remote.commit({"deploy.yaml": DEPLOY}, "add deploy")
    async with client.checkout(remote.url, MAIN, None, timeout=60) as ws:
        result = await client.commit_and_push(ws, apply=Bump(), message=message, author=("Signer", EMAIL), signing=key)
    assert result is not None and remote.head() == result.commit
    return result.commit


@pytest.mark.parametrize("passphrase", ["", "correct horse battery"])
async def test_gpg_signed_commit_verifies(client: GitClient, git_remote_file: GitRemote, passphrase: str) -> None:
    with gpg_home() as env:
        armored, fpr = make_gpg_key(env, passphrase)
        secret = Secret.model_validate({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "signing"},
            "stringData": {"git.asc": armored.decode(), **({"passphrase": passphrase} if passphrase else {})},
        })  # fmt: skip
        sha = await _signed_push(client, git_remote_file, signing_key_from_secret(secret))
        verify = subprocess.run(["git", "--git-dir", str(git_remote_file.path), "verify-commit", "--raw", sha],
                                env={**git_remote_file.env, **env}, capture_output=True, text=True)  # fmt: skip
        assert verify.returncode == 0, verify.stderr
        assert f"VALIDSIG {fpr}" in verify.stderr
        shown = subprocess.run(
            ["git", "--git-dir", str(git_remote_file.path), "log", "-1", "--format=%G?|%GF", sha],
            env={**git_remote_file.env, **env},
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert shown == f"G|{fpr}"  # good signature by the key we generated (ultimately trusted in its keyring)
    # tagpilot's temporary keyring is gone
    assert not list(Path(tempfile.gettempdir()).glob("tp-sign-*"))


async def test_gpg_wrong_passphrase(client: GitClient, git_remote_file: GitRemote) -> None:
    with gpg_home() as env:
        armored, _ = make_gpg_key(env, "right-pass")
    key = SigningKey("gpg", armored, passphrase="wrong-pass-xyz")
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    head = git_remote_file.head()
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=60) as ws:
        with pytest.raises(SigningError, match="could not sign the commit with the gpg key") as info:
            await client.commit_and_push(ws, apply=Bump(), message=message, author=("Signer", EMAIL), signing=key)
    assert "wrong-pass-xyz" not in str(info.value)
    assert git_remote_file.head() == head  # nothing unsigned was pushed


async def test_ssh_signed_commit_verifies(client: GitClient, git_remote_file: GitRemote, tmp_path: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    keyfile = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", EMAIL, "-f", str(keyfile)], check=True)
    secret = Secret.model_validate({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "signing"},
        "stringData": {"identity": keyfile.read_text()},
    })  # fmt: skip
    sha = await _signed_push(client, git_remote_file, signing_key_from_secret(secret, "ssh"))
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'{EMAIL} namespaces="git" {(tmp_path / "id_ed25519.pub").read_text()}')
    out = git_remote_file.git("-c", f"gpg.ssh.allowedSignersFile={allowed}", "log", "-1", "--format=%G?|%GS", sha)
    assert out == f"G|{EMAIL}"
    git_remote_file.git("-c", f"gpg.ssh.allowedSignersFile={allowed}", "verify-commit", sha)


def test_signing_key_from_secret_errors() -> None:
    secret = Secret.model_validate({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                                    "stringData": {"identity": "k"}})  # fmt: skip
    with pytest.raises(SigningError, match=r"no key 'git\.asc'"):
        signing_key_from_secret(secret)
    key = signing_key_from_secret(secret, "ssh")
    assert key.kind == "ssh" and key.key == b"k"
    assert "k'" not in repr(SigningKey("gpg", b"SECRETKEY", "pw")) and "SECRETKEY" not in repr(key)
