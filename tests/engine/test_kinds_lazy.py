"""The kind table loads a kind's engine module when the kind is first asked for by name: the table in
`MODULES` must name exactly what each module declares, and a Flux-only run must not import the
Argo CD, promotion, notification or retention engines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tagpilot.engine.kinds import MODULES, KindRegistry


def test_the_table_names_what_each_module_declares_in_order() -> None:
    registry = KindRegistry()
    assert [k.name for k in registry.all()] == [name for names in MODULES.values() for name in names]


def test_a_wrong_table_is_an_error_naming_the_module() -> None:
    registry = KindRegistry({"tagpilot.engine.scan": ("ImageRepository", "Typo")})
    with pytest.raises(RuntimeError, match=r"tagpilot\.engine\.scan declares kinds"):
        registry.get("ImageRepository")


def test_lookups_by_name_load_one_module_and_aliases_load_all() -> None:
    registry = KindRegistry()
    policy = registry.get("ImagePolicy")
    assert policy is not None and registry._loaded == {"tagpilot.engine.policies"}
    assert registry.find("ImagePolicy") is policy and registry.get("Nonesuch") is None
    assert registry._loaded == {"tagpilot.engine.policies"}
    found = registry.find("apps")  # an alias: the whole table is searched
    assert found is not None and found.name == "Application" and registry._loaded == set(MODULES)


def test_a_flux_reconcile_imports_only_the_flux_engines_and_no_notifier(tmp_path: Path) -> None:
    config = tmp_path / "flux.yaml"
    config.write_text(
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: a, namespace: x}\n"
        "spec: {image: 127.0.0.1:9/x/a, interval: 1m, insecure: true}\n---\n"
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: a, namespace: x}\n"
        "spec: {imageRepositoryRef: {name: a}, policy: {semver: {range: '>=1'}}}\n")
    code = (
        "import asyncio, sys\nfrom tagpilot.config.loader import load_config\n"
        "from tagpilot.engine.local import local_controller\n"
        f"config = load_config([{str(config)!r}])\n"
        "async def main():\n"
        f"    async with local_controller(config, {str(tmp_path / 'state')!r}) as ctl:\n"
        "        print([k[0] for k in ctl.keys()])\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.startswith(('tagpilot.engine.', 'tagpilot.notify.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "['ImageRepository', 'ImagePolicy']"
    for heavy in ("argo_app", "argo_updater", "promotion", "notifications", "retention", "argocd_server"):
        assert f"'tagpilot.engine.{heavy}'" not in out[1]
    assert "'tagpilot.notify.notifier'" not in out[1]  # nothing to notify: no ConfigMap, Provider or Alert
