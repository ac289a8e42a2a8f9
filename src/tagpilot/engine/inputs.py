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
from tagpilot.store.protocols import ObjectSource


def _receiver_type(view: dict[str, Any]) -> str:
    return str(view["spec"].get("type", "-"))


def receiver_path(source: ObjectSource, receiver: Receiver) -> str | None:
    """Flux's `status.webhookPath`: /hook/ + sha256(token + name + namespace); None without a token."""
    secret = source.get(Secret, receiver.namespace, receiver.spec.secret_ref.name)
    token = secret.text("token") if secret is not None else None
    return receiver.webhook_path(token) if token else None


def _receiver_status(source: ObjectSource, receiver: Receiver) -> dict[str, Any]:
    path = receiver_path(source, receiver)
    return {"webhookPath": path} if path else {}


KINDS = (
    Kind(name="Secret", model=Secret, plural="secrets", rerun_on_change=True, listed=False),
    Kind(name="Receiver", model=Receiver, plural="receivers", observe=_receiver_status,
         columns=(Column("TYPE", _receiver_type),
                  Column("WEBHOOK PATH", lambda v: v["status"].get("webhookPath", "- (no token in the Secret)")))),
    Kind(name="EventSource", model=EventSource, plural="eventsources"),
    Kind(name="Sensor", model=Sensor, plural="sensors"),
)
