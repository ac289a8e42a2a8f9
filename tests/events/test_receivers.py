"""Webhook receivers: Flux's checks per type, events filtering, resources, the distribution envelope.

Signatures are computed here with the standard library from the same secret, so a test fails if the
verifier hashes the wrong bytes, picks the wrong header or compares the wrong way; the GitHub vector
comes from GitHub's documentation (shared/reference/events-and-notifications.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tagpilot.config.base import Object
from tagpilot.config.flux_image import ImagePolicy, ImageRepository
from tagpilot.config.flux_notification import Receiver, webhook_path
from tagpilot.events.receivers import (
    MAX_BODY,
    Headers,
    HookRequest,
    InvalidPayload,
    check_hmac_signature,
    distribution_targets,
    match_path,
    parse_distribution_envelope,
    resolve,
    resolve_resources,
    same_registry,
    verify,
)
from tests.fixtures.http import RecordingServer
from tests.fixtures.pusher import Pusher, push_image

TOKEN = "s3cr3t-receiver-token"
NS = "flux-system"


# -- builders ---------------------------------------------------------------------------------------


def make_receiver(
    rtype: str,
    *,
    events: list[str] | None = None,
    resources: list[dict[str, Any]] | None = None,
    suspend: bool = False,
    name: str = "hook",
    namespace: str = NS,
    api_version: str = "notification.toolkit.fluxcd.io/v1",
) -> Receiver:
    spec: dict[str, Any] = {"type": rtype, "secretRef": {"name": "webhook-token"}}
    if events is not None:
        spec["events"] = events
    spec["resources"] = resources if resources is not None else [{"kind": "ImageRepository", "name": "podinfo"}]
    if suspend:
        spec["suspend"] = True
    return Receiver.model_validate(
        {
            "apiVersion": api_version,
            "kind": "Receiver",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


def image_repo(name: str, image: str, namespace: str = NS, labels: dict[str, str] | None = None) -> ImageRepository:
    return ImageRepository.model_validate(
        {
            "apiVersion": "image.toolkit.fluxcd.io/v1beta2",
            "kind": "ImageRepository",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"image": image, "interval": "5m"},
        }
    )


def image_policy(name: str, namespace: str = NS, labels: dict[str, str] | None = None) -> ImagePolicy:
    return ImagePolicy.model_validate(
        {
            "apiVersion": "image.toolkit.fluxcd.io/v1beta2",
            "kind": "ImagePolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"imageRepositoryRef": {"name": name}, "policy": {"semver": {"range": ">=1.0.0"}}},
        }
    )


OBJECTS: list[Object] = [
    image_repo("podinfo", "ghcr.io/stefanprodan/podinfo"),
    image_repo("app", "registry.example.com/team/app", labels={"team": "a"}),
    image_repo("api", "registry.example.com/team/api", labels={"team": "a", "tier": "backend"}),
    image_repo("other", "registry.example.com/team/other", labels={"team": "b"}),
    image_repo("elsewhere", "registry.example.com/team/app", namespace="apps", labels={"team": "a"}),
    image_policy("app", labels={"team": "a"}),
]


def hub(body: bytes, algo: str = "sha256", secret: str = TOKEN) -> str:
    return f"{algo}=" + hmac.new(secret.encode(), body, getattr(hashlib, algo)).hexdigest()


def request(headers: dict[str, str] | None = None, body: bytes = b"{}") -> HookRequest:
    return HookRequest(headers=headers or {}, body=body, remote="203.0.113.9")


# -- the model and the path -------------------------------------------------------------------------


def test_webhook_path_is_sha256_of_token_name_namespace() -> None:
    expected = "/hook/" + hashlib.sha256(b"tokenhookflux-system").hexdigest()
    assert webhook_path("token", "hook", "flux-system") == expected
    assert make_receiver("generic").webhook_path("token") == expected


def test_match_path_finds_the_receiver_or_none() -> None:
    a, b = make_receiver("generic", name="a"), make_receiver("github", name="b")
    pairs = [(a, "ta"), (b, "tb")]
    assert match_path(b.webhook_path("tb"), pairs) == (b, "tb")
    assert match_path(a.webhook_path("ta"), pairs) == (a, "ta")
    assert match_path(a.webhook_path("tb"), pairs) is None  # right receiver, wrong token
    assert match_path("/hook/" + "0" * 64, pairs) is None
    assert match_path("/hook/ü", pairs) is None


@pytest.mark.parametrize("api_version", ["v1", "v1beta2", "v1beta1"])
def test_receiver_api_versions(api_version: str) -> None:
    r = make_receiver("gitlab", api_version=f"notification.toolkit.fluxcd.io/{api_version}")
    assert r.spec.type == "gitlab"
    assert r.spec.interval_seconds == 600  # Flux's default interval, 10m


@pytest.mark.parametrize(
    ("spec_change", "message"),
    [
        ({"type": "gitea"}, "Input should be"),
        ({"secretRef": None}, "secretRef"),
        ({"resources": []}, "at least one object"),
        ({"resources": [{"kind": "ImageRepository", "name": "*"}]}, "matchLabels must be set"),
        ({"resources": [{"kind": "ImageRepository", "name": "x", "matchLabels": {"a": "b"}}]}, "only used with"),
        ({"resources": [{"kind": "ImageRepository", "name": "x", "namespace": "*"}]}, "namespace '*' requires"),
        ({"resources": [{"kind": "Deployment", "name": "x"}]}, "Input should be"),
        ({"resourceFilter": "res.metadata.name == 'x'"}, "not supported by tagpilot"),
        ({"interval": "ten minutes"}, "duration"),
        ({"token": "x"}, "Extra inputs"),
    ],
)
def test_receiver_spec_errors(spec_change: dict[str, Any], message: str) -> None:
    spec: dict[str, Any] = {
        "type": "generic",
        "secretRef": {"name": "t"},
        "resources": [{"kind": "ImageRepository", "name": "podinfo"}],
    }
    spec.update(spec_change)
    spec = {k: v for k, v in spec.items() if v is not None}
    with pytest.raises(ValidationError) as info:
        Receiver.model_validate(
            {
                "apiVersion": "notification.toolkit.fluxcd.io/v1",
                "kind": "Receiver",
                "metadata": {"name": "r", "namespace": NS},
                "spec": spec,
            }
        )
    assert message.lower() in str(info.value).lower()


def test_distribution_receiver_may_omit_resources() -> None:
    r = make_receiver("distribution", resources=[])
    assert r.spec.resources == []


def test_headers_are_case_insensitive_and_repr_hides_values() -> None:
    h = Headers({"X-Gitlab-Token": "secret-value", "content-type": "application/json"})
    assert h["x-gitlab-token"] == "secret-value"
    assert h.get("CONTENT-TYPE") == "application/json"
    assert "X-GITLAB-TOKEN" in h and "nope" not in h
    assert "secret-value" not in repr(h)
    req = HookRequest(headers={"Authorization": "Bearer abc"}, body=b"x" * 10)
    assert req.header("authorization") == "Bearer abc"
    assert req.header("missing") == ""
    assert "abc" not in repr(req)


# -- generic and generic-hmac -----------------------------------------------------------------------


def test_generic_accepts_anything_and_reconciles_resources() -> None:
    result = verify(make_receiver("generic"), TOKEN, request(body=b"not json at all"), OBJECTS)
    assert result.status == 200
    assert result.reconcile == [("ImageRepository", NS, "podinfo")]
    assert result.event is not None and result.event["type"] == "generic"
    assert result.event["reconcile"] == ["ImageRepository/flux-system/podinfo"]


@pytest.mark.parametrize("algo", ["sha1", "sha256", "sha512"])
def test_generic_hmac_accepts_each_algorithm(algo: str) -> None:
    body = b'{"hello": "world"}'
    result = verify(make_receiver("generic-hmac"), TOKEN, request({"X-Signature": hub(body, algo)}, body), OBJECTS)
    assert result.status == 200, result.message


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, "missing signature"),
        ("", "missing signature"),
        ("deadbeef", "not of the form"),
        ("md5=" + hashlib.md5(b"x").hexdigest(), "unknown signature hash type"),
        ("sha256=zz", "not hexadecimal"),
        ("sha256=abc", "not hexadecimal"),  # odd length
        ("sha256=" + "00" * 32, "check failed"),
        ("sha256 = " + "00" * 32, "unknown signature hash type"),
    ],
)
def test_generic_hmac_rejections(signature: str | None, message: str) -> None:
    headers = {} if signature is None else {"X-Signature": signature}
    result = verify(make_receiver("generic-hmac"), TOKEN, request(headers, b"{}"), OBJECTS)
    assert result.status == 400
    assert message in result.message
    assert result.reconcile == []
    assert TOKEN not in result.message


def test_generic_hmac_wrong_secret_and_tampered_body() -> None:
    body = b'{"a": 1}'
    r = make_receiver("generic-hmac")
    assert verify(r, TOKEN, request({"X-Signature": hub(body, secret="other")}, body), OBJECTS).status == 400
    assert verify(r, TOKEN, request({"X-Signature": hub(body)}, body + b" "), OBJECTS).status == 400
    # uppercase hex decodes to the same bytes (Go's hex.DecodeString accepts it)
    upper = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest().upper()
    assert verify(r, TOKEN, request({"X-Signature": upper}, body), OBJECTS).status == 200


def test_check_hmac_signature_github_documentation_vector() -> None:
    secret = "It's a Secret to Everybody"
    sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    check_hmac_signature(sig, b"Hello, World!", secret)  # does not raise


@settings(max_examples=200)
@given(st.text(max_size=80), st.binary(max_size=64))
def test_hmac_parser_never_crashes_and_only_accepts_the_right_mac(signature: str, body: bytes) -> None:
    result = verify(make_receiver("generic-hmac"), TOKEN, request({"X-Signature": signature}, body), OBJECTS)
    prefix, _, hex_mac = signature.partition("=")
    right = prefix in ("sha1", "sha256", "sha512") and hex_mac.lower() == hub(body, prefix).partition("=")[2]
    assert result.status == (200 if right else 400)


# -- github, bitbucket -------------------------------------------------------------------------------


def github_request(body: bytes, event: str = "push", **extra: str) -> HookRequest:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-Hub-Signature-256": hub(body),
    }
    headers.update(extra)
    return request(headers, body)


def test_github_documentation_vector_end_to_end() -> None:
    secret = "It's a Secret to Everybody"
    body = b"Hello, World!"
    req = request(
        {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        },
        body,
    )
    result = verify(make_receiver("github"), secret, req, OBJECTS)
    assert result.status == 200
    assert result.event is not None and result.event["event"] == "push"


def test_github_push_with_details() -> None:
    body = json.dumps({"ref": "refs/heads/main", "repository": {"full_name": "org/repo"}}).encode()
    result = verify(make_receiver("github", events=["push"]), TOKEN, github_request(body), OBJECTS)
    assert result.status == 200
    assert result.event is not None
    assert result.event["ref"] == "refs/heads/main"
    assert result.event["repository"] == "org/repo"
    assert result.event["delivery"] == "72d3162e-cc78-11e3-81ab-4c9367dc0958"
    assert result.reconcile == [("ImageRepository", NS, "podinfo")]


@pytest.mark.parametrize(
    ("events", "header", "status"),
    [
        (None, "ping", 200),  # no events filter: everything passes
        (["push"], "push", 200),
        (["PUSH"], "push", 200),  # strings.EqualFold
        (["push"], "Push", 200),
        (["push"], "ping", 400),
        (["push", "ping"], "ping", 200),
        (["push"], "", 400),
    ],
)
def test_github_events_filter(events: list[str] | None, header: str, status: int) -> None:
    body = b'{"zen": "Design for failure."}'
    result = verify(make_receiver("github", events=events), TOKEN, github_request(body, event=header), OBJECTS)
    assert result.status == status
    if status == 400:
        assert "not in the receiver's events" in result.message
        assert result.reconcile == []


def test_github_signature_headers_and_content_types() -> None:
    r = make_receiver("github")
    body = b'{"a": 1}'
    # the SHA-1 header alone is accepted (go-github's fallback), the prefix picks the hash
    sha1_only = request({"Content-Type": "application/json", "X-Hub-Signature": hub(body, "sha1")}, body)
    assert verify(r, TOKEN, sha1_only, OBJECTS).status == 200
    # the SHA-256 header wins over a (wrong) SHA-1 header
    both = request(
        {"Content-Type": "application/json", "X-Hub-Signature-256": hub(body), "X-Hub-Signature": "sha1=00"}, body
    )
    assert verify(r, TOKEN, both, OBJECTS).status == 200
    # a wrong SHA-256 header is not rescued by a right SHA-1 one
    wrong = request(
        {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00", "X-Hub-Signature": hub(body, "sha1")},
        body,
    )
    assert verify(r, TOKEN, wrong, OBJECTS).status == 400
    # no signature at all
    assert verify(r, TOKEN, request({"Content-Type": "application/json"}, body), OBJECTS).status == 400
    # Content-Type with parameters and upper case is fine; a missing or foreign one is not
    ok = request({"Content-Type": "Application/JSON; charset=utf-8", "X-Hub-Signature-256": hub(body)}, body)
    assert verify(r, TOKEN, ok, OBJECTS).status == 200
    missing = verify(r, TOKEN, request({"X-Hub-Signature-256": hub(body)}, body), OBJECTS)
    assert missing.status == 400 and "no Content-Type" in missing.message
    plain = verify(r, TOKEN, request({"Content-Type": "text/plain", "X-Hub-Signature-256": hub(body)}, body), OBJECTS)
    assert plain.status == 400 and "unsupported Content-Type" in plain.message


def test_github_form_encoded_payload_signs_the_raw_body() -> None:
    payload = json.dumps({"ref": "refs/heads/dev", "repository": {"full_name": "o/r"}})
    body = urlencode({"payload": payload}).encode()
    req = request(
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": hub(body),
        },
        body,
    )
    result = verify(make_receiver("github"), TOKEN, req, OBJECTS)
    assert result.status == 200
    assert result.event is not None and result.event["ref"] == "refs/heads/dev"


@pytest.mark.parametrize(
    ("events", "key", "status"),
    [
        (None, "repo:refs_changed", 200),
        (["repo:refs_changed"], "repo:refs_changed", 200),
        (["pr:opened"], "repo:refs_changed", 400),
    ],
)
def test_bitbucket_server(events: list[str] | None, key: str, status: int) -> None:
    body = b'{"eventKey": "repo:refs_changed"}'
    req = request({"Content-Type": "application/json", "X-Event-Key": key, "X-Hub-Signature": hub(body)}, body)
    assert verify(make_receiver("bitbucket", events=events), TOKEN, req, OBJECTS).status == status
    unsigned = request({"Content-Type": "application/json", "X-Event-Key": key}, body)
    assert verify(make_receiver("bitbucket"), TOKEN, unsigned, OBJECTS).status == 400


# -- gitlab, harbor ---------------------------------------------------------------------------------

GITLAB_PUSH = json.dumps(
    {
        "object_kind": "push",
        "ref": "refs/heads/main",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
        "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "project": {"name": "app", "path_with_namespace": "group/app"},
        "commits": [{"id": "da15608", "message": "Update", "author": {"name": "A"}}],
        "total_commits_count": 1,
    }
).encode()


@pytest.mark.parametrize(
    ("headers", "events", "status"),
    [
        ({"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Push Hook"}, None, 200),
        ({"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Push Hook"}, ["Push Hook"], 200),
        ({"x-gitlab-token": TOKEN, "x-gitlab-event": "push hook"}, ["Push Hook"], 200),
        ({"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Tag Push Hook"}, ["Push Hook"], 400),
        ({"X-Gitlab-Token": TOKEN + "x", "X-Gitlab-Event": "Push Hook"}, None, 400),
        ({"X-Gitlab-Token": TOKEN[:-1], "X-Gitlab-Event": "Push Hook"}, None, 400),
        ({"X-Gitlab-Event": "Push Hook"}, None, 400),
        ({"X-Gitlab-Token": "", "X-Gitlab-Event": "Push Hook"}, None, 400),
    ],
)
def test_gitlab(headers: dict[str, str], events: list[str] | None, status: int) -> None:
    result = verify(make_receiver("gitlab", events=events), TOKEN, request(headers, GITLAB_PUSH), OBJECTS)
    assert result.status == status
    assert TOKEN not in result.message and TOKEN not in json.dumps(result.event)
    if status == 200:
        assert result.event is not None
        assert result.event["repository"] == "group/app" and result.event["ref"] == "refs/heads/main"


HARBOR_PUSH = json.dumps(
    {
        "type": "PUSH_ARTIFACT",
        "occur_at": 1680000000,
        "operator": "admin",
        "event_data": {
            "resources": [
                {
                    "digest": "sha256:" + "a" * 64,
                    "tag": "1.2.3",
                    "resource_url": "harbor.example.com/library/app:1.2.3",
                }
            ],
            "repository": {"name": "app", "namespace": "library", "repo_full_name": "library/app"},
        },
    }
).encode()


@pytest.mark.parametrize(
    ("auth", "events", "body", "status"),
    [
        (TOKEN, None, HARBOR_PUSH, 200),
        (TOKEN, ["PUSH_ARTIFACT"], HARBOR_PUSH, 200),
        (TOKEN, ["DELETE_ARTIFACT"], HARBOR_PUSH, 400),  # tagpilot: events filter on the payload type
        (TOKEN, ["PUSH_ARTIFACT"], b"garbage", 400),
        (TOKEN, None, b"garbage", 200),  # Flux does not read a Harbor body
        ("Bearer " + TOKEN, None, HARBOR_PUSH, 400),  # verbatim, no scheme stripping
        (None, None, HARBOR_PUSH, 400),
        ("wrong", None, HARBOR_PUSH, 400),
    ],
)
def test_harbor(auth: str | None, events: list[str] | None, body: bytes, status: int) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    result = verify(make_receiver("harbor", events=events), TOKEN, request(headers, body), OBJECTS)
    assert result.status == status, result.message
    if status == 200 and body == HARBOR_PUSH:
        assert result.event is not None
        assert result.event["repository"] == "library/app"
        assert result.event["tags"] == ["1.2.3"]


# -- payload-only registries: dockerhub, quay, acr, nexus, cdevents, gcr ------------------------------

DOCKERHUB_PUSH = json.dumps(
    {
        "callback_url": "https://registry.hub.docker.com/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
        "push_data": {"pushed_at": 1417566161, "pusher": "trustedbuilder", "tag": "latest"},
        "repository": {"name": "testhook", "namespace": "svendowideit", "repo_name": "svendowideit/testhook"},
    }
).encode()
QUAY_PUSH = json.dumps(
    {
        "repository": "mynamespace/repository",
        "namespace": "mynamespace",
        "name": "repository",
        "docker_url": "quay.io/mynamespace/repository",
        "homepage": "https://quay.io/repository/mynamespace/repository",
        "updated_tags": ["latest", "1.0"],
    }
).encode()
ACR_PUSH = json.dumps(
    {
        "id": "cb8c3971-9adc-488b-xxxx-43cbb4974ff5",
        "timestamp": "2017-11-17T16:52:01.343145347Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "size": 524,
            "digest": "sha256:" + "b" * 64,
            "repository": "hello-world",
            "tag": "v1",
        },
    }
).encode()


@pytest.mark.parametrize(
    ("rtype", "body", "status", "detail"),
    [
        ("dockerhub", DOCKERHUB_PUSH, 200, {"repository": "svendowideit/testhook", "tag": "latest"}),
        ("dockerhub", b"null", 200, {}),
        ("dockerhub", b"[1, 2]", 400, {}),
        ("dockerhub", b"{", 400, {}),
        ("quay", QUAY_PUSH, 200, {"repository": "quay.io/mynamespace/repository", "tags": ["latest", "1.0"]}),
        ("quay", b"", 400, {}),
        ("acr", ACR_PUSH, 200, {"event": "push", "repository": "hello-world", "tag": "v1"}),
        ("acr", b"\xff\xfe", 400, {}),
    ],
)
def test_payload_only_types(rtype: str, body: bytes, status: int, detail: dict[str, Any]) -> None:
    result = verify(make_receiver(rtype), TOKEN, request({"Content-Type": "application/json"}, body), OBJECTS)
    assert result.status == status, result.message
    if status == 200:
        assert result.event is not None
        for key, value in detail.items():
            assert result.event[key] == value
        assert result.reconcile == [("ImageRepository", NS, "podinfo")]
    else:
        assert "cannot decode" in result.message


NEXUS_BODY = json.dumps(
    {
        "timestamp": "2016-11-10T23:57:49.664+0000",
        "nodeId": "52905AF7",
        "initiator": "admin/127.0.0.1",
        "repositoryName": "docker-hosted",
        "action": "UPDATED",
    }
).encode()


@pytest.mark.parametrize(
    ("signature", "body", "status"),
    [
        (hmac.new(TOKEN.encode(), NEXUS_BODY, hashlib.sha1).hexdigest(), NEXUS_BODY, 200),
        # Flux compares hex strings: uppercase does not match
        (hmac.new(TOKEN.encode(), NEXUS_BODY, hashlib.sha1).hexdigest().upper(), NEXUS_BODY, 400),
        (hmac.new(TOKEN.encode(), NEXUS_BODY, hashlib.sha256).hexdigest(), NEXUS_BODY, 400),
        (None, NEXUS_BODY, 400),
        (hmac.new(TOKEN.encode(), b"not json", hashlib.sha1).hexdigest(), b"not json", 400),
    ],
)
def test_nexus(signature: str | None, body: bytes, status: int) -> None:
    headers = {} if signature is None else {"X-Nexus-Webhook-Signature": signature}
    result = verify(make_receiver("nexus"), TOKEN, request(headers, body), OBJECTS)
    assert result.status == status, result.message
    if status == 200:
        assert result.event is not None and result.event["repository"] == "docker-hosted"


CDEVENT = json.dumps(
    {
        "context": {
            "version": "0.4.1",
            "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
            "source": "/event/source/123",
            "type": "dev.cdevents.artifact.published.0.2.0",
            "timestamp": "2023-03-20T14:27:05.315384Z",
        },
        "subject": {"id": "pkg:oci/app@sha256:" + "c" * 64, "content": {}},
    }
).encode()


@pytest.mark.parametrize(
    ("ce_type", "events", "body", "status"),
    [
        ("dev.cdevents.artifact.published.0.2.0", None, CDEVENT, 200),
        ("dev.cdevents.artifact.published.0.2.0", ["dev.cdevents.artifact.published.0.2.0"], CDEVENT, 200),
        ("dev.cdevents.pipelinerun.finished.0.2.0", ["dev.cdevents.artifact.published.0.2.0"], CDEVENT, 400),
        ("x", None, json.dumps({"context": {"type": "x"}, "subject": {}}).encode(), 400),
        ("x", None, json.dumps({"subject": {}}).encode(), 400),
        ("x", None, b"{}", 400),
    ],
)
def test_cdevents(ce_type: str, events: list[str] | None, body: bytes, status: int) -> None:
    result = verify(make_receiver("cdevents", events=events), TOKEN, request({"Ce-Type": ce_type}, body), OBJECTS)
    assert result.status == status, result.message


def test_gcr_is_refused_rather_than_accepted_unverified() -> None:
    result = verify(make_receiver("gcr"), TOKEN, request({"Authorization": "Bearer eyJ..."}, b"{}"), OBJECTS)
    assert result.status == 501
    assert result.reconcile == []
    assert "generic-hmac" in result.message


# -- common checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("rtype", ["generic", "github", "gitlab", "harbor", "distribution"])
def test_body_over_three_mebibytes_is_413(rtype: str) -> None:
    big = b"x" * (MAX_BODY + 1)
    result = verify(make_receiver(rtype), TOKEN, request({}, big), OBJECTS)
    assert result.status == 413
    assert result.reconcile == []
    exact = verify(make_receiver("generic"), TOKEN, request({}, b"x" * MAX_BODY), OBJECTS)
    assert exact.status == 200


def test_suspended_receiver_is_503() -> None:
    result = verify(make_receiver("generic", suspend=True), TOKEN, request(), OBJECTS)
    assert result.status == 503 and result.reconcile == []


def test_empty_token_is_refused() -> None:
    result = verify(make_receiver("generic"), "", request(), OBJECTS)
    assert result.status == 500
    assert "webhook-token" in result.message


def test_without_objects_only_the_request_is_checked() -> None:
    result = verify(make_receiver("generic"), TOKEN, request())
    assert result.status == 200 and result.reconcile == []


@pytest.mark.parametrize("rtype", ["generic-hmac", "github", "gitlab", "harbor", "nexus", "distribution"])
def test_no_secret_in_messages_or_events(rtype: str) -> None:
    # the attacker sends the token in every header we read: nothing may echo it back
    leak = {
        "X-Signature": "sha256=" + TOKEN,
        "X-Hub-Signature-256": "sha256=" + TOKEN,
        "X-Gitlab-Token": TOKEN + "!",
        "Authorization": "Bearer " + TOKEN + "!",
        "X-Nexus-Webhook-Signature": TOKEN,
        "Content-Type": "application/json",
    }
    result = verify(make_receiver(rtype), TOKEN, request(leak, b'{"events": []}'), OBJECTS)
    assert result.status in (400, 401)
    text = result.message + json.dumps(result.event) + json.dumps(result.headers) + repr(result)
    assert TOKEN not in text


# -- resources --------------------------------------------------------------------------------------


def test_resolve_named_wildcard_and_missing() -> None:
    r = make_receiver(
        "generic",
        resources=[
            {"kind": "ImageRepository", "name": "*", "matchLabels": {"team": "a"}},
            {"kind": "ImageRepository", "name": "app"},  # already selected: not repeated
            {"apiVersion": "image.toolkit.fluxcd.io/v1beta2", "kind": "ImagePolicy", "name": "app"},
            {"kind": "ImageRepository", "name": "ghost"},
            {"kind": "Kustomization", "name": "apps", "apiVersion": "kustomize.toolkit.fluxcd.io/v1"},
        ],
    )
    res = resolve(r, OBJECTS)
    assert res.found == [
        ("ImageRepository", NS, "api"),
        ("ImageRepository", NS, "app"),
        ("ImagePolicy", NS, "app"),
    ]
    assert res.missing == ["ImageRepository/flux-system/ghost"]
    assert res.ignored == ["Kustomization"]
    result = verify(r, TOKEN, request(), OBJECTS)
    assert result.status == 500  # Flux answers 500 when a listed object cannot be read
    assert "ImageRepository/flux-system/ghost" in result.message
    assert result.reconcile == res.found  # the others are still reconciled, as in Flux


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"kind": "ImageRepository", "name": "*", "matchLabels": {"team": "a", "tier": "backend"}}, ["api"]),
        ({"kind": "ImageRepository", "name": "*", "matchLabels": {"team": "c"}}, []),  # none: not an error
        ({"kind": "ImageRepository", "name": "*", "matchLabels": {}}, ["api", "app", "other", "podinfo"]),
        (
            {"kind": "ImageRepository", "name": "*", "matchLabels": {"team": "a"}, "namespace": "apps"},
            ["apps/elsewhere"],
        ),
        (
            {"kind": "ImageRepository", "name": "*", "matchLabels": {"team": "a"}, "namespace": "*"},
            ["api", "app", "apps/elsewhere"],
        ),
        ({"kind": "ImageRepository", "name": "app", "namespace": "apps"}, []),  # wrong name in apps
        ({"kind": "ImageRepository", "name": "elsewhere", "namespace": "apps"}, ["apps/elsewhere"]),
        # an apiVersion of another group does not select image objects
        ({"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "name": "app"}, []),
    ],
)
def test_resolve_table(resource: dict[str, Any], expected: list[str]) -> None:
    r = make_receiver("generic", resources=[resource])
    got = [name if ns == NS else f"{ns}/{name}" for _, ns, name in resolve_resources(r, OBJECTS)]
    assert sorted(got) == sorted(expected)


# -- distribution -----------------------------------------------------------------------------------

DIGEST_M = "sha256:" + "d" * 64
DIGEST_L = "sha256:" + "e" * 64
DIGEST_C = "sha256:" + "f" * 64
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def dist_event(
    action: str,
    repository: str,
    media_type: str,
    digest: str,
    *,
    tag: str | None = None,
    host: str | None = "registry.example.com",
    url_host: str | None = "registry.example.com",
) -> dict[str, Any]:
    """One event as distribution 2.8 writes it (the shape of notifications/event.go)."""
    kind = "blobs" if media_type not in (MANIFEST_V2, OCI_MANIFEST, OCI_INDEX) else "manifests"
    target: dict[str, Any] = {
        "mediaType": media_type,
        "size": 527,
        "digest": digest,
        "length": 527,
        "repository": repository,
    }
    if url_host:
        target["url"] = f"https://{url_host}/v2/{repository}/{kind}/{digest}"
    if tag:
        target["tag"] = tag
    event: dict[str, Any] = {
        "id": "320678d8-ca14-430f-8bb6-4ca139cd83f7",
        "timestamp": "2024-05-01T10:00:00.000000000Z",
        "action": action,
        "target": target,
        "request": {
            "id": "6df24a34-0959-4923-81ca-14f09767db19",
            "addr": "192.0.2.10:51234",
            "method": "PUT",
            "useragent": "docker/24.0",
        },
        "actor": {"name": "ci"},
        "source": {"addr": "registry-0:5000", "instanceID": "8c3c37d3-5c5f-4d7b-bdaf-c2bbdbee6c22"},
    }
    if host:
        event["request"]["host"] = host
    return event


def envelope(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


PUSH_ONE_TAG = envelope(
    dist_event("push", "team/app", "application/vnd.oci.image.layer.v1.tar+gzip", DIGEST_L),
    dist_event("push", "team/app", "application/vnd.oci.image.config.v1+json", DIGEST_C),
    dist_event("push", "team/app", OCI_MANIFEST, DIGEST_M, tag="1.2.3"),
)
REPOS = [o for o in OBJECTS if isinstance(o, ImageRepository)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (PUSH_ONE_TAG, [("ImageRepository", "apps", "elsewhere"), ("ImageRepository", NS, "app")]),
        # blobs alone (the manifest event is in a later envelope): nothing yet
        (envelope(dist_event("push", "team/app", "application/octet-stream", DIGEST_L)), []),
        # pulls, deletes and mounts never trigger
        (envelope(dist_event("pull", "team/app", OCI_MANIFEST, DIGEST_M, tag="1.2.3")), []),
        (envelope(dist_event("delete", "team/app", OCI_MANIFEST, DIGEST_M)), []),
        (envelope(dist_event("mount", "team/app", "application/octet-stream", DIGEST_L)), []),
        # another repository on the same registry
        (envelope(dist_event("push", "team/api", MANIFEST_V2, DIGEST_M, tag="2.0")), [("ImageRepository", NS, "api")]),
        (envelope(dist_event("push", "team/nobody", MANIFEST_V2, DIGEST_M, tag="2.0")), []),
        # same path on another registry host
        (
            envelope(
                dist_event("push", "team/app", OCI_MANIFEST, DIGEST_M, tag="1", host="other.io", url_host="other.io")
            ),
            [],
        ),
        # an index (multi-platform) pushed by tag; its children pushed by digest, no tag
        (
            envelope(
                dist_event("push", "team/other", OCI_MANIFEST, DIGEST_C),
                dist_event("push", "team/other", OCI_INDEX, DIGEST_M, tag="3.0"),
            ),
            [("ImageRepository", NS, "other")],
        ),
        # a manifest pushed by digest only moves no tag
        (envelope(dist_event("push", "team/app", OCI_MANIFEST, DIGEST_M)), []),
        # no host in the event at all: match on the repository path
        (
            envelope(
                dist_event("push", "stefanprodan/podinfo", OCI_MANIFEST, DIGEST_M, tag="6.0", host=None, url_host=None)
            ),
            [("ImageRepository", NS, "podinfo")],
        ),
        # the host with an explicit default port, and in upper case
        (
            envelope(
                dist_event(
                    "push", "team/api", OCI_MANIFEST, DIGEST_M, tag="1", host="REGISTRY.example.com:443", url_host=None
                )
            ),
            [("ImageRepository", NS, "api")],
        ),
        # the url host matches although request.host is an internal name
        (
            envelope(dist_event("push", "team/api", OCI_MANIFEST, DIGEST_M, tag="1", host="10.0.0.5:5000")),
            [("ImageRepository", NS, "api")],
        ),
        # an empty envelope (the registry's keepalive-free flush): fine, nothing to do
        (envelope(), []),
        # malformed events inside a valid envelope are skipped
        (json.dumps({"events": [1, "x", {"action": "push"}, {"action": "push", "target": []}]}).encode(), []),
    ],
)
def test_distribution_targets(body: bytes, expected: list[tuple[str, str, str]]) -> None:
    assert distribution_targets(body, REPOS) == sorted(expected)


def test_distribution_harbor_style_host_and_docker_hub() -> None:
    repos = [
        image_repo("harbor", "harbor.example.com:8443/library/app"),
        image_repo("hub", "nginx"),
        image_repo("local", "localhost:5000/t/app"),
    ]
    harbor = envelope(
        dist_event(
            "push", "library/app", MANIFEST_V2, DIGEST_M, tag="v2", host="harbor.example.com:8443", url_host=None
        )
    )
    assert distribution_targets(harbor, repos) == [("ImageRepository", NS, "harbor")]
    wrong_port = envelope(
        dist_event("push", "library/app", MANIFEST_V2, DIGEST_M, tag="v2", host="harbor.example.com", url_host=None)
    )
    assert distribution_targets(wrong_port, repos) == []
    hub = envelope(dist_event("push", "library/nginx", MANIFEST_V2, DIGEST_M, tag="1.27", host="registry-1.docker.io"))
    assert distribution_targets(hub, repos) == [("ImageRepository", NS, "hub")]
    loop = envelope(dist_event("push", "t/app", OCI_MANIFEST, DIGEST_M, tag="1", host="127.0.0.1:5000", url_host=None))
    assert distribution_targets(loop, repos) == [("ImageRepository", NS, "local")]


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"events": {}}', b'{"event": []}', b"\xff"])
def test_distribution_malformed_envelope(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        distribution_targets(body, REPOS)
    result = verify(
        make_receiver("distribution", resources=[]), TOKEN, request({"Authorization": f"Bearer {TOKEN}"}, body), OBJECTS
    )
    assert result.status == 400


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        (f"Bearer {TOKEN}", 200),
        (f"bearer {TOKEN}", 200),  # the scheme is case-insensitive
        (f"Bearer  {TOKEN} ", 200),
        (None, 401),
        ("", 401),
        ("Bearer", 401),
        (f"Basic {TOKEN}", 401),
        (TOKEN, 401),
        (f"Bearer {TOKEN}x", 401),
        (f"Bearer {TOKEN.upper()}", 401),
    ],
)
def test_distribution_bearer_token(auth: str | None, status: int) -> None:
    headers = {} if auth is None else {"Authorization": auth}
    result = verify(make_receiver("distribution", resources=[]), TOKEN, request(headers, PUSH_ONE_TAG), OBJECTS)
    assert result.status == status
    if status == 401:
        assert result.headers.get("WWW-Authenticate", "").startswith("Bearer")
        assert result.reconcile == []


def test_distribution_scope_defaults_to_the_receiver_namespace() -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    result = verify(make_receiver("distribution", resources=[]), TOKEN, request(auth, PUSH_ONE_TAG), OBJECTS)
    assert result.status == 200
    assert result.reconcile == [("ImageRepository", NS, "app")]  # not apps/elsewhere
    assert result.event is not None
    assert result.event["pushes"] == [{"repository": "team/app", "tag": "1.2.3", "digest": DIGEST_M}]
    assert "team/app:1.2.3" in result.event["summary"]
    # resources narrow (or widen) the candidates
    wide = make_receiver(
        "distribution", resources=[{"kind": "ImageRepository", "name": "*", "namespace": "*", "matchLabels": {}}]
    )
    assert verify(wide, TOKEN, request(auth, PUSH_ONE_TAG), OBJECTS).reconcile == [
        ("ImageRepository", "apps", "elsewhere"),
        ("ImageRepository", NS, "app"),
    ]
    narrow = make_receiver("distribution", resources=[{"kind": "ImageRepository", "name": "api"}])
    assert verify(narrow, TOKEN, request(auth, PUSH_ONE_TAG), OBJECTS).reconcile == []


def test_parse_envelope_keeps_manifest_pushes_only() -> None:
    pushes = parse_distribution_envelope(PUSH_ONE_TAG)
    assert len(pushes) == 1
    (push,) = pushes
    assert (push.repository, push.tag, push.digest, push.media_type) == ("team/app", "1.2.3", DIGEST_M, OCI_MANIFEST)
    assert push.hosts == ("registry.example.com",)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("registry.example.com", "REGISTRY.EXAMPLE.COM", True),
        ("registry.example.com:443", "registry.example.com", True),
        ("registry.example.com:5000", "registry.example.com", False),
        ("docker.io", "registry-1.docker.io", True),
        ("index.docker.io", "docker.io", True),
        ("localhost:5000", "127.0.0.1:5000", True),
        ("localhost:5000", "127.0.0.1:5001", False),
        ("[::1]:5000", "localhost:5000", True),
        ("ghcr.io", "quay.io", False),
    ],
)
def test_same_registry(a: str, b: str, same: bool) -> None:
    assert same_registry(a, b) is same
    assert same_registry(b, a) is same


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_envelope_parser_never_crashes_on_junk(body: bytes) -> None:
    with contextlib.suppress(InvalidPayload):
        distribution_targets(body, REPOS)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200)
@given(st.lists(st.dictionaries(st.sampled_from(["action", "target", "request", "x"]), json_values), max_size=4))
def test_envelope_events_of_any_shape_are_skipped_not_fatal(events: list[dict[str, Any]]) -> None:
    body = json.dumps({"events": events}).encode()
    assert distribution_targets(body, REPOS) == []  # no event here has a manifest mediaType


# -- the real registry's notifications --------------------------------------------------------------


@pytest.fixture
def raw_collector(http_recorder: RecordingServer) -> tuple[str, RecordingServer]:
    return http_recorder.url_for("/hook/x"), http_recorder


def _until(deliveries: RecordingServer, wanted: Any) -> list[HookRequest]:
    """Deliveries up to and including the first whose events satisfy `wanted` (registry sends async)."""
    seen = []
    while True:
        request = deliveries.next_request(timeout=30)
        delivery = HookRequest(headers=dict(request.headers), body=request.body, remote=request.client)
        seen.append(delivery)
        if any(wanted(e) for e in json.loads(delivery.body)["events"]):
            return seen


def test_real_registry_notifications(registry_factory: Any, raw_collector: Any, repo_name: str) -> None:
    url, deliveries = raw_collector
    reg = registry_factory(
        notifications=[
            {
                "name": "tagpilot",
                "url": url,
                "headers": {"Authorization": [f"Bearer {TOKEN}"]},
                "timeout": "2s",
                "threshold": 3,
                "backoff": "100ms",
            }
        ]
    )
    mine = image_repo("mine", reg.ref(repo_name))
    by_localhost = image_repo("by-localhost", f"localhost:{reg.port}/{repo_name}")
    other_repo = image_repo("other-repo", reg.ref(repo_name + "-x"))
    other_port = image_repo("other-port", f"127.0.0.1:{reg.port + 1}/{repo_name}")
    objects: list[Object] = [mine, by_localhost, other_repo, other_port]
    receiver = make_receiver("distribution", resources=[])

    # a multi-platform push: blobs, two child manifests by digest, then the index with the tag
    digest = push_image(reg, repo_name, "1.0.0", platforms=["linux/amd64", "linux/arm64"])
    pushed = _until(deliveries, lambda e: e["action"] == "push" and e["target"].get("tag") == "1.0.0")
    reconciled: set[tuple[str, str, str]] = set()
    for delivery in pushed:
        result = verify(receiver, TOKEN, delivery, objects)
        assert result.status == 200, result.message
        reconciled.update(result.reconcile)
        events = json.loads(delivery.body)["events"]
        if not any("tag" in e["target"] for e in events):
            assert result.reconcile == []  # blobs and untagged manifests trigger nothing
    assert reconciled == {mine.key, by_localhost.key}
    last = verify(receiver, TOKEN, pushed[-1], objects)
    assert last.event is not None
    assert {"repository": repo_name, "tag": "1.0.0", "digest": digest} in last.event["pushes"]

    # a pull is not a change; the delivery is accepted and reconciles nothing
    with Pusher(reg) as p:
        p.get_manifest(repo_name, "1.0.0")
    pulled = _until(deliveries, lambda e: e["action"] == "pull")
    assert all(verify(receiver, TOKEN, d, objects).reconcile == [] for d in pulled if b'"push"' not in d.body)

    # without the registry's configured header the same delivery is refused
    unauthenticated = HookRequest(headers={}, body=pushed[-1].body)
    assert verify(receiver, TOKEN, unauthenticated, objects).status == 401


# -- hostile nesting (issue 9) ------------------------------------------------------------------------

DEEP = b"[" * 200_000


@pytest.mark.parametrize("rtype", ["github", "gitlab", "dockerhub", "cdevents", "distribution", "harbor", "quay",
                                   "acr", "nexus"])
def test_deeply_nested_json_is_refused_with_400(rtype: str) -> None:
    headers = {
        "github": {"X-Hub-Signature-256": hub(DEEP), "Content-Type": "application/json", "X-GitHub-Event": "push"},
        "gitlab": {"X-Gitlab-Token": TOKEN, "X-Gitlab-Event": "Push Hook"},
        "harbor": {"Authorization": TOKEN},
        "distribution": {"Authorization": f"Bearer {TOKEN}"},
        "nexus": {"X-Nexus-Webhook-Signature": hmac.new(TOKEN.encode(), DEEP, hashlib.sha1).hexdigest()},
        "cdevents": {"Ce-Type": "dev.cdevents.artifact.published.0.1.0"},
    }.get(rtype, {})
    result = verify(make_receiver(rtype), TOKEN, request(headers, DEEP), OBJECTS)
    assert result.status == 400, result.message
    assert "nested deeper than 64 levels" in result.message
    assert result.reconcile == []
