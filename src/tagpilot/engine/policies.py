"""Reconciling ImagePolicies: pick the latest tag from the stored scan and record Flux's status.

This is the ImagePolicy half of Flux's image-reflector-controller: the selection itself is the pure
`tagpilot.policy` engine; this module finds the ImageRepository's stored tags, reflects the digest of
the chosen tag when `digestReflectionPolicy` asks for it, and writes `latestRef`,
`observedPreviousRef` and the `Ready` condition with Flux's reasons.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tagpilot.config.base import seconds
from tagpilot.config.flux_image import ImagePolicy, ImageRepository
from tagpilot.config.loader import Config
from tagpilot.engine.access import access_for
from tagpilot.engine.scan import tags_key
from tagpilot.engine.status import (
    is_ready,
    is_suspended,
    mark_failed,
    mark_ready,
    parse_rfc3339,
    rfc3339,
    spec_hash,
)
from tagpilot.errors import InvalidPolicy, TagpilotError
from tagpilot.policy import parse_flux_policy, select_flux
from tagpilot.registry.client import RegistryClient
from tagpilot.store import Store

KIND = "ImagePolicy"
DEPENDENCY_NOT_READY = "DependencyNotReady"
ACCESS_DENIED = "AccessDenied"


@dataclass
class PolicyOutcome:
    policy: ImagePolicy
    status: dict[str, Any]
    ok: bool
    changed: bool = False  # latestRef differs from before
    skipped: str | None = None
    error: str | None = None


def _ref_text(ref: dict[str, Any] | None) -> str:
    if not ref:
        return ""
    text = f"{ref.get('name')}:{ref.get('tag')}"
    return f"{text}@{ref['digest']}" if ref.get("digest") else text


class PolicyReconciler:
    """Evaluates ImagePolicies against the tags the scanner stored."""

    def __init__(self, config: Config, store: Store, client: RegistryClient | None = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.store = store
        self.client = client
        self.clock = clock

    def repository_of(self, policy: ImagePolicy) -> ImageRepository | None:
        ref = policy.spec.image_repository_ref
        return self.config.get(ImageRepository, ref.namespace or policy.namespace, ref.name)

    async def reconcile(self, policy: ImagePolicy) -> PolicyOutcome:
        generation = self.store.observe_spec(KIND, policy.namespace, policy.name, spec_hash(policy.spec.to_yaml_dict()))
        stored = self.store.get_object(KIND, policy.namespace, policy.name)
        status = copy.deepcopy(stored.status) if stored else {}
        if is_suspended(policy, self.store):
            return PolicyOutcome(policy, status, ok=True, skipped="suspended")
        outcome = await self._evaluate(policy, status, generation)
        self.store.set_status(KIND, policy.namespace, policy.name, outcome.status)
        return outcome

    async def reconcile_all(self, policies: Sequence[ImagePolicy]) -> list[PolicyOutcome]:
        return [await self.reconcile(p) for p in policies]

    async def _evaluate(self, policy: ImagePolicy, status: dict[str, Any], generation: int) -> PolicyOutcome:
        now = self.clock()
        repo_ref = policy.spec.image_repository_ref
        repo_ns = repo_ref.namespace or policy.namespace
        repo = self.repository_of(policy)
        if repo is None:
            return self._fail(policy, status, generation, DEPENDENCY_NOT_READY,
                              f"referenced ImageRepository {repo_ns}/{repo_ref.name} is not in the configuration")
        if repo_ns != policy.namespace and repo.spec.access_from is None:
            return self._fail(policy, status, generation, ACCESS_DENIED,
                              f"cross-namespace reference to ImageRepository {repo_ns}/{repo.name} is not allowed: "
                              "the ImageRepository has no spec.accessFrom", stalled=True)
        tags = self.store.get_tags(tags_key(repo))
        repo_status = self.store.get_object("ImageRepository", repo.namespace, repo.name)
        if tags is None:
            return self._fail(policy, status, generation, DEPENDENCY_NOT_READY,
                              f"ImageRepository {repo.namespace}/{repo.name} has not been scanned successfully yet")
        try:
            parsed = parse_flux_policy(policy.spec.policy_dict())
            selection = select_flux(tags, parsed)
        except InvalidPolicy as exc:
            return self._fail(policy, status, generation, exc.reason, str(exc), stalled=True)
        except TagpilotError as exc:
            return self._fail(policy, status, generation, exc.reason, str(exc))

        previous = status.get("latestRef")
        latest: dict[str, Any] = {"name": repo.spec.image, "tag": selection.tag}
        try:
            digest = await self._digest(policy, repo, selection.tag, previous, status, now)
        except TagpilotError as exc:
            return self._fail(policy, status, generation, exc.reason,
                              f"cannot reflect the digest of {repo.spec.image}:{selection.tag}: {exc}")
        if digest:
            latest["digest"] = digest
        changed = previous is not None and (previous.get("tag"), previous.get("digest")) != (
            latest["tag"], latest.get("digest"))
        if changed:
            status["observedPreviousRef"] = previous
        status["latestRef"] = latest
        if changed:
            message = (f"Latest image tag for {repo.spec.image} updated from "
                       f"{previous.get('tag')} to {selection.tag}")
        else:
            message = f"Latest image tag for {repo.spec.image} resolved to {selection.tag}"
        if repo_status and not is_ready(repo_status.status):
            message += " (from the last successful scan; the latest scan failed)"
        mark_ready(status, message, now, generation)
        return PolicyOutcome(policy, status, ok=True, changed=changed or previous is None)

    async def _digest(self, policy: ImagePolicy, repo: ImageRepository, tag: str, previous: dict[str, Any] | None,
                      status: dict[str, Any], now: datetime) -> str | None:
        """Flux's digestReflectionPolicy: Never; IfNotPresent (once per tag); Always (every interval)."""
        mode = policy.spec.digest_reflection_policy
        if mode == "Never":
            return None
        same_tag = previous is not None and previous.get("tag") == tag and previous.get("digest")
        if mode == "IfNotPresent" and same_tag:
            return previous["digest"]  # type: ignore[index]
        if mode == "Always" and same_tag and policy.spec.interval:
            reflected = status.get("lastDigestReflectionTime")
            if reflected and parse_rfc3339(reflected) + timedelta(seconds=seconds(policy.spec.interval)) > now:
                return previous["digest"]  # type: ignore[index]
        if self.client is None:
            raise TagpilotError("no registry client to reflect digests")
        access = await access_for(repo, self.config)
        digest = await self.client.head_digest(access, tag)
        status["lastDigestReflectionTime"] = rfc3339(now)
        return digest

    def _fail(self, policy: ImagePolicy, status: dict[str, Any], generation: int, reason: str, message: str, *,
              stalled: bool = False) -> PolicyOutcome:
        mark_failed(status, reason, message, self.clock(), generation, stalled=stalled)
        return PolicyOutcome(policy, status, ok=False, error=message)


def latest_text(status: dict[str, Any]) -> str:
    return _ref_text(status.get("latestRef")) or "-"
