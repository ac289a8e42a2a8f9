"""Screened workspaces (gitops/screened.py): only marked files on disk, commits built from objects.

Against a real bare remote (file://): the commit a screened workspace pushes has the tree a full
checkout's `git commit -a` makes, byte for byte, including executable bits, symbolic links,
a deleted and a new file; unmarked files are never written to disk."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tagpilot.errors import GitError
from tagpilot.gitops import CheckoutRef, GitClient
from tagpilot.gitops import screened as screening
from tagpilot.gitops.auth import Redactor
from tagpilot.gitops.process import GitResult
from tagpilot.gitops.process import run_git as run_git_async
from tests.fixtures.git import GitRemote, run_git
from tests.gitops.conftest import DEPLOY

MAIN = CheckoutRef(branch="main")
MARK = "# marker"


def edit(root: Path) -> list[str]:
    """Bump the marked files, delete one, add one: every kind of change a commit can carry."""
    for rel in ("deploy.yaml", "sub/run.sh"):
        path = root / rel
        path.write_bytes(path.read_bytes().replace(b"app:1.0", b"app:2.0"))
    (root / "gone.yaml").unlink()
    (root / "sub" / "new.yaml").write_text("new: 1 # marker\n")
    return ["deploy.yaml"]


async def test_screened_commit_has_the_tree_of_a_full_checkout(tmp_path: Path, git_environ: dict[str, str],
                                                             git_remote_file: GitRemote) -> None:
    files = {"deploy.yaml": DEPLOY, "sub/run.sh": "#!/bin/sh\necho app:1.0 # marker\n", "gone.yaml": "x # marker\n",
             "plain.yaml": "no marks here\n", "deep/a/b.yaml": "nothing\n", "bin.dat": b"\0\x01# marker\xff"}
    git_remote_file.commit(files, "seed")
    # the executable bit and a symbolic link, which the fixture's `commit` cannot make
    tree = git_remote_file.git("ls-tree", "-r", "main")
    assert "sub/run.sh" in tree
    blob = next(line.split()[2] for line in tree.splitlines() if line.endswith("sub/run.sh"))
    link = git_remote_file.git("hash-object", "-w", "--stdin", input=b"deploy.yaml")
    env = {**git_remote_file.env, "GIT_INDEX_FILE": str(tmp_path / "seed-index")}
    git_dir = ["--git-dir", str(git_remote_file.path)]
    run_git([*git_dir, "read-tree", "main"], env=env)
    run_git([*git_dir, "update-index", "--index-info"], env=env,
            input=f"100755 {blob}\tsub/run.sh\n120000 {link}\tlink.yaml\n".encode())
    new_tree = run_git([*git_dir, "write-tree"], env=env)
    seed = git_remote_file.git("commit-tree", new_tree, "-p", "main", "-m", "modes")
    git_remote_file.git("update-ref", "refs/heads/main", seed)

    results = {}
    for name, screen in (("checkout", None), ("screened", MARK)):
        git_remote_file.git("update-ref", "refs/heads/main", seed)
        client = GitClient(tmp_path / name, env={"HOME": git_environ["HOME"]})
        async with await client.prepare(git_remote_file.url, MAIN, None, timeout=60, screen=screen) as ws:
            if screen:
                on_disk = sorted(str(p.relative_to(ws.path)) for p in ws.path.rglob("*")
                                 if not str(p.relative_to(ws.path)).startswith(".git") and not p.is_dir())
                # marked files and links only (bin.dat contains the literal too); the rest never written
                assert on_disk == ["bin.dat", "deploy.yaml", "gone.yaml", "link.yaml", "sub/run.sh"]
                assert os.readlink(ws.path / "link.yaml") == "deploy.yaml"
                assert os.access(ws.path / "sub/run.sh", os.X_OK)
            pushed = await client.commit_and_push(ws, apply=edit, message=lambda _c: "bump\n\nverbatim  \n",
                                                  author=("tagpilot", "tagpilot@example.invalid"))
        assert pushed is not None
        results[name] = git_remote_file.git("rev-parse", f"{pushed.commit}^{{tree}}")
        assert git_remote_file.git("cat-file", "-p", pushed.commit).endswith("bump\n\nverbatim")
    assert results["screened"] == results["checkout"]


async def test_screened_no_change_makes_no_commit(tmp_path: Path, git_environ: dict[str, str],
                                                  git_remote_file: GitRemote) -> None:
    git_remote_file.commit({"deploy.yaml": DEPLOY, "other.yaml": "x\n"}, "seed")
    head = git_remote_file.head()
    client = GitClient(tmp_path / "state", env={"HOME": git_environ["HOME"]})
    for _ in range(2):  # the second run reuses (and first clears) the workspace
        async with await client.prepare(git_remote_file.url, MAIN, None, timeout=60, screen=MARK) as ws:
            assert not (ws.path / "other.yaml").exists()
            assert await client.commit_and_push(ws, apply=lambda _root: [], message=str,
                                                 author=(None, "t@example.invalid")) is None
    assert git_remote_file.head() == head


async def test_screened_work_tree_is_kept_and_brought_to_the_new_commit(
        tmp_path: Path, git_environ: dict[str, str], git_remote_file: GitRemote) -> None:
    """A second run reuses the work tree: what is still right is not rewritten (same inode), and
    everything else (a stray file and directory, a file and a directory gone from the commit, a file
    whose content changed) ends exactly as a fresh materialization would leave it."""
    git_remote_file.commit({"deploy.yaml": DEPLOY, "keep.yaml": "k # marker\n", "old/x.yaml": "x # marker\n",
                            "run.sh": "echo # marker\n", "plain.yaml": "p\n"}, "seed")
    client = GitClient(tmp_path / "state", env={"HOME": git_environ["HOME"]})
    async with await client.prepare(git_remote_file.url, MAIN, None, timeout=60, screen=MARK) as ws:
        root = ws.path
        keep_inode = (root / "keep.yaml").stat().st_ino
        (root / "stray").mkdir()
        (root / "stray" / "s.yaml").write_text("left behind # marker\n")
        (root / "deploy.yaml").write_text("edited by an interrupted run\n")
    # another writer: old/ removed, run.sh with new content, a new marked file in new/
    git_remote_file.commit({"run.sh": "echo 2 # marker\n", "new/n.yaml": "n # marker\n", "old/x.yaml": None},
                           "other")
    async with await client.prepare(git_remote_file.url, MAIN, None, timeout=60, screen=MARK) as ws:
        root = ws.path
        on_disk = sorted(str(p.relative_to(root)) for p in root.rglob("*")
                         if not str(p.relative_to(root)).startswith(".git"))
        assert on_disk == ["deploy.yaml", "keep.yaml", "new", "new/n.yaml", "run.sh"]
        assert (root / "deploy.yaml").read_text() == DEPLOY
        assert (root / "run.sh").read_text() == "echo 2 # marker\n"
        assert (root / "keep.yaml").stat().st_ino == keep_inode
        assert await client.commit_and_push(ws, apply=lambda _root: [], message=str,
                                             author=(None, "t@example.invalid")) is None


async def test_screened_commit_of_awkward_paths(tmp_path: Path, git_environ: dict[str, str],
                                                git_remote_file: GitRemote) -> None:
    """Paths fast-import must read quoted (a leading `"`, a newline, a backslash) or verbatim (spaces,
    non-ASCII) are committed under their exact names, changed and deleted alike."""
    names = ['"lead.yaml', "new\nline.yaml", "back\\slash.yaml", "sp ace/é.yaml"]
    git_remote_file.commit({name: "app:1.0 # marker\n" for name in names}, "seed")

    def bump(root: Path) -> list[str]:
        for name in names[:3]:
            (root / name).write_text("app:2.0 # marker\n")
        (root / names[3]).unlink()
        return names

    client = GitClient(tmp_path / "state", env={"HOME": git_environ["HOME"]})
    async with await client.prepare(git_remote_file.url, MAIN, None, timeout=60, screen=MARK) as ws:
        pushed = await client.commit_and_push(ws, apply=bump, message=str, author=(None, "t@example.invalid"))
    assert pushed is not None
    listed = run_git(["--git-dir", str(git_remote_file.path), "ls-tree", "-r", "-z", "--name-only", pushed.commit],
                     env=git_remote_file.env)
    assert sorted(listed.strip("\0").split("\0")) == sorted([*names[:3], "README.md"])
    for name in names[:3]:
        assert git_remote_file.read_exact(name, pushed.commit) == "app:2.0 # marker\n"


def _tree_on_disk(root: Path) -> dict[str, tuple[str, bytes]]:
    """Every path under `root` but `.git`: ("dir", b""), ("link", target) or (mode, content)."""
    out: dict[str, tuple[str, bytes]] = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if rel == ".git" or rel.startswith(".git/"):
            continue
        if path.is_symlink():
            out[rel] = ("link", os.fsencode(os.readlink(path)))
        elif path.is_dir():
            out[rel] = ("dir", b"")
        else:
            out[rel] = (oct(path.stat().st_mode & 0o111), path.read_bytes())
    return out


def _retype(remote: GitRemote, tmp_path: Path, entries: str, removed: list[str]) -> None:
    """Commit index entries (`mode sha\\tpath` lines) and removals the fixture's `commit` cannot make."""
    env = {**remote.env, "GIT_INDEX_FILE": str(tmp_path / "retype-index")}
    git_dir = ["--git-dir", str(remote.path)]
    run_git([*git_dir, "read-tree", "main"], env=env)
    gone = "".join(f"0 {'0' * 40}\t{path}\n" for path in removed)  # mode 0: remove the entry
    run_git([*git_dir, "update-index", "--index-info"], env=env, input=(gone + entries).encode())
    tree = run_git([*git_dir, "write-tree"], env=env)
    remote.git("update-ref", "refs/heads/main", remote.git("commit-tree", tree, "-p", "main", "-m", "retype"))


