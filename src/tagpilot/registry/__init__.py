"""tagpilot.registry: the OCI distribution client (references, credentials, tags, manifests).

The public names are re-exported here so callers import from one place. They load on first use
(PEP 562): parsing a reference must not cost the start-up of the HTTP client (`tagpilot update`
and `policy eval` run in CI loops, where start-up time is most of their time).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DiskCache": "cache", "MemoryCache": "cache", "MetadataCache": "cache",
    "RegistryClient": "client", "RegistryTLSError": "client", "RepositoryAccess": "client", "TLSSettings": "client",
    "Credentials": "credentials", "DockerConfig": "credentials", "load_docker_config": "credentials",
    "lookup": "credentials", "parse_docker_config": "credentials",
    "ImageMetadata": "manifest", "Manifest": "manifest",
    "Reference": "reference", "parse_reference": "reference", "parse_repository": "reference",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tagpilot.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tagpilot.registry.{module}"), name)
    globals()[name] = value
    return value
