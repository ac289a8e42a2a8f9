"""GitClient: check out a remote into a cached, locked workspace; commit a change; push it safely.

The flow Flux's image-automation-controller runs, with the part Flux lacks: when the push is
rejected because the branch moved, tagpilot fetches the new tip, resets to it, runs the same update
again (the caller's `apply`, which recomputes from the files, so the other writer's commits are kept)
and pushes again, a bounded number of times with jittered backoff. Nothing is ever force-pushed.

This module knows nothing about image policies: `apply(worktree) -> changes` does the rewrite and
`message(changes) -> str` writes the commit message. No staged difference after `apply` means no commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from tagpilot.errors import GitError, GitPushRejected, GitRefNotFound, GitTimeout, InvalidPolicy, SigningError
from tagpilot.gitops import screened as screening
from tagpilot.gitops.auth import GitAuth, Redactor, config_env, credential_env, ensure_askpass, strip_userinfo
from tagpilot.gitops.process import GitResult, base_env, raise_for, run_git
from tagpilot.gitops.signing import SigningKey, signing_config
from tagpilot.gitops.workspace import CheckoutRef, Workspace, WorkspaceLock, workspace_key
from tagpilot.registry.limits import backoff_delay
from tagpilot.store.private import secure_dir

T = TypeVar("T")
# Rejections that another writer or a transient lock caused: fetch, re-apply and push again. Every
# kind counts against the same attempt budget. `[rejected]` reasons come from our side's check of the
# remote tip; `[remote rejected]` ones from the server failing to take the ref lock or finding the ref
# moved under it (git ≤ 2.39 says "failed to update ref" and explains "cannot lock ref" on stderr,
# newer git puts "cannot lock ref ..." in the status itself; hosting services' hooks say it too).
_RETRYABLE_REJECTED = ("fetch first", "non-fast-forward", "stale info")
_RETRYABLE_REMOTE = ("failed to update ref", "cannot lock ref", "failed to lock", "unable to lock",
                     "incorrect old value provided", "but expected")
CHECKOUT_REF = "refs/tagpilot/checkout"


@dataclass
class PushResult(Generic[T]):
    """What a successful push did. `changes` is what the last (pushed) `apply` returned."""

    commit: str
    branch: str | None
    refspec: str | None
    pushed_at: datetime
    attempts: int
    changes: T | None = field(default=None, repr=False)


@dataclass(frozen=True)
class _PushOutcome:
    ok: bool
    retryable: bool
    detail: str


class GitClient:
    """Runs git for tagpilot. One instance per state directory; safe to share between tasks."""

    def __init__(
        self,
        state_dir: Path,
        *,
        git: str = "git",
        ssh: str = "ssh",
        gpg: str = "gpg",
        ssh_keygen: str = "ssh-keygen",
        env: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        backoff: float = 0.2,
        max_backoff: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.git, self.ssh, self.gpg, self.ssh_keygen = git, ssh, gpg, ssh_keygen
        self._extra_env = dict(env or {})
        self._clock = clock or (lambda: datetime.now(UTC))
        self._backoff, self._max_backoff = backoff, max_backoff
        self._rng = rng or random.Random()
        self._askpass: Path | None = None
        self._state_secured = False

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def workspaces_dir(self) -> Path:
        """`<state>/workspaces`; the state directory itself made private (0700) on first use, since
        the git client may be the first to create it."""
        if not self._state_secured:
            secure_dir(self.state_dir)
            self._state_secured = True
        return self.state_dir / "workspaces"

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = base_env(self._extra_env)
        if extra:
            env.update(extra)
        return env

    async def _git(
        self, path: Path, args: Sequence[str], *, timeout: float, redact: Redactor, check: bool = True,
        extra_env: Mapping[str, str] | None = None, input: bytes | None = None,
    ) -> str:  # fmt: skip
        result = await run_git(
            self.git, ["-C", str(path), *args], env=self._env(extra_env), timeout=timeout, redact=redact,
            input=input, check=check, what=f"git {args[0]}",
        )  # fmt: skip
        return result.stdout.strip()

    @contextlib.contextmanager
    def _cred_env(self, auth: GitAuth | None) -> Any:
        if self._askpass is None:
            self._askpass = ensure_askpass(self.state_dir / "bin")
        with credential_env(auth, askpass=self._askpass, ssh=self.ssh, tmp_root=self.state_dir / "tmp") as env:
            yield env

    async def _remote(
        self, path: Path, args: Sequence[str], auth: GitAuth | None, *, timeout: float, redact: Redactor,
        check: bool = True,
    ) -> tuple[int, str, str]:  # fmt: skip
        """A git command that talks to the remote: credentials for this one process only."""
        with self._cred_env(auth) as cred:
            result = await run_git(
                self.git, ["-C", str(path), *args], env=self._env(cred), timeout=timeout, redact=redact,
                check=check, what=f"git {args[0]}",
            )  # fmt: skip
        return result.returncode, result.stdout, result.stderr

    async def remote_head(self, url: str, branch: str, auth: GitAuth | None, *, timeout: float) -> str | None:
        """The commit `branch` points at on the remote, without a workspace (`git ls-remote`); None if absent.

        Cheap enough to ask before every automation run: when neither the branch nor the policies
        moved since the last run, there is nothing to check out.
        """
        _check_url(url)
        redact = Redactor(auth.secrets() if auth else [])
        self.workspaces_dir.mkdir(parents=True, exist_ok=True)
        _code, out, _err = await self._remote(self.workspaces_dir, ["ls-remote", "--", url, f"refs/heads/{branch}"],
                                             auth, timeout=timeout, redact=redact)
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name.strip() == f"refs/heads/{branch}":
                return sha.strip()
        return None

    async def remote_default_branch(self, url: str, auth: GitAuth | None, *, timeout: float) -> str | None:
        """The branch the remote's HEAD names (`git ls-remote --symref URL HEAD`); None if it names none.

        Argo CD's `targetRevision: HEAD` (or empty) means this branch."""
        _check_url(url)
        redact = Redactor(auth.secrets() if auth else [])
        self.workspaces_dir.mkdir(parents=True, exist_ok=True)
        _code, out, _err = await self._remote(self.workspaces_dir, ["ls-remote", "--symref", "--", url, "HEAD"],
                                             auth, timeout=timeout, redact=redact)
        for line in out.splitlines():
            target, _, name = line.partition("\t")
            if target.startswith("ref: refs/heads/") and name.strip() == "HEAD":
                return target.removeprefix("ref: refs/heads/").strip()
        return None

    # -- prepare ----------------------------------------------------------------------------------

    async def prepare(self, url: str, ref: CheckoutRef, auth: GitAuth | None, *, timeout: float,
                      screen: str | None = None) -> Workspace:
        """A locked workspace with `ref` of `url` checked out (detached) and a clean tree.

        The first use makes a shallow clone (`init` + `fetch --depth 1`); later uses fetch and hard-reset
        to the remote tip, discarding anything a previous, interrupted run left behind. With `screen`,
        only the files that contain that literal are written (gitops/screened.py: no checkout at all);
        `commit_and_push` then builds the commit from objects. Callers that read other files (the
        Argo CD write-back, retention) leave it None.
        """
        _check_url(url)
        key = workspace_key(url, ref)
        path = self.workspaces_dir / key
        lock = WorkspaceLock(self.workspaces_dir / f"{key}.lock")
        await lock.acquire()
        try:
            redact = Redactor(auth.secrets() if auth else [])
            await self._init(path, url, timeout=timeout, redact=redact)
            head, branch = await self._fetch_ref(path, ref, auth, timeout=timeout, redact=redact, url=url)
            ws = Workspace(path=path, url=url, ref=ref, timeout=timeout, head=head, checkout_branch=branch,
                           auth=auth, lock=lock, screen=screen)  # fmt: skip
            if screen is None:
                await self._reset(path, ["--detach", head], timeout=timeout, redact=redact)
            else:
                ws.screened = await screening.materialize(self._runner(ws, redact), path, head, screen)
            return ws
        except BaseException:
            lock.release()
            raise

    @contextlib.asynccontextmanager
    async def checkout(
        self, url: str, ref: CheckoutRef, auth: GitAuth | None, *, timeout: float
    ) -> AsyncIterator[Workspace]:
        """`prepare` as a context manager: the workspace lock is released when the block ends."""
        ws = await self.prepare(url, ref, auth, timeout=timeout)
        try:
            yield ws
        finally:
            ws.release()

    async def _init(self, path: Path, url: str, *, timeout: float, redact: Redactor) -> None:
        if not (path / ".git").is_dir():
            if path.exists():  # a clone interrupted before `git init` finished
                shutil.rmtree(path)
            path.mkdir(parents=True)
            await self._git(path, ["init", "--quiet"], timeout=timeout, redact=redact)
            await self._git(path, ["remote", "add", "origin", url], timeout=timeout, redact=redact)
        elif not _origin_is(path, url):
            await self._git(path, ["remote", "set-url", "origin", url], timeout=timeout, redact=redact)
        # a previous run killed mid-operation may leave index.lock behind; we hold the workspace lock
        (path / ".git" / "index.lock").unlink(missing_ok=True)

    async def _fetch_ref(
        self, path: Path, ref: CheckoutRef, auth: GitAuth | None, *, timeout: float, redact: Redactor, url: str
    ) -> tuple[str, str | None]:
        """Fetch what `ref` names; return (commit, branch to push to by default or None)."""
        where = f"{strip_userinfo(url)}"
        # The first fetch is shallow. Later ones are not: `--depth 1` makes the server send the whole
        # tree of the new tip again (a shallow fetch cannot use what we have), while a plain fetch
        # sends only the objects that are new since the commit we already hold.
        warm = (path / ".git" / "shallow").exists()
        fetch = ["fetch", "--quiet", "--no-tags", *([] if warm else ["--depth", "1"]), "origin"]

        async def fetch_into(src: str, dst: str) -> str:
            try:
                await self._remote(path, [*fetch, f"+{src}:{dst}"], auth, timeout=timeout, redact=redact)
            except GitRefNotFound:
                raise GitRefNotFound(f"{ref.describe()} not found in {where}") from None
            return await self._git(path, ["rev-parse", "--verify", f"{dst}^{{commit}}"], timeout=timeout,
                                   redact=redact)  # fmt: skip

        if ref.commit:
            return await self._fetch_commit(path, ref, auth, timeout=timeout, redact=redact, where=where), ref.branch
        if ref.name:
            branch = ref.name.removeprefix("refs/heads/") if ref.name.startswith("refs/heads/") else None
            return await fetch_into(ref.name, CHECKOUT_REF), branch
        if ref.semver:
            tag = await self._resolve_semver(path, ref.semver, auth, timeout=timeout, redact=redact, where=where)
            return await fetch_into(f"refs/tags/{tag}", CHECKOUT_REF), None
        if ref.tag:
            return await fetch_into(f"refs/tags/{ref.tag}", CHECKOUT_REF), None
        branch = ref.branch or "master"
        return await fetch_into(f"refs/heads/{branch}", f"refs/remotes/origin/{branch}"), branch

    async def _fetch_commit(
        self, path: Path, ref: CheckoutRef, auth: GitAuth | None, *, timeout: float, redact: Redactor, where: str
    ) -> str:
        assert ref.commit is not None
        if len(ref.commit) == 40:
            args = ["fetch", "--quiet", "--no-tags", "--depth", "1", "origin", ref.commit]
            code, _, _ = await self._remote(path, args, auth, timeout=timeout, redact=redact, check=False)
            if code == 0:
                return ref.commit.lower()
        # servers that refuse unadvertised objects, or an abbreviated id: fetch the history and look
        src = f"refs/heads/{ref.branch}" if ref.branch else "refs/heads/*"
        dst = f"refs/remotes/origin/{ref.branch}" if ref.branch else "refs/remotes/origin/*"
        shallow = await self._git(path, ["rev-parse", "--is-shallow-repository"], timeout=timeout, redact=redact)
        args = ["fetch", "--quiet", "--no-tags", *(["--unshallow"] if shallow == "true" else []), "origin",
                f"+{src}:{dst}"]  # fmt: skip
        await self._remote(path, args, auth, timeout=timeout, redact=redact)
        try:
            return await self._git(path, ["rev-parse", "--verify", f"{ref.commit}^{{commit}}"], timeout=timeout,
                                   redact=redact)  # fmt: skip
        except GitError:
            raise GitRefNotFound(f"commit {ref.commit!r} not found in {where}") from None

    async def _resolve_semver(
        self, path: Path, range_: str, auth: GitAuth | None, *, timeout: float, redact: Redactor, where: str
    ) -> str:
        """The highest tag satisfying `range_` (Masterminds semver, as Flux's source-controller)."""
        from tagpilot.policy.semver import parse_constraint, parse_version

        try:
            constraint = parse_constraint(range_)
        except InvalidPolicy as exc:
            raise GitError(f"invalid semver range {range_!r} in spec.ref.semver: {exc}") from None
        _, out, _ = await self._remote(path, ["ls-remote", "--tags", "--refs", "origin"], auth, timeout=timeout,
                                       redact=redact)  # fmt: skip
        best = None
        for line in out.splitlines():
            _, _, name = line.partition("\t")
            tag = name.removeprefix("refs/tags/")
            version = parse_version(tag)
            if version is not None and constraint.check(version) and (best is None or version.key > best.key):
                best = version
        if best is None:
            raise GitRefNotFound(f"no tag in {where} satisfies semver range {range_!r}")
        return best.original

    async def _reset(self, path: Path, target: list[str], *, timeout: float, redact: Redactor,
                     clean: bool = True) -> None:
        await self._git(path, ["checkout", "--quiet", "--force", *target], timeout=timeout, redact=redact)
        if clean:
            await self._git(path, ["clean", "-ffdxq"], timeout=timeout, redact=redact)

    # -- commit and push --------------------------------------------------------------------------

    async def commit_and_push(
        self,
        ws: Workspace,
        *,
        apply: Callable[[Path], Awaitable[T] | T],
        message: Callable[[T], str],
        author: tuple[str | None, str],
        signing: SigningKey | None = None,
        push_branch: str | None = None,
        refspec: str | None = None,
        push_options: Sequence[str] = (),
        retries: int = 4,
    ) -> PushResult[T] | None:
        """Apply, commit and push; None when `apply` changed nothing (no commit is made).

        `push_branch` defaults to the checkout branch (unless only `refspec` is given, as in Flux).
        A different push branch that exists remotely is checked out and built on; otherwise it is
        created from the checkout. On a rejection another writer or a held ref lock caused (non-fast-
        forward, fetch first, stale info, remote rejected: cannot lock ref): wait (backoff with jitter),
        fetch, reset, re-apply, push again, at most `retries` more times, all kinds counted alike.
        A refspec is pushed once the branch push has succeeded.
        """
        if ws.lock is not None and not ws.lock.held:
            raise GitError("the workspace was released; prepare it again")
        redact = Redactor(ws.auth.secrets() if ws.auth else [])
        target = push_branch or (None if refspec else ws.checkout_branch)
        if target is None and refspec is None:
            raise GitError(f"nothing to push to: {ws.ref.describe()} is not a branch; set spec.git.push.branch")
        _check_refspec(refspec, ws.checkout_branch)
        local = target or ws.checkout_branch or "tagpilot"
        base_branch = target or ws.checkout_branch
        need_sync = target is not None and target != ws.checkout_branch
        attempts = 0
        while True:
            attempts += 1
            base = ws.head
            if need_sync and base_branch is not None:
                base = await self._sync(ws, base_branch, redact)
            # prepare() left the tree clean at ws.head: the first attempt on it only needs the branch
            # (a second `clean` walks the whole tree again: most of a no-change run on a big repository)
            if ws.screen is None:
                await self._reset(ws.path, ["-B", local, base], timeout=ws.timeout, redact=redact,
                                  clean=not (attempts == 1 and base == ws.head))
            elif not (attempts == 1 and base == ws.head):
                ws.screened = await screening.materialize(self._runner(ws, redact), ws.path, base, ws.screen)
            changes = apply(ws.path)
            if inspect.isawaitable(changes):
                changes = await changes
            sha = await self._commit(ws, message(changes), author, signing, redact,  # type: ignore[arg-type]
                                     base=base, local=local)
            if sha is None:
                return None
            spec = f"HEAD:refs/heads/{target}" if target else refspec
            assert spec is not None
            outcome = await self._push(ws, spec, push_options, redact)
            if outcome.ok:
                break
            if not outcome.retryable or attempts > retries:
                raise GitPushRejected(
                    f"push to {strip_userinfo(ws.url)} ({spec}) rejected after {attempts} attempt(s): {outcome.detail}"
                )
            await asyncio.sleep(self._jitter(attempts))
            need_sync = True
        if target and refspec:
            outcome = await self._push(ws, refspec, push_options, redact)
            if not outcome.ok:
                raise GitPushRejected(
                    f"commit {sha[:7]} was pushed to branch {target!r}, but the push of refspec {refspec!r} "
                    f"to {strip_userinfo(ws.url)} was rejected: {outcome.detail}"
                )
        ws.head = sha
        return PushResult(commit=sha, branch=target, refspec=refspec, pushed_at=self._clock(), attempts=attempts,
                          changes=changes)  # type: ignore[arg-type]  # fmt: skip

    def _jitter(self, attempt: int) -> float:
        """Equal jitter: uniform in [exp/2, exp] with exp = min(max, base·2^(attempt-1)). Racing writers
        spread out, and every retry waits at least half the exponential, so a ref lock another
        process holds has time to go away before the next attempt."""
        return backoff_delay(attempt - 1, base=self._backoff, cap=self._max_backoff, rand=self._rng.random, jitter=0.5)

    async def _sync(self, ws: Workspace, branch: str, redact: Redactor) -> str:
        """Fetch `branch`'s current tip; a push branch that does not exist yet starts at the checkout."""
        tracking = f"refs/remotes/origin/{branch}"
        args = ["fetch", "--quiet", "--no-tags", "--depth", "1", "origin", f"+refs/heads/{branch}:{tracking}"]
        try:
            await self._remote(ws.path, args, ws.auth, timeout=ws.timeout, redact=redact)
        except GitRefNotFound:
            if branch == ws.checkout_branch:
                raise GitRefNotFound(f"branch {branch!r} no longer exists in {strip_userinfo(ws.url)}") from None
            if ws.checkout_branch is not None:  # new push branch: from the checkout branch's current tip
                return await self._sync(ws, ws.checkout_branch, redact)
            return ws.head
        return await self._git(ws.path, ["rev-parse", "--verify", f"{tracking}^{{commit}}"], timeout=ws.timeout,
                               redact=redact)  # fmt: skip

    def _runner(self, ws: Workspace, redact: Redactor) -> screening.Run:
        """`run(args, input=, env=, check=, what=)` in the workspace, for gitops/screened.py."""

        async def run(args: Sequence[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None,
                      check: bool = True, what: str | None = None) -> GitResult:
            return await run_git(self.git, ["-C", str(ws.path), *args], env=dict(env) if env else self._env(),
                                 timeout=ws.timeout, redact=redact, input=input, check=check,
                                 what=what or f"git {args[0]}")

        return run

    async def _commit(
        self, ws: Workspace, text: str, author: tuple[str | None, str], signing: SigningKey | None, redact: Redactor,
        *, base: str, local: str,
    ) -> str | None:
        entries: list[screening.Change] = []
        if ws.screen is not None:
            entries = screening.changed_files(ws.path, ws.screened)
            if not entries:
                return None
        else:
            await self._git(ws.path, ["add", "--all"], timeout=ws.timeout, redact=redact)
            code = await run_git(self.git, ["-C", str(ws.path), "diff", "--cached", "--quiet"], env=self._env(),
                                 timeout=ws.timeout, redact=redact, check=False)  # fmt: skip
            if code.returncode == 0:
                return None
        name, email = author
        ident = {
            "GIT_AUTHOR_NAME": name or email,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name or email,
            "GIT_COMMITTER_EMAIL": email,
        }
        env = self._env(ident)
        if self._askpass is None:
            self._askpass = ensure_askpass(self.state_dir / "bin")
        env["SSH_ASKPASS"] = str(self._askpass)
        async with signing_config(signing, env, gpg=self.gpg, ssh_keygen=self.ssh_keygen) as (pairs, extra):
            env.update(extra)
            env.update(config_env(pairs))
            try:
                if ws.screen is not None:
                    # the local branch (a refspec's source may name it) and HEAD follow the commit
                    sha = await screening.commit_tree(self._runner(ws, redact), ws.path, base, entries, text, env,
                                                     ref=f"refs/heads/{local}", sign=signing is not None)
                    if not _head_names(ws.path, f"refs/heads/{local}"):
                        await self._git(ws.path, ["symbolic-ref", "HEAD", f"refs/heads/{local}"],
                                        timeout=ws.timeout, redact=redact)  # fmt: skip
                    return sha
                await run_git(self.git, ["-C", str(ws.path), "commit", "--quiet", "--no-verify", "--cleanup=verbatim",
                                         "--file=-"], env=env, timeout=ws.timeout, redact=redact,
                              input=text.encode("utf-8"), what="git commit")  # fmt: skip
            except GitError as exc:
                if signing is None or isinstance(exc, GitTimeout):
                    raise
                raise SigningError(f"could not sign the commit with the {signing.kind} key: {exc}") from None
        return await self._git(ws.path, ["rev-parse", "HEAD"], timeout=ws.timeout, redact=redact)

    async def _push(self, ws: Workspace, spec: str, options: Sequence[str], redact: Redactor) -> _PushOutcome:
        args = ["push", "--porcelain", *[f"--push-option={o}" for o in options], "origin", spec]
        code, out, err = await self._remote(ws.path, args, ws.auth, timeout=ws.timeout, redact=redact, check=False)
        refs = [line for line in out.splitlines() if line[:1] in "!= +-*" and line.count("\t") >= 2]
        if code == 0 and refs:
            return _PushOutcome(True, False, "")
        rejected = [line for line in refs if line.startswith("!")]
        if not rejected:
            raise_for(GitResult(code, out, err), "git push", redact)
        summary = rejected[0].split("\t", 2)[2]
        hints = [ln.removeprefix("remote: ") for ln in err.splitlines() if ln.startswith("remote: ")]
        retryable = _retryable(summary, hints)
        detail = redact(summary)
        hints = [h.strip() for h in hints if h.strip()]
        if hints and not retryable:
            detail += " (" + redact("; ".join(hints)) + ")"
        elif hints and summary.startswith("[remote rejected]"):  # the server's first line says which lock
            detail += " (" + redact(hints[0]) + ")"
        return _PushOutcome(False, retryable, detail)


def _retryable(summary: str, remote_lines: Sequence[str]) -> bool:
    """Whether a rejected ref update may succeed on a fresh attempt (moved branch, held ref lock).

    A `[remote rejected]` whose reason is a hook's verdict (`pre-receive hook declined`) is a policy
    such as branch protection and is final, unless the remote's own output says the ref lock was the
    problem (hosting services report lock contention through their hooks).
    """
    lowered = summary.lower()
    if lowered.startswith("[rejected]"):
        return any(reason in lowered for reason in _RETRYABLE_REJECTED)
    if lowered.startswith("[remote rejected]"):
        if any(reason in lowered for reason in _RETRYABLE_REMOTE):
            return True
        remote = " ".join(remote_lines).lower()
        return "cannot lock ref" in remote or "unable to lock" in remote or "failed to lock" in remote
    return False


def _origin_is(path: Path, url: str) -> bool:
    """Whether `.git/config` already says `url = URL` under `[remote "origin"]` (as git writes it for a
    URL without characters it would quote); otherwise the caller runs `remote set-url`. One process
    per reconcile saved; a false "no" only costs that process."""
    if any(c in url for c in '"\\#;\n') or url != url.strip():
        return False
    try:
        lines = (path / ".git" / "config").read_text().splitlines()
    except OSError:
        return False
    section = None
    for line in lines:
        text = line.strip()
        if text.startswith("["):
            section = text
        elif section == '[remote "origin"]' and text == f"url = {url}":
            return True
    return False


def _head_names(path: Path, ref: str) -> bool:
    """Whether the workspace's HEAD already is the symbolic ref `ref` (read from `.git/HEAD`: after
    the first run it always is, and a `symbolic-ref` process per commit is not free)."""
    try:
        return (path / ".git" / "HEAD").read_text().strip() == f"ref: {ref}"
    except OSError:
        return False


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.password is not None:
        raise GitError(f"{strip_userinfo(url)}: credentials in the URL are not allowed; use the Secret")


def _check_refspec(refspec: str | None, checkout_branch: str | None) -> None:
    """A `+src:dst` refspec would force-push; refuse it when it targets the checkout branch."""
    if not refspec or not refspec.startswith("+") or checkout_branch is None:
        return
    dst = refspec[1:].partition(":")[2] or refspec[1:]
    if dst in (checkout_branch, f"refs/heads/{checkout_branch}"):
        raise GitError(f"refspec {refspec!r} would force-push the checkout branch {checkout_branch!r}")
