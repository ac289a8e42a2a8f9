"""The dashboard's HTML pages: Overview, Object, History, Deliveries, login, and the API reference.

Each page renders the dictionary its JSON route answers (`dashboard/data.py`) with autoescaping Jinja2
templates, so hostile names, tags or commit messages are text, never markup. The cards of other
features (`cards.py`) are read through the app itself, as any API client would. Buttons post JSON
to the authenticated API from `static/dashboard.js` with the CSRF token of the page.
"""

from __future__ import annotations

import hmac
import json
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from tagpilot import __version__
from tagpilot.dashboard import data
from tagpilot.dashboard.cards import CARDS, Card
from tagpilot.engine.daemon import Daemon
from tagpilot.server.auth import SESSION_COOKIE, principal_of, rank, session_cookie
from tagpilot.server.guard import split_host

TEMPLATES = Environment(loader=PackageLoader("tagpilot.dashboard", "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))
TEMPLATES.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True)  # escaped as text
MAX_LOGIN_BODY = 4096


def add_routes(app: FastAPI, daemon: Daemon) -> None:
    app.mount("/static", StaticFiles(packages=[("tagpilot.dashboard", "static")]), name="static")

    def render(request: Request, template: str, **context: Any) -> HTMLResponse:
        found = principal_of(request)
        session = session_cookie(request.headers.get("cookie", ""))
        csrf = request.app.state.auth.csrf_for(session) if session and found else ""
        html = TEMPLATES.get_template(template).render(
            user=found, csrf=csrf, version=__version__, path=request.url.path,
            may=lambda role: bool(found and rank(found.role) >= rank(role)), **context)
        return HTMLResponse(html, headers={"Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
                                           "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})

    def config() -> Any:
        assert daemon.config is not None
        return daemon.config

    @app.get("/", include_in_schema=False)
    async def overview(request: Request) -> HTMLResponse:
        cards = [await _card(request, card) for card in CARDS]
        return render(request, "overview.html", data=data.overview(config(), daemon.store), cards=cards,
                      deliveries=data.deliveries(daemon.store, 10))

    @app.get("/objects/{kind}/{namespace}/{name}", include_in_schema=False)
    async def object_page(kind: str, namespace: str, name: str, request: Request) -> HTMLResponse:
        try:
            key = daemon.parse_key(f"{kind}/{namespace}/{name}")
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        view = daemon.view(key)
        if view is None:
            raise HTTPException(404, f"{kind}/{namespace}/{name} is not in the configuration")
        return render(request, "object.html", d=data.object_detail(config(), daemon.store, view),
                      history=data.history(config(), daemon.store, key=key, limit=20))

    @app.get("/history", include_in_schema=False)
    async def history_page(request: Request, image: str | None = None, environment: str | None = None,
                           namespace: str | None = None, before: int = 0) -> HTMLResponse:
        page = data.history(config(), daemon.store, image=image, environment=environment, namespace=namespace,
                            before=max(before, 0))
        return render(request, "history.html", page=page, image=image or "", environment=environment or "",
                      namespace=namespace or "", images=data.images(config()))

    @app.get("/deliveries", include_in_schema=False)
    async def deliveries_page(request: Request) -> HTMLResponse:
        return render(request, "deliveries.html", log=data.deliveries(daemon.store, 200))

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        return render(request, "docs.html")

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request, next: str = "/") -> HTMLResponse:
        return render(request, "login.html", next=_local_path(next), error="")

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if not _same_origin(request):
            return HTMLResponse("cross-site login refused", status_code=403)
        body = await request.body()
        if len(body) > MAX_LOGIN_BODY:
            return HTMLResponse("request too large", status_code=413)
        form = parse_qs(body.decode("utf-8", errors="replace"))
        token = (form.get("token") or [""])[0].strip()
        target = _local_path((form.get("next") or ["/"])[0])
        if request.app.state.auth.principal(token) is None:
            request.state.principal = None
            response = render(request, "login.html", next=target, error="unknown token")
            response.status_code = 401
            return response
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        if not _same_origin(request):
            return HTMLResponse("cross-site logout refused", status_code=403)
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _local_path(target: str) -> str:
    """Only a path on this server (no open redirect to another site)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return hmac.compare_digest(split_host(parts.netloc)[0], split_host(request.headers.get("host", ""))[0])


async def _card(request: Request, card: Card) -> dict[str, Any]:
    """A card's rows, read from its route through the app (with the caller's credentials); `None`
    rows when the route is not served ("no data yet")."""
    served = any(getattr(route, "path", None) == card.source and "GET" in getattr(route, "methods", ())
                 for route in request.app.routes)
    if not served:
        return {"card": card, "rows": None, "error": ""}
    headers = {k: v for k, v in request.headers.items() if k in ("authorization", "cookie")}
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get(card.source, headers=headers)
    if response.status_code != 200:
        return {"card": card, "rows": [], "error": f"{card.source} answered {response.status_code}"}
    body = response.json()
    rows = body.get("items", []) if isinstance(body, dict) else body
    rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    return {"card": card, "error": "", "rows": [
        {"row": row, "cells": {col: _cell(row.get(col, "")) for col in card.columns},
         "actions": [(a, a.path.format_map(_Quoted(row))) for a in card.actions
                     if a.when is None or str(row.get(a.when[0])) == a.when[1]]} for row in rows]}


def _cell(value: Any) -> str:
    """A card cell as text: lists joined, an image change `image from → to` (approval requests)."""
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        if {"image", "from", "to"} <= value.keys():
            return f"{value['image']} {value['from'] or '(none)'} → {value['to']}"
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return "" if value is None else str(value)


class _Quoted(dict):  # type: ignore[type-arg]
    """Row values for an action path, URL-quoted (a hostile id cannot change the path)."""

    def __getitem__(self, key: str) -> str:
        return quote(str(super().get(key, "")), safe="")
