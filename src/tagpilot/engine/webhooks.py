"""Webhook deliveries inside the daemon: Flux Receivers and Argo Events webhook EventSources + Sensors.

The verification and filtering are pure (`tagpilot.events.receivers`, `tagpilot.events.sensors`);
this module looks up tokens in Secrets, turns accepted deliveries into scheduler triggers (which
coalesce, so a storm of posts costs one run per object), runs sensor triggers, and records every
delivery with its decision in the store's deliveries ring (apart from the events log, so that a storm
of bad posts cannot evict the history; listings merge both). No secret reaches a log line, an event or a response.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tagpilot.config.argo_events import EventSource, Sensor
from tagpilot.config.core import Secret
from tagpilot.config.flux_notification import Receiver
from tagpilot.config.loader import Config
from tagpilot.engine.controller import ObjectKey
from tagpilot.events.receivers import MAX_BODY, HookRequest, match_path, verify
from tagpilot.events.sensors import Event, LogThrottle, evaluate, event_from_webhook, execute, webhook_reply
from tagpilot.store import Store

log = logging.getLogger("tagpilot.webhooks")
ARGO_DEFAULT_MAX_PAYLOAD = 1 << 20  # Argo's webhook event source: 1 MiB unless maxPayloadSize says otherwise


@dataclass
class Delivery:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _secret_text(config: Config, namespace: str, name: str, key: str) -> str | None:
    secret = config.get(Secret, namespace, name)
    return secret.text(key) if secret is not None else None


class Webhooks:
    def __init__(self, store: Store, trigger: Callable[[ObjectKey, str], bool],
                 count: Callable[[str, str], None]) -> None:
        self.store = store
        self.trigger = trigger
        self.count = count  # (receiver name, outcome) → metrics
        self.http = httpx.AsyncClient(timeout=30)
        self._receivers: list[tuple[Receiver, str]] = []
        self._endpoints: dict[tuple[str, str], tuple[EventSource, str, Any]] = {}
        self._running: set[asyncio.Task[None]] = set()  # trigger executions still in flight
        self._throttle = LogThrottle()  # log triggers' intervalSeconds
        self.config: Config | None = None

    def set_config(self, config: Config) -> None:
        """Index receivers by their secret path and event-source webhooks by (method, endpoint)."""
        self.config = config
        receivers = []
        for receiver in config.of_kind(Receiver):
            token = _secret_text(config, receiver.namespace, receiver.spec.secret_ref.name, "token")
            if token is None:
                log.warning("%s: Secret %s/%s has no key 'token'; the receiver is not served", receiver.ref,
                            receiver.namespace, receiver.spec.secret_ref.name)
                continue
            receivers.append((receiver, token))
        self._receivers = receivers
        endpoints = {}
        for source in config.of_kind(EventSource):
            for event_name, hook in source.spec.webhook.items():
                path = "/" + hook.endpoint.lstrip("/")
                endpoints[(hook.method.upper(), path)] = (source, event_name, hook)
        self._endpoints = endpoints

    async def aclose(self, grace: float = 30.0) -> None:
        """Let trigger executions in flight finish (up to `grace` seconds), then close the client."""
        if self._running:
            _done, pending = await asyncio.wait(self._running, timeout=grace)
            for task in pending:
                task.cancel()
        await self.http.aclose()

    # --- Flux Receivers -------------------------------------------------------------------------------

    def receiver(self, path: str, headers: Mapping[str, str], body: bytes, remote: str | None) -> Delivery:
        assert self.config is not None
        found = match_path(path, self._receivers)
        if found is None:
            self.count("unknown", "not_found")
            return Delivery(404, {"message": "no receiver at this path"})
        receiver, token = found
        result = verify(receiver, token, HookRequest(headers, body, remote), self.config.objects.values())
        outcome = "accepted" if result.ok else f"rejected_{result.status}"
        self.count(receiver.name, outcome)
        queued = [key for key in result.reconcile if self.trigger(key, f"webhook {receiver.ref}")]
        self._record(
            "Receiver", receiver.namespace, receiver.name, "Normal" if result.ok else "Warning",
            "Accepted" if result.ok else "Rejected", result.message,
            {"status": result.status, "reconcile": ["/".join(k) for k in queued],
             "ignored": ["/".join(k) for k in result.reconcile if k not in queued], "event": result.event or {}})
        return Delivery(result.status, {"message": result.message}, dict(result.headers))

    def receiver_too_large(self, path: str, remote: str | None) -> Delivery:
        """The answer to a post at `path` whose body exceeds `MAX_BODY` (the server stopped reading):
        404 for an unknown path, else 413, counted and recorded like any other rejection."""
        found = match_path(path, self._receivers)
        if found is None:
            self.count("unknown", "not_found")
            return Delivery(404, {"message": "no receiver at this path"})
        receiver = found[0]
        message = f"{receiver.ref}: request body larger than {MAX_BODY} bytes"
        self.count(receiver.name, "rejected_413")
        self._record("Receiver", receiver.namespace, receiver.name, "Warning", "Rejected", message,
                                {"status": 413, "reconcile": [], "ignored": [],
                                 "event": {"type": receiver.spec.type, "receiver": receiver.ref,
                                           "summary": f"rejected: body larger than {MAX_BODY} bytes",
                                           "status": 413, **({"remote": remote} if remote else {})}})
        return Delivery(413, {"message": message})

    # --- Argo Events webhook event sources -----------------------------------------------------------

    def event_source_too_large(self, method: str, path: str) -> Delivery:
        """The answer to a webhook post whose body exceeds its `maxPayloadSize`: 413, counted."""
        entry = self._endpoints.get((method.upper(), path))
        if entry is None:
            return Delivery(405, {"message": f"method {method} not allowed"})
        limit = self.payload_limit(method, path)
        self.count(entry[0].name, "rejected_413")
        return Delivery(413, {"message": f"payload larger than {limit} bytes"})

    def payload_limit(self, method: str, path: str) -> int:
        """The body cap of the webhook at (method, path): its maxPayloadSize, or Argo's 1 MiB."""
        entry = self._endpoints.get((method.upper(), path))
        return (entry[2].max_payload_size or ARGO_DEFAULT_MAX_PAYLOAD) if entry else ARGO_DEFAULT_MAX_PAYLOAD

    def ports(self) -> list[int]:
        """The ports the webhook EventSources name (served besides --listen)."""
        out = set()
        for source, _name, hook in self._endpoints.values():
            if str(hook.port).isdigit() and 0 < int(hook.port) < 65536:
                out.add(int(hook.port))
            else:
                log.warning("%s: webhook port %r is not a port number; served on --listen only", source.ref,
                            hook.port)
        return sorted(out)

    def serves(self, method: str, path: str) -> bool:
        """Whether some webhook listens at `path` (with any method: a wrong one gets 405)."""
        return any(p == path for _m, p in self._endpoints)

    async def event_source(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
                           query: str = "") -> Delivery:
        assert self.config is not None
        entry = self._endpoints.get((method.upper(), path))
        if entry is None:
            if self.serves(method, path):
                return Delivery(405, {"message": f"method {method} not allowed"})
            return Delivery(404, {"message": "not found"})
        source, event_name, hook = entry
        limit = self.payload_limit(method, path)
        if len(body) > limit:
            self.count(source.name, "rejected_413")
            return Delivery(413, {"message": f"payload larger than {limit} bytes"})
        if hook.auth_secret is not None:
            expected = _secret_text(self.config, source.namespace, hook.auth_secret.name, hook.auth_secret.key)
            given = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
            scheme, _, presented = given.partition(" ")
            if expected is None or scheme.lower() != "bearer" or not hmac.compare_digest(
                    presented.strip().encode(), expected.encode()):
                self.count(source.name, "rejected_401")
                return Delivery(401, {"message": "invalid or missing bearer token"})
        try:
            data = event_from_webhook(headers.items(), body, method=method, query=query)
        except Exception as exc:  # WebhookPayloadError and friends: the body is not what Argo accepts
            self.count(source.name, "rejected_400")
            return Delivery(400, {"message": f"invalid payload: {exc}"})
        event = Event(source=source.name, name=event_name, data=data, id=f"{time.time_ns():x}",
                      time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        sensors = [s for s in self.config.of_kind(Sensor) if s.namespace == source.namespace]
        plans = evaluate(sensors, event)
        for plan in plans:
            if not plan.fires:
                self._record("Sensor", source.namespace, plan.sensor.split("/")[-1], "Normal", "Filtered",
                                     "; ".join(plan.why)[:2000], {"sensor": plan.sensor, "trigger": plan.trigger,
                                                                  "fires": False, "why": list(plan.why)})
                continue
            # answer the webhook now and run the trigger after (as Argo's event source does): a slow
            # pipeline endpoint must not make the git server time out and redeliver
            task = asyncio.create_task(self._fire(plan, self.config))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        self.count(source.name, "accepted")
        return Delivery(200, {"message": "success", **webhook_reply(plans)})

    async def _fire(self, plan: Any, config: Config) -> None:
        decision: dict[str, Any] = {"sensor": plan.sensor, "trigger": plan.trigger, "fires": True,
                                    "why": list(plan.why)}
        try:
            outcome = await execute(
                plan, http_client=self.http,
                reconcile=lambda kind, ns, name, why=f"sensor {plan.sensor}": self.trigger((kind, ns, name), why),
                secret=lambda ns, name, key: _secret_text(config, ns, name, key), logger=log,
                throttle=self._throttle, now=time.monotonic())
            decision["ok"], decision["detail"] = outcome.ok, outcome.detail
        except Exception as exc:  # a trigger must never take the daemon down
            log.exception("trigger %s of %s failed", plan.trigger, plan.sensor)
            decision["ok"], decision["detail"] = False, f"internal error: {exc.__class__.__name__}"
        # a trigger tagpilot cannot run (argoWorkflow, k8s...) did not fire: say so, not "Fired"
        reason = "NotRun" if plan.kind == "unsupported" else "Fired"
        self._record("Sensor", plan.namespace, plan.sensor.split("/")[-1],
                     "Normal" if decision["ok"] else "Warning", reason, "; ".join(plan.why)[:2000], decision)

    def _record(self, kind: str, namespace: str, name: str, type_: str, reason: str, message: str,
                data: dict[str, Any]) -> None:
        """Keep a delivery (its own ring in the store) and say it in the daemon's log: accepted and
        fired at info, filtered (with the filter that failed) at info, rejected and failed at warning."""
        self.store.add_delivery(kind, namespace, name, type_, reason, message, data)
        detail = message
        if reason == "Accepted" and data.get("reconcile"):
            detail += f"; reconcile {', '.join(data['reconcile'])}"
        elif reason in ("Fired", "NotRun") and data.get("detail"):
            detail += f"; {data['detail']}"
        level = logging.WARNING if type_ == "Warning" else logging.INFO
        log.log(level, "webhook %s %s/%s/%s: %s", reason.lower(), kind, namespace, name, detail[:500])

    @staticmethod
    def body_limit() -> int:
        return MAX_BODY
