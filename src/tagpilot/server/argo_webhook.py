"""`POST /webhook?type=docker.io|ghcr.io|harbor|quay.io`: Argo CD Image Updater's webhook endpoint.

The request is verified and parsed by `events/argo_webhook.py` with the secrets of the
`argocd-image-updater-config` ConfigMap (`webhook.docker-secret`, `webhook.ghcr-secret`,
`webhook.harbor-secret`, `webhook.quay-secret`); the Applications and ImageUpdaters with an image in the
pushed repository are queued at once (the scheduler coalesces repeated pushes). The body is read up to
1 MiB and no further (413). Answers: 202 with what was queued, 200 when nothing watches the image,
4xx with the reason (never a secret).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tagpilot.events.argo_webhook import MAX_BODY, WebhookRejected, parse_delivery

log = logging.getLogger("tagpilot.webhooks")
PATH = "/webhook"


async def _body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def register(app: FastAPI, daemon: Any) -> None:
    """Add the route (before the Argo Events catch-all route)."""

    @app.post(PATH, tags=["webhooks"])
    async def argo_image_updater_webhook(request: Request) -> Response:
        """Registry push webhooks in Argo CD Image Updater's form."""
        from tagpilot.config.argo_updater_config import updater_config
        from tagpilot.engine.argo_updater import watching

        body = await _body(request)
        if body is None:
            return JSONResponse({"error": f"body larger than {MAX_BODY} bytes"}, status_code=413)
        config = daemon.config
        try:
            event = parse_delivery(request.url.query, dict(request.headers), body,
                                   updater_config(config).webhook_secrets)
        except WebhookRejected as exc:
            level = logging.INFO if exc.status < 400 else logging.WARNING
            log.log(level, "argo webhook from %s: %s (%d)", request.client.host if request.client else "?",
                    exc.reason, exc.status)
            return JSONResponse({"error" if exc.status >= 400 else "ignored": exc.reason}, status_code=exc.status)
        keys = watching(config, event.registry, event.repository)
        queued = ["/".join(k) for k in keys if daemon.request_reconcile(k, f"webhook: {event.registry}/"
                                                                       f"{event.repository}:{event.tag}")]
        log.info("argo webhook: push of %s/%s:%s queued %d object(s)", event.registry, event.repository,
                 event.tag, len(queued))
        return JSONResponse({"registry": event.registry, "repository": event.repository, "tag": event.tag,
                             "queued": queued}, status_code=202 if queued else 200)
