"""From a trigger's templates to the request a service sends: the environment, helpers, rendering.

The template data is argocd-notifications': `.app`, `.context`, `.secrets`, `.serviceType`,
`.recipient`, the helper namespaces `.time`, `.strings`, `.repo` (called with `call`), and tagpilot's
`.update` (commit data of a push) and `.event`. Several templates listed in `send` are applied in
order onto one notification. Pure.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tagpilot.gotemplate import TemplateError, render
from tagpilot.notify.config import NotificationConfig, Service
from tagpilot.notify.gotime import time_namespace


class RenderError(ValueError):
    """A template failed to render, or rendered a body the service cannot send."""


def _repo_to_https(url: str) -> str:
    m = re.match(r"^(?:ssh://)?(?:[\w.-]+@)?([\w.-]+)[:/](.+?)(?:\.git)?/?$", url or "")
    if url.startswith(("http://", "https://")):
        return url.removesuffix(".git")
    return f"https://{m.group(1)}/{m.group(2)}" if m else url


def _full_name(url: str) -> str:
    parsed = urllib.parse.urlparse(_repo_to_https(url))
    return parsed.path.strip("/")


def helpers(now: dt.datetime, local: dt.tzinfo | None = None) -> dict[str, Any]:
    return {
        "time": time_namespace(now, local),
        "strings": {"ReplaceAll": lambda s, old, new: s.replace(old, new), "ToUpper": lambda s: s.upper(),
                    "ToLower": lambda s: s.lower()},
        "repo": {"RepoURLToHTTPS": _repo_to_https, "FullNameByRepoURL": _full_name,
                 "QueryEscape": lambda s: urllib.parse.quote_plus(s)},
    }


def environment(app: Mapping[str, Any], config: NotificationConfig, *, update: Any, event: Any,
                secrets: Mapping[str, str], now: dt.datetime) -> dict[str, Any]:
    """The variables of `when`/`oncePer` and of templates."""
    return {"app": dict(app), "context": dict(config.context), "secrets": dict(secrets), "update": update,
            "event": event, **helpers(now)}


@dataclass(frozen=True)
class Request:
    """What to send: method, the path to append (webhook), and the body (text or JSON object)."""

    method: str
    path: str
    body: str

    def to_json(self) -> dict[str, str]:
        return {"method": self.method, "path": self.path, "body": self.body}


def _render(text: str, data: Mapping[str, Any], name: str) -> str:
    try:
        return render(text, data, name=name)
    except TemplateError as exc:
        raise RenderError(f"template {name}: {exc}") from None


def _render_tree(value: Any, data: Mapping[str, Any], name: str) -> Any:
    if isinstance(value, str):
        return _render(value, data, name)
    if isinstance(value, dict):
        return {k: _render_tree(v, data, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_tree(v, data, name) for v in value]
    return value


JSON_BODY_SERVICES = ("feishu", "dingtalk", "wecom", "slack", "teams", "teams-workflows", "telegram", "email",
                      "googlechat")


def _json_field(value: Any, what: str) -> Any:
    """Slack `attachments`/`blocks`, Teams `sections`/`facts`...: JSON text in the template (as upstream)."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise RenderError(f"{what} did not render to JSON ({exc})") from None


