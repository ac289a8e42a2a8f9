"""Argo CD Image Updater webhook payloads per registry type (shapes from upstream's handlers)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tagpilot.events.argo_webhook import PushEvent, WebhookRejected, parse_delivery

SECRETS = {"docker": "d", "ghcr": "g", "harbor": "h", "quay": "q"}


def test_docker_hub_with_the_secret_query_parameter() -> None:
    body = json.dumps({"repository": {"repo_name": "org/app"}, "push_data": {"tag": "1.2.3"}}).encode()
    assert parse_delivery("type=docker.io&secret=d", {}, body, SECRETS) == PushEvent("docker.io", "org/app", "1.2.3")
    body = json.dumps({"repository": {"namespace": "org", "name": "app"}, "push_data": {"tag": "v"}}).encode()
    assert parse_delivery("type=docker.io&secret=d", {}, body, SECRETS).repository == "org/app"
    with pytest.raises(WebhookRejected) as exc:
        parse_delivery("type=docker.io&secret=x", {}, body, SECRETS)
    assert exc.value.status == 401 and "d" not in exc.value.reason.split()


def test_ghcr_signed_package_event_lowercased() -> None:
    body = json.dumps({"action": "published", "package": {
        "name": "App", "package_type": "container", "owner": {"login": "Org"},
        "package_version": {"name": "sha256:x", "container_metadata": {"tag": {"name": "v2"}}}}}).encode()
    sig = "sha256=" + hmac.new(b"g", body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "package", "X-Hub-Signature-256": sig}
    assert parse_delivery("type=ghcr.io", headers, body, SECRETS) == PushEvent("ghcr.io", "org/app", "v2")
    with pytest.raises(WebhookRejected, match="X-GitHub-Event"):
        parse_delivery("type=ghcr.io", {**headers, "X-GitHub-Event": "push"}, body, SECRETS)
    unpublished = body.replace(b'"published"', b'"updated"')
    sig2 = "sha256=" + hmac.new(b"g", unpublished, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookRejected) as exc:
        parse_delivery("type=ghcr.io", {**headers, "X-Hub-Signature-256": sig2}, unpublished, SECRETS)
    assert exc.value.status == 202


def test_harbor_and_quay_take_the_registry_host_from_the_urls() -> None:
    harbor = json.dumps({"type": "PUSH_ARTIFACT", "event_data": {
        "resources": [{"tag": "t1", "resource_url": "harbor.example.com:8443/proj/app:t1"}],
        "repository": {"namespace": "proj", "name": "app"}}}).encode()
    headers = {"Content-Type": "application/json", "Authorization": "h"}
    assert parse_delivery("type=harbor", headers, harbor, SECRETS) == PushEvent(
        "harbor.example.com:8443", "proj/app", "t1")
    quay = json.dumps({"repository": "ns/app", "docker_url": "quay.example.com/ns/app",
                       "updated_tags": ["a", "b"]}).encode()
    assert parse_delivery("type=quay.io&secret=q", {}, quay, SECRETS) == PushEvent("quay.example.com", "ns/app", "a")


@pytest.mark.parametrize(("query", "body", "status"), [
    ("type=docker.io&secret=d", b"[]", 400),
    ("type=docker.io&secret=d", b'{"repository": {"repo_name": "x"}, "push_data": {"tag": ""}}', 400),
    ("type=docker.io&secret=d", b'{"repository": {"repo_name": "' + b"a" * 600 + b'"}, "push_data": {"tag": "t"}}',
     400),
    ("type=docker.io&secret=d", b'{"repository": {"repo_name": "a\\nb"}, "push_data": {"tag": "t"}}', 400),
    ("type=docker.io&secret=d", b"[" * 100_000, 400),
    ("type=quay.io&secret=q", b'{"repository": "x", "updated_tags": []}', 400),
    ("type=cloudevents", b"{}", 400),
    ("", b"{}", 400),
])
def test_hostile_and_incomplete_bodies_are_refused(query: str, body: bytes, status: int) -> None:
    with pytest.raises(WebhookRejected) as exc:
        parse_delivery(query, {}, body, SECRETS)
    assert exc.value.status == status


def test_no_configured_secret_refuses() -> None:
    with pytest.raises(WebhookRejected) as exc:
        parse_delivery("type=harbor", {"Content-Type": "application/json"}, b"{}", {})
    assert exc.value.status == 403 and "webhook.harbor-secret" in exc.value.reason
