"""Reconciling ImageRepositories: list the tags of each image and record them with a Flux-shaped status.

This is Flux's image-reflector-controller without a cluster: the tags (after `exclusionList`) go to the
store, the status gets `canonicalImageName`, `observedExclusionList`, `lastScanResult` and a `Ready`
condition. A failed scan keeps the last good `lastScanResult` and tags, so a registry outage never
makes a policy forget what it knew.
"""

from __future__ import annotations

import asyncio
import copy
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tagpilot.config.flux_image import ImageRepository
from tagpilot.config.loader import Config
from tagpilot.engine.access import access_for
from tagpilot.engine.status import (
    READY,
    RECONCILING,
    get_condition,
    is_suspended,
    mark_failed,
    mark_ready,
    parse_rfc3339,
    remove_condition,
    rfc3339,
    spec_hash,
)
from tagpilot.errors import InvalidReference, TagpilotError
from tagpilot.golang import json_string
from tagpilot.regex import compile_regex
from tagpilot.registry.client import RegistryClient
from tagpilot.registry.reference import parse_repository
from tagpilot.store import Store

KIND = "ImageRepository"
LATEST_TAGS_COUNT = 10
# Flux's timeout defaults to the interval, which may be hours: without `spec.timeout`, a scan that
# cannot finish gives up after the interval or this, whichever is shorter.
DEFAULT_SCAN_TIMEOUT = 300.0


def scan_timeout(repo: ImageRepository) -> tuple[float, str]:
    """Seconds the whole scan may take, and where that came from (for messages)."""
    if repo.spec.timeout:
        return repo.spec.timeout_seconds, "spec.timeout"
    return min(repo.spec.timeout_seconds, DEFAULT_SCAN_TIMEOUT), (
        f"no spec.timeout: the interval, at most {DEFAULT_SCAN_TIMEOUT:g}s")


def go_json_marshal_strings(values: Sequence[str]) -> bytes:
    """`json.Marshal([]string)` byte for byte: compact, HTML characters escaped as Go escapes them."""
    return ("[" + ",".join(json_string(v) for v in values) + "]").encode("utf-8")


def scan_revision(tags: Sequence[str]) -> str:
    """Flux's `lastScanResult.revision`: the decimal Adler-32 of the JSON-encoded tag list."""
    return str(zlib.adler32(go_json_marshal_strings(tags)))


def exclude_tags(tags: Iterable[str], exclusion_list: Sequence[str]) -> list[str]:
    """Drop every tag that any exclusion regex matches anywhere (unanchored search, RE2)."""
    patterns = [compile_regex(p) for p in exclusion_list]
    return [tag for tag in tags if not any(p.search(tag) for p in patterns)]


def latest_tags(tags: Sequence[str]) -> list[str]:
    """The first ten of a plain byte-wise descending sort (Flux's `latestTags`; not semver order)."""
    return sorted(tags, key=lambda t: t.encode("utf-8"), reverse=True)[:LATEST_TAGS_COUNT]


def tags_key(repo: ImageRepository) -> str:
    """Tags are stored per object (not per image as Flux does) because exclusion lists differ."""
    return f"{repo.namespace}/{repo.name}"


@dataclass
class ScanOutcome:
    repository: ImageRepository
    status: dict[str, Any]
    ok: bool
    skipped: str | None = None  # "suspended", "not due"
    error: str | None = None


def is_due(repo: ImageRepository, stored_status: dict[str, Any], generation: int, now: datetime) -> bool:
    """A scan is due when never scanned, the spec changed, the last one failed, or the interval passed."""
    last = stored_status.get("lastScanResult")
    if not last or stored_status.get("observedGeneration") != generation:
        return True
    ready = get_condition(stored_status, READY)
    if not ready or ready.get("status") != "True":
        return True
    try:
        scanned = parse_rfc3339(last["scanTime"])
    except (KeyError, ValueError):
        return True
    return scanned + timedelta(seconds=repo.spec.interval_seconds) <= now


