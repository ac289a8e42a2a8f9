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


def render_request(config: NotificationConfig, template_names: tuple[str, ...] | list[str], service: Service,
                   data: Mapping[str, Any]) -> Request:
    """Apply the templates in order for one service; later templates override earlier fields."""
    data = {**data, "serviceType": service.type}
    method, path, body, message = "", "", None, ""
    for name in template_names:
        template = config.templates[name]
        if template.message:
            message = _render(template.message, data, name)
        block: Any = None
        if service.type in ("feishu", "dingtalk"):
            block = template.blocks.get(service.type) or (
                template.blocks.get("lark") if service.type == "feishu" else None)
        if block is None:
            webhooks = template.blocks.get("webhook")
            block = webhooks.get(service.name) if isinstance(webhooks, dict) else None
        if isinstance(block, dict):
            if "body" in block and isinstance(block["body"], str):
                body = _render(block["body"], data, name)
                method = str(block.get("method") or method)
                path = _render(str(block.get("path") or ""), data, name) or path
            elif service.type in ("feishu", "dingtalk"):  # the message object itself, strings templated
                body = json.dumps(_render_tree(block, data, name), ensure_ascii=False)
            else:
                method = str(block.get("method") or method)
                path = _render(str(block.get("path") or ""), data, name) or path
    if body is None:
        if service.type == "feishu":
            body = json.dumps({"msg_type": "text", "content": {"text": message}}, ensure_ascii=False)
        elif service.type == "dingtalk":
            body = json.dumps({"msgtype": "text", "text": {"content": message}}, ensure_ascii=False)
        else:
            body = message
    if service.type in ("feishu", "dingtalk"):
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise RenderError(f"templates {', '.join(template_names)} rendered a {service.type} body that is not "
                              f"JSON ({exc}); the {service.type} bot needs a JSON message") from None
        if not isinstance(parsed, dict):
            raise RenderError(f"templates {', '.join(template_names)} rendered a {service.type} body that is not "
                              "a JSON object")
        method = "POST"
    return Request((method or ("POST" if service.type != "webhook" else "GET")).upper(), path, body)
