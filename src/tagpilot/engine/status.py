"""Status in Flux's shape, typed: conditions and one status dataclass per kind.

Reconcilers work on typed objects (`RepositoryStatus`, `PolicyStatus`, `AutomationStatus`, all
`ObjectStatus`); the store and every output hold their JSON, camelCase as Flux writes it, so
`tagpilot get ... -o json` reads like `kubectl get -o json`. `to_json` keeps the order the fields were
first written in (as the stored JSON had it) and any field this version does not know (written by a
newer tagpilot), so a round trip changes nothing. `lastTransitionTime` changes only when a
condition's status flips, as in `meta.SetStatusCondition`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

READY = "Ready"
STALLED = "Stalled"
RECONCILING = "Reconciling"
SUCCEEDED = "Succeeded"


def rfc3339(moment: datetime) -> str:
    """Format like `metav1.Time`: UTC, second precision, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Condition:
    """`metav1.Condition`."""

    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "status": self.status, "reason": self.reason,
                               "message": self.message, "lastTransitionTime": self.last_transition_time}
        if self.observed_generation is not None:
            out["observedGeneration"] = self.observed_generation
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Condition:
        return cls(str(data.get("type", "")), str(data.get("status", "Unknown")), str(data.get("reason", "")),
                   str(data.get("message", "")), str(data.get("lastTransitionTime", "")),
                   data.get("observedGeneration"))


@dataclass
class ObjectStatus:
    """What every kind's status has: `observedGeneration` and `conditions`, plus the kind's fields.

    A subclass lists its fields in `FIELDS` as (attribute, JSON key); values are JSON values (lists,
    dicts, strings, numbers) or None for absent. Unknown JSON keys are kept in `extra`.
    """

    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = ()

    observed_generation: int | None = None
    conditions: list[Condition] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list, repr=False, compare=False)  # JSON keys as first seen

    # --- JSON ---------------------------------------------------------------------------------------

    @classmethod
    def _all_fields(cls) -> tuple[tuple[str, str], ...]:
        return (*cls.FIELDS, ("observed_generation", "observedGeneration"), ("conditions", "conditions"))

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ObjectStatus:
        data = dict(data or {})
        status = cls()
        known = dict((key, attr) for attr, key in cls._all_fields())
        for key, value in data.items():
            status._order.append(key)
            if key == "conditions":
                status.conditions = [Condition.from_json(c) for c in value or [] if isinstance(c, dict)]
            elif key in known:
                setattr(status, known[key], value)
            else:
                status.extra[key] = value
        return status

    def to_json(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for attr, key in self._all_fields():
            value = getattr(self, attr)
            if key == "conditions":
                if value or "conditions" in self._order:
                    values[key] = [c.to_json() for c in value]
            elif value is not None:
                values[key] = value
        values.update(self.extra)
        ordered = {key: values[key] for key in self._order if key in values}
        for key, value in values.items():  # new keys after the ones the stored JSON had, in field order
            if key not in ordered:
                ordered[key] = value
                self._order.append(key)
        return ordered

    def __setattr__(self, name: str, value: Any) -> None:
        # a field set for the first time goes after the fields already written, as a dict would
        if name != "_order" and not name.startswith("_") and hasattr(self, "_order"):
            key = self._key_of(name)
            if key is not None and value is not None and key not in self._order:
                self._order.append(key)
        object.__setattr__(self, name, value)

    @classmethod
    def _key_of(cls, attr: str) -> str | None:
        # every attribute set goes through here (several per reconcile): a map per class, not a scan
        keys = cls.__dict__.get("_KEYS")
        if keys is None:
            keys = {}
            for a, key in cls._all_fields():
                keys.setdefault(a, key)  # the first pair wins, as the scan it replaces
            type.__setattr__(cls, "_KEYS", keys)
        return keys.get(attr)

    # --- conditions ---------------------------------------------------------------------------------

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)

    def set_condition(self, type_: str, value: bool, reason: str, message: str, now: datetime,
                      generation: int | None = None) -> None:
        """Set or replace one condition, keeping its transition time when its status did not change."""
        new = Condition(type_, "True" if value else "False", reason, message, rfc3339(now), generation)
        if "conditions" not in self._order:
            self._order.append("conditions")
        for index, old in enumerate(self.conditions):
            if old.type == type_:
                if old.status == new.status:
                    new.last_transition_time = old.last_transition_time or new.last_transition_time
                self.conditions[index] = new
                return
        self.conditions.append(new)

    def remove_condition(self, type_: str) -> None:
        self.conditions = [c for c in self.conditions if c.type != type_]

    def mark_failed(self, reason: str, message: str, now: datetime, generation: int, *, stalled: bool = False) -> None:
        """Ready=False with `reason`; Stalled=True too when retrying cannot help (invalid spec)."""
        self.observed_generation = generation
        self.set_condition(READY, False, reason, message, now, generation)
        if stalled:
            self.set_condition(STALLED, True, reason, message, now, generation)
        else:
            self.remove_condition(STALLED)

    def mark_ready(self, message: str, now: datetime, generation: int) -> None:
        """Ready=True with reason Succeeded; clears Stalled."""
        self.observed_generation = generation
        self.set_condition(READY, True, SUCCEEDED, message, now, generation)
        self.remove_condition(STALLED)

    @property
    def ready(self) -> bool:
        condition = self.condition(READY)
        return bool(condition and condition.status == "True")

    @property
    def stalled(self) -> bool:
        condition = self.condition(STALLED)
        return bool(condition and condition.status == "True")

    def ready_message(self, default: str = "") -> str:
        condition = self.condition(READY)
        return condition.message if condition else default

    def ready_reason(self, default: str = "Failed") -> str:
        condition = self.condition(READY)
        return condition.reason if condition else default


