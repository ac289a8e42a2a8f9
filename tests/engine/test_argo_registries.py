"""registries.conf applied to an image's registry access: routing, defaultns, limits, credsexpire."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

from tagpilot.config.argo_cd import Application, ImageSettings
from tagpilot.config.loader import load_config
from tagpilot.engine.argo_registries import _CREDS, apply_registries_conf
from tagpilot.registry.client import RepositoryAccess
from tagpilot.registry.reference import parse_repository

APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: a}
spec: {source: {repoURL: 'file:///x', path: .}}
"""


class RecordingLimits:
    """Records the rate limits the hook installs (the real RegistryClient is tested elsewhere)."""

    def __init__(self) -> None:
        self.limits: dict[str, float | None] = {}

    def set_rate_limit(self, host: str, rps: float | None) -> None:
        self.limits[host] = rps


def ctx_for(tmp_path: Path, conf: str) -> SimpleNamespace:
    (tmp_path / "app.yaml").write_text(APP)
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: argocd-image-updater-config, namespace: argocd}\n"
        "data:\n  registries.conf: |\n" + "".join(f"    {line}\n" for line in conf.splitlines()))
    return SimpleNamespace(config=load_config([tmp_path]), registry=RecordingLimits())


def access_for(ctx: SimpleNamespace, image: str, strategy: str = "semver") -> RepositoryAccess:
    app = ctx.config.get(Application, "argocd", "a")
    settings = ImageSettings(alias="x", image=image, constraint="", strategy=strategy, strategy_annotation=None)
    plain = RepositoryAccess(reference=parse_repository(image))
    return asyncio.run(apply_registries_conf(ctx, app, settings, plain))


def test_routing_defaultns_limits_and_tls(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, """\
registries:
- {name: Mine, prefix: mine.example, api_url: 'http://127.0.0.1:5999/', defaultns: lib, default: true, limit: 7}
- {name: Team, prefix: mine.example/team, api_url: 'https://team.example', insecure: true}
- {name: Open, prefix: open.example}""")
    bare = access_for(ctx, "nginx")  # the default registry, its defaultns, its api_url (plain http)
    assert (bare.reference.domain, bare.reference.path, bare.insecure) == ("127.0.0.1:5999", "lib/nginx", True)
    assert ctx.registry.limits["127.0.0.1:5999"] == 7
    team = access_for(ctx, "mine.example/team/app")  # the longest prefix wins
    assert (team.reference.domain, team.insecure, team.tls.insecure_skip_verify) == ("team.example", False, True)
    other = access_for(ctx, "ghcr.io/org/app")  # not listed: upstream's inferred limit
    assert other.reference.domain == "ghcr.io" and ctx.registry.limits["ghcr.io"] == 20.0
    assert "open.example" not in ctx.registry.limits  # listed without limit: unlimited (nothing installed)
    access_for(ctx, "docker.io/library/alpine")
    assert ctx.registry.limits["registry-1.docker.io"] == 10.0


def test_ext_credentials_cached_for_credsexpire(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    script = tmp_path / "creds.sh"
    script.write_text(f"#!/bin/sh\necho x >> {counter}\necho user:pass\n")
    script.chmod(0o755)
    conf = tmp_path / "conf"
    conf.mkdir()
    ctx = ctx_for(conf, f"registries:\n- {{name: R, prefix: r.example, credentials: 'ext:{script}', credsexpire: 1h}}")
    _CREDS.clear()
    for _ in range(3):
        access = access_for(ctx, "r.example/app")
    assert access.credentials is not None and access.credentials.username == "user"
    assert counter.read_text().count("x") == 1  # run once, then cached for credsexpire
    assert "registries.conf entry 'R'" in (access.credentials_source or "")
