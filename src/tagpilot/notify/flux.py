"""Flux `Alert`s and `Provider`s delivering tagpilot's events, in Flux's exact payload shapes.

An event of an object goes to every Alert whose `eventSources` name the object (kind, name or `*`
with `matchLabels`, namespace defaulting to the Alert's), whose `eventSeverity` admits it (`info`:
everything; `error`: Warnings only) and whose `inclusionList`/`exclusionList` (RE2 on the message;
exclusion wins) let it through; suspended Alerts and Providers send nothing. The event is Flux's
`event.v1beta1` payload (`involvedObject`, `metadata`, `severity`, `reason`, `message`,
`reportingController`, `reportingInstance`, `timestamp`), metadata merged low → high from the object's
`event.toolkit.fluxcd.io/<key>` annotations, `eventMetadata`, `summary`, then the controller's own
(`<group>/revision`). Flux suppresses the same object + message + metadata for 5 minutes
(`--rate-limit-interval`); tagpilot keeps that window in the store, so replicas and restarts agree.

Provider payloads follow fluxcd/notification-controller `internal/notifier/*.go` (metadata sorted by
key where Go iterates a map). Pure except `provider_service`, which reads the Provider's Secrets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
from dataclasses import dataclass
from typing import Any

import re2

from tagpilot.config.flux_alert import WILDCARD, Alert, Provider
from tagpilot.engine.events import WARNING, Event, Reason
from tagpilot.notify.config import Service
from tagpilot.notify.render import Request

RATE_LIMIT_SECONDS = 300.0  # Flux's --rate-limit-interval default
ANNOTATION_PREFIX = "event.toolkit.fluxcd.io/"
CONTROLLERS = {"ImageRepository": "image-reflector-controller", "ImagePolicy": "image-reflector-controller",
               "ImageUpdateAutomation": "image-automation-controller", "GitRepository": "source-controller"}
FLUX_ICON = "https://raw.githubusercontent.com/fluxcd/flux2/main/docs/_files/flux-icon@2x.png"


@dataclass(frozen=True)
class FluxDelivery:
    alert: str  # Alert/ns/name
    provider: str  # Provider/ns/name (the outbox's service)
    recipient: str  # the channel, or ""
    dedupe_key: str
    request: Request


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _str(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def message_of(event: Event) -> str:
    """Flux's wording where Flux has one (image-automation's push, image-reflector's latest tag)."""
    md = event.metadata
    if event.reason == Reason.PUSHED and md.get("commit") and md.get("branch"):
        message = f"pushed commit '{md['commit']}' to branch '{md['branch']}'"
        return f"{message}\n{md['commitMessage']}" if md.get("commitMessage") else message
    if event.reason == Reason.LATEST_IMAGE_CHANGED and isinstance(md.get("latestRef"), dict):
        ref = md["latestRef"]
        return f"Latest image tag for '{ref.get('name', '')}' resolved to {ref.get('tag', '')}"
    return event.message


