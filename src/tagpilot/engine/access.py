"""How to reach the registry of an ImageRepository: credentials, TLS, timeouts, from its spec and Secrets.

Shared by every reconciler that talks to a registry (scans, digest reflection, newest-build metadata),
so an ImageRepository's `secretRef`, `certSecretRef`, `insecure` and `timeout` mean the same everywhere.
"""

from __future__ import annotations

from tagpilot.config.core import BASIC_AUTH, DOCKER_CONFIG_JSON, Secret
from tagpilot.config.flux_image import ImageRepository
from tagpilot.config.loader import Config
from tagpilot.errors import CredentialsError
from tagpilot.registry.client import RepositoryAccess, TLSSettings
from tagpilot.registry.credentials import Credentials, lookup_or_anonymous, parse_docker_config
from tagpilot.registry.reference import Reference, parse_repository


async def credentials_for(repo: ImageRepository, config: Config, ref: Reference) -> Credentials | None:
    """Credentials from `spec.secretRef`; None means "look in the user's docker config"."""
    if repo.spec.secret_ref is None:
        return None
    secret = config.secret(repo.namespace, repo.spec.secret_ref.name, referenced_by=repo,
                           field_name="spec.secretRef")
    return await credentials_from_secret(secret, ref)


async def credentials_from_secret(secret: Secret, ref: Reference) -> Credentials | None:
    values = secret.values()
    if secret.type == DOCKER_CONFIG_JSON:
        docker_config = parse_docker_config(values[".dockerconfigjson"], source=f"Secret {secret.namespace}/"
                                            f"{secret.name}")
        # a dockerconfigjson without an entry for this registry means anonymous access, as in Flux
        return await lookup_or_anonymous(docker_config, ref.domain)
    if secret.type == BASIC_AUTH or ("username" in values and "password" in values):
        return Credentials(username=secret.text("username"), password=secret.text("password"))
    raise CredentialsError(
        f"Secret {secret.namespace}/{secret.name} has type {secret.type!r} without username/password; "
        f"use {DOCKER_CONFIG_JSON}, {BASIC_AUTH} or an Opaque Secret with username and password"
    )


def tls_for(repo: ImageRepository, config: Config) -> TLSSettings | None:
    if repo.spec.cert_secret_ref is None:
        return None
    secret = config.secret(repo.namespace, repo.spec.cert_secret_ref.name, referenced_by=repo,
                           field_name="spec.certSecretRef")
    values = secret.values()
    # `ca.crt`/`tls.crt`/`tls.key` (Flux v1) or the older `caFile`/`certFile`/`keyFile`
    return TLSSettings(
        ca_pem=values.get("ca.crt") or values.get("caFile"),
        cert_pem=values.get("tls.crt") or values.get("certFile"),
        key_pem=values.get("tls.key") or values.get("keyFile"),
    )


async def access_for(repo: ImageRepository, config: Config, ref: Reference | None = None) -> RepositoryAccess:
    """Everything the registry client needs for `repo`. Raises InvalidReference / CredentialsError."""
    ref = ref or parse_repository(repo.spec.image)
    return RepositoryAccess(
        reference=ref,
        credentials=await credentials_for(repo, config, ref),
        insecure=repo.spec.insecure,
        tls=tls_for(repo, config),
        timeout=repo.spec.timeout_seconds,
        # named in authentication errors, so a user knows which Secret to fix
        credentials_source=(f"Secret {repo.namespace}/{repo.spec.secret_ref.name} (spec.secretRef)"
                            if repo.spec.secret_ref else None),
    )
