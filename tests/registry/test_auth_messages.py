"""What an authentication failure says about the credentials: never "sent a token" when nothing was sent."""

from __future__ import annotations

import base64

import pytest

from tagpilot.errors import AuthenticationError
from tagpilot.registry.client import RegistryClient, RepositoryAccess
from tagpilot.registry.credentials import (
    Credentials,
    DockerConfig,
    config_hosts,
    lookup_or_anonymous,
    parse_docker_config,
)
from tagpilot.registry.reference import parse_reference

from .fake_registry import FakeRegistry, FakeReply, FakeRequest

SECRET = "Secret default/regcred (spec.secretRef)"


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_lookup_or_anonymous_remembers_the_hosts() -> None:
    config = parse_docker_config({"auths": {"https://ghcr.io/v2/": {"auth": _auth("u", "p4ss-secret")},
                                            "docker.io": {"auth": _auth("u", "p4ss-secret")}},
                                  "credHelpers": {"quay.io": "none"}})
    assert config_hosts(config) == ("ghcr.io", "index.docker.io", "quay.io")
    creds = await lookup_or_anonymous(parse_docker_config({"auths": {"ghcr.io": {"auth": _auth("u", "pw")}}}),
                                      "127.0.0.1:5000")
    assert creds.is_empty and creds.unmatched_hosts == ("ghcr.io",)
    found = await lookup_or_anonymous(parse_docker_config({"auths": {"ghcr.io": {"auth": _auth("u", "pw")}}}),
                                      "ghcr.io")
    assert found.username == "u" and found.unmatched_hosts is None


def basic_registry() -> FakeRegistry:
    def handle(request: FakeRequest) -> FakeReply:
        return FakeReply.error(401, "UNAUTHORIZED", "authentication required",
                               {"WWW-Authenticate": 'Basic realm="fake"'})

    return FakeRegistry(handle)


@pytest.mark.parametrize("hosts", [("ghcr.io", "registry.example.com:5000"), ()])
async def test_no_entry_for_the_host_says_so(hosts: tuple[str, ...]) -> None:
    with basic_registry() as fake:
        access = RepositoryAccess(parse_reference(f"{fake.host}/demo/app"),
                                  credentials=Credentials(unmatched_hosts=hosts), credentials_source=SECRET)
        async with RegistryClient(docker_config=DockerConfig()) as c:
            with pytest.raises(AuthenticationError) as info:
                await c.list_tags(access)
        # nothing was sent: no request carried an Authorization header
        assert fake.requests and all(r.authorization is None for r in fake.requests)
    message = str(info.value)
    assert "sent a token" not in message
    assert f"{SECRET} has no entry for {fake.host}" in message
    assert f"it has entries for: {', '.join(hosts) or 'none'}" in message
    assert "no credentials were sent" in message


async def test_credentials_that_were_sent_are_still_named() -> None:
    with basic_registry() as fake:
        access = RepositoryAccess(parse_reference(f"{fake.host}/demo/app"),
                                  credentials=Credentials("alice", "wr0ng-pass"), credentials_source=SECRET)
        async with RegistryClient(docker_config=DockerConfig()) as c:
            with pytest.raises(AuthenticationError) as info:
                await c.list_tags(access)
    assert f"sent user 'alice' from {SECRET}" in str(info.value)
    assert "wr0ng-pass" not in str(info.value)
