"""The web dashboard served by `tagpilot run` at `/`: server-rendered pages (Jinja2) over the JSON API,
assets and the API reference served from the package (no CDN), live updates by server-sent events.
docs/dashboard.md describes it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tagpilot.engine.daemon import Daemon


def mount(app: FastAPI, daemon: Daemon) -> None:
    """Add the dashboard's API routes, pages, static files and event stream to the daemon's app."""
    from tagpilot.dashboard import api, pages
    from tagpilot.dashboard.live import LiveHub

    live = LiveHub()
    app.state.live = live
    daemon.events.subscribe(live.publish)
    api.add_routes(app, daemon, live)
    pages.add_routes(app, daemon)
