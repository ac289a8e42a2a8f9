"""`RequestGuard`: which Host, Origin and Content-Type reach the API (the ASGI path is tested on a real
daemon in tests/integration/test_daemon_hardening.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tagpilot.server.guard import RequestGuard, split_host


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def guard(**kwargs: Any) -> RequestGuard:
    kwargs.setdefault("listen_host", "127.0.0.1")
    return RequestGuard(_ok, **kwargs)


JSON = {"content-type": "application/json", "host": "127.0.0.1:9440"}


@pytest.mark.parametrize(("value", "expected"), [
    ("127.0.0.1:9440", ("127.0.0.1", "9440")), ("LOCALHOST", ("localhost", "")), ("[::1]:80", ("::1", "80")),
    ("example.com.:1", ("example.com", "1")), ("[::1", ("[::1", "")), ("::1", ("::1", "")),
])
def test_split_host(value: str, expected: tuple[str, str]) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize(("host", "allowed"), [
    ("127.0.0.1:9440", True), ("localhost:9440", True), ("[::1]:9440", True), ("10.1.2.3:9440", True),
    ("tagpilot.internal", True), ("TAGPILOT.INTERNAL.:9440", True), ("host.example:9440", True),
    ("evil.example:9440", False), ("localhost.evil.example", False), ("127.0.0.1.nip.io", False), ("", False),
])
def test_host_names_the_api_answers_to(host: str, allowed: bool) -> None:
    check = guard(listen_host="host.example", allowed_hosts=["tagpilot.internal"])
    assert check.host_allowed(host) is allowed
    refused = check.check("GET", "/api/v1/objects", {"host": host})
    assert (refused is None) is allowed
    if refused:
        assert refused[0] == 403 and "--allowed-host" in refused[1]


@pytest.mark.parametrize(("origin", "allowed"), [
    ("http://127.0.0.1:9440", True), ("http://127.0.0.1:9440/", True), ("https://tagpilot.internal", True),
    ("http://evil.example", False), ("null", False), ("http://127.0.0.1:3000", False),
    ("http://localhost:9440", False), ("file://", False), ("http://[", False),
])
def test_origins_that_may_change_things(origin: str, allowed: bool) -> None:
    check = guard(allowed_hosts=["tagpilot.internal"])
    refused = check.check("POST", "/api/v1/reload", {**JSON, "origin": origin})
    assert (refused is None) is allowed, refused


@pytest.mark.parametrize(("content_type", "status"), [
    ("application/json", None), ("Application/JSON; charset=utf-8", None), ("text/plain", 415),
    ("application/x-www-form-urlencoded", 415), ("multipart/form-data; boundary=x", 415), (None, 415),
])
def test_mutating_api_calls_need_json(content_type: str | None, status: int | None) -> None:
    headers = {"host": "127.0.0.1"} | ({"content-type": content_type} if content_type else {})
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        refused = guard().check(method, "/api/v1/reload", headers)
        assert (refused[0] if refused else None) == status
    assert guard().check("GET", "/api/v1/events", {"host": "127.0.0.1"}) is None


def test_webhooks_and_health_are_not_guarded() -> None:
    hostile = {"host": "evil.example", "origin": "http://evil.example", "content-type": "text/plain"}
    check = guard(exempt=lambda method, path: path == "/api/hooks/push")
    for path in ("/hook/abc", "/healthz", "/metrics", "/push", "/api/hooks/push"):
        assert check.check("POST", path, hostile) is None, path
    assert check.check("POST", "/api/v1/reload", hostile) is not None


def test_the_middleware_answers_before_the_app() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "method": "POST", "path": "/api/v1/reload",
             "headers": [(b"host", b"evil.example"), (b"content-type", b"application/json")]}
    asyncio.run(guard()(scope, receive, send))
    assert sent[0]["status"] == 403
    assert "evil.example" in json.loads(sent[1]["body"])["detail"]
    sent.clear()
    asyncio.run(guard()({**scope, "headers": [(b"host", b"127.0.0.1"), *scope["headers"][1:]]}, receive, send))
    assert sent[0]["status"] == 200
