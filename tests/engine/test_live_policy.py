"""`engine.live_policy.test_policy` against the REAL registry, plus a counting fake for concurrency.

The real registry (docker-registry) shows what matters: the tags it lists, the `created` times in
image configs, indexes whose platform images differ, a tag that moves, a blob that is gone. The fake
is only for the one thing no real server shows deterministically: how many metadata fetches are in
flight at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

import pytest

from tagpilot.engine import live_policy
from tagpilot.errors import InvalidPolicy, NotFoundError
from tagpilot.policy import ArgoPolicy, FluxPolicy, SelectionFailed, allowed_tags
from tagpilot.policy.types import IGNORED, LOWER, NO_METADATA, NOT_ALLOWED, SELECTED, WRONG_PLATFORM
from tagpilot.registry.client import RegistryClient, RepositoryAccess
from tagpilot.registry.credentials import DockerConfig
from tagpilot.registry.manifest import ImageMetadata
from tagpilot.registry.reference import parse_repository
from tagpilot.store import Store
from tests.fixtures.pusher import OCI_INDEX, Image, Pusher, build_image, push_image, push_tags

NO_CONFIG = DockerConfig()


def day(n: int) -> dt.datetime:
    return dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=n)


def push_index(registry, repository: str, tag: str, created: dict[str, dt.datetime]) -> str:
    """Push an OCI index whose platform images have their own `created` times; returns its digest."""
    children = tuple(build_image(created=when, platforms=[plat]) for plat, when in created.items())
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": child.media_type,
                "digest": child.digest,
                "size": len(child.manifest),
                "platform": dict(zip(("os", "architecture", "variant"), plat.split("/"), strict=False)),
            }
            for child, plat in zip(children, created, strict=True)
        ],
    }
    image = Image(json.dumps(index, sort_keys=True).encode(), OCI_INDEX, children=children)
    with Pusher(registry) as p:
        return p.push(repository, image, [tag])


def config_blob_paths(registry, repository: str, tag: str) -> list[Path]:
    """The registry's on-disk data files of the config blobs (and child manifests) behind a tag."""
    v2 = registry.root / "docker" / "registry" / "v2"

    def data(digest: str) -> Path:
        hexd = digest.split(":", 1)[1]
        return v2 / "blobs" / "sha256" / hexd[:2] / hexd / "data"

    with Pusher(registry) as p:
        body, _media_type, _digest = p.get_manifest(repository, tag)
    manifest = json.loads(body)
    if "manifests" not in manifest:
        return [data(manifest["config"]["digest"])]
    paths = []
    for child in manifest["manifests"]:
        paths.append(data(child["digest"]))
        child_manifest = json.loads(data(child["digest"]).read_bytes())
        paths.append(data(child_manifest["config"]["digest"]))
    return paths


def access(registry, repository: str) -> RepositoryAccess:
    return RepositoryAccess(parse_repository(f"{registry.host}/{repository}"))


def outcomes(verdicts) -> dict[str, str]:
    return {v.tag: v.outcome for v in verdicts}


async def test_newest_build_picks_newest_created_ties_on_name(registry, repo_name: str) -> None:
    push_image(registry, repo_name, "a", created=day(1))
    push_image(registry, repo_name, "d", created=day(2))
    push_tags(registry, repo_name, ["b", "c"], created=day(3))  # same build: the greater name wins
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        sel = await live_policy.evaluate_live(
            client, access(registry, repo_name), ArgoPolicy(strategy="newest-build"), explain=True
        )
        assert (sel.tag, sel.value) == ("c", "c")
        assert outcomes(sel.verdicts) == {"a": LOWER, "b": LOWER, "c": SELECTED, "d": LOWER}
        assert "same time" in next(v.detail for v in sel.verdicts if v.tag == "b")
        # the old name `latest`, and ignore-tags taking the winner out
        sel = await live_policy.evaluate_live(
            client, access(registry, repo_name), ArgoPolicy(strategy="latest", ignore_tags=["c"]), explain=True
        )
        assert sel.tag == "b"
        assert outcomes(sel.verdicts)["c"] == IGNORED


