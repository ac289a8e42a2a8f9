"""`tagpilot notify template render` and `tagpilot notify send`: one object, one template or trigger, now.

Both build the environment the notifier would: `app` is the object with its stored status, `update` and
`event` come from the object's latest `Pushed` event in the state directory (else the latest event, else
none), `context` and `secrets` from the ConfigMap and `argocd-notifications-secret`. `send` evaluates the
trigger's conditions and delivers to every destination subscribed to that trigger for the object,
bypassing the dedupe keys (a person asked for it) but recording every attempt in the delivery log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import httpx

from tagpilot.engine.events import NORMAL, Event, Reason
from tagpilot.errors import ConfigError
from tagpilot.expr.exprlang import ExprLangError, evaluate
from tagpilot.notify.config import NotificationConfig
from tagpilot.notify.notifier import FAILED, SENT, notification_configs, subscriptions_of, update_data
from tagpilot.notify.render import RenderError, Request, environment, render_request
from tagpilot.notify.services import Attempt, deliver, redact


def object_view(config: Any, store: Any, key: tuple[str, str, str]) -> dict[str, Any]:
    obj = config.objects.get(key)
    if obj is None:
        raise ConfigError(f"{'/'.join(key)} is not in the configuration")
    view = obj.to_yaml_dict()
    stored = store.get_object(*key)
    view["status"] = dict(stored.status) if stored else {}
    return view


def last_event(store: Any, key: tuple[str, str, str]) -> Event:
    """The object's latest Pushed event (for `update`), else its latest event, else an empty one."""
    events = [e for e in store.events(kind=key[0], namespace=key[1], name=key[2], limit=1000, with_deliveries=False)]
    chosen = next((e for e in reversed(events) if e["reason"] == Reason.PUSHED), events[-1] if events else None)
    if chosen is None:
        return Event(key, NORMAL, "", "", {})
    return Event(key, chosen["type"], chosen["reason"], chosen["message"], dict(chosen["data"] or {}))


def _env(ncfg: NotificationConfig, app: dict[str, Any], event: Event, recipient: str = "") -> dict[str, Any]:
    ev = {"type": event.type, "reason": event.reason, "message": event.message, "metadata": dict(event.metadata)}
    env = environment(app, ncfg, update=update_data(event), event=ev, secrets=ncfg.secrets,
                      now=dt.datetime.now(dt.UTC))
    return {**env, "recipient": recipient}


def _config_with(configs: list[NotificationConfig], what: str, name: str) -> NotificationConfig:
    for ncfg in configs:
        if name in (ncfg.templates if what == "template" else ncfg.triggers):
            return ncfg
    known = sorted({n for c in configs for n in (c.templates if what == "template" else c.triggers)})
    raise ConfigError(f"{what} {name!r} is not defined in argocd-notifications-cm "
                      f"({what}s: {', '.join(known) or 'none'})")


def render_template(config: Any, store: Any, name: str, key: tuple[str, str, str], service: str | None) -> str:
    """The rendered notification, for a person: the message and every block, or one service's request."""
    ncfg = _config_with(notification_configs(config), "template", name)
    app = object_view(config, store, key)
    event = last_event(store, key)
    if service is not None:
        svc = ncfg.services.get(service)
        if svc is None:
            raise ConfigError(f"service {service!r} is not defined (services: {', '.join(sorted(ncfg.services))})")
        request = render_request(ncfg, (name,), svc, _env(ncfg, app, event))
        return _describe(svc.type, service, request, svc.secret_values)
    from tagpilot.notify.render import _render, _render_tree

    env = _env(ncfg, app, event)
    template = ncfg.templates[name]
    out = [f"message:\n{_render(template.message, env, name)}"] if template.message else []
    for block, value in template.blocks.items():
        rendered = _render_tree(value, env, name)
        out.append(f"{block}:\n{json.dumps(rendered, ensure_ascii=False, indent=2)}")
    return "\n".join(out) + "\n"


def _describe(kind: str, service: str, request: Request, secrets: Any) -> str:
    body = request.body
    with contextlib.suppress(ValueError):
        body = json.dumps(json.loads(body), ensure_ascii=False, indent=2)
    head = f"{request.method} {request.path}".rstrip() if kind == "webhook" else "POST"
    return redact(f"service {service} ({kind}): {head}\n{body}\n", secrets)


@dataclass
class SendResult:
    lines: list[str]
    failed: int


async def send_now(config: Any, store: Any, trigger: str, key: tuple[str, str, str], *, dry_run: bool) -> SendResult:
    ncfg = _config_with(notification_configs(config), "trigger", trigger)
    app = object_view(config, store, key)
    event = last_event(store, key)
    destinations = []
    for sub in subscriptions_of(ncfg, app.get("metadata") or {}):
        for dest in sub.destinations:
            names = sub.triggers or ncfg.default_triggers_by_service.get(dest.service) or ncfg.default_triggers
            if trigger in names and dest not in destinations:
                destinations.append(dest)
    if not destinations:
        raise ConfigError(f"no subscription of {'/'.join(key)} names trigger {trigger!r}: add one to the ConfigMap's "
                          f"subscriptions or a notifications.argoproj.io/subscribe.{trigger}.<service> annotation")
    lines: list[str] = []
    failed = 0
    async with httpx.AsyncClient(follow_redirects=False) as client:
        for cond in ncfg.triggers[trigger].conditions:
            try:
                result = evaluate(cond.when_program, _env(ncfg, app, event)) if cond.when_program else False
            except ExprLangError as exc:
                lines.append(f"trigger {trigger}[{cond.index}]: cannot be evaluated: {exc}")
                failed += 1
                continue
            if result is not True:
                lines.append(f"trigger {trigger}[{cond.index}]: condition is false ({cond.when}); nothing to send")
                continue
            for dest in destinations:
                service = ncfg.services[dest.service]
                try:
                    request = render_request(ncfg, cond.send, service, _env(ncfg, app, event, dest.recipient))
                except RenderError as exc:
                    lines.append(f"{dest.service}:{dest.recipient}: {exc}")
                    failed += 1
                    continue
                if dry_run:
                    lines.append(_describe(service.type, dest.service, request, service.secret_values).rstrip())
                    continue
                attempt: Attempt = await deliver(client, service, request, dest.recipient)
                where = {"trigger": trigger, "service": dest.service, "recipient": dest.recipient,
                         "status": attempt.status, "response": attempt.excerpt, "requests": attempt.requests,
                         "manual": True}
                if attempt.ok:
                    store.add_delivery(*key, NORMAL, SENT, f"trigger {trigger}: sent to {service.type} service "
                                       f"{dest.service!r} (HTTP {attempt.status}, tagpilot notify send)", where)
                    lines.append(f"{dest.service}:{dest.recipient}: sent (status {attempt.status})")
                else:
                    failed += 1
                    store.add_delivery(*key, "Warning", FAILED, f"trigger {trigger}: {attempt.error}", where)
                    lines.append(f"{dest.service}:{dest.recipient}: failed: {attempt.error}")
    return SendResult(lines, failed)