async def test_warm_screening_derives_the_listing_and_matches_a_fresh_one(
        tmp_path: Path, git_environ: dict[str, str], git_remote_file: GitRemote) -> None:
    """After the first run the listing comes from the saved one and `git diff-tree` (no `git grep`,
    no `ls-tree`); through additions, deletions, files gaining and losing the screen, a directory
    removed, a file turned into a directory, a symbolic link and an executable bit, the warm work
    tree and its `Screened` equal a fresh workspace's at every commit."""
    git_remote_file.commit({"a.yaml": "a # marker\n", "plain.yaml": "p\n", "d/x.yaml": "x # marker\n",
                            "d/e/y.yaml": "y\n", "turn": "t # marker\n"}, "seed")
    marked = git_remote_file.git("hash-object", "-w", "--stdin", input=b"z # marker\n")
    link = git_remote_file.git("hash-object", "-w", "--stdin", input=b"a.yaml")
    steps = [
        lambda: git_remote_file.commit({"plain.yaml": "now # marker\n", "a.yaml": "a, no more\n"}, "swap"),
        lambda: git_remote_file.commit({"d/x.yaml": None, "d/e/y.yaml": None, "n/m/k.yaml": "k # marker\n"}, "rm"),
        lambda: _retype(git_remote_file, tmp_path, f"100644 {marked}\tturn/inner.yaml\n120000 {link}\tl.yaml\n"
                        f"100755 {marked}\tn/run.sh\n", ["turn"]),
        lambda: _retype(git_remote_file, tmp_path, f"120000 {link}\tn/m/k.yaml\n", ["n/m/k.yaml"]),
    ]
    warm = GitClient(tmp_path / "warm", env={"HOME": git_environ["HOME"]})
    calls: list[str] = []
    for step in [lambda: None, *steps]:
        step()
        fresh = GitClient(tmp_path / f"fresh-{len(calls)}", env={"HOME": git_environ["HOME"]})
        async with await fresh.prepare(git_remote_file.url, MAIN, None, timeout=60, screen=MARK) as ws:
            expected = (_tree_on_disk(ws.path), ws.screened.files, ws.screened.links, ws.screened.contents)
        original = warm._runner

        def spying(ws: object, redact: object, original: object = original) -> object:
            run = original(ws, redact)  # type: ignore[operator]

            async def spy(args: list[str], **kwargs: object) -> object:
                calls.append(args[0])
                return await run(args, **kwargs)
            return spy

        warm._runner = spying  # type: ignore[method-assign, assignment]
        async with await warm.prepare(git_remote_file.url, MAIN, None, timeout=60, screen=MARK) as ws:
            got = (_tree_on_disk(ws.path), ws.screened.files, ws.screened.links, ws.screened.contents)
        warm._runner = original  # type: ignore[method-assign]
        assert got == expected
        calls.append("|")
    runs = "".join(calls).split("|")
    assert "grep" in runs[0] and "ls-tree" in runs[0]  # the first run lists from scratch
    for later in runs[1:-1]:
        assert "grep" not in later and "ls-tree" not in later and "diff-tree" in later
    assert got[0]["n/m/k.yaml"] == ("link", b"a.yaml") and got[0]["turn/inner.yaml"][1] == b"z # marker\n"
    assert "plain.yaml" in got[1] and "a.yaml" not in got[1] and "l.yaml" in got[2]  # gained, lost; a link


