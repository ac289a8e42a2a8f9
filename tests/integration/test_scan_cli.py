"""`tagpilot scan` and `tagpilot get repositories` against the real registry (docker-registry 2.8)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot


def image_repository(name: str, image: str, *, extra: str = "", namespace: str = "default") -> str:
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: {name}
  namespace: {namespace}
spec:
  image: {image}
  interval: 5m
  insecure: true
{extra}"""


def docker_config_secret(name: str, host: str, user: str, password: str) -> str:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    doc = json.dumps({"auths": {host: {"auth": auth}}})
    return f"""\
apiVersion: v1
kind: Secret
metadata:
  name: {name}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{doc}'
"""


def write(tmp_path: Path, *docs: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("---\n".join(docs))
    return path


def ready(view: dict) -> dict:
    return next(c for c in view["status"]["conditions"] if c["type"] == "Ready")


def test_scan_anonymous_flux_shaped_status(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    tags = ["1.0.0", "1.1.0", "2.0.0-rc.1", "sha256-abc.sig", "latest", "10", "9"]
    push_tags(registry, repo_name, tags)
    config = write(tmp_path, image_repository("app", f"{registry.host}/{repo_name}"))
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr
    (view,) = result.json()
    assert (view["kind"], view["namespace"], view["name"]) == ("ImageRepository", "default", "app")
    assert view["spec"]["image"] == f"{registry.host}/{repo_name}"
    status = view["status"]
    assert status["canonicalImageName"] == f"{registry.host}/{repo_name}"
    assert status["observedExclusionList"] == ["^.*\\.sig$"]
    scan = status["lastScanResult"]
    assert scan["tagCount"] == 6  # the .sig tag is excluded before counting
    assert scan["latestTags"] == ["latest", "9", "2.0.0-rc.1", "10", "1.1.0", "1.0.0"]
    assert scan["revision"].isdigit()
    assert ready(view)["status"] == "True" and ready(view)["reason"] == "Succeeded"
    assert ready(view)["message"] == "successful scan: found 6 tags"

    # get repositories shows the stored status without touching the registry
    stored = run_tagpilot("get", "repositories", "-f", config, "--state", tmp_path / "state", "-o", "json")
    assert stored.code == 0 and stored.json()[0]["status"] == status
    table = run_tagpilot("get", "repositories", "-f", config, "--state", tmp_path / "state")
    assert "app" in table.stdout and "latest" in table.stdout and "True" in table.stdout


def test_state_from_environment(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    push_tags(registry, repo_name, ["a"])
    config = write(tmp_path, image_repository("app", f"{registry.host}/{repo_name}"))
    result = run_tagpilot("scan", "-f", config, "-o", "json", env={"TAGPILOT_STATE": str(tmp_path / "envstate")})
    assert result.code == 0, result.stderr
    assert (tmp_path / "envstate" / "state.db").exists()


def test_unknown_repository_is_read_failure(registry: RegistryServer, tmp_path: Path) -> None:
    config = write(tmp_path, image_repository("ghost", f"{registry.host}/nobody/here"),
                   image_repository("bad", "UPPER/case"))
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json")
    assert result.code == 1
    views = {v["name"]: v for v in result.json()}
    assert ready(views["ghost"])["reason"] == "ReadOperationFailed"
    assert "NAME_UNKNOWN" in ready(views["ghost"])["message"]
    assert ready(views["bad"])["reason"] == "ImageURLInvalid"
    assert any(c["type"] == "Stalled" and c["status"] == "True" for c in views["bad"]["status"]["conditions"])
    assert "Traceback" not in result.stderr
    assert "ImageRepository/default/ghost" in result.stderr


def test_invalid_configuration_exits_2_with_location(tmp_path: Path) -> None:
    config = write(tmp_path, image_repository("app", "alpine", extra="  intervall: 1m\n"))
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s")
    assert result.code == 2
    assert f"{config}:10: ImageRepository/default/app: field spec.intervall: unknown field" in result.stderr
    assert "Traceback" not in result.stderr


def test_htpasswd_with_secret_right_and_wrong(registry_htpasswd: RegistryServer, repo_name: str,
                                              tmp_path: Path) -> None:
    reg = registry_htpasswd
    push_tags(reg, repo_name, ["v1", "v2"])
    assert reg.username and reg.password
    secret_ok = docker_config_secret("regcred", reg.host, reg.username, reg.password)
    secret_bad = docker_config_secret("badcred", reg.host, reg.username, "not-the-password")
    config = write(
        tmp_path,
        image_repository("good", f"{reg.host}/{repo_name}", extra="  secretRef:\n    name: regcred\n"),
        image_repository("wrong", f"{reg.host}/{repo_name}", extra="  secretRef:\n    name: badcred\n"),
        image_repository("anon", f"{reg.host}/{repo_name}"),
        secret_ok, secret_bad,
    )
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json",
                          env={"DOCKER_CONFIG": str(tmp_path / "no-docker-config")})
    assert result.code == 1
    views = {v["name"]: v for v in result.json()}
    assert views["good"]["status"]["lastScanResult"]["tagCount"] == 2
    assert ready(views["wrong"])["reason"] == "AuthenticationFailed"
    assert "Secret default/badcred" in ready(views["wrong"])["message"]  # says which Secret to fix
    assert ready(views["anon"])["reason"] == "AuthenticationFailed"
    for text in (result.stdout, result.stderr):
        assert "not-the-password" not in text and reg.password not in text


def test_credentials_from_docker_config_json(registry_htpasswd: RegistryServer, repo_name: str,
                                             tmp_path: Path) -> None:
    reg = registry_htpasswd
    push_tags(reg, repo_name, ["v1"])
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    auth = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
    (docker_dir / "config.json").write_text(json.dumps({"auths": {f"http://{reg.host}": {"auth": auth}}}))
    config = write(tmp_path, image_repository("app", f"{reg.host}/{repo_name}"))
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json",
                          env={"DOCKER_CONFIG": str(docker_dir)})
    assert result.code == 0, result.stderr
    # a broken config.json is a clear error, not a traceback
    (docker_dir / "config.json").write_text("{broken")
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json",
                          env={"DOCKER_CONFIG": str(docker_dir)})
    assert result.code == 1
    assert "config.json" in result.stderr and "Traceback" not in result.stderr