def _service_body(service: Service, message: str, block: dict[str, Any], recipient: str) -> Any:
    """The JSON document of a chat/email service (notifications-engine's payloads), from message + block."""
    kind = service.type
    opts = service.options
    if kind == "slack":
        policy = block.get("deliveryPolicy") or "Post"
        if policy != "Post":
            raise RenderError(f"slack deliveryPolicy {policy!r} (updating a posted message) is not supported; "
                              "use Post")
        body: dict[str, Any] = {"channel": recipient, "text": message}
        for name in ("attachments", "blocks"):
            value = _json_field(block.get(name), f"slack.{name}")
            if value is not None:
                body[name] = value
        username = block.get("username") or opts.get("username")
        icon = str(block.get("icon") or opts.get("icon") or "")
        if username:
            body["username"] = username
        if icon:
            body["icon_url" if icon.startswith(("http://", "https://")) else "icon_emoji"] = icon
        if opts.get("disableUnfurl"):
            body["unfurl_links"] = body["unfurl_media"] = False
        return body
    if kind == "teams":
        if block.get("template"):
            return _json_field(block["template"], "teams.template")
        card: dict[str, Any] = {"@type": "MessageCard", "@context": "https://schema.org/extensions",
                                "title": block.get("title", ""), "summary": block.get("summary") or message[:100],
                                "text": block.get("text") or message}
        if block.get("themeColor"):
            card["themeColor"] = block["themeColor"]
        sections = _json_field(block.get("sections"), "teams.sections") or []
        facts = _json_field(block.get("facts"), "teams.facts")
        if facts:
            sections = [*sections, {"facts": facts}]
        if sections:
            card["sections"] = sections
        actions = _json_field(block.get("potentialAction"), "teams.potentialAction")
        if actions:
            card["potentialAction"] = actions
        return card
    if kind == "teams-workflows":
        content = _json_field(block.get("adaptiveCard"), "teams-workflows.adaptiveCard")
        if content is None:
            items: list[dict[str, Any]] = []
            if block.get("title"):
                items.append({"type": "TextBlock", "text": block["title"], "size": "Large", "weight": "Bolder",
                              "wrap": True})
            items.append({"type": "TextBlock", "text": block.get("text") or message, "wrap": True})
            facts = _json_field(block.get("facts"), "teams-workflows.facts")
            if facts:
                items.append({"type": "FactSet", "facts": [{"title": f.get("name", f.get("title", "")),
                                                            "value": f.get("value", "")} for f in facts]})
            content = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                       "version": "1.4", "body": items}
        return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                    "content": content}]}
    if kind == "telegram":
        return {"chat_id": recipient, "text": message, "parse_mode": "Markdown"}
    if kind == "email":
        return {"subject": block.get("subject", ""), "body": block.get("body") or message}
    if kind == "googlechat":
        cards = _json_field(block.get("cardsV2"), "googlechat.cardsV2")
        return {"cardsV2": cards} if cards else {"text": message}
    if block:  # feishu / dingtalk / wecom: the block is the message object itself
        return block
    if kind == "feishu":
        return {"msg_type": "text", "content": {"text": message}}
    return {"msgtype": "text", "text": {"content": message}}  # dingtalk, wecom


def render_request(config: NotificationConfig, template_names: tuple[str, ...] | list[str], service: Service,
                   data: Mapping[str, Any]) -> Request:
    """Apply the templates in order for one service; later templates override earlier fields."""
    data = {**data, "serviceType": service.type}
    method, path, body, message = "", "", None, ""
    merged: dict[str, Any] = {}
    for name in template_names:
        template = config.templates[name]
        if template.message:
            message = _render(template.message, data, name)
        if service.type in JSON_BODY_SERVICES:
            block = template.blocks.get(service.type)
            if block is None and service.type == "feishu":
                block = template.blocks.get("lark")
            if block is None and service.type in ("feishu", "dingtalk"):  # the seed's webhook.<name> form
                webhooks = template.blocks.get("webhook")
                hook = webhooks.get(service.name) if isinstance(webhooks, dict) else None
                if isinstance(hook, dict) and isinstance(hook.get("body"), str):
                    body = _render(hook["body"], data, name)
                    continue
            if isinstance(block, dict):
                rendered = _render_tree(block, data, name)
                merged = rendered if service.type in ("feishu", "dingtalk", "wecom") else {**merged, **rendered}
            continue
        webhooks = template.blocks.get("webhook")
        block = webhooks.get(service.name) if isinstance(webhooks, dict) else None
        if isinstance(block, dict):
            method = str(block.get("method") or method)
            path = _render(str(block.get("path") or ""), data, name) or path
            if isinstance(block.get("body"), str):
                body = _render(block["body"], data, name)
    if service.type not in JSON_BODY_SERVICES:
        return Request((method or "GET").upper(), path, message if body is None else body)
    if body is None or merged:
        body = json.dumps(_service_body(service, message, merged, str(data.get("recipient") or "")),
                          ensure_ascii=False)
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise RenderError(f"templates {', '.join(template_names)} rendered a {service.type} body that is not "
                          f"JSON ({exc}); the {service.type} service needs a JSON message") from None
    if not isinstance(parsed, dict):
        raise RenderError(f"templates {', '.join(template_names)} rendered a {service.type} body that is not "
                          "a JSON object")
    return Request("POST", "", body)
