"""The registry client's lean HTTP path: requests sent straight to httpx's transport, and the pool's
remembered-socket readability check (registry/client.py `_send_direct`, registry/netbackend.py).

Both replace parts of httpx/httpcore for speed, so these tests pin what must not change: the request
on the wire is the one `build_request` makes, cookies a registry sets are sent back, and an idle
connection the server closed is noticed before a request is written to it. The servers are real
HTTP servers on 127.0.0.1 (the FAKE registry of fake_registry.py, and a raw socket server below that
closes every connection after one reply).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import httpx

from tagpilot.registry import netbackend
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


class _OneReplyPerConnection:
    """An HTTP/1.1 server that answers one request per connection, then closes it without saying
    `Connection: close` (as a registry behind a proxy with a short idle timeout does)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.tag_connections = 0  # connections that carried a tag listing
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk or chunk.startswith(b"\x16"):  # EOF, or a TLS hello of the https probe
                        break
                    data += chunk
                if b"/tags/list" not in data:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}" if data else b"")
                    continue
                self.tag_connections += 1
                body = json.dumps({"name": "demo/app", "tags": ["v1"]}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def close(self) -> None:
        self._listener.close()


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    server = _OneReplyPerConnection()
    try:
        async with RegistryClient(docker_config=DockerConfig(), retries=0) as client:
            for _ in range(3):
                assert await client.list_tags(_access(server.host)) == ["v1"]
                await asyncio.sleep(0.05)  # the server's FIN reaches the idle pooled connection
            http_client = client._clients["http", server.host, ""]
            backend = http_client._transport._pool._network_backend
            assert isinstance(backend, netbackend.AsyncioBackend)
        assert server.tag_connections == 3
    finally:
        server.close()


def test_install_leaves_a_transport_without_a_pool_alone() -> None:
    assert netbackend.install(httpx.MockTransport(lambda request: httpx.Response(200))) is False
    transport = httpx.AsyncHTTPTransport()
    assert netbackend.install(transport) is True
    assert isinstance(transport._pool._network_backend, netbackend.AsyncioBackend)


async def test_a_proxy_from_the_environment_carries_the_requests(monkeypatch, http_recorder) -> None:
    """HTTP_PROXY is honoured (docs/configuration.md): the direct path sends each request to the
    transport httpx chose for its URL, here the proxy's, which gets the absolute-form target."""
    from tests.fixtures.http import Reply

    http_recorder.default = Reply(200, {"name": "demo/app", "tags": ["v7"]})
    monkeypatch.setenv("HTTP_PROXY", http_recorder.url)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    registry = "registry.invalid:5000"  # never resolved: only the proxy is contacted
    async with RegistryClient(docker_config=DockerConfig(), retries=0) as client:
        assert await client.list_tags(_access(registry)) == ["v7"]
    targets = [request.target for request in http_recorder.requests]
    assert f"http://{registry}/v2/demo/app/tags/list?n=1000" in targets


async def test_an_h2_protocol_error_is_a_failed_connection_not_a_bug() -> None:
    """httpcore lets h2's ProtocolError through when an HTTP/2 connection dies while two requests start on
    it (seen with a registry refusing the client certificate right after the TLS handshake). The client
    treats it as any broken connection: retried, then `RegistryUnavailable`, never an internal error.
    (httpx's MockTransport stands in for that connection: the race cannot be provoked on demand.)"""
    import h2.exceptions

    from tagpilot.errors import RegistryUnavailable

    def broken(request: httpx.Request) -> httpx.Response:
        raise h2.exceptions.ProtocolError("Invalid input ConnectionInputs.SEND_SETTINGS in state CLOSED")

    delays: list[float] = []

    async def no_sleep(delay: float) -> None:
        delays.append(delay)

    async with RegistryClient(docker_config=DockerConfig(), transport=httpx.MockTransport(broken), retries=2,
                              sleep=no_sleep) as client:
        access = RepositoryAccess(parse_reference("registry.example.com/demo/app"))
        try:
            await client.list_tags(access)
        except RegistryUnavailable as exc:
            assert "cannot reach registry.example.com" in str(exc) and "after 3 attempt(s)" in str(exc), exc
        else:
            raise AssertionError("a broken connection must fail the listing")
    assert len(delays) == 2
