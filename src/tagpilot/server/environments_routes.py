"""`GET /api/v1/environments`: the promotion chains (dev → test → prod) and what each stage runs.

One row per Promotion, upstream stages first: the stage, the image and tag it last promoted (from its
status, which is read back from git), when, and what comes next (the candidate waiting, or a rollback's
hold). The dashboard's Environments card reads it (dashboard/cards.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from tagpilot.engine.daemon import Daemon

API = "/api/v1"


def _source(view: dict[str, Any]) -> str:
    source = view["spec"].get("source") or {}
    if "imagePolicyRef" in source:
        return f"ImagePolicy/{view['namespace']}/{(source['imagePolicyRef'] or {}).get('name')}"
    return f"{source.get('kind')}/{source.get('namespace') or view['namespace']}/{source.get('name')}"


def _next(status: dict[str, Any]) -> str:
    if status.get("hold"):
        return f"held at {status['hold'].get('tag')} (tagpilot unpin)"
    candidate, last = status.get("candidate") or {}, status.get("lastPromoted") or {}
    if candidate and candidate.get("digest") != last.get("digest"):
        return f"{candidate.get('tag')} waiting"
    return "-"


def environments(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows ordered so every stage follows the stage it promotes from."""
    by_key = {f"Promotion/{v['namespace']}/{v['name']}": v for v in views}

    def depth(key: str, seen: frozenset[str] = frozenset()) -> int:
        upstream = _source(by_key[key])
        return 0 if upstream not in by_key or upstream in seen else 1 + depth(upstream, seen | {key})

    rows = []
    for key in sorted(by_key, key=lambda k: (depth(k), k)):
        view = by_key[key]
        status = view.get("status") or {}
        last = status.get("lastPromoted") or {}
        rows.append({"name": key, "from": _source(view), "image": last.get("name", ""), "tag": last.get("tag", ""),
                     "digest": last.get("digest", ""), "since": last.get("at", ""), "next": _next(status)})
    return rows


def include(app: FastAPI, daemon: Daemon) -> None:
    @app.get(f"{API}/environments", tags=["promotion"])
    async def list_environments() -> list[dict[str, Any]]:
        """Every Promotion as a stage of its chain (upstream first): what it runs and what comes next."""
        return environments(daemon.views("Promotion"))