async def test_only_directories_holding_a_candidate_or_link_are_made(
        tmp_path: Path, git_environ: dict[str, str], git_remote_file: GitRemote) -> None:
    """The ~2,000 directories of a large repository were all made, and listed by every walk of the
    work tree; only those holding a candidate or a link are now. The updater is handed every directory
    of the commit, so an update path naming one without candidates is still found (no change)."""
    from tagpilot.update import ImageRef, update_tree

    git_remote_file.commit({"deploy/app/app.yaml": "image: x:1.0 # marker\n", "other/x/y.yaml": "plain: 1\n",
                            "docs/readme.md": "text\n", "top.yaml": "t # marker\n"}, "seed")
    client = GitClient(tmp_path / "state", env={"HOME": git_environ["HOME"]})
    async with await client.prepare(git_remote_file.url, MAIN, None, timeout=60, screen=MARK) as ws:
        made = sorted(str(p.relative_to(ws.path)) for p in ws.path.rglob("*")
                      if p.is_dir() and not str(p.relative_to(ws.path)).startswith(".git"))
        assert made == ["deploy", "deploy/app"]
        known = ws.screened.tree()
        assert {"other", "other/x", "docs", "deploy", "deploy/app"} <= known.dirs
        result = update_tree(ws.path, "other", {("a", "b"): ImageRef("x", "2")}, dry_run=True, known=known)
        assert result.files == () and result.skipped == ()
    # a directory left by an earlier layout is removed by the next sync
    git_remote_file.commit({"deploy/app/app.yaml": None, "deploy/moved.yaml": "image: x:1.0 # marker\n"}, "move")
    async with await client.prepare(git_remote_file.url, MAIN, None, timeout=60, screen=MARK) as ws:
        made = sorted(str(p.relative_to(ws.path)) for p in ws.path.rglob("*")
                      if p.is_dir() and not str(p.relative_to(ws.path)).startswith(".git"))
        assert made == ["deploy"]