def event_payload(event: Event, obj: dict[str, Any], alert: Alert) -> dict[str, Any]:
    """Flux's `event.v1beta1.Event` for one Alert (its eventMetadata and summary merged in)."""
    meta = obj.get("metadata") or {}
    api_version = str(obj.get("apiVersion", ""))
    metadata: dict[str, str] = {}
    for key, value in (meta.get("annotations") or {}).items():
        if key.startswith(ANNOTATION_PREFIX) and key != ANNOTATION_PREFIX:
            metadata[key.removeprefix(ANNOTATION_PREFIX)] = str(value)
    metadata.update(alert.spec.event_metadata)
    if alert.spec.summary:
        metadata["summary"] = alert.spec.summary
    md = event.metadata
    if event.reason == Reason.PUSHED and md.get("commit"):
        revision = f"{md.get('branch')}@sha1:{md['commit']}" if md.get("branch") else f"sha1:{md['commit']}"
        metadata[f"{_group(api_version)}/revision"] = revision
    elif md.get("revision"):
        metadata[f"{_group(api_version)}/revision"] = _str(md["revision"])
    timestamp = dt.datetime.fromtimestamp(event.time, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    involved = {"apiVersion": api_version, "kind": event.key[0], "name": event.key[2], "namespace": event.key[1]}
    if meta.get("uid"):
        involved["uid"] = meta["uid"]
    return {"involvedObject": involved, "metadata": dict(sorted(metadata.items())),
            "severity": "error" if event.type == WARNING else "info", "reason": event.reason,
            "message": message_of(event), "reportingController": CONTROLLERS.get(event.key[0], "tagpilot"),
            "reportingInstance": socket.gethostname(), "timestamp": timestamp}


def alert_matches(alert: Alert, event: Event, obj: dict[str, Any]) -> bool:
    if alert.spec.suspend:
        return False
    if alert.spec.event_severity == "error" and event.type != WARNING:
        return False
    kind, namespace, name = event.key
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for source in alert.spec.event_sources:
        if source.kind != kind or (source.namespace or alert.namespace) not in (namespace, WILDCARD):
            continue
        if source.name == WILDCARD:
            if all(labels.get(k) == v for k, v in (source.match_labels or {}).items()):
                break
        elif source.name == name:
            break
    else:
        return False
    message = message_of(event)
    if alert.spec.inclusion_list and not any(re2.search(p, message) for p in alert.spec.inclusion_list):
        return False
    return not any(re2.search(p, message) for p in alert.spec.exclusion_list)


def _object_name(payload: dict[str, Any]) -> str:
    obj = payload["involvedObject"]
    return f"{obj['kind'].lower()}/{obj['name']}.{obj['namespace']}"


def _slack(payload: dict[str, Any], username: str, channel: str) -> dict[str, Any]:
    fields = [{"title": k, "value": v, "short": False} for k, v in payload["metadata"].items()]
    body: dict[str, Any] = {"channel": channel, "username": username or payload["reportingController"],
                            "icon_url": "", "icon_emoji": ""}
    body["attachments"] = [{"color": "danger" if payload["severity"] == "error" else "good",
                            "author_name": _object_name(payload), "text": payload["message"], "mrkdwn_in": ["text"],
                            "fields": fields}]
    return body


def _teams(payload: dict[str, Any], legacy: bool) -> dict[str, Any]:
    name, md, error = _object_name(payload), payload["metadata"], payload["severity"] == "error"
    if legacy:
        return {"@type": "MessageCard", "@context": "http://schema.org/extensions",
                "themeColor": "FF0000" if error else "0076D7", "summary": name,
                "sections": [{"activityTitle": payload["message"], "activitySubtitle": name,
                              "facts": [{"name": k, "value": v} for k, v in md.items()]}]}
    facts = ([{"title": "summary", "value": md["summary"]}] if "summary" in md else []) + \
        [{"title": k, "value": v} for k, v in md.items() if k != "summary"]
    message: dict[str, Any] = {"type": "TextBlock", "text": payload["message"], "wrap": True}
    if error:
        message["color"] = "attention"
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": [{"type": "Container", "items": [
            {"type": "TextBlock", "text": name, "size": "large", "weight": "bolder", "wrap": True},
            message, {"type": "FactSet", "facts": facts}]}],
        "msteams": {"width": "Full"}}}]}


def _googlechat(payload: dict[str, Any]) -> dict[str, Any]:
    text = payload["message"]
    if payload["severity"] == "error":
        text = f'<font color="#ff0000">{text}</font>'
    sections: list[dict[str, Any]] = [{"header": "", "widgets": [{"textParagraph": {"text": text}, "keyValue": None}]}]
    if payload["metadata"]:
        sections.append({"header": "", "widgets": [
            {"textParagraph": None, "keyValue": {"topLabel": k, "content": v, "contentMultiline": False,
                                                 "bottomLabel": None, "icon": None}}
            for k, v in payload["metadata"].items()]})
    return {"cards": [{"header": {"title": _object_name(payload), "subtitle": payload["reportingController"],
                                  "imageUrl": None, "imageStyle": None}, "sections": sections}]}


