"""Argo CD Image Updater's registry webhook form: `POST /webhook?type=<registry type>`.

Pure: a request (type, query, headers, body) in, a `PushEvent` (registry, repository, tag) or a
`WebhookRejected` (HTTP status + reason) out. Per type, as upstream's handlers do it
(shared/reference/argocd-image-updater.md §7):
- `docker.io`: Docker Hub's `repository.repo_name` (or namespace/name) and `push_data.tag`; the
  secret is the `secret` query parameter (Docker Hub cannot sign);
- `ghcr.io`: GitHub's `package` event (`X-GitHub-Event: package`, action `published`, a container
  package), signed `X-Hub-Signature-256: sha256=<hmac>` with the secret; owner/name lowercased;
- `harbor`: `PUSH_ARTIFACT`, `event_data.resources[0]` (tag, resource_url → registry host),
  `repository.repo_full_name`; the secret is the whole `Authorization` header;
- `quay.io`: `repository`, `updated_tags[0]`, `docker_url` → registry host; `secret` query parameter.
Unlike upstream's `--webhook-require-secret=false`, a type without a configured secret is refused:
a webhook makes tagpilot commit, and anything that changes state through the network is
authenticated. `aliyun-acr`, `acr` and `cloudevents` are refused as not supported yet (named).
Secrets are compared in constant time and never echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

SUPPORTED = ("docker.io", "ghcr.io", "harbor", "quay.io")
UPSTREAM_ONLY = ("aliyun-acr", "acr", "cloudevents")
SECRET_KEYS = {"docker.io": "docker", "ghcr.io": "ghcr", "harbor": "harbor", "quay.io": "quay"}
MAX_BODY = 1 << 20  # deliveries are a few KiB; a bigger body is refused before it is read
MAX_FIELD = 512  # a repository or tag longer than this is not a real one


@dataclass(frozen=True)
class PushEvent:
    registry: str
    repository: str
    tag: str


class WebhookRejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_FIELD or any(c < " " for c in value):
        raise WebhookRejected(400, f"{what} not found in webhook payload")
    return value


def _dig(data: Any, *path: str) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _host(url: str, default: str) -> str:
    rest = url.split("://", 1)[-1]
    host = rest.split("/", 1)[0]
    return host if host and ("." in host or ":" in host) else default


def parse_delivery(query: str, headers: dict[str, str], body: bytes, secrets: dict[str, str]) -> PushEvent:
    """The push a delivery reports; WebhookRejected with the status to answer otherwise."""
    params = parse_qs(query, keep_blank_values=True)
    kind = (params.get("type") or [""])[0]
    if kind in UPSTREAM_ONLY:
        raise WebhookRejected(400, f"webhook type {kind!r} is not supported by tagpilot yet; supported: "
                                   f"{', '.join(SUPPORTED)}")
    if kind not in SUPPORTED:
        raise WebhookRejected(400, f"unknown webhook type {kind[:40]!r}; use ?type= one of {', '.join(SUPPORTED)}")
    secret = secrets.get(SECRET_KEYS[kind], "")
    if not secret:
        raise WebhookRejected(403, f"no webhook.{SECRET_KEYS[kind]}-secret in argocd-image-updater-config: "
                                   "webhooks without a secret are refused")
    lower = {k.lower(): v for k, v in headers.items()}
    if kind in ("docker.io", "quay.io"):
        given = (params.get("secret") or [""])[0]
        if not given or not _eq(given, secret):
            raise WebhookRejected(401, "missing or invalid webhook secret")
    elif kind == "harbor":
        if "application/json" not in lower.get("content-type", ""):
            raise WebhookRejected(400, "invalid content type (Harbor sends application/json)")
        if not _eq(lower.get("authorization", ""), secret):
            raise WebhookRejected(401, "missing or invalid Authorization header")
    else:
        if lower.get("x-github-event") != "package":
            raise WebhookRejected(400, "X-GitHub-Event must be package")
        signature = lower.get("x-hub-signature-256", "")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not _eq(signature, expected):
            raise WebhookRejected(401, "missing or invalid X-Hub-Signature-256")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookRejected(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected(400, "the body is not a JSON object")
    return _event(kind, data)


def _event(kind: str, data: dict[str, Any]) -> PushEvent:
    if kind == "docker.io":
        repo = _dig(data, "repository", "repo_name")
        if not repo:
            ns, name = _dig(data, "repository", "namespace"), _dig(data, "repository", "name")
            repo = f"{ns}/{name}" if ns and name else name
        return PushEvent("docker.io", _str(repo, "repository name"), _str(_dig(data, "push_data", "tag"), "tag"))
    if kind == "ghcr.io":
        if data.get("action") != "published":
            raise WebhookRejected(202, f"ignoring action {str(data.get('action'))[:40]!r}")
        if str(_dig(data, "package", "package_type") or "").lower() != "container":
            raise WebhookRejected(202, "not a container package")
        version = _dig(data, "package", "package_version") or {}
        tag = _dig(version, "container_metadata", "tag", "name") or _dig(version, "name") or _dig(version, "version")
        owner = _str(_dig(data, "package", "owner", "login"), "package owner")
        name = _str(_dig(data, "package", "name"), "package name")
        return PushEvent("ghcr.io", f"{owner}/{name}".lower(), _str(tag, "tag"))
    if kind == "harbor":
        if data.get("type") != "PUSH_ARTIFACT":
            raise WebhookRejected(202, f"ignoring event type {str(data.get('type'))[:40]!r}")
        resources = _dig(data, "event_data", "resources")
        if not isinstance(resources, list) or not resources or not isinstance(resources[0], dict):
            raise WebhookRejected(400, "no resources found in webhook payload")
        repo = _dig(data, "event_data", "repository", "repo_full_name")
        if not repo:
            ns = _dig(data, "event_data", "repository", "namespace")
            name = _dig(data, "event_data", "repository", "name")
            repo = f"{ns}/{name}" if ns and name else name
        url = resources[0].get("resource_url")
        registry = _host(url, "harbor") if isinstance(url, str) else "harbor"
        return PushEvent(registry, _str(repo, "repository name"), _str(resources[0].get("tag"), "tag"))
    tags = data.get("updated_tags")
    if not isinstance(tags, list) or not tags:
        raise WebhookRejected(400, "no tags in the payload")
    url = data.get("docker_url")
    registry = _host(url, "quay.io") if isinstance(url, str) and url else "quay.io"
    return PushEvent(registry, _str(data.get("repository"), "repository name"), _str(tags[0], "tag"))
