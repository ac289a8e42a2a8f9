"""Reconciling ImageRepositories: list the tags of each image and record them with a Flux-shaped status.

This is Flux's image-reflector-controller without a cluster: the tags (after `exclusionList`) go to the
store, the status gets `canonicalImageName`, `observedExclusionList`, `lastScanResult` and a `Ready`
condition. A failed scan keeps the last good `lastScanResult` and tags, so a registry outage never
makes a policy forget what it knew.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from tagpilot.config.flux_image import ImageRepository
from tagpilot.engine.access import access_for
from tagpilot.engine.events import Reason
from tagpilot.engine.keys import ObjectKey
from tagpilot.engine.kinds import Column, Kind, same_namespace_ref
from tagpilot.engine.reconciler import Context, Note, Outcome
from tagpilot.engine.status import RECONCILING, RepositoryStatus, parse_rfc3339, rfc3339
from tagpilot.errors import InvalidReference, TagpilotError
from tagpilot.golang import json_string
from tagpilot.regex import compile_regex
from tagpilot.registry.reference import parse_repository
from tagpilot.store.protocols import ObjectSource

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


# characters json.Marshal never escapes; tags are made of these alone (the distribution spec's grammar)
_PLAIN = re.compile(r"[A-Za-z0-9_.\-]*")
# Flux's default exclusion (signature tags); for a string without a newline RE2's search is endswith
FLUX_SIG_EXCLUSION = "^.*\\.sig$"


def go_json_marshal_strings(values: Sequence[str]) -> bytes:
    """`json.Marshal([]string)` byte for byte: compact, HTML characters escaped as Go escapes them.

    A list of plain tags (no character Go would escape) is joined at once: per-tag escaping was a
    million `translate` calls in a round over 1,000 repositories of 1,000 tags."""
    if values and _PLAIN.fullmatch("".join(values)):
        return ('["' + '","'.join(values) + '"]').encode("ascii")
    return ("[" + ",".join(json_string(v) for v in values) + "]").encode("utf-8")


def scan_revision(tags: Sequence[str]) -> str:
    """Flux's `lastScanResult.revision`: the decimal Adler-32 of the JSON-encoded tag list."""
    return str(zlib.adler32(go_json_marshal_strings(tags)))


def exclude_tags(tags: Iterable[str], exclusion_list: Sequence[str]) -> list[str]:
    """Drop every tag that any exclusion regex matches anywhere (unanchored search, RE2)."""
    if list(exclusion_list) == [FLUX_SIG_EXCLUSION]:  # the default: a string test instead of RE2 per tag
        return [tag for tag in tags if not tag.endswith(".sig") or
                ("\n" in tag and not compile_regex(FLUX_SIG_EXCLUSION).search(tag))]
    patterns = [compile_regex(p) for p in exclusion_list]
    return [tag for tag in tags if not any(p.search(tag) for p in patterns)]


def latest_tags(tags: Sequence[str]) -> list[str]:
    """The first ten of a plain byte-wise descending sort (Flux's `latestTags`; not semver order)."""
    return sorted(tags, key=lambda t: t.encode("utf-8"), reverse=True)[:LATEST_TAGS_COUNT]


def tags_key(repo: ImageRepository) -> str:
    """Tags are stored per object (not per image as Flux does) because exclusion lists differ."""
    return f"{repo.namespace}/{repo.name}"


def is_due(repo: ImageRepository, stored: RepositoryStatus, generation: int, now: datetime) -> bool:
    """A scan is due when never scanned, the spec changed, the last one failed, or the interval passed."""
    last = stored.last_scan_result
    if not last or stored.observed_generation != generation or not stored.ready:
        return True
    try:
        scanned = parse_rfc3339(last["scanTime"])
    except (KeyError, ValueError):
        return True
    return scanned + timedelta(seconds=repo.spec.interval_seconds) <= now