def _lark(payload: dict[str, Any]) -> dict[str, Any]:
    error = payload["severity"] == "error"
    content = f"**{payload['message']}**\n\n" + "".join(f"{k}: {v}\n" for k, v in payload["metadata"].items())
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": f"{'🚨' if error else '💫'} {_object_name(payload)}"},
                   "template": "red" if error else "turquoise"},
        "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": content}}]}}


def _text(payload: dict[str, Any]) -> str:
    """The plain text of chat bots without cards (DingTalk markdown, WeCom, Telegram)."""
    error = payload["severity"] == "error"
    lines = [f"{'🚨' if error else '💫'} {_object_name(payload)}", payload["message"]]
    lines += [f"{k}: {v}" for k, v in payload["metadata"].items()]
    return "\n".join(lines)


def _matrix(payload: dict[str, Any]) -> dict[str, Any]:
    """Flux's matrix notifier: heading `emoji kind/name.namespace`, the message, `- key: value` lines."""
    obj = payload["involvedObject"]
    emoji = "🚨" if payload["severity"] == "error" else "💫"
    heading = f"{emoji} {str(obj['kind']).lower()}/{obj['name']}.{obj['namespace']}"
    metadata = "".join(f"- {k}: {v}\n" for k, v in payload["metadata"].items())
    return {"body": f"{heading}\n{payload['message']}\n{metadata}", "msgtype": "m.text"}


def _alertmanager(payload: dict[str, Any]) -> list[dict[str, Any]]:
    md = dict(payload["metadata"])
    annotations = {"message": payload["message"]}
    if "summary" in md:
        annotations["summary"] = md.pop("summary")
    obj = payload["involvedObject"]
    reason = payload["reason"]
    labels = {**md, "alertname": f"Flux{obj['kind']}{reason[:1].upper()}{reason[1:].lower()}",
              "severity": payload["severity"], "reason": reason, "kind": obj["kind"], "name": obj["name"],
              "namespace": obj["namespace"], "reportingcontroller": payload["reportingController"]}
    return [{"status": "firing", "labels": labels, "annotations": annotations, "startsAt": payload["timestamp"],
             "endsAt": "0001-01-01T00:00:00Z"}]


def provider_body(service: Service, payload: dict[str, Any]) -> Any:
    """The JSON document a provider type posts for one event."""
    opts = service.options
    kind = opts["fluxType"]
    if kind in ("generic", "generic-hmac"):
        return payload
    if kind in ("slack", "discord"):
        return _slack(payload, str(opts.get("username") or ""), str(opts.get("channel") or "") if kind == "slack"
                      else "")
    if kind == "msteams":
        host = str(opts["url"]).split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]
        return _teams(payload, legacy=host.endswith(".webhook.office.com"))
    if kind == "googlechat":
        return _googlechat(payload)
    if kind in ("lark", "feishu"):
        return _lark(payload)
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": _object_name(payload),
                                                    "text": _text(payload).replace("\n", "\n\n")}}
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": _text(payload)}}
    if kind == "telegram":
        return {"chat_id": opts.get("channel", ""), "text": _text(payload), "parse_mode": "Markdown"}
    if kind == "matrix":
        return _matrix(payload)
    if kind == "alertmanager":
        return _alertmanager(payload)
    raise ValueError(f"provider type {kind!r} has no payload")  # the model refuses other types at load


# Flux provider type → tagpilot's transport (services.build_http)
TRANSPORTS = {"generic": "generic", "generic-hmac": "generic-hmac", "slack": "slack", "discord": "discord",
              "msteams": "json", "googlechat": "json", "alertmanager": "alertmanager", "telegram": "telegram",
              "matrix": "matrix",
              "lark": "feishu", "feishu": "feishu", "dingtalk": "dingtalk", "wecom": "wecom"}