async def test_platforms_choose_within_an_index(registry, repo_name: str) -> None:
    push_index(registry, repo_name, "multi", {"linux/amd64": day(1), "linux/arm64": day(9)})
    push_image(registry, repo_name, "amd", created=day(5), platforms=["linux/amd64"])
    acc = access(registry, repo_name)
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        amd = await live_policy.evaluate_live(
            client, acc, ArgoPolicy(strategy="newest-build", platforms=["linux/amd64"]), explain=True
        )
        arm = await live_policy.evaluate_live(
            client, acc, ArgoPolicy(strategy="newest-build", platforms=["linux/arm64"]), explain=True
        )
        every = await live_policy.evaluate_live(client, acc, ArgoPolicy(strategy="newest-build"), explain=False)
    assert amd.tag == "amd"  # the index's amd64 image is older
    assert arm.tag == "multi"
    assert outcomes(arm.verdicts)["amd"] == WRONG_PLATFORM
    assert "linux/amd64" in next(v.detail for v in arm.verdicts if v.tag == "amd")
    assert every.tag == "multi" and every.verdicts is None  # no platform wanted: the newest of all


async def test_second_run_reads_manifests_and_configs_from_the_store(registry, repo_name: str, tmp_path) -> None:
    push_image(registry, repo_name, "one", created=day(1))
    push_image(registry, repo_name, "two", created=day(2))
    push_index(registry, repo_name, "three", {"linux/amd64": day(3), "linux/arm64": day(4)})
    push_image(registry, repo_name, "skipped", created=day(8))
    policy = ArgoPolicy(strategy="newest-build", ignore_tags=["skip*"], platforms=["linux/amd64", "linux/arm64"])
    with Store.open(tmp_path / "state") as store:
        async with RegistryClient(cache=store, docker_config=NO_CONFIG) as client:
            first = await live_policy.evaluate_live(client, access(registry, repo_name), policy, explain=True)
            first_requests = client.request_count
        blobs = store.blob_count()
        async with RegistryClient(cache=store, docker_config=NO_CONFIG) as client:
            second = await live_policy.evaluate_live(client, access(registry, repo_name), policy, explain=True)
            # one tag list and one HEAD per allowed tag; nothing behind a digest is fetched again
            assert client.request_count == 1 + 3
        assert store.blob_count() == blobs
    assert first == second and first.tag == "three"
    # the first run did fetch: tag list, 3 HEADs, 5 manifests by digest (3 tagged, 2 index children),
    # 4 configs (one, two, and the index's amd64 and arm64 images), and stored each manifest and config
    assert first_requests == 1 + 3 + 5 + 4
    assert blobs == 5 + 4


async def test_a_tag_without_readable_metadata_loses_and_says_why(registry, repo_name: str) -> None:
    push_image(registry, repo_name, "good", created=day(1))
    push_image(registry, repo_name, "broken", created=day(9), labels={"broken": "yes"})
    for path in config_blob_paths(registry, repo_name, "broken"):
        path.unlink()
    async with RegistryClient(docker_config=NO_CONFIG, retries=0) as client:
        sel = await live_policy.evaluate_live(
            client, access(registry, repo_name), ArgoPolicy(strategy="newest-build"), explain=True
        )
    assert sel.tag == "good"
    broken = next(v for v in sel.verdicts if v.tag == "broken")
    assert broken.outcome == NO_METADATA
    assert broken.detail.startswith("no metadata for 'broken': ")
    assert "image config" in broken.detail


async def test_no_metadata_anywhere_fails_with_the_reasons(registry, repo_name: str) -> None:
    push_image(registry, repo_name, "only", created=day(1), platforms=["linux/amd64"])
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        with pytest.raises(SelectionFailed) as info:
            await live_policy.evaluate_live(
                client,
                access(registry, repo_name),
                ArgoPolicy(strategy="newest-build", platforms=["linux/s390x"]),
                explain=True,
            )
    assert outcomes(info.value.verdicts) == {"only": WRONG_PLATFORM}


async def test_digest_follows_the_tag(registry, repo_name: str) -> None:
    first = push_image(registry, repo_name, "stable", created=day(1))
    push_image(registry, repo_name, "other", created=day(2))
    policy = ArgoPolicy(strategy="digest", constraint="stable")
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        sel = await live_policy.evaluate_live(client, access(registry, repo_name), policy, explain=True)
        assert (sel.tag, sel.value) == ("stable", f"stable@{first}")
        moved = push_image(registry, repo_name, "stable", created=day(3))
        assert moved != first
        sel = await live_policy.evaluate_live(client, access(registry, repo_name), policy, explain=False)
        assert sel.value == f"stable@{moved}"
        # a followed tag that allow-tags rejects is never looked up
        with pytest.raises(SelectionFailed):
            await live_policy.evaluate_live(
                client,
                access(registry, repo_name),
                ArgoPolicy(strategy="digest", constraint="stable", allow_tags="regexp:^other$"),
                explain=True,
            )


