"""The dashboard's read-only JSON API: what the pages show, at URLs any client can read.

`/overview`, `/objects/K/NS/N/detail`, `/history` (paged timelines), `/delivery-log`, `/whoami` and
`/stream` (server-sent events). Reading needs the `viewer` role only when an auth Secret is configured
(`server/auth.py`); nothing here changes state.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from tagpilot.dashboard import data
from tagpilot.dashboard.live import LiveHub
from tagpilot.engine.daemon import Daemon
from tagpilot.server.auth import principal_of

API = "/api/v1"


def add_routes(app: FastAPI, daemon: Daemon, live: LiveHub) -> None:
    def config() -> Any:
        assert daemon.config is not None
        return daemon.config

    @app.get(f"{API}/overview", tags=["dashboard"])
    async def overview() -> dict[str, Any]:
        """One row per image target (automation × policy, Application × image): deployed, allowed and
        newest tags, policy, Ready, last change, badges; and counts."""
        return data.overview(config(), daemon.store)

    @app.get(f"{API}/objects/{{kind}}/{{namespace}}/{{name}}/detail", tags=["dashboard"])
    async def detail(kind: str, namespace: str, name: str) -> dict[str, Any]:
        """The object page: view, Ready, badges, the explanation of its selection (ImagePolicy), the
        latest scan (ImageRepository), the last push with its diff and commit link."""
        view = daemon.view(_key(daemon, kind, namespace, name))
        if view is None:
            raise HTTPException(404, f"{kind}/{namespace}/{name} is not in the configuration")
        return data.object_detail(config(), daemon.store, view)

    @app.get(f"{API}/history", tags=["dashboard"])
    async def history(image: str | None = None, environment: str | None = None, kind: str | None = None,
                      namespace: str | None = None, name: str | None = None,
                      before: int = Query(0, ge=0, description="page cursor: the `next` of the previous page"),
                      limit: int = Query(data.HISTORY_PAGE, ge=1, le=500)) -> dict[str, Any]:
        """A timeline, newest first: of one image (its repositories, policies and the automations and
        Applications updating it), one environment (events whose data names it), one object
        (kind+namespace+name) or everything; `next` is the cursor of the following page."""
        key = _key(daemon, kind, namespace, name) if kind and namespace and name else None
        return data.history(config(), daemon.store, image=image, environment=environment, key=key,
                            namespace=None if key else namespace, before=before, limit=limit)

    @app.get(f"{API}/delivery-log", tags=["dashboard"])
    async def delivery_log(limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        """Notification sends (the outbox: state, attempts, last error) and webhook deliveries, newest first."""
        return data.deliveries(daemon.store, limit)

    @app.get(f"{API}/whoami", tags=["dashboard"])
    async def whoami(request: Request) -> dict[str, Any]:
        """The caller's token name and role (null when anonymous) and whether reads need a token."""
        found = principal_of(request)
        return {"name": found.name if found else None, "role": found.role if found else None,
                "authRequired": request.app.state.auth.enabled}

    @app.get(f"{API}/stream", tags=["dashboard"])
    async def stream() -> Any:
        """Server-sent events: one `tagpilot` message per event (object, type, reason, message, time)."""
        if live.full():
            return JSONResponse({"detail": "too many open event streams"}, status_code=503)
        return StreamingResponse(live.stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _key(daemon: Daemon, kind: str, namespace: str, name: str) -> tuple[str, str, str]:
    try:
        return daemon.parse_key(f"{kind}/{namespace}/{name}")
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
