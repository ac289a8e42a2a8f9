"""The notifications subscriber of the event stream: events → trigger evaluations → outbox → delivery.

For each event of an object (a push, a new latest image, a failure, a recovery), every subscription
that applies to the object (the ConfigMap's `subscriptions` with their label `selector`, and the
object's `notifications.argoproj.io/subscribe.<trigger>.<service>` annotations) evaluates its triggers'
conditions with `app` = the object as configured plus its status, `update` = the commit data of a
`Pushed` event (else nil) and `event` = the event itself. A true condition is sent once per dedupe key
(notifications-engine's `[<oncePer>:]<trigger>:<condition key>:<service>:<recipient>`, prefixed by the
object), kept in the store so a restart or a second replica does not send it again; a false condition
without `oncePer` re-arms, as upstream. Rendered requests go to the store's outbox first and are
delivered from there: a failed delivery stays in the outbox and is retried with backoff, each attempt
recorded in the delivery log (`tagpilot events`) with status and a redacted response excerpt.

The subscriber itself only queues (the stream's subscribers must be cheap); `drain()` evaluates and
delivers, on the daemon's task or at the end of a CLI command.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tagpilot.config.core import Secret
from tagpilot.config.notifications import ConfigMap
from tagpilot.engine.events import NORMAL, WARNING, Event, Reason
from tagpilot.expr.exprlang import ExprLangError, evaluate
from tagpilot.gotemplate.gofmt import sprint
from tagpilot.notify.config import (
    SECRET_NAME,
    Destination,
    NotificationConfig,
    NotifyConfigError,
    Subscription,
    parse_notifications,
)
from tagpilot.notify.flux import flux_services, plan_alerts
from tagpilot.notify.ratelimit import RateLimiter
from tagpilot.notify.render import RenderError, Request, environment, render_request
from tagpilot.notify.services import deliver, redact

log = logging.getLogger("tagpilot.notify")

ANNOTATION_PREFIX = "notifications.argoproj.io/"
SENT, FAILED = "NotificationSent", "NotificationFailed"
IGNORED_REASONS = {Reason.ACCEPTED, Reason.REJECTED, Reason.FILTERED, Reason.TRIGGERED, SENT, FAILED}
MAX_ATTEMPTS = 20
NOTIFIER_KIND = "Notifications"


def notification_configs(config: Any) -> list[NotificationConfig]:
    """Every `argocd-notifications-cm` of the configuration, with its Secret's values resolved."""
    out = []
    for cm in config.of_kind(ConfigMap):
        if not cm.is_notifications:
            continue
        secret = config.get(Secret, cm.namespace, SECRET_NAME)
        values = {k: v.decode("utf-8", errors="replace") for k, v in secret.values().items()} if secret else {}
        parsed = parse_notifications(cm.data, values, cm.namespace)
        for warning in parsed.warnings:
            log.warning("%s: %s", cm.ref, warning)
        out.append(parsed)
    return out


def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector string: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated (AND)."""
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            key, value = (p.strip() for p in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (p.strip() for p in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def subscriptions_of(ncfg: NotificationConfig, metadata: dict[str, Any]) -> list[Subscription]:
    """The ConfigMap's subscriptions selecting the object, then its annotation subscriptions."""
    labels = metadata.get("labels") or {}
    subs = [s for s in ncfg.subscriptions if not s.selector or _selector_matches(s.selector, labels)]
    for key, value in (metadata.get("annotations") or {}).items():
        if not key.startswith(ANNOTATION_PREFIX + "subscribe."):
            continue
        parts = key.removeprefix(ANNOTATION_PREFIX + "subscribe.").split(".")
        trigger, service = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
        recipients = [r.strip() for r in str(value).split(";") if r.strip()] or [""]
        triggers = (trigger,) if trigger else ()
        subs.append(Subscription(tuple(Destination(service, r) for r in recipients), triggers))
    return subs


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """A condition that fails for a kind (the seed's Argo CD conditions on an ImagePolicy) fails on every
    event: say so once per process, not on every reconcile (argo-cd #25914)."""
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning("%s", message)