async def test_flux_and_argo_semver_over_the_live_tags(registry, repo_name: str) -> None:
    push_tags(registry, repo_name, ["0.1", "0.5.1", "0.9", "1.0", "1.0.1", "1.1.2", "2.0.3", "v1.4.0"])
    acc = access(registry, repo_name)
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        argo = {
            c: (await live_policy.evaluate_live(client, acc, ArgoPolicy(constraint=c), explain=False)).tag
            for c in ("", "^1.0", "~1.0")
        }
        flux = await live_policy.evaluate_live(client, acc, FluxPolicy.semver(">=1.0.0 <2.0.0"), explain=True)
        with pytest.raises(InvalidPolicy):
            await live_policy.evaluate_live(client, acc, ArgoPolicy(constraint="latest"), explain=False)
    assert argo == {"": "2.0.3", "^1.0": "v1.4.0", "~1.0": "1.0.1"}
    assert flux.tag == "v1.4.0"


async def test_unknown_repository_raises(registry) -> None:
    async with RegistryClient(docker_config=NO_CONFIG) as client:
        with pytest.raises(NotFoundError):
            await live_policy.evaluate_live(
                client, access(registry, "t/nothing-here"), ArgoPolicy(), explain=False
            )


async def test_a_policy_is_required() -> None:
    with pytest.raises(ValueError):
        await live_policy.evaluate_live(object(), None, None, explain=False)  # type: ignore[arg-type]


class CountingRegistry:
    """A stand-in registry that records which tags were inspected and how many at once."""

    def __init__(self, tags: list[str]) -> None:
        self.tags = tags
        self.active = 0
        self.peak = 0
        self.fetched: list[str] = []

    async def list_tags(self, access: object) -> list[str]:
        return list(self.tags)

    async def head_digest(self, access: object, tag: str) -> str:
        raise AssertionError("newest-build never asks for a digest")

    async def image_metadata(self, access: object, tag: str, platforms: list[str] | None = None) -> ImageMetadata:
        self.active += 1
        self.peak = max(self.peak, self.active)
        self.fetched.append(tag)
        for _ in range(3):  # stay in flight while the others start
            await asyncio.sleep(0)
        self.active -= 1
        n = int(tag.split("-")[1])
        return ImageMetadata(f"sha256:{n:064x}", "m", day(n % 7), ["linux/amd64"], {})


@pytest.mark.parametrize("limit", [1, 3, 8])
async def test_metadata_fetches_are_concurrent_but_bounded(limit: int) -> None:
    tags = [f"build-{i}" for i in range(20)] + [f"pr-{i}" for i in range(5)]
    fake = CountingRegistry(tags)
    policy = ArgoPolicy(strategy="newest-build", allow_tags="regexp:^build-", ignore_tags=["build-1?"])
    sel = await live_policy.evaluate_live(fake, None, policy, explain=True, metadata_concurrency=limit)  # type: ignore[arg-type]
    allowed = [t for t in tags if t.startswith("build-") and not (len(t) == 8 and t.startswith("build-1"))]
    assert sorted(fake.fetched) == sorted(allowed)  # only the tags that pass the filters
    assert fake.peak == limit
    # day(n % 7) is newest for n % 7 == 6 → build-6 (build-13 is ignored by build-1?)
    assert sel.tag == "build-6"
    assert outcomes(sel.verdicts)["pr-0"] == NOT_ALLOWED
    assert outcomes(sel.verdicts)["build-13"] == IGNORED


def test_filtered_tags_matches_the_pure_filters() -> None:
    tags = ["a1", "a2", "b1", "a1", "a3"]
    assert allowed_tags(tags, ArgoPolicy(allow_tags="regexp:^a", ignore_tags=["a2"])) == ["a1", "a3"]
    assert allowed_tags(tags, ArgoPolicy(ignore_tags=["*"])) == []
    assert allowed_tags(tags, ArgoPolicy(allow_tags="bogus")) == []
