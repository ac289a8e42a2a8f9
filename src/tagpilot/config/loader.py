"""From YAML documents to validated, typed configuration objects.

`load_config(paths)` reads every document, picks the model for its `apiVersion`/`kind`, validates it
and collects every error (with file, line, object and field) before raising, so a user fixes all of
them in one round. Kinds that no part of tagpilot reads are reported once as ignored.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from tagpilot.config.base import Object
from tagpilot.config.core import Secret
from tagpilot.config.source import Document, iter_documents, raise_errors
from tagpilot.errors import ConfigError, ConfigErrors, CredentialsError, Location

T = TypeVar("T", bound=Object)

# kind → (module, class) of its model. A kind's model lists the apiVersions it accepts; new readers
# register here. Imported when a document of the kind is first read: a Flux-only configuration never
# imports the Argo CD, Argo Events, notification or promotion models (~40 ms of every command).
MODELS: dict[str, tuple[str, str]] = {
    "ImageRepository": ("tagpilot.config.flux_image", "ImageRepository"),
    "ImagePolicy": ("tagpilot.config.flux_image", "ImagePolicy"),
    "Secret": ("tagpilot.config.core", "Secret"),
    "GitRepository": ("tagpilot.config.flux_source", "GitRepository"),
    "ImageUpdateAutomation": ("tagpilot.config.flux_automation", "ImageUpdateAutomation"),
    "Receiver": ("tagpilot.config.flux_notification", "Receiver"),
    "EventSource": ("tagpilot.config.argo_events", "EventSource"),
    "Sensor": ("tagpilot.config.argo_events", "Sensor"),
    "Application": ("tagpilot.config.argo_cd", "Application"),
    "ImageUpdater": ("tagpilot.config.argo_image_updater", "ImageUpdater"),
    "ConfigMap": ("tagpilot.config.notifications", "ConfigMap"),  # read only when named argocd-notifications-cm
    "RetentionPolicy": ("tagpilot.config.retention", "RetentionPolicy"),
    "Provider": ("tagpilot.config.flux_alert", "Provider"),  # Flux notification Provider/Alert (tagpilot.notify.flux)
    "Alert": ("tagpilot.config.flux_alert", "Alert"),
    "ArgoCDServer": ("tagpilot.config.argocd_server", "ArgoCDServer"),  # Argo CD REST API (notifications)
    "Promotion": ("tagpilot.config.promotion", "Promotion"),
}


def model_of(kind: str) -> type[Object] | None:
    """The configuration model of `kind`, None for kinds nobody reads."""
    where = MODELS.get(kind)
    if where is None:
        return None
    model: type[Object] = getattr(importlib.import_module(where[0]), where[1])
    return model


@dataclass
class Config:
    """Every object of a configuration, by (kind, namespace, name), with where it was defined."""

    objects: dict[tuple[str, str, str], Object] = field(default_factory=dict)
    origins: dict[tuple[str, str, str], Location] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # messages about kinds nobody reads
    # of_kind's answers, valid while `objects` has the size they were computed at (objects are only
    # ever added, by load_config): every scan asks for the ImagePolicies, and a pass over all
    # objects per question made a round over 10,000 ImageRepositories quadratic
    _kinds: dict[type[Any], list[Any]] = field(default_factory=dict, repr=False, compare=False)
    _kinds_size: int = field(default=-1, repr=False, compare=False)

    def of_kind(self, model: type[T]) -> list[T]:
        if self._kinds_size != len(self.objects):
            self._kinds.clear()
            self._kinds_size = len(self.objects)
        found = self._kinds.get(model)
        if found is None:
            found = self._kinds[model] = [obj for obj in self.objects.values() if isinstance(obj, model)]
        return list(found)

    def get(self, model: type[T], namespace: str, name: str) -> T | None:
        kind = model.model_fields["kind"].annotation.__args__[0]  # type: ignore[union-attr]
        obj = self.objects.get((kind, namespace, name))
        return obj if isinstance(obj, model) else None

    def secret(self, namespace: str, name: str, *, referenced_by: Object, field_name: str) -> Secret:
        """The Secret an object refers to, or a CredentialsError that says who refers to it and where."""
        secret = self.get(Secret, namespace, name)
        if secret is None:
            where = self.origins.get(referenced_by.key)
            at = f" ({where.file}:{where.line})" if where and where.file else ""
            raise CredentialsError(
                f"{referenced_by.ref}: {field_name} refers to Secret {namespace}/{name}, which is not "
                f"in the configuration{at}; add it to a file passed with -f"
            )
        return secret


def _error_path(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    # pydantic adds the name of union members / validator functions; keep only real field names
    return tuple(p for p in loc if isinstance(p, int) or not str(p).startswith(("function-", "literal[")))


def _object_name(data: dict[str, Any], model: type[Object]) -> str:
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    # the model's own default namespace (an Argo CD Application's is `argocd`)
    ns = meta.get("namespace") or model.model_fields["metadata"].annotation.model_fields["namespace"].default
    return f"{data.get('kind')}/{ns}/{meta.get('name', '?')}"


def parse_document(doc: Document) -> Object | None:
    """Validate one document. Returns None for kinds nobody reads; raises ConfigErrors otherwise."""
    data = doc.data
    if not isinstance(data, dict):
        raise ConfigError("a configuration document must be a mapping with apiVersion and kind", doc.location())
    kind = data.get("kind")
    if not isinstance(kind, str) or not isinstance(data.get("apiVersion"), str):
        raise ConfigError("missing apiVersion or kind", doc.location())
    model = model_of(kind)
    if model is None or not getattr(model, "reads", lambda _data: True)(data):
        return None
    obj_name = _object_name(data, model)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False, include_input=False):
            path = _error_path(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "literal_error" and path == ("apiVersion",):
                msg = f"unsupported apiVersion {data.get('apiVersion')!r} for {kind}; {msg.lower()}"
            elif err["type"] == "extra_forbidden":
                msg = "unknown field"
            errors.append(ConfigError(msg, doc.location(path, obj=obj_name)))
        raise ConfigErrors(errors) from None


def load_config(paths: Iterable[str | Path], *, sensors_need_sources: bool = True) -> Config:
    """Load and validate every object under `paths` (files or directories).

    `sensors_need_sources=False` lets a Sensor load without its EventSource (`sensor test`).
    """
    config = Config()
    errors: list[ConfigError] = []
    ignored_kinds: dict[str, int] = {}
    warnings: list[str] = []  # problems a person must fix that do not stop the load (file:line)
    read_errors: list[ConfigError] = []  # files that cannot be read or parsed: reported alone, as before
    for doc in iter_documents(paths, read_errors):
        try:
            obj = parse_document(doc)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        except ConfigError as exc:
            errors.append(exc)
            continue
        if obj is None:
            kind = str(doc.data.get("kind"))
            ignored_kinds[kind] = ignored_kinds.get(kind, 0) + 1
            continue
        location = doc.location(obj=obj.ref)
        if obj.key in config.objects:
            first = config.origins[obj.key]
            errors.append(ConfigError(f"defined twice (first at {first.file}:{first.line})", location))
            continue
        config.objects[obj.key] = obj
        config.origins[obj.key] = location
        warnings += getattr(obj, "load_warnings", lambda _doc: [])(doc)
    raise_errors(read_errors)
    config.ignored = [
        f"ignored {count} object(s) of kind {kind}: tagpilot does not read this kind"
        for kind, count in sorted(ignored_kinds.items())
    ] + warnings
    present = {key[0] for key in config.objects}
    if sensors_need_sources and not errors and "Sensor" in present:
        from tagpilot.config.argo_events import missing_event_sources

        errors += missing_event_sources(config)
    if not errors and present & {"Alert", "Provider"}:
        from tagpilot.config.flux_alert import check_alerts

        errors += check_alerts(config)
    errors.sort(key=lambda e: (e.location.file or "", e.location.line or 0))
    raise_errors(errors)
    return config
