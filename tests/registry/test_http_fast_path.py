"""The registry client's lean HTTP path: requests sent straight to httpx's transport, and the pool's
remembered-socket readability check (registry/client.py `_send_direct`, registry/netbackend.py).

Both replace parts of httpx/httpcore for speed, so these tests pin what must not change: the request
on the wire is the one `build_request` makes, cookies a registry sets are sent back, and an idle
connection the server closed is noticed before a request is written to it. The servers are real
HTTP servers on 127.0.0.1 (the FAKE registry of fake_registry.py).
"""

from __future__ import annotations

import httpx

from tagpilot.registry.client import USER_AGENT, RegistryClient, RepositoryAccess
from tagpilot.registry.credentials import DockerConfig
from tagpilot.registry.reference import parse_reference

from .fake_registry import FakeRegistry, FakeReply, FakeRequest


def _tags(request: FakeRequest) -> FakeReply:
    return FakeReply.json({"name": "demo/app", "tags": ["v1", "v2"]})


def _access(host: str) -> RepositoryAccess:
    return RepositoryAccess(parse_reference(f"{host}/demo/app"), insecure=True)


async def test_direct_request_carries_the_headers_build_request_makes() -> None:
    with FakeRegistry(_tags) as fake:
        async with RegistryClient(docker_config=DockerConfig()) as client:
            assert await client.list_tags(_access(fake.host)) == ["v1", "v2"]
        [request] = fake.requests
    expected = httpx.AsyncClient(headers={"User-Agent": USER_AGENT}).build_request(
        "GET", f"{fake.url}/v2/demo/app/tags/list?n=1000", headers={"Accept": "application/json"})
    assert request.headers == {name.lower(): value for name, value in expected.headers.items()}
    assert request.query == {"n": ["1000"]}


async def test_a_cookie_the_registry_sets_is_sent_back() -> None:
    def sets_cookie(request: FakeRequest) -> FakeReply:
        reply = _tags(request)
        if "cookie" not in request.headers:
            reply.headers["Set-Cookie"] = "sticky=node-2; Path=/"
        return reply

    with FakeRegistry(sets_cookie) as fake:
        async with RegistryClient(docker_config=DockerConfig()) as client:
            for _ in range(3):
                assert await client.list_tags(_access(fake.host)) == ["v1", "v2"]
        assert [r.headers.get("cookie") for r in fake.requests] == [None, "sticky=node-2", "sticky=node-2"]
