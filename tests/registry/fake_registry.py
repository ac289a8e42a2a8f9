"""A FAKE registry HTTP server on 127.0.0.1, for behaviour no installable real registry shows.

This is deliberately a fake: the real CNCF registry 2.8 (Debian ``docker-registry``, used by
``tests/fixtures/registry.py``) returns every tag in one response and ignores ``n``/``last``, never
rate-limits, never answers 5xx on purpose and never sends malformed or endless bodies. To test
pagination (``Link`` headers, relative and absolute, loops, never-ending), 429 with ``Retry-After``,
oversized and malformed bodies, ``{"tags": null}`` and token-cache behaviour, each test gives this
server a handler function returning the exact reply it wants, and inspects the recorded requests.

It is a threaded ``http.server`` so it runs beside the event loop of an async test.

The base endpoint ``GET /v2/`` is answered by the fake itself (200, recorded in `pings`, not in
`requests`): the client pings it to choose between https and http for a 127.0.0.1 host, once per
client, and handlers should only see the API requests their test is about. What the server does
with a TLS ClientHello on its plain-HTTP port is `tls_hello`: ``"garbage"`` answers an HTTP 400 at
once (what most servers do: the client fails fast with WRONG_VERSION_NUMBER), ``"hang"`` reads and
never answers (the client must not wait for its timeout), ``"close"`` hangs up.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeRequest:
    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lowercase names
    body: bytes

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class FakeReply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> FakeReply:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def error(cls, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> FakeReply:
        return cls.json({"errors": [{"code": code, "message": message}]}, status, headers)


Handler = Callable[[FakeRequest], FakeReply]


TLSHello = Literal["garbage", "hang", "close"]


class FakeRegistry:
    """Serve `handler` on 127.0.0.1; every request is recorded in `requests` (pings of /v2/ in `pings`)."""

    def __init__(self, handler: Handler, *, tls_hello: TLSHello = "garbage", ping: FakeReply | None = None) -> None:
        self.handler = handler
        self.tls_hello = tls_hello
        self.ping_reply = ping or FakeReply.json({})
        self.requests: list[FakeRequest] = []
        self.pings: list[FakeRequest] = []
        self.tls_hellos = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle(self) -> None:
                try:
                    first = self.connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    return
                if first == b"\x16":  # a TLS handshake record: someone tries https on this port
                    with fake._lock:
                        fake.tls_hellos += 1
                    self._tls_hello()
                    return
                super().handle()

            def _tls_hello(self) -> None:
                with contextlib.suppress(OSError):
                    if fake.tls_hello == "garbage":
                        self.connection.recv(65536)
                        self.connection.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    elif fake.tls_hello == "hang":
                        # read whatever comes, answer nothing, until the client gives up or we stop
                        self.connection.settimeout(0.1)
                        while not fake._stopping.is_set():
                            try:
                                if not self.connection.recv(65536):
                                    return
                            except TimeoutError:
                                continue

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = FakeRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                is_ping = request.method == "GET" and request.path == "/v2/"
                with fake._lock:
                    (fake.pings if is_ping else fake.requests).append(request)
                reply = fake.ping_reply if is_ping else fake.handler(request)
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    if isinstance(reply.body, bytes):
                        self.send_header("Content-Length", str(len(reply.body)))
                        self.end_headers()
                        if self.command != "HEAD":
                            self.wfile.write(reply.body)
                    else:
                        # Streamed without a length: the body ends when the connection closes.
                        self.send_header("Connection", "close")
                        self.close_connection = True
                        self.end_headers()
                        for chunk in reply.body:
                            self.wfile.write(chunk)

            do_GET = do_HEAD = do_POST = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> FakeRegistry:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (also when never started: the port then refuses)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def count(self, method: str | None = None, path_contains: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if (method is None or r.method == method) and path_contains in r.path)


def paginated_tags(repository: str, tags: list[str], page_size: int, *, absolute: str | None = None) -> Handler:
    """A handler that pages `tags` like distribution 3 (``n``, ``last``, ``Link``); others 404."""

    def handler(request: FakeRequest) -> FakeReply:
        if request.path != f"/v2/{repository}/tags/list":
            return FakeReply.error(404, "NAME_UNKNOWN", "repository name not known to registry")
        n = min(int(request.query.get("n", [str(page_size)])[0]), page_size)
        last = request.query.get("last", [None])[0]
        start = tags.index(last) + 1 if last is not None else 0
        page = tags[start : start + n]
        headers = {}
        if start + n < len(tags):
            target = f"/v2/{repository}/tags/list?n={n}&last={page[-1]}"
            if absolute:
                target = absolute + target
            headers["Link"] = f'<{target}>; rel="next"'
        return FakeReply.json({"name": repository, "tags": page}, headers=headers)

    return handler