@dataclass
class RepositoryStatus(ObjectStatus):
    """Flux `ImageRepositoryStatus`. `last_scan_result`: `{tagCount, scanTime, revision, latestTags}`."""

    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("canonical_image_name", "canonicalImageName"),
        ("observed_exclusion_list", "observedExclusionList"),
        ("last_scan_result", "lastScanResult"),
    )
    canonical_image_name: str | None = None
    observed_exclusion_list: list[str] | None = None
    last_scan_result: dict[str, Any] | None = None


@dataclass
class PolicyStatus(ObjectStatus):
    """Flux `ImagePolicyStatus` (`latestRef`/`observedPreviousRef`: `{name, tag[, digest]}`)."""

    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("latest_ref", "latestRef"),
        ("observed_previous_ref", "observedPreviousRef"),
        ("last_digest_reflection_time", "lastDigestReflectionTime"),
    )
    latest_ref: dict[str, Any] | None = None
    observed_previous_ref: dict[str, Any] | None = None
    last_digest_reflection_time: str | None = None


@dataclass
class AutomationStatus(ObjectStatus):
    """Flux `ImageUpdateAutomationStatus`, plus what tagpilot adds: files with markers it could not
    update (`skippedFiles`) and markers naming policies that do not exist (`unknownPolicyMarkers`)."""

    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("last_automation_run_time", "lastAutomationRunTime"),
        ("observed_source_revision", "observedSourceRevision"),
        ("skipped_files", "skippedFiles"),
        ("observed_policies", "observedPolicies"),
        ("last_push_commit", "lastPushCommit"),
        ("last_push_time", "lastPushTime"),
        ("unknown_policy_markers", "unknownPolicyMarkers"),
    )
    last_automation_run_time: str | None = None
    observed_source_revision: str | None = None
    skipped_files: list[dict[str, str]] | None = None
    observed_policies: dict[str, Any] | None = None
    last_push_commit: str | None = None
    last_push_time: str | None = None
    unknown_policy_markers: list[dict[str, Any]] | None = None


# --- JSON-level helpers for code that reads stored status (CLI tables, the API) -----------------------


def get_condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for condition in status.get("conditions", []):
        if condition.get("type") == type_:
            return condition
    return None


def is_ready(status: dict[str, Any]) -> bool:
    condition = get_condition(status, READY)
    return bool(condition and condition.get("status") == "True")


def is_suspended(obj: Any, store: Any) -> bool:
    """`spec.suspend` in the file, or `tagpilot suspend KIND/NS/NAME` recorded in the store."""
    return bool(getattr(obj.spec, "suspend", False)) or store.is_suspended(obj.kind, obj.namespace, obj.name)


def object_view(obj: Any, status: dict[str, Any]) -> dict[str, Any]:
    """The `{"kind", "namespace", "name", "spec", "status"}` object `-o json` prints for any kind."""
    return {"kind": obj.kind, "namespace": obj.namespace, "name": obj.name,
            "spec": spec_view(obj), "status": status}


def spec_view(obj: Any) -> dict[str, Any]:
    """An object's spec as the user writes it: through the object's own serializer when it is a
    configuration model (`Object.spec_yaml_dict`), else its spec's `to_yaml_dict`."""
    dump = getattr(obj, "spec_yaml_dict", None)
    return dump() if dump is not None else obj.spec.to_yaml_dict()  # type: ignore[no-any-return]


def spec_hash(spec: dict[str, Any]) -> str:
    """A stable hash of an object's spec; a change bumps the object's generation in the store."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
