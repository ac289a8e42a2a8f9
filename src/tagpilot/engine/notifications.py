"""Notification configuration kinds: read, listed by `tagpilot get`, not reconciled on their own.

The `argocd-notifications-cm` ConfigMap and Flux `Alert`/`Provider` objects are applied by the
notifications subscriber of the event stream (`tagpilot.notify.notifier`); a changed configuration is
read on the next event.
"""

from __future__ import annotations

from typing import Any

from tagpilot.config.flux_alert import Alert, Provider
from tagpilot.config.notifications import ConfigMap
from tagpilot.engine.kinds import Column, Kind


def _keys(view: dict[str, Any], prefix: str) -> str:
    names = sorted(k.removeprefix(prefix) for k in (view["spec"].get("data") or {}) if k.startswith(prefix))
    return ",".join(names) or "-"


KINDS = (
    Kind(name="ConfigMap", model=ConfigMap, plural="configmaps", short=("cm",),
         columns=(Column("SERVICES", lambda v: _keys(v, "service.")),
                  Column("TRIGGERS", lambda v: _keys(v, "trigger.")))),
    Kind(name="Provider", model=Provider, plural="providers", short=("provider",),
         columns=(Column("TYPE", lambda v: v["spec"]["type"]),
                  Column("SUSPENDED", lambda v: str(v["spec"].get("suspend", False)).lower()))),
    Kind(name="Alert", model=Alert, plural="alerts", short=("alert",),
         columns=(Column("PROVIDER", lambda v: v["spec"]["providerRef"]["name"]),
                  Column("SEVERITY", lambda v: v["spec"].get("eventSeverity", "info")),
                  Column("SOURCES", lambda v: ",".join(f"{s['kind']}/{s['name']}" for s in v["spec"]["eventSources"])),
                  Column("SUSPENDED", lambda v: str(v["spec"].get("suspend", False)).lower()))),
)
