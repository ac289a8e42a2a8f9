"""`registry/copy.py` and `tagpilot copy` against TWO real distribution registries (docker-registry 2.8).

The session's anonymous `registry` and token-auth `registry_token` come from conftest; a second
anonymous registry (`other`) is started once for this module. Request counts come from the client's
own counters (`requests_by_method`); what arrived is read back from the target registry with the
test `Pusher`, which shares no code with the copy.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagpilot.registry.client import RegistryClient, RepositoryAccess
from tagpilot.registry.copy import CopyError, ImageCopier, signature_tag
from tagpilot.registry.credentials import Credentials, DockerConfig, parse_docker_config
from tagpilot.registry.reference import parse_reference
from tests.fixtures.pusher import Blob, Pusher, build_image, push_image, sha256_digest
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot

pytestmark = pytest.mark.integration

NO_CONFIG = DockerConfig()
PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7"]


@pytest.fixture(scope="module")
def other(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """A second anonymous registry: the target of cross-registry copies."""
    server = RegistryServer(workdir=tmp_path_factory.mktemp("other-registry"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def acc(server: RegistryServer, ref: str, creds: Credentials | None = None) -> RepositoryAccess:
    return RepositoryAccess(parse_reference(f"{server.host}/{ref}"), credentials=creds)


def tags_of(server: RegistryServer, repo: str) -> list[str]:
    with Pusher(server) as p:
        resp = p.request("GET", f"/v2/{repo}/tags/list", f"repository:{repo}:pull")
        return [] if resp.status_code == 404 else (resp.json().get("tags") or [])


def manifest_digest(server: RegistryServer, repo: str, ref: str) -> str:
    with Pusher(server) as p:
        return p.get_manifest(repo, ref)[2]


def blob_path(server: RegistryServer, digest: str) -> Path:
    hexd = digest.split(":", 1)[1]
    return server.root / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexd[:2] / hexd / "data"


async def copy(client: RegistryClient, src: RepositoryAccess, dst: RepositoryAccess, **kw: object):
    return await ImageCopier(client, src, dst, **kw).run()  # type: ignore[arg-type]


async def test_same_registry_mounts_every_blob_and_keeps_the_digest(registry, repo_name: str) -> None:
    digest = push_image(registry, f"{repo_name}-dev", "1.0.0", platforms=PLATFORMS)
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        before = client.requests_by_method.copy()
        report = await copy(client, acc(registry, f"{repo_name}-dev:1.0.0"), acc(registry, f"{repo_name}-test"))
        sent = client.requests_by_method - before
    assert report.digest == digest and report.same_registry
    assert manifest_digest(registry, f"{repo_name}-test", "1.0.0") == digest
    # 3 configs + 1 shared layer, all mounted: no blob upload (PUTs are the 4 manifests only)
    assert (report.blobs_mounted, report.blobs_uploaded, report.bytes_uploaded) == (4, 0, 0)
    assert sent["PUT"] == 4 and sent["POST"] == 4 and sent["PATCH"] == 0


async def test_same_registry_mount_with_token_auth(registry_token, token_server, repo_name: str) -> None:
    with Pusher(registry_token) as p:
        digest = p.push(f"{repo_name}-dev", build_image(), ["v1"])
    creds = Credentials(registry_token.username, registry_token.password)
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        report = await copy(client, acc(registry_token, f"{repo_name}-dev:v1", creds),
                            acc(registry_token, f"{repo_name}-test:v1", creds))
    assert report.digest == digest and report.blobs_mounted == 2 and report.blobs_uploaded == 0
    # the mount's token named both repositories: push on the target, pull on the source
    granted = [g for r in token_server.log for g in r.granted]
    assert {"type": "repository", "name": f"{repo_name}-test", "actions": ["pull", "push"]} in granted
    assert {"type": "repository", "name": f"{repo_name}-dev", "actions": ["pull"]} in granted
    with Pusher(registry_token) as p:
        assert p.get_manifest(f"{repo_name}-test", "v1")[2] == digest


async def test_cross_registry_index_with_all_children_then_nothing_resent(registry, other, repo_name: str) -> None:
    image = build_image(platforms=PLATFORMS, layer=os.urandom(300_000))
    with Pusher(registry) as p:
        digest = p.push(repo_name, image, ["2.0.0"])
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        report = await copy(client, acc(registry, f"{repo_name}:2.0.0"), acc(other, f"{repo_name}:2.0.0"))
        assert not report.same_registry
        assert report.digest == digest and len(report.manifests) == 4
        assert report.blobs_uploaded == 4 and report.bytes_uploaded == sum(
            len(b.data) for c in image.children for b in c.blobs if b.media_type.endswith("json")
        ) + 300_000
        with Pusher(other) as p:
            for child in image.children:
                assert p.get_manifest(repo_name, child.digest)[2] == child.digest
                for blob in child.blobs:
                    assert p.blob_exists(repo_name, blob.digest)
        assert manifest_digest(other, repo_name, "2.0.0") == digest
        again = await copy(client, acc(registry, f"{repo_name}:2.0.0"), acc(other, f"{repo_name}:2.0.0"))
    assert (again.blobs_present, again.blobs_uploaded, again.bytes_uploaded) == (4, 0, 0)


async def test_cross_registry_to_token_auth_with_docker_config_credentials(
    registry, registry_token, repo_name: str
) -> None:
    digest = push_image(registry, repo_name, "3.0.0")
    auth = base64.b64encode(f"{registry_token.username}:{registry_token.password}".encode()).decode()
    config = parse_docker_config(json.dumps({"auths": {registry_token.host: {"auth": auth}}}), source="test")
    async with RegistryClient(docker_config=config) as client:
        report = await copy(client, acc(registry, f"{repo_name}:3.0.0"), acc(registry_token, f"{repo_name}:prod"))
    assert report.digest == digest
    with Pusher(registry_token) as p:
        assert p.get_manifest(repo_name, "prod")[2] == digest


async def test_wrong_credentials_fail_clearly_and_tag_nothing(registry, registry_token, repo_name: str) -> None:
    push_image(registry, repo_name, "3.1.0")
    bad = Credentials(registry_token.username, "not-the-password-77")
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        with pytest.raises(CopyError) as info:
            await copy(client, acc(registry, f"{repo_name}:3.1.0"), acc(registry_token, repo_name, bad))
    message = str(info.value)
    assert "authentication" in message and registry_token.host in message and "nothing was tagged" in message
    assert "not-the-password-77" not in message
    assert tags_of(registry_token, repo_name) == []


async def test_platform_copies_one_image_with_its_own_digest(registry, other, repo_name: str) -> None:
    image = build_image(platforms=PLATFORMS)
    with Pusher(registry) as p:
        p.push(repo_name, image, ["4.0.0"])
    arm64 = image.children[1]
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        report = await copy(client, acc(registry, f"{repo_name}:4.0.0"), acc(other, f"{repo_name}:4.0.0-arm64"),
                            platform="linux/arm64")
        with pytest.raises(CopyError, match=r"no linux/s390x image \(it has: linux/amd64, linux/arm/v7, linux/arm64\)"):
            await copy(client, acc(registry, f"{repo_name}:4.0.0"), acc(other, repo_name), platform="linux/s390x")
    assert report.digest == arm64.digest and report.notes and image.digest in report.notes[0]
    assert manifest_digest(other, repo_name, "4.0.0-arm64") == arm64.digest


@pytest.mark.parametrize("damage", ["missing", "truncated", "longer"])
async def test_a_blob_failing_half_way_leaves_the_target_tag_absent(
    registry, other, repo_name: str, damage: str
) -> None:
    layer = os.urandom(2_000_000)
    image = build_image(platforms=PLATFORMS, layer=layer)
    with Pusher(registry) as p:
        p.push(repo_name, image, ["5.0.0"])
    layer_file = blob_path(registry, sha256_digest(layer))
    config_file = blob_path(registry, image.children[2].blobs[0].digest)
    saved = {path: path.read_bytes() for path in (layer_file, config_file)}
    try:
        if damage == "missing":
            config_file.unlink()  # one config 404s while the others arrive
        elif damage == "truncated":
            layer_file.write_bytes(layer[: len(layer) // 2])  # the source stops half-way
        else:
            layer_file.write_bytes(layer + b"x" * 100_000)  # more than the descriptor's size
        async with RegistryClient(docker_config=NO_CONFIG) as client:
            with pytest.raises(CopyError) as info:
                await copy(client, acc(registry, f"{repo_name}:5.0.0"), acc(other, f"{repo_name}:5.0.0"))
    finally:
        for path, data in saved.items():
            path.write_bytes(data)
    assert "nothing was tagged" in str(info.value)
    assert "5.0.0" not in tags_of(other, repo_name)
    with Pusher(other) as p:  # nor is the index there by digest
        resp = p.request("HEAD", f"/v2/{repo_name}/manifests/{image.digest}", f"repository:{repo_name}:pull")
        assert resp.status_code == 404


async def test_signatures_copied_only_when_asked(registry, other, repo_name: str) -> None:
    digest = push_image(registry, repo_name, "6.0.0")
    payload = Blob("application/vnd.dev.cosign.simplesigning.v1+json", b'{"critical":{"image":{}}}')
    config = Blob("application/vnd.oci.image.config.v1+json", b"{}")
    sig = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config.descriptor(),
        "layers": [{**payload.descriptor(), "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ"}}],
    }, separators=(",", ":")).encode()
    tag = signature_tag(digest, "sig")
    with Pusher(registry) as p:
        p.upload_blob(repo_name, payload.data)
        p.upload_blob(repo_name, config.data)
        p.put_manifest(repo_name, tag, sig, "application/vnd.oci.image.manifest.v1+json")
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        plain = await copy(client, acc(registry, f"{repo_name}:6.0.0"), acc(other, f"{repo_name}-plain"))
        signed = await copy(client, acc(registry, f"{repo_name}:6.0.0"), acc(other, repo_name), signatures=True)
    assert plain.signatures == [] and tag not in tags_of(other, f"{repo_name}-plain")
    assert signed.signatures == [tag]
    assert sorted(tags_of(other, repo_name)) == sorted(["6.0.0", tag])
    assert manifest_digest(other, repo_name, tag) == sha256_digest(sig)


async def test_dry_run_writes_nothing(registry, other, repo_name: str) -> None:
    push_image(registry, repo_name, "7.0.0", platforms=PLATFORMS)
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        before = client.requests_by_method.copy()
        report = await copy(client, acc(registry, f"{repo_name}:7.0.0"), acc(other, repo_name), dry_run=True)
        sent = client.requests_by_method - before
    assert report.dry_run and report.blobs_uploaded == 4
    assert set(sent) <= {"GET", "HEAD"}
    assert tags_of(other, repo_name) == []


def test_cli_copy_prints_the_digest_and_fails_with_exit_1(registry, other, repo_name: str, tmp_path: Path) -> None:
    digest = push_image(registry, repo_name, "8.0.0", platforms=PLATFORMS)
    env = {"DOCKER_CONFIG": str(tmp_path)}
    ok = run_tagpilot("copy", registry.ref(repo_name, "8.0.0"), other.ref(repo_name), "--insecure", env=env)
    assert ok.code == 0, ok.stderr
    assert ok.stdout.strip() == digest and "4 manifest(s)" in ok.stderr
    assert manifest_digest(other, repo_name, "8.0.0") == digest
    as_json = run_tagpilot("copy", registry.ref(repo_name, "8.0.0"), other.ref(repo_name, "x"), "--dry-run",
                           "-o", "json", env=env)
    assert as_json.code == 0 and as_json.json()["dryRun"] is True and as_json.json()["blobs"]["present"] == 4
    missing = run_tagpilot("copy", registry.ref(repo_name, "nope"), other.ref(repo_name), env=env)
    assert missing.code == 1 and "source image does not exist" in missing.stderr and "Traceback" not in missing.stderr
    both = run_tagpilot("copy", registry.ref(repo_name, "8.0.0"), other.ref(repo_name), "--all-platforms",
                        "--platform", "linux/amd64", env=env)
    assert both.code == 2 and "exclude each other" in both.stderr
