"""The daemon's HTTP interface: health, metrics, the JSON API, and webhook receivers.

Thin by design: every route parses the request, asks the `Daemon`, and renders JSON. FastAPI
serves the OpenAPI document of the API at `/openapi.json`; the dashboard (`tagpilot.dashboard`) serves
the pages, a browsable API reference at `/docs` and their assets from the package (no CDN).
Mutating routes need a token (`server/auth.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tagpilot import __version__
from tagpilot.engine.daemon import Daemon
from tagpilot.engine.metrics import chunks
from tagpilot.server import approvals_routes, environments_routes
from tagpilot.server.argo_webhook import register as register_argo_webhook
from tagpilot.server.auth import Authenticator, AuthGuard, actor
from tagpilot.server.guard import RequestGuard

API = "/api/v1"


def create_app(daemon: Daemon, *, listen_host: str = "127.0.0.1", allowed_hosts: Iterable[str] = (),
               auth_secret: str | None = None) -> FastAPI:
    """The ASGI app. `listen_host` and `allowed_hosts` are the names the API answers to (`RequestGuard`);
    `auth_secret` (NS/NAME) the Secret of tokens (`server/auth.py`); a bad one raises ConfigError."""
    app = FastAPI(title="tagpilot", version=__version__, docs_url=None, redoc_url=None,
                  description="Objects, status and events of a running tagpilot; webhook receivers.")

    def webhook(method: str, path: str) -> bool:
        # an Argo EventSource may sit under /api/ (outside /api/v1/): it is a webhook, not the API
        # `/webhook?type=` is Argo CD Image Updater's endpoint (its own secrets, server/argo_webhook.py)
        return path == "/webhook" or (not path.startswith(f"{API}/") and daemon.webhooks.serves(method, path))

    authenticator = Authenticator(lambda: daemon.config, auth_secret, daemon.local_token)
    app.state.auth = authenticator
    app.add_middleware(AuthGuard, auth=authenticator, exempt=webhook)  # inside the guard: runs second
    app.add_middleware(RequestGuard, listen_host=listen_host, allowed_hosts=list(allowed_hosts), exempt=webhook)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> Response:
        """Ready once the configuration loaded and the store opened."""
        if daemon.ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "starting"}, status_code=503)

    @app.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        """Prometheus metrics."""
        body = daemon.metrics.render()
        # the same bytes and headers as a plain Response (Content-Length, no chunked encoding), written
        # a piece at a time with the server's flow control (engine/metrics.py `chunks`)
        return StreamingResponse(chunks(body), media_type="text/plain; version=0.0.4; charset=utf-8",
                                 headers={"Content-Length": str(len(body))})

    @app.get(f"{API}/objects", tags=["objects"])
    async def list_objects(kind: str | None = None) -> list[dict[str, Any]]:
        """Every object of the configuration (Secrets excepted) with its stored status."""
        return daemon.views(kind)

    def _key(kind: str, namespace: str, name: str) -> tuple[str, str, str]:
        try:
            return daemon.parse_key(f"{kind}/{namespace}/{name}")
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.get(f"{API}/objects/{{kind}}/{{namespace}}/{{name}}", tags=["objects"])
    async def get_object(kind: str, namespace: str, name: str) -> dict[str, Any]:
        view = daemon.view(_key(kind, namespace, name))
        if view is None:
            raise HTTPException(404, f"{kind}/{namespace}/{name} is not in the configuration")
        return view

    @app.post(f"{API}/objects/{{kind}}/{{namespace}}/{{name}}/reconcile", status_code=202, tags=["objects"])
    async def reconcile(kind: str, namespace: str, name: str, request: Request) -> dict[str, Any]:
        """Queue a reconcile now (coalesced with one already queued or running)."""
        key = _key(kind, namespace, name)
        if not daemon.request_reconcile(key, f"requested through the API by {actor(request)}"):
            raise HTTPException(404, f"{'/'.join(key)} is not in the configuration")
        return {"queued": True, "object": "/".join(key)}

    @app.post(f"{API}/objects/{{kind}}/{{namespace}}/{{name}}/suspend", tags=["objects"])
    async def suspend(kind: str, namespace: str, name: str, request: Request) -> dict[str, Any]:
        key = _key(kind, namespace, name)
        if not daemon.set_suspended(key, True, by=actor(request)):
            raise HTTPException(404, f"{'/'.join(key)} is not in the configuration")
        return {"suspended": True, "object": "/".join(key)}

    @app.post(f"{API}/objects/{{kind}}/{{namespace}}/{{name}}/resume", tags=["objects"])
    async def resume(kind: str, namespace: str, name: str, request: Request) -> dict[str, Any]:
        key = _key(kind, namespace, name)
        if not daemon.set_suspended(key, False, by=actor(request)):
            raise HTTPException(404, f"{'/'.join(key)} is not in the configuration")
        return {"suspended": False, "object": "/".join(key)}

    @app.get(f"{API}/events", tags=["events"])
    async def events(kind: str | None = None, namespace: str | None = None, name: str | None = None,
               since: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000),
               deliveries: bool = True) -> list[dict[str, Any]]:
        """Recent events (scans, selections, commits, webhook deliveries), oldest first.

        `deliveries=false` leaves out webhook deliveries and sensor decisions (see /deliveries)."""
        return daemon.store.events(kind=kind, namespace=namespace, name=name, since_id=since, limit=limit,
                                   with_deliveries=deliveries)

    @app.get(f"{API}/deliveries", tags=["events"])
    async def list_deliveries(kind: str | None = None, namespace: str | None = None, name: str | None = None,
                              since: int = Query(0, ge=0),
                              limit: int = Query(100, ge=1, le=1000)) -> list[dict[str, Any]]:
        """Recent webhook deliveries (receiver answers) and sensor decisions only, oldest first; kept
        in a ring of their own, so a storm of posts never pushes the events' history out."""
        return daemon.store.deliveries(kind=kind, namespace=namespace, name=name, since_id=since, limit=limit)

    @app.post(f"{API}/reload", tags=["objects"])
    async def reload() -> Response:
        """Re-read the configuration files (as SIGHUP does); 400 with the errors when invalid."""
        ok, message = daemon.reload()
        return JSONResponse({"reloaded": ok, "message": message}, status_code=200 if ok else 400)

    approvals_routes.include(app, daemon)  # approvals, pins (before the webhooks' catch-all route)
    environments_routes.include(app, daemon)  # promotion chains

    async def read_body(request: Request, limit: int) -> bytes | None:
        """The request body, or None when it is larger than `limit` (read no further: 413)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    @app.post("/hook/{digest}", tags=["webhooks"])
    async def flux_receiver(digest: str, request: Request) -> Response:
        """Flux `Receiver` webhooks: the path is /hook/ + sha256(token + name + namespace)."""
        body = await read_body(request, daemon.webhooks.body_limit())
        remote = request.client.host if request.client else None
        if body is None:  # counted in tagpilot_webhook_requests_total{outcome="rejected_413"}, as docs say
            delivery = daemon.webhooks.receiver_too_large(f"/hook/{digest}", remote)
            return JSONResponse(delivery.body, status_code=delivery.status)
        delivery = daemon.webhooks.receiver(f"/hook/{digest}", dict(request.headers), body, remote)
        return JSONResponse(delivery.body, status_code=delivery.status, headers=delivery.headers)

    register_argo_webhook(app, daemon)  # POST /webhook?type=... (before the catch-all below)
    from tagpilot.dashboard import mount  # the dashboard's API routes and pages (before the catch-all)

    mount(app, daemon)

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def event_source(path: str, request: Request) -> Response:
        """Argo Events webhook EventSources: `endpoint` and `method` from their spec (served on --listen)."""
        full = "/" + path
        if not daemon.webhooks.serves(request.method, full):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        body = await read_body(request, daemon.webhooks.payload_limit(request.method, full))
        if body is None:
            delivery = daemon.webhooks.event_source_too_large(request.method, full)
            return JSONResponse(delivery.body, status_code=delivery.status)
        delivery = await daemon.webhooks.event_source(request.method, full, dict(request.headers), body,
                                                      request.url.query)
        return JSONResponse(delivery.body, status_code=delivery.status, headers=delivery.headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:  # never leak a traceback to a client
        return JSONResponse({"error": f"internal error: {exc.__class__.__name__}"}, status_code=500)

    return app
