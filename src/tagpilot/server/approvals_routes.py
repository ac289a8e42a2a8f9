"""The API of the manual path: approval requests, approve/reject, pin/unpin (docs/approvals.md).

Under `/api/v1`, so the request guard applies as to every write route (JSON only, the daemon's own
host and origin). A decision that completes a request, and a pin, queue a reconcile of the object at
once, so the approved change is pushed without waiting for the object's interval.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from tagpilot.approvals import decisions
from tagpilot.approvals.book import APPROVED, ApprovalBook, Pin
from tagpilot.engine.daemon import Daemon
from tagpilot.server.auth import principal_of

API = "/api/v1"


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field("", max_length=decisions.MAX_NAME)
    comment: str = Field("", max_length=decisions.MAX_COMMENT)


class PinBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    policy: str | None = Field(None, max_length=300)
    alias: str | None = Field(None, max_length=100)
    tag: str | None = Field(None, max_length=128)
    reason: str = Field("", max_length=decisions.MAX_COMMENT)
    by: str = Field("", max_length=decisions.MAX_NAME)


def caller(request: Request, claimed: str, *, required: bool = False) -> str:
    """Who acted: the token's name (server/auth.py), so an approver cannot vote in another's name. The
    `local` token is the CLI on the daemon's machine (`tagpilot approve --by NAME`): it names the person."""
    principal = principal_of(request)
    if principal is None or principal.name == "local":
        if required and not claimed:
            raise HTTPException(400, "by: who decides is required (`--by NAME`)")
        return claimed
    return principal.name


def pin_id(pin: Pin) -> str:
    """An opaque, URL-safe id for one pin (its object and target may contain `/` and `:`)."""
    return base64.urlsafe_b64encode("/".join((*pin.key, pin.target)).encode()).decode().rstrip("=")


def _pin_of(text: str) -> tuple[tuple[str, str, str], str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise HTTPException(404, "no such pin") from None
    parts = raw.split("/", 3)
    if len(parts) != 4:
        raise HTTPException(404, "no such pin")
    return (parts[0], parts[1], parts[2]), parts[3]


def include(app: FastAPI, daemon: Daemon) -> None:
    """Add the routes to the daemon's app (before its catch-all webhook route)."""

    def book() -> ApprovalBook:
        return ApprovalBook(daemon.store)

    def decide(action: Any, request_id: str, body: Decision, by: str) -> dict[str, Any]:
        try:
            request = action(book(), daemon.events, request_id, by, body.comment)
        except decisions.DecisionError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        if request.state == APPROVED:
            daemon.request_reconcile(request.key, f"approval request {request.id} approved")
        return request.to_json()

    @app.get(f"{API}/approvals", tags=["approvals"])
    async def list_approvals() -> list[dict[str, Any]]:
        """Every approval request, oldest first (the shape of `tagpilot approvals list -o json`)."""
        return decisions.listing(book())

    @app.get(f"{API}/approvals/{{request_id}}", tags=["approvals"])
    async def show_approval(request_id: str) -> dict[str, Any]:
        request = book().get(request_id)
        if request is None:
            raise HTTPException(404, f"approval request {request_id!r} not found")
        return request.detail()

    @app.post(f"{API}/approvals/{{request_id}}/approve", tags=["approvals"])
    async def approve(request_id: str, body: Decision, request: Request) -> dict[str, Any]:
        return decide(decisions.approve, request_id, body, caller(request, body.by, required=True))

    @app.post(f"{API}/approvals/{{request_id}}/reject", tags=["approvals"])
    async def reject(request_id: str, body: Decision, request: Request) -> dict[str, Any]:
        return decide(decisions.reject, request_id, body, caller(request, body.by, required=True))

    def _object(kind: str, namespace: str, name: str) -> tuple[str, str, str]:
        try:
            key = daemon.parse_key(f"{kind}/{namespace}/{name}")
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        if daemon.view(key) is None:
            raise HTTPException(404, f"{'/'.join(key)} is not in the configuration")
        return key

    @app.post(f"{API}/objects/{{kind}}/{{namespace}}/{{name}}/pin", tags=["approvals"])
    async def pin(kind: str, namespace: str, name: str, body: PinBody, request: Request) -> dict[str, Any]:
        key = _object(kind, namespace, name)
        try:
            target = decisions.pin_target(body.policy, body.alias)
            if not body.tag:
                raise decisions.DecisionError("tag is required", status=400)
            record = decisions.pin(book(), daemon.events, key, target, body.tag, reason=body.reason,
                                   by=caller(request, body.by))
        except decisions.DecisionError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        daemon.request_reconcile(key, f"{target} pinned at {body.tag}")
        return {"object": "/".join(key), **record.to_json()}

    @app.post(f"{API}/objects/{{kind}}/{{namespace}}/{{name}}/unpin", tags=["approvals"])
    async def unpin(kind: str, namespace: str, name: str, body: PinBody, request: Request) -> dict[str, Any]:
        key = _object(kind, namespace, name)
        try:
            target = decisions.pin_target(body.policy, body.alias)
            decisions.unpin(book(), daemon.events, key, target, by=caller(request, body.by))
        except decisions.DecisionError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        daemon.request_reconcile(key, f"{target} unpinned")
        return {"object": "/".join(key), "unpinned": target}

    @app.get(f"{API}/pins", tags=["approvals"])
    async def list_pins() -> list[dict[str, Any]]:
        """Every pin: `id` (for `POST /pins/{id}/unpin`), object, policy or alias, tag, reason, by, since."""
        return [{"id": pin_id(p), "object": "/".join(p.key), "image": p.target, **p.to_json()}
                for p in book().all_pins()]

    @app.post(f"{API}/pins/{{pin}}/unpin", tags=["approvals"])
    async def unpin_by_id(pin: str, request: Request) -> dict[str, Any]:
        """The dashboard's Unpin button: release the pin `id` of `GET /pins`."""
        key, target = _pin_of(pin)
        try:
            decisions.unpin(book(), daemon.events, key, target, by=caller(request, ""))
        except decisions.DecisionError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        daemon.request_reconcile(key, f"{target} unpinned")
        return {"object": "/".join(key), "unpinned": target}
