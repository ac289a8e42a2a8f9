"""Kinds tagpilot reads but does not reconcile on their own: Secrets, webhook receivers, Argo Events.

They still belong in the kind registry: `get` lists them, a changed Secret re-runs what may use it,
and the daemon serves the receivers. (GitRepository is declared with the automations that read it.)
"""

from __future__ import annotations

from typing import Any

from tagpilot.config.argo_events import EventSource, Sensor
from tagpilot.config.core import Secret
from tagpilot.config.flux_notification import Receiver
from tagpilot.engine.kinds import Column, Kind


def _receiver_type(view: dict[str, Any]) -> str:
    return str(view["spec"].get("type", "-"))


KINDS = (
    Kind(name="Secret", model=Secret, plural="secrets", rerun_on_change=True, listed=False),
    Kind(name="Receiver", model=Receiver, plural="receivers", columns=(Column("TYPE", _receiver_type),)),
    Kind(name="EventSource", model=EventSource, plural="eventsources"),
    Kind(name="Sensor", model=Sensor, plural="sensors"),
)
