"""`ArgoCDServer` (`tagpilot.dev/v1alpha1`): an Argo CD API server whose Applications' live status tagpilot
reads (`GET /api/v1/applications`, polled every `interval`), so argocd-notifications triggers about Argo CD's
own state (`on-deployed`, `on-sync-failed`, `on-health-degraded`) fire with `app` = the live Application.

    apiVersion: tagpilot.dev/v1alpha1
    kind: ArgoCDServer
    metadata: {name: argocd, namespace: argocd}
    spec:
      url: https://argocd.example.com
      secretRef: {name: argocd-api, key: token}    # an Argo CD API token (account with applications, get)
      interval: 1m
      projects: [default]                          # optional: only these projects
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from tagpilot.config.base import Interval, Model, Object, PlainText


class TokenRef(Model):
    name: str = Field(min_length=1)
    key: str = "token"


class ArgoCDServerSpec(Model):
    url: PlainText
    secret_ref: TokenRef
    interval: Interval = "1m"
    projects: list[str] = Field(default_factory=list)
    suspend: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("url must be the Argo CD server's http(s) URL, e.g. https://argocd.example.com")
        return value.rstrip("/")


class ArgoCDServer(Object):
    api_version: Literal["tagpilot.dev/v1alpha1"]
    kind: Literal["ArgoCDServer"]
    spec: ArgoCDServerSpec
