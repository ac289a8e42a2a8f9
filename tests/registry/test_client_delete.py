"""RegistryClient.delete_manifest against the REAL registry: delete enabled, disabled, and token auth."""

from __future__ import annotations

import pytest

from tagpilot.errors import DeleteUnsupported, NotFoundError
from tagpilot.registry.client import RegistryClient, RepositoryAccess
from tagpilot.registry.credentials import Credentials, DockerConfig
from tagpilot.registry.reference import parse_reference
from tests.fixtures.pusher import list_tags, push_image, push_tags

pytestmark = pytest.mark.integration


def access(server, repo: str, creds: Credentials | None = None) -> RepositoryAccess:
    return RepositoryAccess(parse_reference(f"{server.host}/{repo}"), credentials=creds)


async def test_delete_by_digest_untags_every_tag_on_it(registry, repo_name: str) -> None:
    shared = push_tags(registry, repo_name, ["a", "b"])
    push_image(registry, repo_name, "c", layer=b"other layer")
    async with RegistryClient(docker_config=DockerConfig()) as c:
        await c.delete_manifest(access(registry, repo_name), shared)
        with pytest.raises(NotFoundError):
            await c.delete_manifest(access(registry, repo_name), shared)
    assert list_tags(registry, repo_name) == ["c"]


async def test_delete_disabled_is_a_clear_error(registry_factory, repo_name: str) -> None:
    server = registry_factory(extra_config={"storage": {"delete": {"enabled": False}}})
    digest = push_image(server, repo_name, "a")
    async with RegistryClient(docker_config=DockerConfig()) as c:
        with pytest.raises(DeleteUnsupported) as info:
            await c.delete_manifest(access(server, repo_name), digest)
    assert "405" in str(info.value) and "storage.delete.enabled" in str(info.value)
    assert list_tags(server, repo_name) == ["a"]


async def test_delete_with_token_auth_asks_for_delete_scope(registry_token, token_server, repo_name: str) -> None:
    digest = push_image(registry_token, repo_name, "a")
    creds = Credentials(registry_token.username, registry_token.password)
    async with RegistryClient(docker_config=DockerConfig()) as c:
        await c.delete_manifest(access(registry_token, repo_name, creds), digest)
    assert any("delete" in scope for req in token_server.log for scope in req.scopes)
    assert list_tags(registry_token, repo_name) == []
