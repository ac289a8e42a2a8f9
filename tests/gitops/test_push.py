"""Commit-and-push semantics: another writer racing us, push branches, refspecs, push options,
checkouts of tags/semver/commits, workspace locking, and update paths that leave the repository."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tagpilot.errors import ConfigError
from tagpilot.gitops import CheckoutRef, GitClient, GitError, GitPushRejected, GitRefNotFound
from tagpilot.update import safe_subpath
from tests.fixtures.git import GitRemote
from tests.gitops.conftest import DEPLOY, Bump, message

MAIN = CheckoutRef(branch="main")
AUTHOR = ("bot", "bot@example.org")


async def test_second_writer_between_prepare_and_push(client: GitClient, git_remote_file: GitRemote) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    bump = Bump()
    theirs: list[str] = []

    def racing_apply(root: Path) -> list[str]:
        if not theirs:  # another writer pushes after our fetch, before our push; touches the same file
            theirs.append(git_remote_file.commit({"deploy.yaml": DEPLOY + "  replicas: 3\n", "other.txt": "o\n"},
                                                 "their change"))  # fmt: skip
        return bump(root)

    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=racing_apply, message=message, author=AUTHOR)
    assert result is not None and result.attempts == 2 and bump.calls == 2
    # ours is on top of theirs, both survive, nothing was forced
    assert git_remote_file.log() == ["Update deploy.yaml", "their change", "add deploy", "initial commit"]
    assert git_remote_file.log(fmt="%P")[0] == theirs[0]
    content = git_remote_file.read_file("deploy.yaml")
    assert "app:2.0 # marker" in content and "replicas: 3" in content
    assert git_remote_file.read_file("other.txt") == "o"


async def test_other_writer_already_did_it(client: GitClient, git_remote_file: GitRemote) -> None:
    """On retry the re-applied update finds nothing to change: no commit, no error."""
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    bump = Bump()

    def racing_apply(root: Path) -> list[str]:
        if bump.calls == 0:
            git_remote_file.commit({"deploy.yaml": DEPLOY.replace("1.0", "2.0")}, "someone bumped it")
        return bump(root)

    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=racing_apply, message=message, author=AUTHOR)
    assert result is None
    assert git_remote_file.log()[0] == "someone bumped it"


async def test_retries_are_bounded(client: GitClient, git_remote_file: GitRemote) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    bump = Bump()

    def always_racing(root: Path) -> list[str]:
        git_remote_file.commit({"counter.txt": str(bump.calls)}, f"writer {bump.calls}")
        return bump(root)

    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        with pytest.raises(GitPushRejected, match=r"rejected after 3 attempt\(s\)"):
            await client.commit_and_push(ws, apply=always_racing, message=message, author=AUTHOR, retries=2)
    assert bump.calls == 3
    assert "Update deploy.yaml" not in git_remote_file.log()
    assert git_remote_file.log()[0] == "writer 2"


async def test_async_apply(client: GitClient, git_remote_file: GitRemote) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    bump = Bump()

    async def apply(root: Path) -> list[str]:
        await asyncio.sleep(0)
        return bump(root)

    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=apply, message=message, author=AUTHOR)
    assert result is not None and result.changes == ["deploy.yaml"]


async def test_push_to_new_branch(client: GitClient, git_remote_file: GitRemote) -> None:
    base = git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=Bump(), message=message, author=AUTHOR, push_branch="auto")
    assert result is not None and result.branch == "auto"
    assert sorted(git_remote_file.branches()) == ["auto", "main"]
    assert git_remote_file.head("main") == base  # checkout branch untouched
    assert git_remote_file.head("auto") == result.commit
    assert git_remote_file.log("refs/heads/auto", fmt="%P")[0] == base


async def test_push_to_existing_branch_builds_on_it(client: GitClient, git_remote_file: GitRemote) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    existing = git_remote_file.commit({"deploy.yaml": DEPLOY, "review.txt": "r\n"}, "work on auto", branch="auto")
    main_head = git_remote_file.commit({"main-only.txt": "m\n"}, "main moves on")
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(ws, apply=Bump(), message=message, author=AUTHOR, push_branch="auto")
    assert result is not None
    assert git_remote_file.log("refs/heads/auto", fmt="%P")[0] == existing  # Flux: built on the push branch
    assert git_remote_file.read_file("review.txt", "refs/heads/auto") == "r"
    assert git_remote_file.head("main") == main_head


async def test_refspec_pushed_too(client: GitClient, git_remote_file: GitRemote) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(
            ws, apply=Bump(), message=message, author=AUTHOR, push_branch="main",
            refspec="refs/heads/main:refs/heads/mirror",
        )  # fmt: skip
    assert result is not None
    assert git_remote_file.head("main") == result.commit == git_remote_file.head("mirror")


async def test_refspec_only(client: GitClient, git_remote_file: GitRemote) -> None:
    base = git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(
            ws, apply=Bump(), message=message, author=AUTHOR, refspec="HEAD:refs/for/main"
        )
    assert result is not None and result.branch is None
    assert git_remote_file.head("main") == base
    assert git_remote_file.git("rev-parse", "refs/for/main") == result.commit


async def test_force_refspec_on_checkout_branch_refused(client: GitClient, git_remote_file: GitRemote) -> None:
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        with pytest.raises(GitError, match="force-push the checkout branch"):
            await client.commit_and_push(
                ws, apply=Bump(), message=message, author=AUTHOR, refspec="+HEAD:refs/heads/main"
            )


async def test_push_options_reach_hooks(client: GitClient, git_remote_file: GitRemote) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    git_remote_file.git("config", "receive.advertisePushOptions", "true")
    seen = git_remote_file.path / "push-options.txt"
    hook = git_remote_file.path / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\ni=0\nwhile [ $i -lt ${GIT_PUSH_OPTION_COUNT:-0} ]; do\n"
        f'  eval "echo \\$GIT_PUSH_OPTION_$i" >> {seen}\n  i=$((i+1))\ndone\ncat >/dev/null\n'
    )
    hook.chmod(0o755)
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        await client.commit_and_push(
            ws, apply=Bump(), message=message, author=AUTHOR,
            push_options=["merge_request.create", "merge_request.target=main"],
        )  # fmt: skip
    assert seen.read_text().splitlines() == ["merge_request.create", "merge_request.target=main"]


async def test_hook_rejection_is_not_retried(client: GitClient, git_remote_file: GitRemote) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    hook = git_remote_file.path / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    bump = Bump()
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        with pytest.raises(GitPushRejected, match=r"remote rejected.*protected branch"):
            await client.commit_and_push(ws, apply=bump, message=message, author=AUTHOR)
    assert bump.calls == 1


async def test_tag_checkout_needs_push_branch(client: GitClient, git_remote_file: GitRemote) -> None:
    tagged = git_remote_file.commit({"deploy.yaml": DEPLOY}, "release")
    git_remote_file.git("tag", "v1.2.3", tagged)
    git_remote_file.commit({"later.txt": "l\n"}, "after the tag")
    ref = CheckoutRef(tag="v1.2.3")
    async with client.checkout(git_remote_file.url, ref, None, timeout=30) as ws:
        assert ws.head == tagged and ws.checkout_branch is None
        with pytest.raises(GitError, match="not a branch"):
            await client.commit_and_push(ws, apply=Bump(), message=message, author=AUTHOR)
        result = await client.commit_and_push(ws, apply=Bump(), message=message, author=AUTHOR, push_branch="hotfix")
    assert result is not None
    assert git_remote_file.log("refs/heads/hotfix", fmt="%P")[0] == tagged


async def test_semver_checkout_picks_highest_matching_tag(client: GitClient, git_remote_file: GitRemote) -> None:
    tags = {}
    for tag in ("v1.0.0", "v1.4.2", "v1.10.0-rc.1", "v2.0.0", "not-a-version"):
        tags[tag] = git_remote_file.commit({"version.txt": tag}, tag)
        git_remote_file.git("tag", tag, tags[tag])
    async with client.checkout(git_remote_file.url, CheckoutRef(semver="1.x"), None, timeout=30) as ws:
        assert ws.head == tags["v1.4.2"]
    with pytest.raises(GitRefNotFound, match="satisfies semver range"):
        await client.prepare(git_remote_file.url, CheckoutRef(semver=">=3.0.0"), None, timeout=30)


async def test_commit_checkout(client: GitClient, git_remote_file: GitRemote) -> None:
    old = git_remote_file.commit({"deploy.yaml": DEPLOY}, "old")
    git_remote_file.commit({"x.txt": "x"}, "newer")
    for commit in (old, old[:10]):
        ref = CheckoutRef(branch="main", commit=commit)
        async with client.checkout(git_remote_file.url, ref, None, timeout=30) as ws:
            assert ws.head == old and ws.checkout_branch == "main"
    with pytest.raises(GitRefNotFound):
        await client.prepare(git_remote_file.url, CheckoutRef(commit="0" * 40), None, timeout=30)


async def test_name_checkout(client: GitClient, git_remote_file: GitRemote) -> None:
    head = git_remote_file.head()
    async with client.checkout(git_remote_file.url, CheckoutRef(name="refs/heads/main"), None, timeout=30) as ws:
        assert ws.head == head and ws.checkout_branch == "main"


async def test_lock_serialises_users_of_one_workspace(client: GitClient, git_remote_file: GitRemote) -> None:
    first = await client.prepare(git_remote_file.url, MAIN, None, timeout=30)
    second = asyncio.create_task(client.prepare(git_remote_file.url, MAIN, None, timeout=30))
    other = await client.prepare(git_remote_file.url, CheckoutRef(branch="main", tag=None, name="refs/heads/main"),
                                 None, timeout=30)  # fmt: skip
    other.release()  # a different workspace key is not blocked by the first one
    for _ in range(20):
        await asyncio.sleep(0.01)
        assert not second.done()
    first.release()
    ws = await second
    assert ws.path == first.path
    ws.release()
    with pytest.raises(GitError, match="released"):
        await client.commit_and_push(ws, apply=Bump(), message=message, author=AUTHOR)


async def test_lock_excludes_other_processes(client: GitClient, git_remote_file: GitRemote) -> None:
    first = await client.prepare(git_remote_file.url, MAIN, None, timeout=30)
    assert first.lock is not None
    probe = await asyncio.create_subprocess_exec(
        "python3", "-c",
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR)\n"
        "try: fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError: sys.exit(3)",
        str(first.lock.path),
    )  # fmt: skip
    assert await probe.wait() == 3
    first.release()
    probe = await asyncio.create_subprocess_exec(
        "python3",
        "-c",
        "import fcntl, os, sys; fcntl.flock(os.open(sys.argv[1], os.O_RDWR), fcntl.LOCK_EX | fcntl.LOCK_NB)",
        str(first.lock.path),
    )  # fmt: skip
    assert await probe.wait() == 0


@pytest.mark.parametrize("update_path", ["../outside", "/etc", "escape", "escape/sub"])
async def test_update_path_outside_repository(
    client: GitClient, git_remote_file: GitRemote, tmp_path: Path, update_path: str
) -> None:
    """The engine resolves spec.update.path with safe_subpath inside `apply`; an escape (also through a
    symbolic link committed to the repository) fails the run before anything is written or pushed."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.yaml").write_text(DEPLOY)
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    workdir = git_remote_file.clone(tmp_path / "wc")
    os.symlink(str(outside), workdir / "escape")
    for args in (["add", "escape"], ["commit", "-qm", "symlink"], ["push", "-q", "origin", "main"]):
        await (await asyncio.create_subprocess_exec("git", *args, cwd=workdir, env=git_remote_file.env)).wait()
    head = git_remote_file.head()
    bump = Bump(file="victim.yaml")

    def apply(root: Path) -> list[str]:
        return bump(safe_subpath(root, update_path))

    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        assert (ws.path / "escape").is_symlink()
        with pytest.raises(ConfigError, match="update path"):
            await client.commit_and_push(ws, apply=apply, message=message, author=AUTHOR)
    assert bump.calls == 0
    assert (outside / "victim.yaml").read_text() == DEPLOY
    assert git_remote_file.head() == head