class Scanner:
    """Scans ImageRepositories concurrently (bounded globally) and records the tags in the store."""

    def __init__(self, ctx: Context, *, concurrency: int = 64) -> None:
        self.ctx = ctx
        self._global = asyncio.Semaphore(concurrency)

    async def reconcile(self, repo: ImageRepository, status: RepositoryStatus, generation: int, *, force: bool,
                        dry_run: bool = False) -> Outcome:
        if not force and not is_due(repo, status, generation, self.ctx.clock()):
            return Outcome(status, skipped="not due", persist=False)
        before = (status.last_scan_result or {}).get("revision")
        async with self._global:
            outcome = await self._scan(repo, status, generation)
        outcome.operation = "scan"
        after = (status.last_scan_result or {}).get("revision")
        if outcome.ok and after != before:
            outcome.changed = True
            outcome.notes.append(Note(Reason.NEW_TAGS, status.ready_message("scanned"), {"revision": after},
                                      derived=True))  # the tags are recorded in the same group of writes
        return outcome

    async def _scan(self, repo: ImageRepository, status: RepositoryStatus, generation: int) -> Outcome:
        now = self.ctx.clock()
        status.remove_condition(RECONCILING)
        try:
            ref = parse_repository(repo.spec.image)
        except InvalidReference as exc:
            return self._fail(repo, status, generation, exc, stalled=True)
        status.canonical_image_name = ref.canonical_name
        if repo.spec.provider != "generic":
            return self._fail(repo, status, generation, TagpilotError(
                f"provider {repo.spec.provider!r} is not supported yet: use provider generic with a "
                "secretRef (e.g. credentials from your cloud CLI in a dockerconfigjson Secret)"),
                stalled=True, reason="ProviderNotSupported")
        if repo.spec.proxy_secret_ref is not None:
            return self._fail(repo, status, generation, TagpilotError(
                "spec.proxySecretRef is not supported yet; set HTTPS_PROXY in tagpilot's environment"),
                stalled=True, reason="ProxyNotSupported")
        assert self.ctx.registry is not None
        client = self.ctx.registry
        timeout, source = scan_timeout(repo)
        try:
            # one deadline around the whole scan: credentials, probe, every page, retry and wait
            async with client.deadline(timeout, host=ref.api_host, what=f"listing tags of {ref.name}",
                                       source=source):
                access = await access_for(repo, self.ctx.config, ref)
                access.timeout = timeout
                all_tags = await client.list_tags(access)
        except TagpilotError as exc:
            return self._fail(repo, status, generation, exc)
        tags = exclude_tags(all_tags, repo.spec.exclusion_list)
        revision = scan_revision(tags)
        self.ctx.store.set_tags(tags_key(repo), tags, revision)
        self.ctx.store.record_tags_seen(ref.canonical_name, all_tags, now.timestamp())  # retention's push times
        status.observed_exclusion_list = list(repo.spec.exclusion_list)
        status.last_scan_result = {
            "tagCount": len(tags),
            "scanTime": rfc3339(now),
            "revision": revision,
            "latestTags": latest_tags(tags),
        }
        status.mark_ready(f"successful scan: found {len(tags)} tags", now, generation)
        return Outcome(status)

    def _fail(self, repo: ImageRepository, status: RepositoryStatus, generation: int, exc: TagpilotError, *,
              stalled: bool = False, reason: str | None = None) -> Outcome:
        # The object's own status and outcome are about it: a message that starts with its name (a
        # missing Secret names who refers to it) would show it twice ("error: ImageRepository/...: ").
        message = str(exc).removeprefix(f"{repo.ref}: ")
        status.mark_failed(reason or exc.reason, message, self.ctx.clock(), generation, stalled=stalled)
        return Outcome(status, ok=False, error=message)


def _interval(repo: ImageRepository) -> float | None:
    return repo.spec.interval_seconds


_POLICY_INDEX: dict[str, Any] = {"source": None, "size": -1, "index": {}}


def _policies_of(source: ObjectSource, repo: ImageRepository) -> list[ObjectKey]:
    """The ImagePolicies over this repository: a new tag list re-evaluates them.

    From an index of every policy by the repository it names, built once per configuration (and
    again if objects were added): asking every policy for every scanned repository was quadratic,
    10^8 checks in a round over 10,000 ImageRepositories and their 10,000 policies."""
    from tagpilot.config.flux_image import ImagePolicy

    if _POLICY_INDEX["source"] is not source or _POLICY_INDEX["size"] != len(source.objects):
        index: dict[tuple[str, str], list[ObjectKey]] = {}
        for policy in source.of_kind(ImagePolicy):
            target = same_namespace_ref(policy.namespace, policy.spec.image_repository_ref.namespace,
                                        policy.spec.image_repository_ref.name)
            index.setdefault(target, []).append(policy.key)
        _POLICY_INDEX.update(source=source, size=len(source.objects), index=index)
    return sorted(_POLICY_INDEX["index"].get((repo.namespace, repo.name), []))


def _latest_tags_cell(view: dict[str, Any]) -> str:
    return ",".join((view["status"].get("lastScanResult") or {}).get("latestTags", [])[:3]) or "-"


KINDS = (Kind(
    name=KIND, model=ImageRepository, plural="imagerepositories", short=("repositories", "repository", "repo"),
    reconciler=Scanner, status=RepositoryStatus, order=10, interval=_interval, dependents=_policies_of,
    webhook_target=True,
    columns=(
        Column("IMAGE", lambda v: v["spec"]["image"]),
        Column("TAGS", lambda v: str((v["status"].get("lastScanResult") or {}).get("tagCount", "-"))),
        # Flux's `latestTags` are the first tags by name, descending: not the newest, not a policy's pick
        Column("FIRST TAGS BY NAME", _latest_tags_cell),
        Column("LAST SCAN", lambda v: (v["status"].get("lastScanResult") or {}).get("scanTime", "-")),
    ),
),)