def _runner(repo: Path, git_environ: dict[str, str], commands: list[str]) -> screening.Run:
    """`screened`'s `run` against a bare repository; each git command's name is appended to `commands`."""

    async def run(args: list[str], *, input: bytes | None = None, env: dict[str, str] | None = None,
                  check: bool = True, what: str | None = None) -> GitResult:
        commands.append(args[0])
        return await run_git_async("git", ["--git-dir", str(repo), *args], env=dict(env or git_environ), timeout=60,
                                   redact=Redactor([]), input=input, check=check, what=what or "git")

    return run


def _undated(repo: Path, env: dict[str, str], commit: str) -> bytes:
    """A commit object's bytes with its author and committer dates blanked (both paths write `now`)."""
    raw = subprocess.run(["git", "--git-dir", str(repo), "cat-file", "commit", commit], env=env, capture_output=True,
                         check=True).stdout
    return re.sub(rb"> \d+ [+-]\d{4}\n", b"> DATE\n", raw)


IDENTITIES = [  # (name, email, written by fast-import alone: verbatim)
    ("tagpilot", "tagpilot@example.invalid", True),
    ("Flux Bot", "fluxcdbot@users.noreply.github.com", True),
    ("名前 ünï 😀", "ünï@example.com", True),
    ("J. R. \"Bob\" Dobbs", "bob@x.y", True),
    # written by commit-tree, which trims or drops characters (which ones depends on its version)
    (" .Jane Doe, ", " <jane@example.com>; ", False),
    ("a<b>c\nd", "e<f>g@x", False),
    ("Acme Inc.", "'quoted'@example.com'", False),
    ("x", "", False),
]


