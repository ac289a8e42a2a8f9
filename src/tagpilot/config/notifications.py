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


class _Keyed(tuple):  # (key, value) while the notifications ConfigMap's data is validated
    pass


def _check_value(value: Any) -> Any:
    """Each value of the notifications ConfigMap is checked with its key, so a pydantic error's
    location is `data.<key>` and the loader reports that key's line."""
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
        return raw

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
        return isinstance(meta, dict) and meta.get("name") == CONFIGMAP_NAME

    @property
    def spec(self) -> _DataView:
        return _DataView(self.data)

    @property
    def is_notifications(self) -> bool:
        return self.metadata.name == CONFIGMAP_NAME
