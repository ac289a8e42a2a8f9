"""OCI referrers and the `sha256-<hex>` fallback tag, against the REAL registry (distribution 2.8, delete
enabled), and the referrers API itself against a stand-in (no installable registry here serves
`/v2/<name>/referrers/<digest>`: distribution still lacks it, shared/reference/retention.md §4).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tagpilot.registry.client import RegistryClient, RepositoryAccess
from tagpilot.registry.credentials import DockerConfig
from tagpilot.registry.reference import parse_repository
from tests.fixtures.git import GitRemote
from tests.fixtures.http import RecordingServer, Reply
from tests.fixtures.pusher import Pusher, list_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_retention_cli import config, push, seen_days_ago

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY = b"{}"


def push_referrer(p: Pusher, repo: str, subject: str, payload: bytes) -> str:
    """An OCI 1.1 artifact (cosign's new-bundle style) whose `subject` is `subject`, pushed untagged."""
    config_digest = p.upload_blob(repo, EMPTY)
    layer_digest = p.upload_blob(repo, payload)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.dev.sigstore.bundle+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config_digest, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer_digest, "size": len(payload)}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1},
    }).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    return p.put_manifest(repo, digest, manifest, OCI_MANIFEST)


def push_fallback_index(p: Pusher, repo: str, subject: str, referrers: list[str]) -> str:
    """The OCI 1.1 referrers tag schema: an index tagged `sha256-<hex>` listing the referrers."""
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": 1, "artifactType": "application/vnd.dev.sigstore.bundle+json"}
        for d in referrers]}).encode()
    return p.put_manifest(repo, f"sha256-{subject[7:]}", index, OCI_INDEX)


def manifest_exists(registry: RegistryServer, repo: str, digest: str) -> bool:
    with Pusher(registry) as p:
        return p.request("HEAD", f"/v2/{repo}/manifests/{digest}", f"repository:{repo}:pull",
                         headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}).status_code == 200


@pytest.mark.integration
def test_fallback_tag_referrers_follow_their_subject(registry_factory, repo_name: str, git_remote_file: GitRemote,
                                                     tmp_path: Path) -> None:
    server = registry_factory()
    image = f"{server.host}/{repo_name}"
    with Pusher(server) as p:
        kept = push(p, repo_name, ["fresh"], 1)
        doomed = push(p, repo_name, ["stale"], 2)
        kept_sig = push_referrer(p, repo_name, kept, b"bundle for kept")
        doomed_sig = push_referrer(p, repo_name, doomed, b"bundle for doomed")
        kept_index = push_fallback_index(p, repo_name, kept, [kept_sig])
        doomed_index = push_fallback_index(p, repo_name, doomed, [doomed_sig])
    git_remote_file.commit({"deploy/values.yaml": "app: {replicas: 1}\n"}, message="nothing deployed")
    state = tmp_path / "state"
    seen_days_ago(state, image, {"fresh": 1, "stale": 90, f"sha256-{kept[7:]}": 1, f"sha256-{doomed[7:]}": 90})
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config(image, git_remote_file.url))

    plan = run_tagpilot("retention", "plan", "-f", cfg, "--state", state, "-o", "json")
    assert plan.code == 0, plan.stderr
    items = {i["digest"]: i for i in plan.json()}
    assert items[kept_index]["reasons"] == [f"signature of retained {kept}"]
    assert items[kept_sig]["tags"] == [] and items[kept_sig]["action"] == "retain"
    assert f"referrer of retained {kept}" in items[kept_sig]["reasons"]
    assert items[doomed]["action"] == "delete"
    assert items[doomed_index]["reasons"] == [f"signature of deleted {doomed}"]
    assert items[doomed_sig]["reasons"] == [f"referrer of deleted {doomed}"]

    applied = run_tagpilot("retention", "apply", "-f", cfg, "--state", state, "-o", "json")
    assert applied.code == 0, applied.stderr
    deleted = {i["digest"] for i in applied.json() if i["deleted"]}
    assert deleted == {doomed, doomed_index, doomed_sig}
    assert sorted(list_tags(server, repo_name)) == sorted(["fresh", f"sha256-{kept[7:]}"])
    assert not manifest_exists(server, repo_name, doomed_sig)  # the untagged signature went with its image
    assert manifest_exists(server, repo_name, kept_sig)


async def test_referrers_api_where_the_registry_has_it_and_none_where_it_does_not(registry) -> None:
    subject = "sha256:" + "ab" * 32
    sig = "sha256:" + "cd" * 32
    with RecordingServer() as stand_in:
        stand_in.route(f"/v2/team/app/referrers/{subject}", Reply(200, {
            "schemaVersion": 2, "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": sig, "size": 10,
                           "artifactType": "application/vnd.dev.cosign.simplesigning.v1+json"}]},
            headers={"Content-Type": OCI_INDEX}))
        host = stand_in.url.removeprefix("http://").rstrip("/")
        async with RegistryClient(docker_config=DockerConfig()) as client:
            access = RepositoryAccess(reference=parse_repository(f"{host}/team/app"), insecure=True)
            found = await client.referrers(access, subject)
            assert [d.digest for d in found or []] == [sig]
            assert await client.referrers(access, "sha256:" + "ef" * 32) is None  # the stand-in's 404
            # the real distribution registry has no referrers API: None, so the tag fallback is used
            real = RepositoryAccess(reference=parse_repository(f"{registry.host}/team/none"), insecure=True)
            assert await client.referrers(real, subject) is None