def provider_service(provider: Provider, config: Any) -> Service:
    """The Provider as a deliverable Service: address, token, headers, proxy, CA from its Secrets."""
    from tagpilot.config.core import Secret

    spec = provider.spec

    def values(ref: Any) -> dict[str, str]:
        secret = config.get(Secret, provider.namespace, ref.name) if ref is not None else None
        return {k: v.decode("utf-8", errors="replace") for k, v in secret.values().items()} if secret else {}

    secret, certs, proxy_values = values(spec.secret_ref), values(spec.cert_secret_ref), values(spec.proxy_secret_ref)
    options: dict[str, Any] = {"fluxType": spec.type, "url": secret.get("address") or spec.address or "",
                               "channel": spec.channel or "", "username": secret.get("username") or spec.username or ""}
    if spec.timeout:
        options["timeout"] = spec.timeout
    if secret.get("token"):
        options["token"] = secret["token"]
    if secret.get("password"):
        options["password"] = secret["password"]
    if secret.get("signingSecret"):
        options["signingSecret"] = secret["signingSecret"]
    if secret.get("headers"):
        import yaml

        headers = yaml.safe_load(secret["headers"]) or {}
        if not isinstance(headers, dict):
            raise ValueError(f"{provider.ref}: the Secret key `headers` must be a YAML map of header names to values")
        options["headers"] = [{"name": str(k), "value": str(v)} for k, v in headers.items()]
    proxy = proxy_values.get("address") or secret.get("proxy") or spec.proxy
    if proxy:
        options["proxy"] = proxy
    if certs.get("ca.crt") or certs.get("caFile"):
        options["caCert"] = certs.get("ca.crt") or certs.get("caFile")
    secrets = tuple(v for k, v in secret.items() if k in ("address", "token", "password", "signingSecret", "headers",
                                                           "proxy")) + tuple(proxy_values.values()) + \
        tuple(str(h["value"]) for h in options.get("headers") or [])
    return Service(TRANSPORTS[spec.type], provider.ref, options, secrets)


def flux_services(config: Any) -> dict[str, Service]:
    """Every Provider of the configuration as a Service, by `Provider/ns/name`."""
    return {p.ref: provider_service(p, config) for p in config.of_kind(Provider)} if config is not None else {}


def dedupe_key(alert: Alert, payload: dict[str, Any]) -> str:
    """Flux's rate-limit key: the involved object, the message and the metadata (per Alert)."""
    digest = hashlib.sha256(json.dumps([payload["involvedObject"], payload["message"], payload["metadata"]],
                                       sort_keys=True).encode()).hexdigest()[:32]
    return f"flux:{alert.ref}:{digest}"


def plan_alerts(config: Any, event: Event, obj: dict[str, Any], store: Any, now: float) -> list[FluxDelivery]:
    """Every Alert the event matches → one delivery to its Provider (unless sent in the last 5 minutes)."""
    out = []
    for alert in config.of_kind(Alert):
        if not alert_matches(alert, event, obj):
            continue
        provider = config.get(Provider, alert.namespace, alert.spec.provider_ref.name)
        if provider is None or provider.spec.suspend:
            continue
        payload = event_payload(event, obj, alert)
        key = dedupe_key(alert, payload)
        if not store.notify_claim_window(key, now, RATE_LIMIT_SECONDS):
            continue
        service = provider_service(provider, config)
        body = json.dumps(provider_body(service, payload), ensure_ascii=False)
        request = Request("POST", "", body)
        if provider.spec.type == "matrix":  # Flux: the transaction id is the event's sha1 (timestamp included)
            event_json = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
            request = Request("PUT", hashlib.sha1(event_json, usedforsecurity=False).hexdigest(), body)
        out.append(FluxDelivery(alert.ref, provider.ref, provider.spec.channel or "", key, request))
    return out
