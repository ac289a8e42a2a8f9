"""Notification configuration kinds: read, listed by `tagpilot get`, not reconciled on their own.

The `argocd-notifications-cm` ConfigMap is applied by the notifications subscriber of the event
stream (`tagpilot.notify.notifier`); a changed ConfigMap is read on the next event.
"""

from __future__ import annotations

from typing import Any

from tagpilot.config.notifications import ConfigMap
from tagpilot.engine.kinds import Column, Kind


def _keys(view: dict[str, Any], prefix: str) -> str:
    names = sorted(k.removeprefix(prefix) for k in (view["spec"].get("data") or {}) if k.startswith(prefix))
    return ",".join(names) or "-"


KINDS = (
    Kind(name="ConfigMap", model=ConfigMap, plural="configmaps", short=("cm",),
         columns=(Column("SERVICES", lambda v: _keys(v, "service.")),
                  Column("TRIGGERS", lambda v: _keys(v, "trigger.")))),
)
