"""One entry point to reconcile any object by key, and the dependencies between objects.

The scheduler knows nothing about kinds; it asks the controller to reconcile `(kind, namespace,
name)` and gets back whether it worked, whether retrying can help, and which other objects must
run now because their inputs changed: a scan with a new tag list re-evaluates the policies over
that repository; a policy whose `latestRef` moved runs the automations that select it. This is how
a registry webhook turns into a commit within a second, without polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tagpilot.config.flux_automation import ImageUpdateAutomation, selector_matches
from tagpilot.config.flux_image import ImagePolicy, ImageRepository
from tagpilot.config.loader import Config
from tagpilot.engine.automation import AutomationReconciler
from tagpilot.engine.keys import RECONCILED_KINDS, ObjectKey, parse_key
from tagpilot.engine.policies import PolicyReconciler
from tagpilot.engine.scan import Scanner
from tagpilot.engine.status import STALLED, get_condition
from tagpilot.gitops import GitClient
from tagpilot.registry.client import RegistryClient
from tagpilot.store import Store

__all__ = ["RECONCILED_KINDS", "Controller", "ObjectKey", "ReconcileResult", "parse_key"]

_MODELS: dict[str, type[Any]] = {
    "ImageRepository": ImageRepository,
    "ImagePolicy": ImagePolicy,
    "ImageUpdateAutomation": ImageUpdateAutomation,
}


@dataclass
class ReconcileResult:
    key: ObjectKey
    ok: bool
    skipped: str | None = None
    stalled: bool = False
    error: str | None = None
    dependents: list[ObjectKey] = field(default_factory=list)
    seconds: float = 0.0
    commit: str | None = None  # automations: the commit pushed by this run
    files_changed: int = 0



class Controller:
    """Reconciles objects of the current configuration; the configuration can be swapped at run time."""

    def __init__(self, config: Config, store: Store, registry: RegistryClient, git: GitClient, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 on_result: Callable[[ReconcileResult], None] | None = None) -> None:
        self.store = store
        self.registry = registry
        self.git = git
        self.clock = clock
        self.on_result = on_result
        self.config = config
        # one of each for the process: the scanner's global concurrency bound then holds across runs
        self.scanner = Scanner(config, store, registry, clock=clock)
        self.policies = PolicyReconciler(config, store, registry, clock=clock)
        self.automations = AutomationReconciler(config, store, git, clock=clock)

    def set_config(self, config: Config) -> None:
        self.config = config
        for reconciler in (self.scanner, self.policies, self.automations):
            reconciler.config = config

    def keys(self) -> list[ObjectKey]:
        return sorted(key for key in self.config.objects if key[0] in RECONCILED_KINDS)

    def get(self, key: ObjectKey) -> Any:
        model = _MODELS.get(key[0])
        return self.config.get(model, key[1], key[2]) if model else None

    def expand(self, key: ObjectKey) -> list[ObjectKey]:
        """What a request to reconcile `key` runs: a GitRepository (a git push webhook) runs the
        automations whose `sourceRef` names it; reconciled kinds run themselves; others nothing."""
        if key[0] == "GitRepository":
            return sorted(
                auto.key for auto in self.config.of_kind(ImageUpdateAutomation)
                if (auto.spec.source_ref.namespace or auto.namespace, auto.spec.source_ref.name) == key[1:]
            )
        return [key] if self.get(key) is not None else []

    def interval(self, key: ObjectKey) -> float | None:
        """How often the object is due on its own. Policies follow their repository's scans."""
        obj = self.get(key)
        if isinstance(obj, ImageRepository):
            return obj.spec.interval_seconds
        if isinstance(obj, ImageUpdateAutomation):
            return obj.spec.interval_seconds
        if isinstance(obj, ImagePolicy) and obj.spec.digest_reflection_policy == "Always" and obj.spec.interval:
            from tagpilot.config.base import seconds

            return seconds(obj.spec.interval)
        return None

    def policies_of(self, repo: ImageRepository) -> list[ObjectKey]:
        out = []
        for policy in self.config.of_kind(ImagePolicy):
            ref = policy.spec.image_repository_ref
            if (ref.namespace or policy.namespace, ref.name) == (repo.namespace, repo.name):
                out.append(policy.key)
        return sorted(out)

    def automations_of(self, policy: ImagePolicy) -> list[ObjectKey]:
        return sorted(
            auto.key for auto in self.config.of_kind(ImageUpdateAutomation)
            if auto.namespace == policy.namespace
            and selector_matches(auto.spec.policy_selector, policy.metadata.labels)
        )

    async def reconcile(self, key: ObjectKey, *, force: bool = True) -> ReconcileResult:
        """Reconcile one object. `force=False` lets an ImageRepository skip a scan that is not due."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        obj = self.get(key)
        if obj is None:
            result = ReconcileResult(key, ok=False, error=f"{'/'.join(key)} is not in the configuration")
        elif isinstance(obj, ImageRepository):
            result = await self._scan(obj, force)
        elif isinstance(obj, ImagePolicy):
            result = await self._policy(obj)
        else:
            result = await self._automation(obj)
        result.seconds = loop.time() - started
        if self.on_result:
            self.on_result(result)
        return result

    async def _scan(self, repo: ImageRepository, force: bool) -> ReconcileResult:
        previous = self.store.get_object(repo.kind, repo.namespace, repo.name)
        before = ((previous.status if previous else {}).get("lastScanResult") or {}).get("revision")
        outcome = await self.scanner.scan_one(repo, only_if_due=not force)
        result = self._result(repo.key, outcome.ok, outcome.skipped, outcome.error, outcome.status)
        if outcome.ok and not outcome.skipped:
            after = (outcome.status.get("lastScanResult") or {}).get("revision")
            if after != before:
                self.store.add_event(repo.kind, repo.namespace, repo.name, "Normal", "NewTags",
                                     outcome.status["conditions"][0]["message"] if outcome.status.get("conditions")
                                     else "scanned", {"revision": after})
                result.dependents = self.policies_of(repo)
        return result

    async def _policy(self, policy: ImagePolicy) -> ReconcileResult:
        outcome = await self.policies.reconcile(policy)
        result = self._result(policy.key, outcome.ok, outcome.skipped, outcome.error, outcome.status)
        if outcome.ok and outcome.changed:
            latest = outcome.status.get("latestRef") or {}
            self.store.add_event(policy.kind, policy.namespace, policy.name, "Normal", "LatestImageChanged",
                                 f"latest image {latest.get('name')}:{latest.get('tag')}", {"latestRef": latest})
            result.dependents = self.automations_of(policy)
        return result

    async def _automation(self, automation: ImageUpdateAutomation) -> ReconcileResult:
        outcome = await self.automations.reconcile(automation)
        result = self._result(automation.key, outcome.ok, outcome.skipped, outcome.error, outcome.status)
        if outcome.commit:
            result.commit, result.files_changed = outcome.commit, len(outcome.files)
            ready = get_condition(outcome.status, "Ready") or {}
            self.store.add_event(automation.kind, automation.namespace, automation.name, "Normal", "Pushed",
                                 ready.get("message", "pushed"), {"commit": outcome.commit, "files": outcome.files})
        return result

    def _result(self, key: ObjectKey, ok: bool, skipped: str | None, error: str | None,
                status: dict[str, Any]) -> ReconcileResult:
        stalled = bool((get_condition(status, STALLED) or {}).get("status") == "True")
        if not ok and error:
            ready = get_condition(status, "Ready") or {}
            self.store.add_event(key[0], key[1], key[2], "Warning", ready.get("reason", "Failed"), error)
        return ReconcileResult(key, ok=ok, skipped=skipped, stalled=stalled and not ok, error=error)