@dataclass(frozen=True)
class Planned:
    """One delivery decided by a trigger: where, what, and its dedupe key."""

    key: tuple[str, str, str]
    trigger: str
    destination: Destination
    dedupe_key: str
    request: Request | None  # None: batched, rendered once for every object of the cycle (`render_batch`)
    send: tuple[str, ...] = ()
    env: dict[str, Any] | None = None


def _split(value: str) -> tuple[str, str]:
    """(image, tag) of a reference (the tag separator is the last ':' after the last '/')."""
    slash = value.rfind("/")
    colon = value.rfind(":")
    if colon > slash:
        return value[:colon], value[colon + 1:]
    return value, ""


def update_data(event: Event) -> dict[str, Any] | None:
    """`update` of the trigger environment: the commit a Pushed event reports (images old -> new)."""
    if event.reason != Reason.PUSHED:
        return None
    md = event.metadata
    images: list[dict[str, Any]] = []
    seen = set()
    for c in md.get("changes") or []:
        old, new, setter = str(c.get("old", "")), str(c.get("new", "")), str(c.get("setter", ""))
        if "/" in new or ":" in new:  # a whole reference (or a name)
            image, new_tag = _split(new)
            _old_image, old_tag = _split(old)
        else:  # a tag alone (`"$imagepolicy": "ns:policy:tag"`): name it by its policy
            image, old_tag, new_tag = ":".join(setter.split(":")[:2]), old, new
        if not new_tag or (image, old_tag, new_tag) in seen:
            continue
        seen.add((image, old_tag, new_tag))
        images.append({"image": image, "oldTag": old_tag, "newTag": new_tag, "file": c.get("file"),
                       "old": old, "new": new})
    first = images[0] if images else {}
    return {"revision": md.get("commit", ""), "branch": md.get("branch", ""), "files": list(md.get("files") or []),
            "message": md.get("commitMessage", ""), "images": images, "count": len(images),
            "image": first.get("image", ""), "oldTag": first.get("oldTag", ""), "newTag": first.get("newTag", "")}


def plan(ncfg: NotificationConfig, event: Event, app: dict[str, Any], store: Any, now: float) -> list[Planned]:
    """Evaluate every subscribed trigger for the event's object; claim dedupe keys; render requests."""
    update = update_data(event)
    ev = {"type": event.type, "reason": event.reason, "message": event.message, "metadata": dict(event.metadata)}
    env = environment(app, ncfg, update=update, event=ev, secrets=ncfg.secrets,
                      now=dt.datetime.fromtimestamp(now, dt.UTC))
    obj = "/".join(event.key)
    out: list[Planned] = []
    for sub in subscriptions_of(ncfg, app.get("metadata") or {}):
        for dest in sub.destinations:
            service = ncfg.services.get(dest.service)
            if service is None:
                log.warning("%s: subscription names service %r, which is not defined", obj, dest.service)
                continue
            names = sub.triggers or ncfg.default_triggers_by_service.get(dest.service) or ncfg.default_triggers
            for name in names:
                trigger = ncfg.triggers.get(name)
                if trigger is None:
                    log.warning("%s: subscription names trigger %r, which is not defined", obj, name)
                    continue
                for cond in trigger.conditions:
                    try:
                        result = evaluate(cond.when_program, env) if cond.when_program else False
                        # oncePer only matters for a triggered condition; its value printed as Go's fmt
                        once = sprint(evaluate(cond.once_per_program, env)) \
                            if cond.once_per_program and result is True else None
                    except ExprLangError as exc:
                        _warn_once(f"trigger {name}[{cond.index}] could not be evaluated for a {event.key[0]}: {exc}")
                        continue
                    base = f"{name}:{cond.key}:{dest.service}:{dest.recipient}"
                    if result is not True:
                        if not cond.once_per_program:
                            store.notify_forget(f"{obj}:{base}")
                        continue
                    dedupe = f"{obj}:{once}:{base}" if once is not None else f"{obj}:{base}"
                    if not store.notify_claim(dedupe):
                        log.debug("%s: %s already sent", obj, dedupe)  # debug only: argo-cd #25914
                        continue
                    if cond.batch or sub.batch:
                        out.append(Planned(event.key, name, dest, dedupe, None, cond.send, env))
                        continue
                    try:
                        request = render_request(ncfg, cond.send, service,
                                                 {**env, "recipient": dest.recipient})
                    except RenderError as exc:
                        store.notify_forget(dedupe)
                        store.add_delivery(*event.key, WARNING, FAILED, f"trigger {name}: {exc}",
                                           {"trigger": name, "service": dest.service, "recipient": dest.recipient})
                        continue
                    out.append(Planned(event.key, name, dest, dedupe, request))
    return out


