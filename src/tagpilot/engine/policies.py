"""Reconciling ImagePolicies: pick the latest tag from the stored scan and record Flux's status.

This is the ImagePolicy half of Flux's image-reflector-controller: the selection itself is the pure
`tagpilot.policy` engine; this module finds the ImageRepository's stored tags, reflects the digest of
the chosen tag when `digestReflectionPolicy` asks for it, and writes `latestRef`,
`observedPreviousRef` and the `Ready` condition with Flux's reasons.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tagpilot.config.base import seconds
from tagpilot.config.flux_image import ImagePolicy, ImageRepository
from tagpilot.engine.access import access_for
from tagpilot.engine.events import Reason
from tagpilot.engine.keys import ObjectKey
from tagpilot.engine.kinds import Column, Kind
from tagpilot.engine.live_policy import select_with_registry
from tagpilot.engine.reconciler import Context, Note, Outcome
from tagpilot.engine.scan import tags_key
from tagpilot.engine.status import PolicyStatus, is_ready, parse_rfc3339, rfc3339
from tagpilot.errors import InvalidPolicy, TagpilotError
from tagpilot.policy import Selection
from tagpilot.policy.factory import from_flux_spec
from tagpilot.policy.memo import SelectionMemo
from tagpilot.store.protocols import ObjectSource

KIND = "ImagePolicy"
DEPENDENCY_NOT_READY = "DependencyNotReady"
ACCESS_DENIED = "AccessDenied"


def _ref_text(ref: dict[str, Any] | None) -> str:
    if not ref:
        return ""
    text = f"{ref.get('name')}:{ref.get('tag')}"
    return f"{text}@{ref['digest']}" if ref.get("digest") else text


class PolicyReconciler:
    """Evaluates ImagePolicies against the tags the scanner stored."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        # policies over the same stored tag list share one evaluation (policy/memo.py)
        self.memo = SelectionMemo()

    def repository_of(self, policy: ImagePolicy) -> ImageRepository | None:
        ref = policy.spec.image_repository_ref
        return self.ctx.config.get(ImageRepository, ref.namespace or policy.namespace, ref.name)

    async def reconcile(self, policy: ImagePolicy, status: PolicyStatus, generation: int, *, force: bool,
                        dry_run: bool = False) -> Outcome:
        outcome = await self._evaluate(policy, status, generation)
        if outcome.changed:
            latest = status.latest_ref or {}
            outcome.notes.append(Note(Reason.LATEST_IMAGE_CHANGED,
                                      f"latest image {latest.get('name')}:{latest.get('tag')}", {"latestRef": latest}))
        return outcome

    async def _evaluate(self, policy: ImagePolicy, status: PolicyStatus, generation: int) -> Outcome:
        now = self.ctx.clock()
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
        tags = self.ctx.store.get_tags(tags_key(repo))
        repo_status = self.ctx.store.get_object("ImageRepository", repo.namespace, repo.name)
        if tags is None:
            return self._fail(policy, status, generation, DEPENDENCY_NOT_READY,
                              f"ImageRepository {repo.namespace}/{repo.name} has not been scanned successfully yet")
        try:
            selection = await self._select(policy, repo, tags)
        except InvalidPolicy as exc:
            return self._fail(policy, status, generation, exc.reason, str(exc), stalled=True)
        except TagpilotError as exc:
            return self._fail(policy, status, generation, exc.reason, str(exc))

        previous = status.latest_ref
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
            status.observed_previous_ref = previous
        status.latest_ref = latest
        if changed:
            message = (f"Latest image tag for {repo.spec.image} updated from "
                       f"{previous.get('tag')} to {selection.tag}")
        else:
            message = f"Latest image tag for {repo.spec.image} resolved to {selection.tag}"
        if repo_status and not is_ready(repo_status.status):
            message += " (from the last successful scan; the latest scan failed)"
        status.mark_ready(message, now, generation)
        return Outcome(status, changed=changed or previous is None)

    async def _select(self, policy: ImagePolicy, repo: ImageRepository, tags: list[str]) -> Selection:
        """The policy's pick; metadata it needs (none for Flux's kinds) comes through the registry client."""
        chosen = from_flux_spec(policy.policy_dict())
        if not chosen.needs_metadata:
            return self.memo.select(chosen, tags)
        if self.ctx.registry is None:
            raise TagpilotError("no registry client to read image metadata")
        return await select_with_registry(self.ctx.registry, await access_for(repo, self.ctx.config), chosen, tags)

    async def _digest(self, policy: ImagePolicy, repo: ImageRepository, tag: str, previous: dict[str, Any] | None,
                      status: PolicyStatus, now: datetime) -> str | None:
        """Flux's digestReflectionPolicy: Never; IfNotPresent (once per tag); Always (every interval)."""
        mode = policy.spec.digest_reflection_policy
        if mode == "Never":
            return None
        same_tag = previous is not None and previous.get("tag") == tag and previous.get("digest")
        if mode == "IfNotPresent" and same_tag:
            return previous["digest"]  # type: ignore[index]
        if mode == "Always" and same_tag and policy.spec.interval:
            reflected = status.last_digest_reflection_time
            if reflected and parse_rfc3339(reflected) + timedelta(seconds=seconds(policy.spec.interval)) > now:
                return previous["digest"]  # type: ignore[index]
        if self.ctx.registry is None:
            raise TagpilotError("no registry client to reflect digests")
        access = await access_for(repo, self.ctx.config)
        digest = await self.ctx.registry.head_digest(access, tag)
        status.last_digest_reflection_time = rfc3339(now)
        return digest

    def _fail(self, policy: ImagePolicy, status: PolicyStatus, generation: int, reason: str, message: str, *,
              stalled: bool = False) -> Outcome:
        status.mark_failed(reason, message, self.ctx.clock(), generation, stalled=stalled)
        return Outcome(status, ok=False, error=message)


def latest_text(status: dict[str, Any]) -> str:
    return _ref_text(status.get("latestRef")) or "-"


def _interval(policy: ImagePolicy) -> float | None:
    """Policies follow their repository's scans; `digestReflectionPolicy: Always` also runs on its own."""
    if policy.spec.digest_reflection_policy == "Always" and policy.spec.interval:
        return seconds(policy.spec.interval)
    return None


def _automations_of(source: ObjectSource, policy: ImagePolicy) -> list[ObjectKey]:
    """The automations whose policySelector selects this policy: a new latest image runs them."""
    from tagpilot.config.flux_automation import ImageUpdateAutomation, selector_matches

    return sorted(
        auto.key for auto in source.of_kind(ImageUpdateAutomation)
        if auto.namespace == policy.namespace and selector_matches(auto.spec.policy_selector, policy.metadata.labels)
    )


KINDS = (Kind(
    name=KIND, model=ImagePolicy, plural="imagepolicies", short=("policies", "policy"),
    reconciler=PolicyReconciler, status=PolicyStatus, order=20, interval=_interval, dependents=_automations_of,
    webhook_target=True,
    columns=(Column("LATEST IMAGE", lambda v: latest_text(v["status"])),),
),)
