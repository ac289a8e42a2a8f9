"""Run any `Policy` against a live registry: for `tagpilot policy test` and the reconcilers alike.

The policy modules are pure (tags and metadata in, a `Selection` out); this module is where the
registry I/O for them happens, as Argo CD Image Updater's `test` command does it:

- every strategy lists the repository's tags first;
- `newest-build` needs the image config `created` time of every tag that passes `allow-tags` and
  `ignore-tags`, so those (and only those) are inspected, concurrently but bounded by a semaphore,
  because a repository may have thousands of tags and registries rate-limit. The registry client
  resolves each tag with a HEAD and takes manifests and configs from its content-addressed cache
  (the Store, on disk), so a second run fetches no manifest or config blob again;
- `digest` needs the current digest of the one tag it follows (a HEAD, never cached: the point of
  the strategy is to notice when the tag moves).

A tag whose metadata cannot be read (a broken manifest, a missing blob) does not fail the run: it
cannot take part, and the explanation says why, as Argo skips such tags with a log line.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Protocol

from tagpilot.errors import InvalidPolicy, RegistryError
from tagpilot.policy import MetadataRequest, Policy, Selection, SelectionFailed, TagMetadata, TagVerdict
from tagpilot.policy.types import NO_METADATA, WRONG_PLATFORM
from tagpilot.registry.client import RepositoryAccess
from tagpilot.registry.manifest import ImageMetadata, Platform

__all__ = ["LiveRegistry", "evaluate_live", "fetch_metadata", "select_with_registry"]


class LiveRegistry(Protocol):
    """The part of `RegistryClient` this module uses (a protocol, so tests can count calls)."""

    async def list_tags(self, access: RepositoryAccess) -> list[str]: ...

    async def head_digest(self, access: RepositoryAccess, tag: str) -> str: ...

    async def image_metadata(
        self, access: RepositoryAccess, tag: str, platforms: list[str] | None = None
    ) -> ImageMetadata: ...


async def fetch_metadata(client: LiveRegistry, access: RepositoryAccess, request: MetadataRequest,
                         concurrency: int = 8) -> tuple[dict[str, TagMetadata], dict[str, TagVerdict]]:
    """What `request` asks for, fetched concurrently (bounded), and a verdict per tag that cannot take part."""
    if request.what == "digest":
        return {tag: TagMetadata(None, [], digest=await client.head_digest(access, tag)) for tag in request.tags}, {}
    return await _fetch_metadata(client, access, request.tags, list(request.platforms), concurrency)


async def select_with_registry(client: LiveRegistry, access: RepositoryAccess, policy: Policy, tags: Sequence[str],
                               *, explain: bool = False, metadata_concurrency: int = 8) -> Selection:
    """`policy.select(tags)`, after fetching the metadata the policy asks for (nothing for Flux policies)."""
    request = policy.metadata_request(tags) if policy.needs_metadata else None
    if request is None:
        return policy.select(tags, explain=explain)
    if request.what == "image":
        _parse_platforms(request.platforms)  # a malformed platform is the policy's fault, found before any fetch
    metadata, notes = await fetch_metadata(client, access, request, metadata_concurrency)
    try:
        selection = policy.select(tags, metadata=metadata, explain=explain)
    except SelectionFailed as failed:
        failed.verdicts = _annotate(failed.verdicts, notes)
        raise
    return dataclasses.replace(selection, verdicts=_annotate(selection.verdicts, notes))


async def evaluate_live(client: LiveRegistry, access: RepositoryAccess, policy: Policy | None, *, explain: bool,
                        metadata_concurrency: int = 8) -> Selection:
    """List the repository's tags and select one with `policy`, as Argo CD Image Updater's `test` does.

    Raises `SelectionFailed` (with verdicts when `explain`) when no tag qualifies, `InvalidPolicy` for
    a policy that can never work, and the registry client's errors when the tags cannot be listed.
    """
    if policy is None:
        raise ValueError("evaluate_live needs a policy")
    tags = await client.list_tags(access)
    return await select_with_registry(client, access, policy, tags, explain=explain,
                                      metadata_concurrency=metadata_concurrency)


async def _fetch_metadata(
    client: LiveRegistry,
    access: RepositoryAccess,
    tags: Sequence[str],
    platforms: list[str],
    concurrency: int,
) -> tuple[dict[str, TagMetadata], dict[str, TagVerdict]]:
    """Metadata per tag, and a verdict for each tag that cannot take part (fetch failed, no platform)."""
    semaphore = asyncio.Semaphore(max(1, concurrency))
    wanted = platforms or None
    wanted_platforms = _parse_platforms(platforms)

    async def one(tag: str) -> ImageMetadata | RegistryError:
        async with semaphore:
            try:
                return await client.image_metadata(access, tag, wanted)
            except RegistryError as exc:  # one unreadable tag must not hide the others
                return exc

    results = await asyncio.gather(*(one(t) for t in tags))
    metadata: dict[str, TagMetadata] = {}
    notes: dict[str, TagVerdict] = {}
    for tag, result in zip(tags, results, strict=True):
        if isinstance(result, RegistryError):
            notes[tag] = TagVerdict(tag, NO_METADATA, f"no metadata for '{tag}': {result}")
            continue
        if result.created is None:
            if wanted_platforms and result.platforms and not _offers(result.platforms, wanted_platforms):
                notes[tag] = TagVerdict(
                    tag,
                    WRONG_PLATFORM,
                    f"'{tag}' offers {', '.join(result.platforms)}, not {', '.join(platforms)}",
                )
            else:
                notes[tag] = TagVerdict(tag, NO_METADATA, f"the image config of '{tag}' has no creation time")
            continue
        # The client already kept only the wanted platforms and took the newest `created` among them;
        # passing no platforms keeps the pure selection from judging them a second time by other rules.
        metadata[tag] = TagMetadata(result.created, [])
    return metadata, notes


def _parse_platforms(platforms: Sequence[str]) -> list[Platform]:
    try:
        return [Platform.parse(p) for p in platforms]
    except ValueError as exc:
        raise InvalidPolicy(f"platforms: {exc}") from None


def _offers(available: Sequence[str], wanted: Sequence[Platform]) -> bool:
    """Does any available platform satisfy a wanted one, by the registry client's own matching rule?"""
    for text in available:
        try:
            platform = Platform.parse(text)
        except ValueError:
            continue
        if any(platform.matches(w) for w in wanted):
            return True
    return False


def _annotate(verdicts: list[TagVerdict] | None, notes: Mapping[str, TagVerdict]) -> list[TagVerdict] | None:
    """Replace the selection's generic "no metadata" verdicts by what we learnt while fetching."""
    if verdicts is None or not notes:
        return verdicts
    return [notes[v.tag] if v.tag in notes and v.outcome == NO_METADATA else v for v in verdicts]