def render_batch(ncfg: NotificationConfig, items: list[Planned]) -> Request:
    """One message for every object a batched subscription fired for in one cycle (argo-cd #14849).

    The templates see the first object's variables plus `batch` (one `{app, update, event}` per object) and
    an `update` merging every commit: `images` (each with its object), `count`, `files`, `revisions`."""
    first = items[0]
    assert first.env is not None
    entries = [{"app": i.env["app"], "update": i.env["update"], "event": i.env["event"]} for i in items if i.env]
    images, files, revisions = [], [], []
    for entry in entries:
        update = entry["update"] or {}
        obj = (entry["app"].get("metadata") or {}).get("name", "")
        images += [{**image, "object": obj} for image in update.get("images") or []]
        files += [f for f in update.get("files") or [] if f not in files]
        if update.get("revision") and update["revision"] not in revisions:
            revisions.append(update["revision"])
    head = images[0] if images else {}
    merged = {**(first.env["update"] or {}), "images": images, "count": len(images), "files": files,
              "revisions": revisions, "image": head.get("image", ""), "oldTag": head.get("oldTag", ""),
              "newTag": head.get("newTag", "")}
    service = ncfg.services[first.destination.service]
    return render_request(ncfg, first.send, service, {**first.env, "update": merged, "batch": entries,
                                                      "recipient": first.destination.recipient})


