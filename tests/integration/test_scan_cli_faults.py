"""`tagpilot scan` when a registry misbehaves or the credentials do not fit (issue 9).

The real registry (docker-registry 2.8) shows the credential case; 429 with a huge Retry-After, a
hang and deeply nested JSON need the FAKE registry (tests/registry/fake_registry.py).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot
from tests.integration.test_scan_cli import image_repository, ready, write
from tests.registry.fake_registry import FakeRegistry, FakeReply, FakeRequest


def test_scan_error_names_the_object_once(registry: RegistryServer, tmp_path: Path) -> None:
    config = write(tmp_path, image_repository("k8s-demo", f"{registry.host}/x/y",
                                              extra="  secretRef:\n    name: nope\n"))
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json")
    assert result.code == 1
    assert "error: ImageRepository/default/k8s-demo: " in result.stderr
    assert result.stderr.count("ImageRepository/default/k8s-demo") == 1, result.stderr
    message = ready(result.json()[0])["message"]
    assert "Secret default/nope" in message and not message.startswith("ImageRepository/")


def test_dockerconfigjson_without_an_entry_for_the_registry(registry_htpasswd: RegistryServer, repo_name: str,
                                                            tmp_path: Path) -> None:
    reg = registry_htpasswd
    push_tags(reg, repo_name, ["v1"])
    auth = base64.b64encode(b"someone:other-registry-pw").decode()
    doc = json.dumps({"auths": {"ghcr.io": {"auth": auth}, "https://quay.io/v1/": {"auth": auth}}})
    secret = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: regcred
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{doc}'
"""
    config = write(tmp_path, image_repository("app", f"{reg.host}/{repo_name}",
                                              extra="  secretRef:\n    name: regcred\n"), secret)
    result = run_tagpilot("scan", "-f", config, "--state", tmp_path / "s", "-o", "json",
                          env={"DOCKER_CONFIG": str(tmp_path / "no-docker-config")})
    assert result.code == 1
    message = ready(result.json()[0])["message"]
    assert ready(result.json()[0])["reason"] == "AuthenticationFailed"
    assert "sent a token" not in message
    assert f"Secret default/regcred (spec.secretRef) has no entry for {reg.host}" in message
    assert "it has entries for: ghcr.io, quay.io" in message
    for text in (result.stdout, result.stderr):
        assert "other-registry-pw" not in text and auth not in text


def _fake_config(tmp_path: Path, fake: FakeRegistry, timeout: str | None) -> Path:
    extra = f"  timeout: {timeout}\n" if timeout else ""
    return write(tmp_path, image_repository("app", f"{fake.host}/demo/app", extra=extra))


def test_retry_after_beyond_the_timeout(tmp_path: Path) -> None:
    """The reproduction: 429 with Retry-After: 999999 and timeout: 5s ran past 90 s."""
    reply = FakeReply.error(429, "TOOMANYREQUESTS", "slow down", {"Retry-After": "999999"})
    with FakeRegistry(lambda r: reply) as fake:
        started = time.monotonic()
        result = run_tagpilot("scan", "-f", _fake_config(tmp_path, fake, "5s"), "--state", tmp_path / "s",
                              "-o", "json", timeout=60)
        elapsed = time.monotonic() - started
    assert result.code == 1 and "Traceback" not in result.stderr
    message = ready(result.json()[0])["message"]
    assert fake.host in message and "Retry-After" in message and "5s timeout (spec.timeout" in message
    assert elapsed < 20  # 4x the 5 s timeout (it gives up at once); generous for process start-up on CI


def test_hanging_registry_is_bounded_by_the_timeout(tmp_path: Path) -> None:
    release = threading.Event()

    def hang(request: FakeRequest) -> FakeReply:
        release.wait(120)
        return FakeReply.json({"tags": []})

    with FakeRegistry(hang) as fake:
        try:
            started = time.monotonic()
            result = run_tagpilot("scan", "-f", _fake_config(tmp_path, fake, "3s"), "--state", tmp_path / "s",
                                  "-o", "json", timeout=60)
            elapsed = time.monotonic() - started
        finally:
            release.set()
    assert result.code == 1 and "Traceback" not in result.stderr
    message = ready(result.json()[0])["message"]
    assert "timed out" in message and fake.host in message and "3s timeout (spec.timeout)" in message
    # 4x the 3 s timeout: before, each of 5 attempts waited the full timeout (15 s and more)
    assert elapsed < 12


def test_deeply_nested_json_is_a_scan_error(tmp_path: Path) -> None:
    """200,000 '[' gave a RecursionError traceback."""
    with FakeRegistry(lambda r: FakeReply(200, b"[" * 200_000, {"Content-Type": "application/json"})) as fake:
        result = run_tagpilot("scan", "-f", _fake_config(tmp_path, fake, None), "--state", tmp_path / "s",
                              "-o", "json")
    assert result.code == 1
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    message = ready(result.json()[0])["message"]
    assert f"the response from {fake.host} is nested too deeply" in message