@pytest.mark.parametrize(("name", "email", "verbatim"), IDENTITIES)
async def test_one_process_commit_is_the_commit_commit_tree_makes(tmp_path: Path, git_environ: dict[str, str],
                                                                  git_remote_file: GitRemote, name: str,
                                                                  email: str, verbatim: bool) -> None:
    """An unsigned commit is made by fast-import alone (commit-tree for an identity git would trim): its
    header, identities and message are what `git commit-tree` writes for the same tree, parent and GIT_*
    identity (dates aside: both `now`)."""
    repo = git_remote_file.path
    base = git_remote_file.git("rev-parse", "main")
    ident = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
             "GIT_COMMITTER_EMAIL": email}
    env = {**git_environ, **ident}
    commands: list[str] = []
    run = _runner(repo, git_environ, commands)

    message = "bump: ünï\n\nverbatim  \n\n"
    changes = [("a.yaml", "100644", b"a: 2\n"), ("README.md", None, b"")]
    sha = await screening.commit_tree(run, tmp_path, base, changes, message, env, ref="refs/heads/one")
    assert git_remote_file.git("rev-parse", "refs/heads/one") == sha
    assert commands == (["fast-import"] if verbatim else ["fast-import", "commit-tree", "update-ref"])
    tree = git_remote_file.git("rev-parse", f"{sha}^{{tree}}")
    expected = run_git(["--git-dir", str(repo), "commit-tree", tree, "-p", base], env=env,
                       input=message.encode())

    assert _undated(repo, git_environ, sha) == _undated(repo, git_environ, expected)
    assert git_remote_file.git("ls-tree", "--name-only", sha) == "a.yaml"


@pytest.mark.parametrize("name", ["", " ..., "])
async def test_an_identity_git_refuses_is_refused_by_git(tmp_path: Path, git_environ: dict[str, str],
                                                         git_remote_file: GitRemote, name: str) -> None:
    """A name git will not write (empty, nothing but crud) goes through commit-tree, which says why."""
    repo = git_remote_file.path
    base = git_remote_file.git("rev-parse", "main")
    env = {**git_environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": "a@b"}
    run = _runner(repo, git_environ, [])

    with pytest.raises(GitError, match=r"ident name|disallowed characters"):
        await screening.commit_tree(run, tmp_path, base, [("a.yaml", "100644", b"a\n")], "m\n", env,
                                    ref="refs/heads/one")
    assert "refs/heads/one" not in git_remote_file.git("for-each-ref")


@pytest.mark.parametrize(("message", "name"), [
    ("tag \ufffe\n", "Flux Bot"),  # noncharacters: commit-tree rewrites the commit as Latin-1, with a warning
    ("tag \ufdd0\n", "Flux Bot"),
    ("m\n", "Bot \U0010ffff"),
])
async def test_text_commit_tree_would_rewrite_goes_through_commit_tree(
        tmp_path: Path, git_environ: dict[str, str], git_remote_file: GitRemote, message: str, name: str) -> None:
    """What git's `verify_utf8` would change is left to commit-tree: the same bytes as commit-tree's."""
    repo = git_remote_file.path
    base = git_remote_file.git("rev-parse", "main")
    env = {**git_environ, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": "bot@example.com", "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": "bot@example.com"}
    commands: list[str] = []
    run = _runner(repo, git_environ, commands)

    sha = await screening.commit_tree(run, tmp_path, base, [("a.yaml", "100644", b"a\n")], message, env,
                                      ref="refs/heads/one")
    assert commands == ["fast-import", "commit-tree", "update-ref"]
    tree = git_remote_file.git("rev-parse", f"{sha}^{{tree}}")
    expected = run_git(["--git-dir", str(repo), "commit-tree", tree, "-p", base], env=env, input=message.encode())

    assert _undated(repo, git_environ, sha) == _undated(repo, git_environ, expected)
