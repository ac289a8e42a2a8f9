"""`tagpilot sensor test -f PATH --event payload.json`: what the sensors would do with one event.

A person debugging a Sensor wants to know, without deploying anything, whether a webhook payload
would fire their triggers and, when it would not, which filter said no. This command loads the
Sensors (and EventSources) under PATH, turns the payload file into the event data Argo's webhook
event source would build (headers from `--header K:V`, canonicalized as Go does), and prints, for
every sensor, each dependency's verdict and each trigger's plan: the request an http trigger would
send, the objects a tagpilot trigger would reconcile, the reason an Argo-only trigger cannot run.
It sends nothing. Exit 0 whatever the verdict; 2 for unusable input.

The work is in `run_person` (plain arguments in, `(exit code, text)` out); the lead's single
`sensor test` command calls it when `-f`/`--event` are given (`--batch` is `sensor_cmd`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tagpilot.config.argo_events import EventSource, Sensor, missing_event_sources
from tagpilot.config.loader import load_config
from tagpilot.errors import ConfigError, TagpilotError
from tagpilot.events.sensors import (
    Event,
    TriggerPlan,
    evaluate,
    event_from_webhook,
    match_dependencies,
    safe_url,
)

__all__ = ["run_person"]

USAGE = 2
PAYLOAD_SHOWN = 4096


class _Usage(Exception):
    """A misuse of the command line (exit 2)."""


def _parse_headers(items: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise _Usage(f"--header {item!r}: expected NAME:VALUE")
        out.append((name.strip(), value.strip()))
    return out


def _choose_event(
    sensors: Sequence[Sensor], sources: Sequence[EventSource], source: str | None, event_name: str | None
) -> tuple[str, str, str]:
    """(event source, event name, how it was chosen) when the user did not say."""
    if source and event_name:
        return source, event_name, "given"
    candidates: set[tuple[str, str]] = set()
    for es in sources:
        candidates |= {(es.name, name) for name in es.spec.webhook}
    how = "the only webhook of the EventSources given"
    if not candidates:
        candidates = {(d.event_source_name, d.event_name) for s in sensors for d in s.spec.dependencies}
        how = "the only event the sensors depend on"
    if source:
        candidates = {c for c in candidates if c[0] == source}
    if event_name:
        candidates = {c for c in candidates if c[1] == event_name}
    if len(candidates) != 1:
        listed = ", ".join(f"{s}/{n}" for s, n in sorted(candidates)) or "none"
        raise _Usage(f"say which event this is with --source NAME --event-name NAME (candidates: {listed})")
    src, name = next(iter(candidates))
    return src, name, how


def _plan_lines(plan: TriggerPlan) -> list[str]:
    verdict = "WOULD FIRE" if plan.fires and plan.error is None else (
        "would fire but FAILS" if plan.fires else "would not fire"
    )
    kind = plan.trigger_type if plan.kind == "unsupported" else plan.kind
    lines = [f"  trigger {plan.trigger} ({kind}): {verdict}"]
    lines += [f"    - {why}" for why in plan.why]
    if plan.fires and plan.request is not None:
        req = plan.request
        lines.append(f"    request: {req['method']} {safe_url(req['url'])} (timeout {plan.timeout:g}s)")
        for name in sorted(req["headers"]):
            lines.append(f"      {name}: {req['headers'][name]}")
        if plan.basic_auth is not None:
            lines.append("      Authorization: basic auth from Secret(s) (value not shown)")
        for sh in plan.secure_headers:
            lines.append(f"      {sh.get('name', '?')}: from a Secret (value not shown)")
        payload: bytes = req["payload"]
        text = payload[:PAYLOAD_SHOWN].decode("utf-8", errors="replace")
        more = f" ... ({len(payload)} bytes)" if len(payload) > PAYLOAD_SHOWN else ""
        lines.append(f"    payload: {text}{more}" if payload else "    payload: (empty)")
    if plan.fires and plan.log_lines:
        lines += [f"    log: {line}" for line in plan.log_lines]
    return lines


def run_person(
    files: Sequence[str | Path],
    event_file: str | Path,
    headers: Sequence[str] = (),
    *,
    source: str | None = None,
    event_name: str | None = None,
    method: str = "POST",
) -> tuple[int, str]:
    """Explain what the sensors under `files` would do with the payload in `event_file`."""
    try:
        if not files:
            raise _Usage("no configuration given: pass -f FILE or -f DIR")
        pairs = _parse_headers(headers)
        try:
            body = Path(event_file).read_bytes()
        except OSError as exc:
            raise _Usage(f"cannot read {event_file}: {exc.strerror}") from None
        config = load_config(files, sensors_need_sources=False)  # a Sensor alone can be tested
        sensors = sorted(config.of_kind(Sensor), key=lambda s: s.key)
        sources = sorted(config.of_kind(EventSource), key=lambda s: s.key)
        if not sensors:
            raise ConfigError(f"no Sensor found in {', '.join(str(f) for f in files)}")
        src, name, how = _choose_event(sensors, sources, source, event_name)
        webhook = next((es.spec.webhook[name] for es in sources if es.name == src and name in es.spec.webhook), None)
        data = event_from_webhook(pairs, body, method=method, metadata=webhook.metadata if webhook else None)
    except _Usage as exc:
        return USAGE, f"error: {exc}\n"
    except TagpilotError as exc:
        return exc.exit_code, f"error: {exc}\n"
    event = Event(source=src, name=name, data=data)
    out = [f"event {src}/{name} ({how}); {len(body)}-byte body, {len(pairs)} header(s)"]
    if webhook is not None:
        out.append(f"  webhook: {webhook.method} :{webhook.port}{webhook.endpoint}")
        if webhook.method != method:
            out.append(f"  note: the EventSource accepts {webhook.method} only; a {method} request is refused")
        if webhook.auth_secret is not None and not any(k.lower() == "authorization" for k, _ in pairs):
            out.append(
                f"  note: the EventSource requires 'Authorization: Bearer <token from Secret "
                f"{webhook.auth_secret.name}>'; a real request without it is refused"
            )
        if len(body) > webhook.payload_cap:
            out.append(f"  note: the body exceeds maxPayloadSize ({webhook.payload_cap} bytes); it would be refused")
    for issue in config.ignored:
        out.append(f"  warning: {issue}")
    if sources:  # with no EventSource given at all, the user is testing filters alone
        for problem in missing_event_sources(config):
            out.append(f"  warning: {problem} (`tagpilot run` refuses this configuration)")
    plans = evaluate(sensors, event)
    for sensor in sensors:
        out.append("")
        out.append(f"{sensor.ref}")
        for dep in match_dependencies(sensor, event):
            mark = "passes" if dep.passed else ("rejects" if dep.matched else "not this event")
            out.append(f"  dependency {dep.name}: {mark}")
            out += [f"    - {why}" for why in dep.why]
        for plan in plans:
            if plan.sensor == sensor.ref:
                out += _plan_lines(plan)
    firing = sum(1 for p in plans if p.fires and p.error is None)
    out.append("")
    out.append(f"{firing} of {len(plans)} trigger(s) would fire")
    return 0, "\n".join(out) + "\n"