def test_token_auth_with_basic_auth_secret(registry_token: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    reg = registry_token
    push_tags(reg, repo_name, ["1", "2", "3"])
    secret = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: tok
type: kubernetes.io/basic-auth
stringData:
  username: {reg.username}
  password: {reg.password}
"""
    config = write(tmp_path, image_repository("app", f"{reg.host}/{repo_name}", extra="  secretRef:\n    name: tok\n"),
                   secret)
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json")
    assert result.code == 0, result.stderr
    assert result.json()[0]["status"]["lastScanResult"]["tagCount"] == 3


def test_missing_secret_is_reported(registry: RegistryServer, tmp_path: Path) -> None:
    config = write(tmp_path, image_repository("app", f"{registry.host}/x/y", extra="  secretRef:\n    name: nope\n"))
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json")
    assert result.code == 1
    message = ready(result.json()[0])["message"]
    assert "Secret default/nope" in message and "spec.secretRef" in message


def test_outage_keeps_last_good_scan(registry_factory, repo_name: str, tmp_path: Path) -> None:
    reg = registry_factory()
    push_tags(reg, repo_name, ["1.0.0", "1.1.0"])
    config = write(tmp_path, image_repository("app", f"{reg.host}/{repo_name}"))
    first = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json")
    assert first.code == 0
    good = first.json()[0]["status"]["lastScanResult"]
    reg.stop()
    second = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json")
    assert second.code == 1
    status = second.json()[0]["status"]
    assert status["lastScanResult"] == good
    assert ready(second.json()[0])["reason"] == "ReadOperationFailed"


def test_suspended_and_unsupported_provider(registry: RegistryServer, tmp_path: Path) -> None:
    config = write(
        tmp_path,
        image_repository("paused", f"{registry.host}/x/paused", extra="  suspend: true\n"),
        image_repository("cloud", f"{registry.host}/x/cloud", extra="  provider: aws\n"),
    )
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json")
    views = {v["name"]: v for v in result.json()}
    assert views["paused"]["status"] == {}  # never scanned: suspend is respected
    assert ready(views["cloud"])["reason"] == "ProviderNotSupported"
    assert result.code == 1


@pytest.mark.parametrize("output", ["table", "json"])
def test_many_repositories_scanned_concurrently(registry: RegistryServer, tmp_path: Path, output: str) -> None:
    docs = []
    for i in range(30):
        push_tags(registry, f"many-{output}/r{i}", [f"{i}.0.0", "x"])
        docs.append(image_repository(f"r{i}", f"{registry.host}/many-{output}/r{i}"))
    result = run_tagpilot("scan", "-f", write(tmp_path, *docs), "--state", tmp_path / "s", "-o", output)
    assert result.code == 0, result.stderr
    if output == "json":
        assert sorted(v["status"]["lastScanResult"]["tagCount"] for v in result.json()) == [2] * 30
    else:
        assert result.stdout.count("successful scan: found 2 tags") == 30
