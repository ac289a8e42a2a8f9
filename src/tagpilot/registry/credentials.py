"""Registry credentials: Docker config files, Kubernetes dockerconfigjson Secrets, credential helpers.

Users already have credentials in the form Docker writes them (``~/.docker/config.json``) and Flux
and Argo read them (Secrets of type ``kubernetes.io/dockerconfigjson``). We read the same documents
with the same host matching as the Docker CLI (``cli/config/configfile``) and go-containerregistry's
default keychain:

- ``auths`` keys may be bare hosts (``ghcr.io``), hosts with ports, or URLs
  (``https://index.docker.io/v1/``); scheme and path are stripped before comparing.
- Docker Hub has many spellings (``docker.io``, ``index.docker.io``, ``registry-1.docker.io``,
  ``https://index.docker.io/v1/``); they all mean the same registry, and the server URL handed to a
  credential helper for it is ``https://index.docker.io/v1/``.
- An entry carries ``auth`` (base64 ``user:password``), or ``username``/``password``, and optionally
  ``identitytoken`` (an OAuth2 refresh token) or ``registrytoken`` (a ready bearer token).
- ``credHelpers`` (per host) and ``credsStore`` (default) name ``docker-credential-<name>`` programs,
  run as ``<program> get`` with the server URL on stdin; they answer ``{"Username", "Secret"}``, and a
  username of ``<token>`` means the secret is an identity token.

Secrets never reach logs, exception messages or ``repr``: `Credentials.__repr__` hides them, and the
helper program receives the server URL on stdin, never in its arguments.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagpilot.errors import CredentialsError

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
_DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
_TOKEN_USERNAME = "<token>"
_HELPER_NOT_FOUND = "credentials not found in native keychain"
_MAX_HELPER_OUTPUT = 1 << 20


@dataclass(frozen=True)
class Credentials:
    """What we may present to a registry. ``repr`` shows only the username and which secrets exist."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    registry_token: str | None = field(default=None, repr=False)
    # Set when a Docker config (a dockerconfigjson Secret) had no entry for the registry: the hosts it
    # has entries for (hosts only), so an authentication failure can say so instead of "sent a token".
    unmatched_hosts: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        flags = [
            name
            for name, value in (
                ("password", self.password),
                ("identity_token", self.identity_token),
                ("registry_token", self.registry_token),
            )
            if value
        ]
        return f"Credentials(username={self.username!r}, secrets={flags})"

    __str__ = __repr__

    @property
    def is_empty(self) -> bool:
        """Nothing to send: anonymous access."""
        return not (self.username or self.password or self.identity_token or self.registry_token)

    @property
    def has_basic(self) -> bool:
        """True when a username/password pair can be sent as HTTP Basic."""
        return bool(self.username) and self.password is not None

    def fingerprint(self) -> str:
        """A stable, non-reversible identity for cache keys (tokens are cached per credential)."""
        material = "\0".join(v or "" for v in (self.username, self.password, self.identity_token, self.registry_token))
        return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DockerConfig:
    """A parsed Docker config document: ``auths`` entries, ``credHelpers`` and ``credsStore``."""

    auths: dict[str, Credentials] = field(default_factory=dict)
    cred_helpers: dict[str, str] = field(default_factory=dict)
    creds_store: str | None = None
    source: str = "<memory>"  # where it came from, for error messages

    def __repr__(self) -> str:
        return (
            f"DockerConfig(source={self.source!r}, auths={sorted(self.auths)}, "
            f"cred_helpers={self.cred_helpers!r}, creds_store={self.creds_store!r})"
        )


def normalize_host(server: str) -> str:
    """Reduce an auths key or registry name to the host Docker compares: no scheme, no path, Hub unified."""
    host = server.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
            break
    host = host.split("/", 1)[0].lower()
    return "index.docker.io" if host in _DOCKER_HUB_HOSTS else host


