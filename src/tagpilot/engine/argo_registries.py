"""`registries.conf` applied to the registry access of Applications and ImageUpdaters.

For one image (as written in `image-list` or `imageName`): the registry is the image's own host,
else the `default: true` entry's prefix, else Docker Hub; a one-part path gets the entry's
`defaultns`; the entry is the one whose `prefix` is the longest match of `registry/path`. Its
`api_url` is where the v2 API is reached (plain http for an `http://` URL), `insecure` skips TLS
verification, `ca_data`/`ca_file` add a CA, `credentials` are used when the image has no
`pull-secret` (image-level credentials win, as upstream), cached for `credsexpire` (or, without it,
for the life of the process, as upstream reads them once). `limit` is installed as the host's
requests-per-second bound; with the ConfigMap present, registries it does not list get upstream's
coded defaults (20 rps, Docker Hub 10 rps). The written image name never changes: only where tags
are read from.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tagpilot.config.argo_cd import Application, ImageSettings
from tagpilot.config.argo_updater_config import (
    DOCKER_HUB,
    DOCKER_HUB_LIMIT,
    INFERRED_LIMIT,
    RegistryEntry,
    has_updater_config,
    updater_config,
)
from tagpilot.errors import CredentialsError
from tagpilot.policy.argo import TagMetadata
from tagpilot.registry.client import RepositoryAccess, TLSSettings
from tagpilot.registry.credentials import Credentials
from tagpilot.registry.reference import Reference

# (entry prefix) → (expiry on the monotonic clock, credentials): registry-level credentials
_CREDS: dict[tuple[int, str], tuple[float, Credentials | None]] = {}


def split_registry(image: str, default_registry: str) -> tuple[str, str]:
    """(`registry`, `path`) as docker reads the written name, the default registry for bare names."""
    first, slash, rest = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return default_registry, image


def tag_sort_mode(ctx: Any, s: ImageSettings) -> str:
    """The registries.conf `tagsortmode` of the entry image `s` is read through ("none" without one)."""
    if not has_updater_config(ctx.config):
        return "none"
    conf = updater_config(ctx.config)
    registry, path = split_registry(s.image, conf.default_registry())
    entry = conf.entry_for(f"{registry}/{path}") or conf.entry_for(registry)
    return entry.tagsortmode if entry is not None else "none"


def list_order_metadata(tags: Sequence[str], mode: str) -> dict[str, TagMetadata]:
    """Upstream with `tagsortmode`: no metadata is fetched and the registry's list order says which tag
    is newest (`latest-first`: the first; `latest-last`: the last), expressed as creation times the
    newest-build policy then compares (its tie rules unchanged)."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    count = len(tags)
    return {tag: TagMetadata(created=epoch + timedelta(seconds=count - index if mode == "latest-first" else index))
            for index, tag in enumerate(tags)}


async def apply_registries_conf(ctx: Any, app: Application, s: ImageSettings,
                                access: RepositoryAccess) -> RepositoryAccess:
    """`access` for image `s` with the configuration's registries.conf applied (unchanged without it)."""
    if not has_updater_config(ctx.config):
        return access
    conf = updater_config(ctx.config)
    registry, path = split_registry(s.image, conf.default_registry())
    entry = conf.entry_for(f"{registry}/{path}") or conf.entry_for(registry)
    if entry is not None and entry.defaultns and "/" not in path:
        path = f"{entry.defaultns}/{path}"
    elif entry is None and registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    _install_limit(ctx.registry, entry, registry)
    if entry is None:
        return access
    host, insecure = registry, access.insecure
    if entry.api_url:
        scheme, _, rest = entry.api_url.partition("://")
        host, insecure = rest.split("/", 1)[0], scheme == "http"
    tls = access.tls
    if entry.insecure or entry.ca_data or entry.ca_file:
        ca = entry.ca_data.encode() if entry.ca_data else None
        if entry.ca_file and ca is None:
            try:
                ca = Path(entry.ca_file).read_bytes()
            except OSError as exc:
                raise CredentialsError(f"registries.conf entry {entry.name!r}: ca_file {entry.ca_file}: "
                                       f"{exc.strerror}") from None
        tls = TLSSettings(ca_pem=ca, insecure_skip_verify=entry.insecure)
    creds, source = access.credentials, access.credentials_source
    if creds is None and entry.credentials is not None:
        creds = await _registry_credentials(ctx, app, entry, Reference(host, path))
        source = f"registries.conf entry {entry.name!r} credentials {entry.credentials.describe()}"
    return replace(access, reference=Reference(host, path), insecure=insecure, tls=tls, credentials=creds,
                   credentials_source=source)


async def _registry_credentials(ctx: Any, app: Application, entry: RegistryEntry, ref: Reference) -> Credentials | None:
    from tagpilot.engine.argo_app import pull_credentials

    key = (id(ctx), entry.prefix)
    cached = _CREDS.get(key)
    now = time.monotonic()
    if cached is not None and now < cached[0]:
        return cached[1]
    assert entry.credentials is not None
    creds = await pull_credentials(entry.credentials, ctx.config, app, ref)
    _CREDS[key] = (now + entry.credsexpire if entry.credsexpire else float("inf"), creds)
    return creds


def _install_limit(client: Any, entry: RegistryEntry | None, registry: str) -> None:
    """Requests per second for the registry host, as upstream's code sets them."""
    if client is None or not hasattr(client, "set_rate_limit"):
        return
    if entry is None:
        host = "registry-1.docker.io" if registry == DOCKER_HUB else registry
        client.set_rate_limit(host, DOCKER_HUB_LIMIT if registry == DOCKER_HUB else INFERRED_LIMIT)
    elif entry.limit is not None:
        host = entry.api_url.partition("://")[2].split("/", 1)[0] if entry.api_url else registry
        client.set_rate_limit(host, entry.limit)
