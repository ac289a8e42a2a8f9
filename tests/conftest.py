"""Shared pytest fixtures: real registries and real git remotes on 127.0.0.1.

Servers are session-scoped (startup is cheap but the suite starts many tests); each test keeps to
its own repository names (the `repo_name` fixture makes one), so sharing a server is safe. Tests
that need a server with a special configuration (notifications, another token policy) use the
function-scoped `registry_factory`.

A missing real dependency (docker-registry, htpasswd, git) skips the tests that need it on a
developer machine, and fails them when `CI=true`: CI must never go green by skipping.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.git import GitDaemon, GitHttpServer, GitRemote, git_env
from tests.fixtures.http import RecordingServer
from tests.fixtures.pusher import Pusher
from tests.fixtures.registry import HTPASSWD_BINARY, REGISTRY_BINARY, RegistryServer, TokenServer


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_binary(name: str, install_hint: str) -> None:
    """Skip (developer machine) or fail (CI=true) when a real dependency is not installed."""
    if shutil.which(name) is not None:
        return
    message = f"{name} is not installed ({install_hint}); tests against the real server cannot run"
    if in_ci():
        pytest.fail(f"CI=true and a real test dependency is missing: {message}", pytrace=False)
    pytest.skip(message)


def require_registry(auth: str = "none") -> None:
    require_binary(REGISTRY_BINARY, "apt-get install docker-registry")
    if auth == "htpasswd":
        require_binary(HTPASSWD_BINARY, "apt-get install apache2-utils")


def require_git() -> None:
    require_binary("git", "apt-get install git")


# -- registries -------------------------------------------------------------------------------------


def _registry(tmp_path_factory: pytest.TempPathFactory, auth: str) -> Iterator[RegistryServer]:
    require_registry(auth)
    server = RegistryServer(workdir=tmp_path_factory.mktemp(f"registry-{auth}"), auth=auth)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """An anonymous registry (`.host`, `.url`, `.root`; username/password are None)."""
    yield from _registry(tmp_path_factory, "none")


@pytest.fixture(scope="session")
def registry_htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry behind bcrypt htpasswd basic auth (`.username`/`.password` are valid credentials)."""
    yield from _registry(tmp_path_factory, "htpasswd")


@pytest.fixture(scope="session")
def registry_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A registry with Bearer token auth; `.token_server` is its `TokenServer` (request counts)."""
    yield from _registry(tmp_path_factory, "token")


@pytest.fixture
def token_server(registry_token: RegistryServer) -> TokenServer:
    """The token server of `registry_token`, with its request log reset for this test.

    The counter is shared by the session; tests that count requests should not run concurrently
    with other token tests (pytest runs tests of one process sequentially, so this holds).
    """
    assert registry_token.token_server is not None
    registry_token.token_server.reset()
    return registry_token.token_server


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[Callable[..., RegistryServer]]:
    """Start registries with custom settings for one test: `registry_factory(auth=..., notifications=[...])`.

    Keyword arguments are those of `RegistryServer`; every server is stopped after the test.
    """
    started: list[RegistryServer] = []
    counter = itertools.count()

    def make(**kwargs: Any) -> RegistryServer:
        require_registry(kwargs.get("auth", "none"))
        kwargs.setdefault("workdir", tmp_path / f"registry-{next(counter)}")
        server = RegistryServer(**kwargs)
        started.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in started:
            server.stop()


_repo_counter = itertools.count()


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository name unique to this test (valid for distribution: lowercase, `[a-z0-9._-/]`)."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60].strip("-") or "test"
    return f"t/{base}-{next(_repo_counter)}"


@pytest.fixture
def pusher(registry: RegistryServer) -> Iterator[Pusher]:
    """A `Pusher` on the anonymous `registry` (one keep-alive connection for the test)."""
    with Pusher(registry) as p:
        yield p


# -- http ---------------------------------------------------------------------------------------------


@pytest.fixture
def http_recorder() -> Iterator[RecordingServer]:
    """A `RecordingServer` on 127.0.0.1 for this test: every request recorded, answers set with `route()`."""
    with RecordingServer() as server:
        yield server


# -- git ----------------------------------------------------------------------------------------------


@pytest.fixture
def git_environ(tmp_path: Path) -> dict[str, str]:
    """Environment for git subprocesses in tests: fixed identity, no global/system config."""
    require_git()
    return git_env(tmp_path / "git-home")


@pytest.fixture
def git_remote_file(tmp_path: Path, git_environ: dict[str, str]) -> GitRemote:
    """A bare repository served through `file://`, seeded with one commit on `main`."""
    remote = GitRemote.create(tmp_path / "remotes", "fleet.git", env=git_environ)
    remote.seed({"README.md": "fleet\n"}, message="initial commit")
    return remote


@pytest.fixture(scope="session")
def _git_daemon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitDaemon]:
    require_git()
    daemon = GitDaemon(tmp_path_factory.mktemp("git-daemon"))
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def git_daemon(_git_daemon_server: GitDaemon, git_environ: dict[str, str], repo_name: str) -> GitRemote:
    """A bare repository (seeded, branch `main`) served by `git daemon` at `git://127.0.0.1:PORT/...`."""
    name = repo_name.replace("/", "-") + ".git"
    remote = _git_daemon_server.create_repo(name, env=git_environ)
    remote.seed({"README.md": "fleet\n"}, message="initial commit")
    return remote


@pytest.fixture(scope="session")
def _git_http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitHttpServer]:
    require_git()
    server = GitHttpServer(tmp_path_factory.mktemp("git-http"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def git_http(_git_http_server: GitHttpServer, git_environ: dict[str, str], repo_name: str) -> GitRemote:
    """A bare repository (seeded, branch `main`) over smart HTTP with Basic auth.

    `.url` has no credentials; `.username`/`.password` are the valid ones; `.auth_url` embeds them.
    """
    name = repo_name.replace("/", "-") + ".git"
    remote = _git_http_server.create_repo(name, env=git_environ)
    remote.seed({"README.md": "fleet\n"}, message="initial commit")
    return remote