def server_url(host: str) -> str:
    """The server address Docker uses for a registry host (what credential helpers are asked about)."""
    normalized = normalize_host(host)
    return DOCKER_HUB_SERVER if normalized == "index.docker.io" else normalized


def _entry(raw: Any, key: str, source: str) -> Credentials:
    if not isinstance(raw, dict):
        raise CredentialsError(f"{source}: auths entry {key!r} must be an object")
    username = raw.get("username") or raw.get("Username")
    password = raw.get("password") or raw.get("Password")
    auth = raw.get("auth")
    if auth:
        if not isinstance(auth, str):
            raise CredentialsError(f"{source}: auths entry {key!r}: 'auth' must be a base64 string")
        try:
            decoded = base64.b64decode(auth.strip(), validate=False).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise CredentialsError(f"{source}: auths entry {key!r}: 'auth' is not valid base64") from None
        user, colon, secret = decoded.partition(":")
        if not colon:
            raise CredentialsError(f"{source}: auths entry {key!r}: 'auth' must encode 'username:password'")
        username, password = user, secret
    identity = raw.get("identitytoken") or raw.get("identityToken") or None
    registry_token = raw.get("registrytoken") or raw.get("registryToken") or None
    for name, value in (("username", username), ("password", password), ("identitytoken", identity)):
        if value is not None and not isinstance(value, str):
            raise CredentialsError(f"{source}: auths entry {key!r}: {name!r} must be a string")
    return Credentials(
        username=username or None,
        password=password,
        identity_token=identity,
        registry_token=registry_token if isinstance(registry_token, str) else None,
    )


def parse_docker_config(document: bytes | str | dict[str, Any], source: str = "<memory>") -> DockerConfig:
    """Parse a config.json / ``.dockerconfigjson`` (or legacy ``.dockercfg``) document.

    `source` names the file or Secret in error messages; the document's secrets never appear there.
    """
    if isinstance(document, bytes | str):
        try:
            data = json.loads(document)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CredentialsError(f"{source}: not valid JSON (error at {_pos(exc)})") from None
    else:
        data = document
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise CredentialsError(f"{source}: a Docker config must be a JSON object")
    if "auths" in data or "credHelpers" in data or "credsStore" in data:
        raw_auths = data.get("auths")
        if raw_auths is None:
            raw_auths = {}
    else:
        # The legacy .dockercfg format is the auths map itself.
        raw_auths = {k: v for k, v in data.items() if isinstance(v, dict)}
    if not isinstance(raw_auths, dict):
        raise CredentialsError(f"{source}: 'auths' must be an object")
    auths = {key: _entry(value, key, source) for key, value in raw_auths.items()}
    helpers = data.get("credHelpers") or {}
    if not isinstance(helpers, dict) or not all(isinstance(v, str) for v in helpers.values()):
        raise CredentialsError(f"{source}: 'credHelpers' must map registry hosts to helper names")
    store = data.get("credsStore") or None
    if store is not None and not isinstance(store, str):
        raise CredentialsError(f"{source}: 'credsStore' must be a string")
    return DockerConfig(auths=auths, cred_helpers=dict(helpers), creds_store=store, source=source)


def _pos(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno} column {exc.colno}"
    return "start"


def default_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json`` if set, else ``~/.docker/config.json``, as the Docker CLI does."""
    directory = os.environ.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path.home() / ".docker" / "config.json"


def load_docker_config(path: str | os.PathLike[str] | None = None) -> DockerConfig:
    """Read the user's Docker config; a missing file is an empty config, a broken one an error."""
    file = Path(path) if path is not None else default_config_path()
    try:
        content = file.read_bytes()
    except FileNotFoundError:
        return DockerConfig(source=str(file))
    except OSError as exc:
        raise CredentialsError(f"{file}: cannot read Docker config: {exc.strerror}") from None
    if not content.strip():
        return DockerConfig(source=str(file))
    return parse_docker_config(content, source=str(file))