class Scanner:
    """Scans ImageRepositories concurrently and records results in the store."""

    def __init__(self, config: Config, store: Store, client: RegistryClient, *, concurrency: int = 64,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.clock = clock
        self._global = asyncio.Semaphore(concurrency)

    def stored_status(self, repo: ImageRepository) -> tuple[dict[str, Any], int]:
        generation = self.store.observe_spec(KIND, repo.namespace, repo.name, spec_hash(repo.spec.to_yaml_dict()))
        stored = self.store.get_object(KIND, repo.namespace, repo.name)
        return (copy.deepcopy(stored.status) if stored else {}), generation

    async def scan_one(self, repo: ImageRepository, *, only_if_due: bool = False) -> ScanOutcome:
        status, generation = self.stored_status(repo)
        if is_suspended(repo, self.store):
            return ScanOutcome(repo, status, ok=True, skipped="suspended")
        now = self.clock()
        if only_if_due and not is_due(repo, status, generation, now):
            return ScanOutcome(repo, status, ok=True, skipped="not due")
        async with self._global:
            outcome = await self._scan(repo, status, generation)
        self.store.set_status(KIND, repo.namespace, repo.name, outcome.status)
        return outcome

    async def _scan(self, repo: ImageRepository, status: dict[str, Any], generation: int) -> ScanOutcome:
        now = self.clock()
        remove_condition(status, RECONCILING)
        try:
            ref = parse_repository(repo.spec.image)
        except InvalidReference as exc:
            return self._fail(repo, status, generation, exc, stalled=True)
        status["canonicalImageName"] = ref.canonical_name
        if repo.spec.provider != "generic":
            return self._fail(repo, status, generation, TagpilotError(
                f"provider {repo.spec.provider!r} is not supported yet: use provider generic with a "
                "secretRef (e.g. credentials from your cloud CLI in a dockerconfigjson Secret)"),
                stalled=True, reason="ProviderNotSupported")
        if repo.spec.proxy_secret_ref is not None:
            return self._fail(repo, status, generation, TagpilotError(
                "spec.proxySecretRef is not supported yet; set HTTPS_PROXY in tagpilot's environment"),
                stalled=True, reason="ProxyNotSupported")
        timeout, source = scan_timeout(repo)
        try:
            # one deadline around the whole scan: credentials, probe, every page, retry and wait
            async with self.client.deadline(timeout, host=ref.api_host, what=f"listing tags of {ref.name}",
                                            source=source):
                access = await access_for(repo, self.config, ref)
                access.timeout = timeout
                all_tags = await self.client.list_tags(access)
        except TagpilotError as exc:
            return self._fail(repo, status, generation, exc)
        tags = exclude_tags(all_tags, repo.spec.exclusion_list)
        revision = scan_revision(tags)
        self.store.set_tags(tags_key(repo), tags, revision)
        status["observedExclusionList"] = list(repo.spec.exclusion_list)
        status["lastScanResult"] = {
            "tagCount": len(tags),
            "scanTime": rfc3339(now),
            "revision": revision,
            "latestTags": latest_tags(tags),
        }
        mark_ready(status, f"successful scan: found {len(tags)} tags", now, generation)
        return ScanOutcome(repo, status, ok=True)

    def _fail(self, repo: ImageRepository, status: dict[str, Any], generation: int, exc: TagpilotError, *,
              stalled: bool = False, reason: str | None = None) -> ScanOutcome:
        # The object's own status and outcome are about it: a message that starts with its name (a
        # missing Secret names who refers to it) would show it twice ("error: ImageRepository/...: ").
        message = str(exc).removeprefix(f"{repo.ref}: ")
        mark_failed(status, reason or exc.reason, message, self.clock(), generation, stalled=stalled)
        return ScanOutcome(repo, status, ok=False, error=message)

    async def scan_all(self, repos: Sequence[ImageRepository], *, only_if_due: bool = False,
                       progress: Callable[[ScanOutcome], None] | None = None) -> list[ScanOutcome]:
        """Scan every repository concurrently; results come back in the order of `repos`."""

        async def run(repo: ImageRepository) -> ScanOutcome:
            outcome = await self.scan_one(repo, only_if_due=only_if_due)
            if progress:
                progress(outcome)
            return outcome

        return list(await asyncio.gather(*(run(r) for r in repos)))


