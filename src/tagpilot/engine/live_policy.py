"""Run one policy against a live registry: the engine half of `tagpilot policy test`.

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
from tagpilot.policy import (
    ArgoPolicy,
    FluxPolicy,
    Selection,
    SelectionFailed,
    TagMetadata,
    TagVerdict,
    argo_strategy,
    select_argo,
    select_flux,
)
from tagpilot.policy.types import IGNORED, NO_METADATA, NOT_ALLOWED, WRONG_PLATFORM
from tagpilot.registry.client import RepositoryAccess
from tagpilot.registry.manifest import ImageMetadata, Platform

__all__ = ["LiveRegistry", "filtered_tags", "test_policy"]


class LiveRegistry(Protocol):
    """The part of `RegistryClient` this module uses (a protocol, so tests can count calls)."""

    async def list_tags(self, access: RepositoryAccess) -> list[str]: ...

    async def head_digest(self, access: RepositoryAccess, tag: str) -> str: ...

    async def image_metadata(
        self, access: RepositoryAccess, tag: str, platforms: list[str] | None = None
    ) -> ImageMetadata: ...


def filtered_tags(tags: Sequence[str], policy: ArgoPolicy) -> list[str]:
    """The tags that pass `allow-tags` and `ignore-tags`, in input order, without duplicates.

    Asks the pure Argo selection itself (alphabetical strategy, explained) instead of repeating its
    filter rules here, so the tags we fetch metadata for are exactly those the strategy will weigh.
    """
    probe = dataclasses.replace(policy, strategy="alphabetical")
    try:
        verdicts = select_argo(tags, probe, explain=True).verdicts
    except SelectionFailed as failed:
        verdicts = failed.verdicts
    return [v.tag for v in verdicts or [] if v.outcome not in (NOT_ALLOWED, IGNORED)]


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


async def test_policy(
    client: LiveRegistry,
    access: RepositoryAccess,
    *,
    flux: FluxPolicy | None = None,
    argo: ArgoPolicy | None = None,
    explain: bool,
    metadata_concurrency: int = 8,
) -> Selection:
    """Select a tag of `access`'s repository with exactly one of `flux` or `argo`, from the live registry.

    Raises `SelectionFailed` (with verdicts when `explain`) when no tag qualifies, `InvalidPolicy` for
    a policy that can never work, and the registry client's errors when the tags cannot be listed.
    """
    if (flux is None) == (argo is None):
        raise ValueError("test_policy needs exactly one of flux= or argo=")
    tags = await client.list_tags(access)
    if flux is not None:
        return select_flux(tags, flux, explain=explain)
    assert argo is not None
    strategy, _warning = argo_strategy(argo.strategy)
    if strategy == "newest-build":
        _parse_platforms(argo.platforms)  # a malformed platform is the policy's fault, found before any fetch
        candidates = filtered_tags(tags, argo)
        metadata, notes = await _fetch_metadata(client, access, candidates, argo.platforms, metadata_concurrency)
        try:
            selection = select_argo(tags, argo, metadata=metadata, explain=explain)
        except SelectionFailed as failed:
            failed.verdicts = _annotate(failed.verdicts, notes)
            raise
        return dataclasses.replace(selection, verdicts=_annotate(selection.verdicts, notes))
    if strategy == "digest":
        follow = argo.constraint.strip()
        digest = None
        if follow and follow in filtered_tags(tags, argo):
            digest = await client.head_digest(access, follow)
        return select_argo(tags, argo, digest=digest, explain=explain)
    return select_argo(tags, argo, explain=explain)


# Not a pytest test, whatever its name says (Argo calls the command `test`).
test_policy.__test__ = False  # type: ignore[attr-defined]
