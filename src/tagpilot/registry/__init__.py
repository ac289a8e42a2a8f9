"""tagpilot.registry: the OCI distribution client (references, credentials, tags, manifests).

The public names are re-exported here so callers import from one place.
"""

from tagpilot.registry.cache import DiskCache, MemoryCache, MetadataCache
from tagpilot.registry.client import RegistryClient, RegistryTLSError, RepositoryAccess, TLSSettings
from tagpilot.registry.credentials import Credentials, DockerConfig, load_docker_config, lookup, parse_docker_config
from tagpilot.registry.manifest import ImageMetadata, Manifest
from tagpilot.registry.reference import Reference, parse_reference, parse_repository

__all__ = [
    "Credentials",
    "DiskCache",
    "DockerConfig",
    "ImageMetadata",
    "Manifest",
    "MemoryCache",
    "MetadataCache",
    "Reference",
    "RegistryClient",
    "RegistryTLSError",
    "RepositoryAccess",
    "TLSSettings",
    "load_docker_config",
    "lookup",
    "parse_docker_config",
    "parse_reference",
    "parse_repository",
]
