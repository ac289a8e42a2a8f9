"""RegistryClient against the REAL distribution registry 2.8 (anonymous, htpasswd and token auth)."""

from __future__ import annotations

import datetime as dt

import pytest

from tagpilot.errors import AuthenticationError, NotFoundError
from tagpilot.registry.cache import DiskCache, MemoryCache
from tagpilot.registry.client import RegistryClient, RepositoryAccess
from tagpilot.registry.credentials import Credentials, DockerConfig
from tagpilot.registry.manifest import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST
from tagpilot.registry.reference import parse_reference
from tests.fixtures.pusher import push_image, push_tags

pytestmark = pytest.mark.integration

NO_CONFIG = DockerConfig()
CREATED = dt.datetime(2024, 3, 4, 5, 6, 7, tzinfo=dt.UTC)


def access(server, repo: str, creds: Credentials | None = None) -> RepositoryAccess:
    return RepositoryAccess(parse_reference(f"{server.host}/{repo}"), credentials=creds)


async def test_anonymous_list(registry, repo_name: str) -> None:
    tags = [f"1.{i}.0" for i in range(30)]
    push_tags(registry, repo_name, tags)
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        got = await c.list_tags(access(registry, repo_name))
        await c.ping(access(registry, repo_name))
    assert sorted(got) == sorted(tags)


async def test_not_found(registry) -> None:
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        with pytest.raises(NotFoundError) as info:
            await c.list_tags(access(registry, "t/does-not-exist"))
    assert "NAME_UNKNOWN" in str(info.value)
    assert f"{registry.host}/t/does-not-exist" in str(info.value)


async def test_htpasswd_right_password(registry_htpasswd, repo_name: str) -> None:
    push_tags(registry_htpasswd, repo_name, ["a", "b"])
    creds = Credentials(registry_htpasswd.username, registry_htpasswd.password)
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        assert sorted(await c.list_tags(access(registry_htpasswd, repo_name, creds))) == ["a", "b"]


@pytest.mark.parametrize("creds", [Credentials("tester", "wrong-password-1"), None])
async def test_htpasswd_wrong_password(registry_htpasswd, creds: Credentials | None) -> None:
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        with pytest.raises(AuthenticationError) as info:
            await c.list_tags(access(registry_htpasswd, "t/x", creds))
    assert f"authentication to {registry_htpasswd.host} failed" in str(info.value)
    assert "401" in str(info.value)
    assert "wrong-password-1" not in str(info.value)


async def test_htpasswd_credentials_from_docker_config(registry_htpasswd, repo_name: str, tmp_path) -> None:
    import base64
    import json

    from tagpilot.registry.credentials import load_docker_config

    push_tags(registry_htpasswd, repo_name, ["c"])
    pair = f"{registry_htpasswd.username}:{registry_htpasswd.password}".encode()
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {registry_htpasswd.host: {"auth": base64.b64encode(pair).decode()}}}))
    async with RegistryClient(docker_config=load_docker_config(path)) as c:
        assert await c.list_tags(access(registry_htpasswd, repo_name)) == ["c"]


async def test_token_right_password_and_token_cache(registry_token, token_server, repo_name: str) -> None:
    push_tags(registry_token, repo_name, ["x", "y"])
    token_server.reset()
    creds = Credentials(registry_token.username, registry_token.password)
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        for _ in range(3):
            assert sorted(await c.list_tags(access(registry_token, repo_name, creds))) == ["x", "y"]
    assert token_server.requests == 1


async def test_token_wrong_password(registry_token, token_server) -> None:
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        with pytest.raises(AuthenticationError) as info:
            await c.list_tags(access(registry_token, "t/x", Credentials("tester", "not-the-password")))
    message = str(info.value)
    assert f"authentication to {registry_token.host} failed" in message
    assert "not-the-password" not in message


@pytest.mark.parametrize("oci", [True, False])
async def test_single_image_metadata(registry, repo_name: str, oci: bool) -> None:
    digest = push_image(registry, repo_name, "1.0", created=CREATED, labels={"org.x": "y"}, oci=oci)
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        a = access(registry, repo_name)
        assert await c.head_digest(a, "1.0") == digest
        meta = await c.image_metadata(a, "1.0")
        manifest = await c.get_manifest(a, "1.0")
    assert meta.digest == digest
    assert meta.created == CREATED
    assert meta.platforms == ["linux/amd64"]
    assert meta.labels == {"org.x": "y"}
    assert manifest.digest == digest
    assert (manifest.media_type == OCI_MANIFEST) is oci


@pytest.mark.parametrize("oci", [True, False])
async def test_multi_arch_metadata(registry, repo_name: str, oci: bool) -> None:
    platforms = ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"]
    digest = push_image(registry, repo_name, "2.0", created=CREATED, platforms=platforms, oci=oci)
    async with RegistryClient(docker_config=NO_CONFIG) as c:
        meta = await c.image_metadata(access(registry, repo_name), "2.0")
        arm = await c.image_metadata(access(registry, repo_name), "2.0", platforms=["linux/arm/v7"])
    assert meta.digest == digest
    assert meta.media_type == (OCI_INDEX if oci else DOCKER_LIST)
    assert meta.platforms == platforms
    assert meta.created == CREATED
    assert set(meta.platform_created) == set(platforms)
    assert list(arm.platform_created) == ["linux/arm/v7"]


async def test_cache_hits_across_restarts(registry, repo_name: str, tmp_path) -> None:
    push_image(registry, repo_name, "3.0", created=CREATED, platforms=["linux/amd64", "linux/arm64"])
    a = access(registry, repo_name)
    disk = DiskCache(tmp_path / "cache")
    async with RegistryClient(docker_config=NO_CONFIG, cache=disk) as c:
        first = await c.image_metadata(a, "3.0")
        # HEAD + index + 2 x (manifest + config)
        assert c.request_count == 6
    async with RegistryClient(docker_config=NO_CONFIG, cache=disk) as c:
        again = await c.image_metadata(a, "3.0")
        assert c.request_count == 1  # only the HEAD that resolves the mutable tag
    assert again == first
    memory = MemoryCache()
    async with RegistryClient(docker_config=NO_CONFIG, cache=memory) as c:
        await c.image_metadata(a, "3.0")
        await c.image_metadata(a, "3.0")
        assert c.request_count == 7
    assert memory.hits == 5
