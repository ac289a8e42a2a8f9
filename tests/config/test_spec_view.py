"""`Object.spec_yaml_dict`: the spec as written, through the object's own serializer.

It must be exactly `spec.to_yaml_dict()` (the spec hash that decides a new generation, and `-o json`,
are made from it) for every object of every example configuration, and must not make pydantic build
the spec model's schema a second time (which `spec.to_yaml_dict()` did, ~1-3 ms per kind).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tagpilot.config.loader import load_config
from tagpilot.engine.status import spec_view
from tagpilot.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = sorted(EXAMPLES.rglob("*.yaml"))


def test_spec_yaml_dict_is_the_specs_own_dump() -> None:
    compared = 0
    for path in FILES:
        try:
            config = load_config([path])
        except ConfigError:
            continue  # a part of a configuration (a Secret's file, a kustomization): loaded with the rest
        for obj in config.objects.values():
            if getattr(obj, "spec", None) is None or not hasattr(obj.spec, "to_yaml_dict"):
                continue
            expected = obj.spec.to_yaml_dict()
            assert obj.spec_yaml_dict() == expected, path
            assert list(obj.spec_yaml_dict()) == list(expected)  # same key order: the hash is of the JSON text
            assert spec_view(obj) == expected
            if hasattr(obj, "policy_dict"):  # ImagePolicy: what the policy engine is given
                assert obj.policy_dict() == obj.spec.policy_dict()
            compared += 1
    assert compared >= 30  # every kind of the examples: Flux, Argo CD, promotion, retention, notifications


def test_the_spec_model_is_not_built_again(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
                      "metadata: {name: app, namespace: apps}\nspec: {image: ghcr.io/a/app, interval: 5m}\n---\n"
                      "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
                      "metadata: {name: app, namespace: apps}\n"
                      "spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: '>=1.0.0'}}}\n")
    probe = ("from tagpilot.config.loader import load_config\n"
             f"repo, policy = load_config([{str(config)!r}]).objects.values()\n"
             "view = repo.spec_yaml_dict()\n"
             "print(view['image'], policy.policy_dict()['policy']['semver']['range'],"
             " type(repo.spec).__pydantic_complete__, type(policy.spec).__pydantic_complete__)\n"
             "repo.spec.to_yaml_dict()\n"
             "print(type(repo.spec).__pydantic_complete__)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ghcr.io/a/app", ">=1.0.0", "False", "False", "True"]  # built only when dumped on its own
