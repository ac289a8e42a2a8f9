"""Clone, fetch, commit and push against real remotes: file://, git daemon (git://), smart HTTP with
Basic auth, a bearer-token header, ssh through a stand-in ssh program, and a remote that never answers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import stat
import sys
import threading
from pathlib import Path

import pytest

from tagpilot.gitops import CheckoutRef, GitAuth, GitAuthError, GitClient, GitError, GitRefNotFound, GitTimeout
from tests.fixtures.git import GitRemote
from tests.fixtures.http import RecordingServer, Reply
from tests.gitops.conftest import DEPLOY, Bump, message

MAIN = CheckoutRef(branch="main")


async def _bump(client: GitClient, remote: GitRemote, auth: GitAuth | None = None):
    async with client.checkout(remote.url, MAIN, auth, timeout=30) as ws:
        return ws, await client.commit_and_push(ws, apply=Bump(), message=message, author=("bot", "bot@example.org"))


async def test_file_remote_commit_and_push(client: GitClient, git_remote_file: GitRemote) -> None:
    seed = git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    ws, result = await _bump(client, git_remote_file)
    assert result is not None and result.attempts == 1 and result.branch == "main"
    assert result.changes == ["deploy.yaml"]
    assert git_remote_file.head() == result.commit
    assert git_remote_file.log(fmt="%P")[0] == seed
    # committer = author, the message from the callback
    assert (
        git_remote_file.log(fmt="%an|%ae|%cn|%ce|%s")[0] == "bot|bot@example.org|bot|bot@example.org|Update deploy.yaml"
    )
    assert "app:2.0 # marker" in git_remote_file.read_file("deploy.yaml")
    # the workspace is a shallow clone under the state dir, keyed by remote and branch
    assert ws.path.parent == client.state_dir / "workspaces"
    assert (ws.path / ".git" / "shallow").exists()


async def test_no_change_no_commit(client: GitClient, git_remote_file: GitRemote) -> None:
    head = git_remote_file.commit({"deploy.yaml": DEPLOY.replace("1.0", "2.0")}, "already current")
    _, result = await _bump(client, git_remote_file)
    assert result is None
    assert git_remote_file.head() == head


async def test_second_prepare_fetches_and_resets(client: GitClient, git_remote_file: GitRemote) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws1:
        (ws1.path / "junk.txt").write_text("left over by a crashed run")
        (ws1.path / "deploy.yaml").write_text("garbage")
        first = ws1.path
    moved = git_remote_file.commit({"new.txt": "x"}, "moved on")
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws2:
        assert ws2.path == first
        assert ws2.head == moved
        assert not (ws2.path / "junk.txt").exists()
        assert (ws2.path / "deploy.yaml").read_text() == DEPLOY
        assert (ws2.path / "new.txt").read_text() == "x"


async def test_git_daemon_remote(client: GitClient, git_daemon: GitRemote) -> None:
    git_daemon.commit({"deploy.yaml": DEPLOY}, "add deploy")
    _, result = await _bump(client, git_daemon)
    assert result is not None
    assert git_daemon.url.startswith("git://")
    assert git_daemon.head() == result.commit


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


async def test_http_basic_auth(client: GitClient, git_http: GitRemote, _git_http_server) -> None:
    git_http.commit({"deploy.yaml": DEPLOY}, "add deploy")
    auth = GitAuth(username=git_http.username, password=git_http.password)
    before = _git_http_server.requests
    ws, result = await _bump(client, git_http, auth)
    assert result is not None and git_http.head() == result.commit
    # the server saw our user on the push, and no file we wrote holds the password
    users = {rec.user for rec in _git_http_server.log[before:] if rec.status == 200}
    assert users == {git_http.username}
    assert git_http.password and git_http.password.encode() not in (ws.path / ".git" / "config").read_bytes()
    assert _files_containing(client.state_dir, git_http.password.encode()) == []
    config = (ws.path / ".git" / "config").read_text()
    assert f"url = {git_http.url}" in config


@pytest.mark.parametrize("auth", [GitAuth(username="tagpilot", password="wr0ng-Secret-pw"), None])
async def test_http_wrong_or_missing_credentials(client: GitClient, git_http: GitRemote, auth: GitAuth | None) -> None:
    with pytest.raises(GitAuthError) as info:
        await client.prepare(git_http.url, MAIN, auth, timeout=30)
    text = str(info.value)
    assert "wr0ng-Secret-pw" not in text and (git_http.password or "") not in text
    assert "git fetch failed" in text and "127.0.0.1" in text
    # the lock was released: a correct second attempt proceeds
    good = GitAuth(username=git_http.username, password=git_http.password)
    async with client.checkout(git_http.url, MAIN, good, timeout=30) as ws:
        assert ws.head == git_http.head()


async def test_credentials_in_url_refused(client: GitClient, git_http: GitRemote) -> None:
    with pytest.raises(GitError) as info:
        await client.prepare(git_http.auth_url, MAIN, None, timeout=30)
    assert git_http.password not in str(info.value)
    assert "***@" in str(info.value)


async def test_bearer_token_reaches_server_as_header(client: GitClient, http_recorder: RecordingServer) -> None:
    # a stand-in server (the git fixture checks Basic only): records Authorization, always 401
    http_recorder.default = Reply(401, "denied\n", headers={"WWW-Authenticate": 'Basic realm="x"'})
    url = http_recorder.url_for("/repo.git")
    with pytest.raises(GitAuthError) as info:
        await client.prepare(url, MAIN, GitAuth(bearer_token="tok-s3cr3t-123"), timeout=30)
    seen = [request.headers.get("Authorization", "") for request in http_recorder.requests]
    assert "Bearer tok-s3cr3t-123" in seen
    assert "tok-s3cr3t-123" not in str(info.value)


async def test_missing_branch(client: GitClient, git_remote_file: GitRemote) -> None:
    with pytest.raises(GitRefNotFound, match="branch 'nope' not found"):
        await client.prepare(git_remote_file.url, CheckoutRef(branch="nope"), None, timeout=30)


async def test_timeout_kills_git(client: GitClient) -> None:
    """A git:// server that accepts and never answers: the fetch is killed at the timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conns.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        url = f"git://127.0.0.1:{listener.getsockname()[1]}/silent.git"
        with pytest.raises(GitTimeout, match=r"timed out after 0\.5s"):
            await client.prepare(url, MAIN, None, timeout=0.5)
    finally:
        stop.set()
        thread.join()
        for conn in conns:
            conn.close()
        listener.close()


