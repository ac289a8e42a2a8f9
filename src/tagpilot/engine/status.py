"""Status conditions in Kubernetes' shape (`type/status/reason/message/lastTransitionTime`).

Status objects mirror Flux's so that `tagpilot get ... -o json` reads like `kubectl get -o json`.
`lastTransitionTime` changes only when a condition's status flips, as in `meta.SetStatusCondition`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

READY = "Ready"
STALLED = "Stalled"
RECONCILING = "Reconciling"
SUCCEEDED = "Succeeded"


def rfc3339(moment: datetime) -> str:
    """Format like `metav1.Time`: UTC, second precision, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def set_condition(
    status: dict[str, Any],
    type_: str,
    value: bool,
    reason: str,
    message: str,
    now: datetime,
    generation: int | None = None,
) -> None:
    """Set or replace one condition in `status["conditions"]`, keeping the transition time if unchanged."""
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    new = {
        "type": type_,
        "status": "True" if value else "False",
        "reason": reason,
        "message": message,
        "lastTransitionTime": rfc3339(now),
    }
    if generation is not None:
        new["observedGeneration"] = generation
    for index, old in enumerate(conditions):
        if old.get("type") == type_:
            if old.get("status") == new["status"]:
                new["lastTransitionTime"] = old.get("lastTransitionTime", new["lastTransitionTime"])
            conditions[index] = new
            return
    conditions.append(new)


def mark_failed(status: dict[str, Any], reason: str, message: str, now: datetime, generation: int, *,
                stalled: bool = False) -> None:
    """Ready=False with `reason`; Stalled=True too when retrying cannot help (invalid spec)."""
    status["observedGeneration"] = generation
    set_condition(status, READY, False, reason, message, now, generation)
    if stalled:
        set_condition(status, STALLED, True, reason, message, now, generation)
    else:
        remove_condition(status, STALLED)


def mark_ready(status: dict[str, Any], message: str, now: datetime, generation: int) -> None:
    """Ready=True with reason Succeeded; clears Stalled."""
    status["observedGeneration"] = generation
    set_condition(status, READY, True, SUCCEEDED, message, now, generation)
    remove_condition(status, STALLED)


def is_suspended(obj: Any, store: Any) -> bool:
    """`spec.suspend` in the file, or `tagpilot suspend KIND/NS/NAME` recorded in the store."""
    return bool(getattr(obj.spec, "suspend", False)) or store.is_suspended(obj.kind, obj.namespace, obj.name)


def object_view(obj: Any, status: dict[str, Any]) -> dict[str, Any]:
    """The `{"kind", "namespace", "name", "spec", "status"}` object `-o json` prints for any kind."""
    return {"kind": obj.kind, "namespace": obj.namespace, "name": obj.name,
            "spec": obj.spec.to_yaml_dict(), "status": status}


def remove_condition(status: dict[str, Any], type_: str) -> None:
    status["conditions"] = [c for c in status.get("conditions", []) if c.get("type") != type_]


def get_condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for condition in status.get("conditions", []):
        if condition.get("type") == type_:
            return condition
    return None


def is_ready(status: dict[str, Any]) -> bool:
    condition = get_condition(status, READY)
    return bool(condition and condition.get("status") == "True")


def spec_hash(spec: dict[str, Any]) -> str:
    """A stable hash of an object's spec; a change bumps the object's generation in the store."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
