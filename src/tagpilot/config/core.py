"""Kubernetes core objects tagpilot reads: `Secret` (v1).

Secrets hold registry passwords, tokens and keys. Their values never appear in `repr`, logs, status
or errors: the model keeps them out of its repr and every message names only the Secret and the key.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Literal

from pydantic import Field, model_validator

from tagpilot.config.base import Object

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
BASIC_AUTH = "kubernetes.io/basic-auth"
OPAQUE = "Opaque"


class Secret(Object):
    """A Secret as `kubectl` accepts it: `data` (base64) and/or `stringData` (plain)."""

    api_version: Literal["v1"]
    kind: Literal["Secret"]
    type: str = OPAQUE
    data: dict[str, str] = Field(default_factory=dict, repr=False)
    string_data: dict[str, str] = Field(default_factory=dict, repr=False)
    immutable: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> Secret:
        for key, value in self.data.items():
            try:
                base64.b64decode(value.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError):
                raise ValueError(f"data.{key}: value is not valid base64") from None
        values = self.values()
        if self.type == DOCKER_CONFIG_JSON:
            raw = values.get(".dockerconfigjson")
            if raw is None:
                raise ValueError(f"a Secret of type {DOCKER_CONFIG_JSON} needs the key .dockerconfigjson")
            try:
                doc = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise ValueError(f".dockerconfigjson is not valid JSON ({exc.__class__.__name__})") from None
            if not isinstance(doc, dict) or not isinstance(doc.get("auths", {}), dict):
                raise ValueError(".dockerconfigjson must be a JSON object with an `auths` object")
        elif self.type == BASIC_AUTH and "username" not in values and "password" not in values:
            raise ValueError(f"a Secret of type {BASIC_AUTH} needs `username` and/or `password`")
        return self

    def values(self) -> dict[str, bytes]:
        """Decoded values; `stringData` wins over `data` for the same key, as in Kubernetes.
        Decoded once per object (Secrets are read on every scan and webhook)."""
        cached = self.__dict__.get("_decoded")
        if cached is None:
            cached = {k: base64.b64decode(v) for k, v in self.data.items()}
            cached.update({k: v.encode("utf-8") for k, v in self.string_data.items()})
            object.__setattr__(self, "_decoded", cached)
        return dict(cached)

    def text(self, key: str) -> str | None:
        value = self.values().get(key)
        return None if value is None else value.decode("utf-8", errors="replace")
