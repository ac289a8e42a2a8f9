"""`ConfigMap` (v1): read only when it is `argocd-notifications-cm` (notifications-engine's settings).

Other ConfigMaps load as plain string maps and nothing reads them. The notifications ConfigMap is
checked at load, key by key (`tagpilot.notify.config.parse_entry`), so an unsupported service type,
a `when` that does not parse or a template with a syntax error is an error naming the key and its
file:line — not a notification that silently never comes. Secrets (`$name` values) are resolved later
from `argocd-notifications-secret`, which is an ordinary `Secret`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from tagpilot.config.base import Object
from tagpilot.notify.config import CONFIGMAP_NAME, NotifyConfigError, parse_entry, parse_notifications

UPDATER_CONFIGMAP = "argocd-image-updater-config"  # read by config/argo_updater_config.py


class _Keyed(tuple):  # (key, value) while the notifications ConfigMap's data is validated
    pass


class _UpdaterKeyed(tuple):  # (key, value) of argocd-image-updater-config, checked with its key
    pass


def _check_value(value: Any) -> Any:
    """Each value of the notifications ConfigMap is checked with its key, so a pydantic error's
    location is `data.<key>` and the loader reports that key's line."""
    if isinstance(value, _UpdaterKeyed):  # argocd-image-updater-config: errors at the key's line
        from tagpilot.config.argo_updater_config import UpdaterConfigError, parse_updater_config

        key, text = value
        if not isinstance(text, str):
            raise ValueError("ConfigMap data values must be strings (quote the value or use a block scalar `|`)")
        try:
            parse_updater_config({key: text}, "")
        except UpdaterConfigError as exc:
            raise ValueError(str(exc)) from None
        return text
    if not isinstance(value, _Keyed):
        return value
    key, text = value
    if not isinstance(text, str):
        raise ValueError("ConfigMap data values must be strings (quote the value or use a block scalar `|`)")
    try:
        parse_entry(key, text)
    except NotifyConfigError as exc:
        raise ValueError(exc.detail) from None
    return text


class _DataView:
    """What `tagpilot get configmaps -o json` shows as `spec` (a ConfigMap has `data`, not a spec)."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data = data

    def to_yaml_dict(self) -> dict[str, Any]:
        return {"data": dict(self.data)}


class ConfigMap(Object):
    api_version: Literal["v1"]
    kind: Literal["ConfigMap"]
    data: dict[str, Annotated[str, BeforeValidator(_check_value)]] = Field(default_factory=dict)
    binary_data: dict[str, str] = Field(default_factory=dict)
    immutable: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _key_values(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and isinstance(raw.get("metadata"), dict) and \
                raw["metadata"].get("name") == CONFIGMAP_NAME and isinstance(raw.get("data"), dict):
            raw = {**raw, "data": {k: _Keyed((k, v)) for k, v in raw["data"].items()}}
        elif isinstance(raw, dict) and isinstance(raw.get("metadata"), dict) and \
                raw["metadata"].get("name") == UPDATER_CONFIGMAP and isinstance(raw.get("data"), dict):
            raw = {**raw, "data": {k: _UpdaterKeyed((k, v)) if k in ("registries.conf", "git.commit-message-template",
                                                                 "git.commit-signing-key", "git.commit-signing-method")
                                   else v for k, v in raw["data"].items()}}
        return raw

    @model_validator(mode="after")
    def _updater_config(self) -> ConfigMap:
        if self.metadata.name == UPDATER_CONFIGMAP:  # Argo CD Image Updater's settings
            from tagpilot.config.argo_updater_config import UpdaterConfigError, parse_updater_config

            try:
                parse_updater_config(self.data, self.namespace)
            except UpdaterConfigError as exc:
                raise ValueError(str(exc)) from None
        return self

    def load_warnings(self, doc: Any) -> list[str]:
        """Warnings naming file:line (the image updater's unknown or unused keys)."""
        if self.metadata.name != UPDATER_CONFIGMAP:
            return []
        from tagpilot.config.argo_updater_config import parse_updater_config

        out = []
        for key, message in parse_updater_config(self.data, self.namespace).warnings:
            where = doc.location(("data", key.split(" ", 1)[0]))
            out.append(f"{where.file}:{where.line}: {self.ref}: {key}: {message}")
        return out

    @model_validator(mode="after")
    def _references(self) -> ConfigMap:
        if self.is_notifications:
            try:  # triggers naming templates, subscriptions naming triggers and services
                parse_notifications(self.data)
            except NotifyConfigError as exc:
                raise ValueError(str(exc)) from None
        return self

    @staticmethod
    def reads(data: dict[str, Any]) -> bool:
        """Only the notifications ConfigMap is read; the loader reports the others as ignored."""
        meta = data.get("metadata")
        return isinstance(meta, dict) and meta.get("name") in (CONFIGMAP_NAME, UPDATER_CONFIGMAP)

    @property
    def spec(self) -> _DataView:
        return _DataView(self.data)

    @property
    def is_notifications(self) -> bool:
        return self.metadata.name == CONFIGMAP_NAME