def _find_auth(config: DockerConfig, host: str) -> Credentials | None:
    if host in config.auths:
        return config.auths[host]
    wanted = normalize_host(host)
    for key, creds in config.auths.items():
        if normalize_host(key) == wanted:
            return creds
    return None


def _find_helper(config: DockerConfig, host: str) -> str | None:
    wanted = normalize_host(host)
    for key, helper in config.cred_helpers.items():
        if normalize_host(key) == wanted:
            return helper
    return config.creds_store


async def run_credential_helper(helper: str, server: str, *, timeout: float = 10.0) -> Credentials | None:
    """Run ``docker-credential-<helper> get`` for `server`; None when the helper has no credentials."""
    program = f"docker-credential-{helper}"
    try:
        proc = await asyncio.create_subprocess_exec(
            program,
            "get",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise CredentialsError(
            f"credential helper {program!r} (for {server}) is not installed or not on PATH"
        ) from None
    except OSError as exc:
        raise CredentialsError(f"credential helper {program!r} could not be started: {exc.strerror}") from None
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(server.encode()), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise CredentialsError(
            f"credential helper {program!r} did not answer for {server} within {timeout:g}s"
        ) from None
    out = stdout[:_MAX_HELPER_OUTPUT].decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        if _HELPER_NOT_FOUND in out.lower() or _HELPER_NOT_FOUND in stderr.decode("utf-8", "replace").lower():
            return None
        # The helper's output could in principle contain a secret; report only its first line, trimmed.
        first = (out or stderr.decode("utf-8", "replace").strip()).splitlines()[:1]
        detail = first[0][:200] if first else "no output"
        raise CredentialsError(f"credential helper {program!r} failed for {server} (exit {proc.returncode}): {detail}")
    try:
        data = json.loads(out)
    except ValueError:
        raise CredentialsError(f"credential helper {program!r} answered something that is not JSON") from None
    if not isinstance(data, dict):
        raise CredentialsError(f"credential helper {program!r} answered something that is not a JSON object")
    username, secret = data.get("Username"), data.get("Secret")
    if not isinstance(username, str | None) or not isinstance(secret, str | None):
        raise CredentialsError(f"credential helper {program!r}: Username and Secret must be strings")
    if not secret and not username:
        return None
    if username == _TOKEN_USERNAME:
        return Credentials(identity_token=secret)
    return Credentials(username=username or None, password=secret)


async def lookup(config: DockerConfig, host: str, *, timeout: float = 10.0) -> Credentials | None:
    """Credentials for a registry `host` (``ghcr.io``, ``127.0.0.1:5000``, ``docker.io``...).

    Same precedence as the Docker CLI: a ``credHelpers`` entry for the host, else ``credsStore``,
    else the ``auths`` entry. A helper that knows nothing falls back to ``auths`` (Docker keeps
    entries there for helpers too). Asynchronous because helpers are programs.
    """
    helper = _find_helper(config, host)
    if helper:
        creds = await run_credential_helper(helper, server_url(host), timeout=timeout)
        if creds is not None:
            return creds
    found = _find_auth(config, host)
    if found is None or (not found.username and not found.identity_token and not found.registry_token):
        return None
    return found


def config_hosts(config: DockerConfig) -> tuple[str, ...]:
    """The registry hosts a Docker config has entries for (``auths`` and ``credHelpers``), sorted."""
    return tuple(sorted({normalize_host(key) for key in (*config.auths, *config.cred_helpers)}))


async def lookup_or_anonymous(config: DockerConfig, host: str, *, timeout: float = 10.0) -> Credentials:
    """`lookup`, or (as Flux does for a dockerconfigjson Secret without an entry for the registry)
    anonymous credentials that remember which hosts the config has, for error messages."""
    found = await lookup(config, host, timeout=timeout)
    return found if found is not None else Credentials(unmatched_hosts=config_hosts(config))