async def test_race_on_push_branch(client: GitClient, git_remote_file: GitRemote) -> None:
    """The push branch is created by someone else between our fetch and our push: we build on theirs."""
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    bump = Bump()
    theirs: list[str] = []

    def racing_apply(root: Path) -> list[str]:
        if not theirs:
            theirs.append(git_remote_file.commit({"deploy.yaml": DEPLOY, "r.txt": "r\n"}, "theirs", branch="auto"))
        return bump(root)

    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        result = await client.commit_and_push(
            ws, apply=racing_apply, message=message, author=AUTHOR, push_branch="auto"
        )
    assert result is not None and result.attempts == 2
    assert git_remote_file.log("refs/heads/auto", fmt="%P")[0] == theirs[0]
    assert git_remote_file.read_file("r.txt", "refs/heads/auto") == "r"


async def test_message_kept_verbatim(client: GitClient, git_remote_file: GitRemote) -> None:
    """Template output goes in as is (Flux/go-git do not strip `#` lines as `git commit` would by default)."""
    git_remote_file.commit({"deploy.yaml": DEPLOY}, "add deploy")
    text = "Update images\n\n# app: 1.0 -> 2.0\n- deploy.yaml\n"
    async with client.checkout(git_remote_file.url, MAIN, None, timeout=30) as ws:
        await client.commit_and_push(ws, apply=Bump(), message=lambda _: text, author=AUTHOR)
    assert git_remote_file.git("log", "-1", "--format=%B") == text.strip()
