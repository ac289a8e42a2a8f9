"""The `ArgoCDServer` kind: poll Argo CD's REST API and publish each Application whose live state changed.

Every poll reads `GET <url>/api/v1/applications` (Bearer token from the Secret). An Application whose
`status` (sync, health, operationState, summary) or annotations differ from the last poll is published
as an `ApplicationStatus` event on the server's key, carrying the live Application; the notifications
subscriber evaluates the argocd-notifications triggers with `app` = that Application (the seed's
`on-deployed`, `on-sync-failed`, `on-health-degraded` unchanged), and its dedupe keys (`oncePer`) keep a
state from being announced twice. Only a fingerprint per Application is kept in the status.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from tagpilot.config.argocd_server import ArgoCDServer
from tagpilot.config.base import seconds
from tagpilot.engine.events import Reason
from tagpilot.engine.kinds import Column, Kind
from tagpilot.engine.reconciler import Context, Note, Outcome
from tagpilot.engine.status import ObjectStatus
from tagpilot.errors import AuthenticationError, TagpilotError

MAX_BODY = 64 * 1024 * 1024


class ArgoCDUnavailable(TagpilotError):
    reason = "ArgoCDUnavailable"


MAX_IMAGES, MAX_IMAGE = 200, 512  # per Application: what Argo CD reports running is small; a hostile API is not


def live_images(ctx: Context, namespace: str, name: str) -> list[str] | None:
    """`status.summary.images` of Application NS/NAME as the last poll of any ArgoCDServer read it: the
    images Argo CD sees running, which upstream Image Updater reads from the cluster as the current tags."""
    for server in ctx.config.of_kind(ArgoCDServer):
        stored = ctx.store.get_object("ArgoCDServer", server.namespace, server.name)
        images = ((stored.status if stored else {}).get("liveImages") or {}).get(f"{namespace}/{name}")
        if isinstance(images, list):
            return [str(i) for i in images]
    return None


def _fingerprint(app: dict[str, Any]) -> str:
    meta = app.get("metadata") or {}
    doc = {"status": app.get("status") or {}, "annotations": meta.get("annotations") or {}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:24]


class ArgoCDServerReconciler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def _applications(self, server: ArgoCDServer) -> list[dict[str, Any]]:
        ref = server.spec.secret_ref
        secret = self.ctx.config.secret(server.namespace, ref.name, referenced_by=server, field_name="spec.secretRef")
        token = (secret.values().get(ref.key) or b"").decode().strip()
        if not token:
            raise AuthenticationError(f"{server.ref}: Secret {server.namespace}/{ref.name} has no key {ref.key!r}")
        params = [("projects", p) for p in server.spec.projects]
        url = f"{server.spec.url}/api/v1/applications"
        try:
            async with httpx.AsyncClient(follow_redirects=False, timeout=30.0, trust_env=False) as client:
                response = await client.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise ArgoCDUnavailable(f"{server.ref}: GET {url} failed: {exc.__class__.__name__}") from None
        if response.status_code in (401, 403):
            raise AuthenticationError(f"{server.ref}: Argo CD refused the token (HTTP {response.status_code}); "
                                      f"check key {ref.key!r} of Secret {server.namespace}/{ref.name}")
        if response.status_code != 200 or len(response.content) > MAX_BODY:
            raise ArgoCDUnavailable(f"{server.ref}: GET {url} answered HTTP {response.status_code}")
        try:
            items = response.json().get("items") or []
        except (ValueError, AttributeError):
            raise ArgoCDUnavailable(f"{server.ref}: {url} did not answer an ApplicationList") from None
        return [i for i in items if isinstance(i, dict) and isinstance(i.get("metadata"), dict)]

    async def reconcile(self, server: ArgoCDServer, status: ObjectStatus, generation: int, *, force: bool = True,
                        dry_run: bool = False) -> Outcome:
        apps = await self._applications(server)
        seen: dict[str, str] = dict(status.extra.get("applications") or {})
        now_seen: dict[str, str] = {}
        live: dict[str, list[str]] = {}
        outcome = Outcome(status)
        for app in apps:
            meta = app["metadata"]
            name = f"{meta.get('namespace', 'argocd')}/{meta.get('name', '')}"
            now_seen[name] = _fingerprint(app)
            images = ((app.get("status") or {}).get("summary") or {}).get("images")
            if isinstance(images, list):
                live[name] = [str(i)[:MAX_IMAGE] for i in images[:MAX_IMAGES] if isinstance(i, str)]
            if seen.get(name) != now_seen[name]:
                st = app.get("status") or {}
                message = (f"Application {name}: sync {(st.get('sync') or {}).get('status', '?')}, health "
                           f"{(st.get('health') or {}).get('status', '?')}")
                outcome.notes.append(Note(Reason.APPLICATION_STATUS, message, {"liveApplication": app}))
        status.extra["applications"] = now_seen
        status.extra["liveImages"] = live
        outcome.changed = bool(outcome.notes)
        status.mark_ready(f"{len(apps)} application(s) read", self.ctx.clock(), generation)
        return outcome


KINDS = (
    Kind(name="ArgoCDServer", model=ArgoCDServer, plural="argocdservers", short=("argocdserver",),
         reconciler=ArgoCDServerReconciler, order=25, interval=lambda s: seconds(s.spec.interval),  # before Apps
         columns=(Column("URL", lambda v: v["spec"]["url"]),
                  Column("APPLICATIONS", lambda v: str(len((v.get("status") or {}).get("applications") or {}))))),
)
