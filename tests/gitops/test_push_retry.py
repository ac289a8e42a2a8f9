"""Push retries against a real bare remote whose ref lock is held, or whose hook reports lock
contention: every kind of transient rejection counts against the same attempt budget, with backoff
between attempts, and the final attempt lands (issue 9, item 7)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tagpilot.gitops import CheckoutRef, GitClient, GitPushRejected
from tests.fixtures.git import GitRemote
from tests.gitops.conftest import DEPLOY, Bump, message

MAIN = CheckoutRef(branch="main")
AUTHOR = ("bot", "bot@example.org")


def hold_lock_hook(remote: GitRemote, first: int) -> Path:
    """A pre-receive hook that creates `refs/heads/main.lock` during the first `first` pushes (git itself
    then refuses the update: `[remote rejected] (failed to update ref)`, `cannot lock ref` on stderr)
    and removes it afterwards. Returns the file counting the pushes the remote saw."""
    count = remote.path / "push-count"
    hook = remote.path / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        f'n=$(cat "{count}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "{count}"\n'
        f'if [ $n -le {first} ]; then : > "{remote.path}/refs/heads/main.lock"; '
        f'else rm -f "{remote.path}/refs/heads/main.lock"; fi\n'
    )
    hook.chmod(0o755)
    return count


def lock_message_hook(remote: GitRemote, first: int) -> Path:
    """A pre-receive hook that declines the first `first` pushes saying the ref lock is taken, as a
    hosting service's hook reports lock contention."""
    count = remote.path / "push-count"
    hook = remote.path / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\ncat >/dev/null\n"
        f'n=$(cat "{count}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "{count}"\n'
        f"if [ $n -le {first} ]; then echo \"error: cannot lock ref 'refs/heads/main': "
        "is at 0123 but expected 4567\" >&2; exit 1; fi\n"
    )
    hook.chmod(0o755)
    return count


@pytest.fixture
def sleeps(client: GitClient, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff delays the client waits between attempts (recorded, not slept)."""
    import tagpilot.gitops.client as client_module

    seen: list[float] = []

    async def fake_sleep(delay: float) -> None:
        seen.append(delay)

    monkeypatch.setattr(client_module.asyncio, "sleep", fake_sleep)
    return seen


async def test_held_ref_lock_uses_every_attempt(client: GitClient, git_remote_file: GitRemote,
                                                sleeps: list[float]) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    count = hold_lock_hook(git_remote_file, first=4)
    bump = Bump()
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=bump, message=message, author=AUTHOR, retries=4)
    assert result is not None and result.attempts == 5 and bump.calls == 5
    assert count.read_text().strip() == "5"
    assert git_remote_file.log()[0] == "Update deploy.yaml"
    assert git_remote_file.head() == result.commit
    assert len(sleeps) == 4


async def test_hook_reporting_lock_contention_is_retried(client: GitClient, git_remote_file: GitRemote,
                                                        sleeps: list[float]) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    count = lock_message_hook(git_remote_file, first=4)
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=Bump(), message=message, author=AUTHOR, retries=4)
    assert result is not None and result.attempts == 5
    assert count.read_text().strip() == "5"
    assert git_remote_file.read_file("deploy.yaml").count("app:2.0") == 1


async def test_mixed_rejections_share_one_budget(client: GitClient, git_remote_file: GitRemote,
                                                sleeps: list[float]) -> None:
    """A moved branch (non-fast-forward / fetch first) and a held lock count alike: 2 races + 2 locks
    + the landing push = 5 attempts of 5."""
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    bump = Bump()

    def apply(root: Path) -> list[str]:
        if bump.calls < 2:  # another writer moves the branch after our fetch
            git_remote_file.commit({f"other-{bump.calls}.txt": "o\n"}, f"writer {bump.calls}")
        if bump.calls == 2:  # then the remote's ref lock is held for two pushes
            hold_lock_hook(git_remote_file, first=2)
        return bump(root)

    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=apply, message=message, author=AUTHOR, retries=4)
    assert result is not None and result.attempts == 5 and bump.calls == 5
    assert git_remote_file.log()[:3] == ["Update deploy.yaml", "writer 1", "writer 0"]


async def test_lock_held_throughout_gives_up_after_all_attempts(
    client: GitClient, git_remote_file: GitRemote, sleeps: list[float]
) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    count = hold_lock_hook(git_remote_file, first=100)
    bump = Bump()
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        with pytest.raises(GitPushRejected, match=r"rejected after 5 attempt\(s\).*cannot lock ref"):
            await client.commit_and_push(ws, apply=bump, message=message, author=AUTHOR, retries=4)
    assert bump.calls == 5 and count.read_text().strip() == "5"
    assert git_remote_file.log()[0] == "add deploy"


async def test_backoff_grows_between_attempts(git_remote_file: GitRemote, git_environ: dict[str, str],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The delays come from the shared backoff helper: exponential, capped, with jitter."""
    import tagpilot.gitops.client as client_module

    seen: list[float] = []

    async def fake_sleep(delay: float) -> None:
        seen.append(delay)

    monkeypatch.setattr(client_module.asyncio, "sleep", fake_sleep)
    rng = random.Random(7)
    client = GitClient(tmp_path / "state", env={"HOME": git_environ["HOME"]}, backoff=1.0, max_backoff=6.0, rng=rng)
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    hold_lock_hook(git_remote_file, first=4)
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=Bump(), message=message, author=AUTHOR, retries=4)
    assert result is not None and result.attempts == 5
    # retry n waits in [exp/2, exp], exp = min(6, 1·2^(n-1)): 1, 2, 4, 6
    assert len(seen) == 4
    for delay, exp in zip(seen, (1.0, 2.0, 4.0, 6.0), strict=True):
        assert exp / 2 <= delay <= exp