class Notifier:
    """The subscriber: call it with events; `drain()` plans and delivers; `run()` for the daemon."""

    def __init__(self, config: Callable[[], Any], store: Any, *, client: httpx.AsyncClient | None = None,
                 clock: Callable[[], float] = time.time, retry_interval: float = 5.0,
                 coalesce: float = 1.0) -> None:
        self._config = config
        self.store = store
        self._client = client
        self._own_client = client is None
        self.clock = clock
        self.retry_interval = retry_interval
        self.coalesce = coalesce
        self._pending: list[Event] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._clients: dict[tuple[str, str], httpx.AsyncClient] = {}
        self.limiter = RateLimiter()

    def __call__(self, event: Event) -> None:
        if event.reason in IGNORED_REASONS or event.key[0] == NOTIFIER_KIND:
            return
        self._pending.append(event)
        self._wake.set()

    def _app(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        config = self._config()
        obj = config.objects.get(key) if config is not None else None
        if obj is None:
            return None
        view = obj.to_yaml_dict()
        stored = self.store.get_object(*key)
        view["status"] = dict(stored.status) if stored else {}
        return view

    def evaluate_pending(self) -> int:
        """Turn queued events into outbox rows; returns how many were queued for delivery."""
        events, self._pending = self._pending, []
        config = self._config()
        if config is None or not events:
            return 0
        try:
            configs = notification_configs(config)
        except NotifyConfigError as exc:  # checked at load; a Secret may still make a service unusable
            log.error("notifications are not configured correctly: %s", exc)
            return 0
        queued = 0
        batches: dict[tuple[Any, ...], tuple[NotificationConfig, list[Planned]]] = {}
        for event in events:
            live = event.metadata.get("liveApplication")
            if isinstance(live, dict):  # an ArgoCDServer's Application: `app` is the live object
                meta = live.get("metadata") or {}
                key = ("Application", str(meta.get("namespace") or "argocd"), str(meta.get("name") or ""))
                event = Event(key, event.type, event.reason, event.message, {}, event.time)
                app = live
            else:
                app = self._app(event.key)
            if app is None:
                continue
            for ncfg in configs:
                for item in plan(ncfg, event, app, self.store, self.clock()):
                    if item.request is None:
                        batches.setdefault((id(ncfg), item.trigger, item.destination, item.send),
                                           (ncfg, []))[1].append(item)
                        continue
                    self._queue(item, item.request)
                    queued += 1
            for flux in plan_alerts(config, event, app, self.store, self.clock()):
                self.store.outbox_add(*event.key, flux.alert, flux.provider, flux.recipient, flux.dedupe_key,
                                      flux.request.to_json(), self.clock())
                queued += 1
        for ncfg, items in batches.values():
            try:
                request = render_batch(ncfg, items)
            except RenderError as exc:
                for item in items:
                    self.store.notify_forget(item.dedupe_key)
                self.store.add_delivery(*items[0].key, WARNING, FAILED, f"trigger {items[0].trigger}: {exc}",
                                        {"trigger": items[0].trigger, "service": items[0].destination.service,
                                         "recipient": items[0].destination.recipient, "batch": len(items)})
                continue
            self._queue(items[0], request)
            queued += 1
        return queued

    def _queue(self, item: Planned, request: Request) -> None:
        self.store.outbox_add(*item.key, item.trigger, item.destination.service, item.destination.recipient,
                              item.dedupe_key, request.to_json(), self.clock())

    async def drain(self) -> None:
        """Evaluate what is queued and deliver every due outbox item once."""
        async with self._lock:
            self.evaluate_pending()
            due = self.store.outbox_due(self.clock())
            if not due:
                return
            config = self._config()
            services = {}
            for ncfg in notification_configs(config) if config is not None else []:
                services.update(ncfg.services)
            services.update(flux_services(config))
            for item in due:
                await self._deliver(item, services.get(item["service"]))

    async def _deliver(self, item: dict[str, Any], service: Any) -> None:
        key = (item["kind"], item["namespace"], item["name"])
        where = {"trigger": item["trigger"], "service": item["service"], "recipient": item["recipient"],
                 "attempt": item["attempts"] + 1, "outbox": item["id"]}
        if service is None:
            self.store.outbox_done(item["id"], ok=False, error="service no longer configured", give_up=True)
            self.store.add_delivery(*key, WARNING, FAILED, f"service {item['service']!r} is no longer configured",
                                    where)
            return
        request = Request(**item["request"])
        await self.limiter.acquire(service)
        attempt = await deliver(self._client_for(service), service, request, item["recipient"], clock=self.clock)
        data = {**where, "status": attempt.status, "response": attempt.excerpt, "requests": attempt.requests}
        if attempt.ok:
            self.store.outbox_done(item["id"], ok=True)
            self.store.add_delivery(*key, NORMAL, SENT, f"trigger {item['trigger']}: sent to {service.type} "
                                    f"service {service.name!r} (HTTP {attempt.status})", data)
            return
        attempts = item["attempts"] + 1
        give_up = attempts >= MAX_ATTEMPTS
        next_at = self.clock() + min(3600.0, 30.0 * 2 ** (attempts - 1))
        error = redact(attempt.error, service.secret_values)
        self.store.outbox_done(item["id"], ok=False, error=error, next_at=next_at, give_up=give_up)
        retry = "giving up" if give_up else f"retrying in {int(next_at - self.clock())}s"
        self.store.add_delivery(*key, WARNING, FAILED, f"trigger {item['trigger']}: {error}; {retry}", data)
        log.warning("%s: notification %s failed: %s; %s", "/".join(key), item["trigger"], error, retry)

    async def run(self) -> None:
        """The daemon's task: deliver whenever events arrive, and retry due items periodically."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.retry_interval)
            if self._wake.is_set():  # let the rest of the round's events arrive: batches span the round
                await asyncio.sleep(self.coalesce)
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # a broken template or store hiccup must not stop later notifications
                log.exception("notifications: delivery round failed")

    def _client_for(self, service: Any) -> httpx.AsyncClient:
        """The shared client, or one per proxy/CA (a Flux Provider's `proxy` and `certSecretRef`)."""
        proxy, ca = service.options.get("proxy"), service.options.get("caCert")
        if not proxy and not ca:
            if self._client is None:
                self._client = httpx.AsyncClient(follow_redirects=False)
            return self._client
        key = (str(proxy or ""), str(ca or ""))
        if key not in self._clients:
            verify: Any = True
            if ca:
                verify = ssl.create_default_context(cadata=str(ca))
            self._clients[key] = httpx.AsyncClient(follow_redirects=False, proxy=proxy or None, verify=verify,
                                                   trust_env=False)
        return self._clients[key]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None