FAKE_SSH = """#!{python}
# stand-in for ssh (no sshd on test machines): checks the key and known_hosts files tagpilot made,
# records them, then runs the remote command locally, as sshd would.
import os, stat, subprocess, sys
args = sys.argv[1:]
record = os.environ["FAKE_SSH_RECORD"]
key = args[args.index("-i") + 1]
opts = [args[i + 1] for i, a in enumerate(args) if a == "-o"]
hosts = [o.split("=", 1)[1] for o in opts if o.startswith("UserKnownHostsFile=")][0]
with open(record, "a") as out:
    out.write("key=%s mode=%o content=%s\\n" % (key, stat.S_IMODE(os.stat(key).st_mode), open(key).read().strip()))
    out.write("hosts=%s content=%s\\n" % (hosts, open(hosts).read().strip()))
    out.write("opts=%s\\n" % ",".join(opts))
sys.exit(subprocess.call(["sh", "-c", args[-1]]))
"""


async def test_ssh_key_and_known_hosts_files(
    tmp_path: Path, git_environ: dict[str, str], git_remote_file: GitRemote
) -> None:
    fake = tmp_path / "fake-ssh"
    fake.write_text(FAKE_SSH.format(python=sys.executable))
    fake.chmod(0o755)
    record = tmp_path / "ssh-record.txt"
    client = GitClient(
        tmp_path / "state", ssh=str(fake), env={"HOME": git_environ["HOME"], "FAKE_SSH_RECORD": str(record)}
    )
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    url = f"ssh://git@example.invalid{git_remote_file.path.resolve()}"
    auth = GitAuth(identity=b"FAKE-PRIVATE-KEY", known_hosts=b"example.invalid ssh-ed25519 AAAAfake")
    async with client.checkout(url, MAIN, auth, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=Bump(), message=message, author=("bot", "bot@example.org"))
    assert result is not None and git_remote_file.head() == result.commit
    lines = record.read_text().splitlines()
    keys = [ln for ln in lines if ln.startswith("key=")]
    assert keys and all("mode=600" in ln and "content=FAKE-PRIVATE-KEY" in ln for ln in keys)
    assert all("content=example.invalid ssh-ed25519 AAAAfake" in ln for ln in lines if ln.startswith("hosts="))
    assert all("StrictHostKeyChecking=yes" in ln for ln in lines if ln.startswith("opts="))
    # the temporary files are gone once each command ended
    for ln in keys:
        assert not Path(ln.split()[0].removeprefix("key=")).exists()
    assert not any(p.is_file() for p in (client.state_dir / "tmp").rglob("*"))
    assert "FAKE-PRIVATE-KEY" not in (ws.path / ".git" / "config").read_text()


async def test_parallel_workspaces(client: GitClient, git_remote_file: GitRemote, git_daemon: GitRemote) -> None:
    """Two remotes are worked on concurrently; each gets its own workspace."""
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    git_daemon.commit({"deploy.yaml": DEPLOY}, "add deploy")
    (ws1, r1), (ws2, r2) = await asyncio.gather(_bump(client, git_remote_file), _bump(client, git_daemon))
    assert ws1.path != ws2.path
    assert r1 is not None and r2 is not None
    assert git_remote_file.head() == r1.commit and git_daemon.head() == r2.commit
    assert stat.S_IMODE((client.state_dir / "bin" / "tagpilot-askpass").stat().st_mode) == 0o700
