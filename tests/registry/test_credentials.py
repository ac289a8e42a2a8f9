"""Docker config parsing, host matching and credential helpers (a real helper program on PATH)."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tagpilot.errors import CredentialsError
from tagpilot.registry.credentials import (
    Credentials,
    DockerConfig,
    load_docker_config,
    lookup,
    normalize_host,
    parse_docker_config,
    server_url,
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CONFIG = {
    "auths": {
        "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpass")},
        "ghcr.io": {"username": "octo", "password": "ghp_secret"},
        "http://127.0.0.1:5000": {"auth": b64("local:pa:ss")},
        "https://quay.io/v2/some/path": {"auth": b64("quser:qpass")},
        "registry.example.com": {"identitytoken": "refresh-me"},
        "empty.example.com": {},
    }
}


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("docker.io", Credentials("hubuser", "hubpass")),
        ("index.docker.io", Credentials("hubuser", "hubpass")),
        ("registry-1.docker.io", Credentials("hubuser", "hubpass")),
        ("https://index.docker.io/v1/", Credentials("hubuser", "hubpass")),
        ("ghcr.io", Credentials("octo", "ghp_secret")),
        ("GHCR.IO", Credentials("octo", "ghp_secret")),
        ("127.0.0.1:5000", Credentials("local", "pa:ss")),  # password may contain ':'
        ("quay.io", Credentials("quser", "qpass")),
        ("registry.example.com", Credentials(identity_token="refresh-me")),
        ("127.0.0.1:5001", None),  # the port is part of the host
        ("gcr.io", None),
        ("empty.example.com", None),
    ],
)
async def test_lookup_auths(host: str, expected: Credentials | None) -> None:
    assert await lookup(parse_docker_config(json.dumps(CONFIG)), host) == expected


@pytest.mark.parametrize(
    ("server", "host"),
    [
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("docker.io", "index.docker.io"),
        ("http://localhost:5000/v2/", "localhost:5000"),
        ("Ghcr.io", "ghcr.io"),
        ("  ghcr.io  ", "ghcr.io"),
    ],
)
def test_normalize_host(server: str, host: str) -> None:
    assert normalize_host(server) == host


def test_server_url() -> None:
    assert server_url("docker.io") == "https://index.docker.io/v1/"
    assert server_url("ghcr.io") == "ghcr.io"


def test_repr_hides_secrets() -> None:
    creds = Credentials("user", "hunter2", identity_token="idtok", registry_token="regtok")
    text = repr(creds) + str(creds) + repr(parse_docker_config(json.dumps(CONFIG)))
    for secret in ("hunter2", "idtok", "regtok", "ghp_secret", "hubpass", b64("hubuser:hubpass")):
        assert secret not in text
    assert "user" in repr(creds)
    assert creds.fingerprint() != Credentials("user", "other").fingerprint()
    assert "hunter2" not in creds.fingerprint()


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"auths": []}', "'auths' must be an object"),
        ('{"auths": {"x": "y"}}', "must be an object"),
        ('{"auths": {"x": {"auth": "!!!notbase64"}}}', "auths entry 'x'"),
        ('{"auths": {"x": {"auth": "' + b64("nocolon") + '"}}}', "username:password"),
        ('{"auths": {"x": {"username": 5}}}', "must be a string"),
        ('{"credHelpers": {"x": 1}}', "credHelpers"),
        ('{"credsStore": 1}', "credsStore"),
    ],
)
def test_broken_documents(document: str, why: str) -> None:
    with pytest.raises(CredentialsError) as info:
        parse_docker_config(document, source="secret default/regcred")
    assert why in str(info.value)
    assert str(info.value).startswith("secret default/regcred")


async def test_legacy_dockercfg() -> None:
    config = parse_docker_config({"https://ghcr.io": {"auth": b64("a:b"), "email": "x@y"}})
    assert await lookup(config, "ghcr.io") == Credentials("a", "b")


def test_load_missing_and_empty(tmp_path: Path) -> None:
    assert load_docker_config(tmp_path / "nope.json").auths == {}
    (tmp_path / "empty.json").write_text("")
    assert load_docker_config(tmp_path / "empty.json").auths == {}


def test_load_broken_names_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"ghcr.io": {"auth": "')
    with pytest.raises(CredentialsError) as info:
        load_docker_config(path)
    assert str(path) in str(info.value)


def test_load_from_docker_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    config = load_docker_config()
    assert config.source == str(tmp_path / "config.json")
    assert "ghcr.io" in config.auths


def test_load_from_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker" / "config.json").write_text(json.dumps(CONFIG))
    assert "ghcr.io" in load_docker_config().auths


HELPER = """#!{python}
import json, sys
if sys.argv[1:] != ["get"]:
    sys.exit(3)
server = sys.stdin.read().strip()
with open({log!r}, "a") as log:
    log.write(server + "\\n")
answers = {{
    "https://index.docker.io/v1/": {{"ServerURL": server, "Username": "hub-helper", "Secret": "s3cret"}},
    "ghcr.io": {{"ServerURL": server, "Username": "<token>", "Secret": "identity"}},
}}
if server == "broken.example.com":
    print("not json")
    sys.exit(0)
if server == "fails.example.com":
    print("keychain locked")
    sys.exit(1)
if server == "slow.example.com":
    import time
    time.sleep(30)
if server not in answers:
    print("credentials not found in native keychain")
    sys.exit(1)
print(json.dumps(answers[server]))
"""


@pytest.fixture
def helper_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install a `docker-credential-test` program on PATH that answers like the real helpers."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "helper.log"
    script = bindir / "docker-credential-test"
    script.write_text(HELPER.format(python=sys.executable, log=str(log)))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


async def test_creds_store_helper(helper_log: Path) -> None:
    config = parse_docker_config({"credsStore": "test", "auths": {"quay.io": {"auth": b64("q:p")}}})
    assert await lookup(config, "docker.io") == Credentials("hub-helper", "s3cret")
    assert await lookup(config, "ghcr.io") == Credentials(identity_token="identity")
    # Not found in the helper: falls back to the auths entry, then to nothing.
    assert await lookup(config, "quay.io") == Credentials("q", "p")
    assert await lookup(config, "gcr.io") is None
    asked = helper_log.read_text().split()
    assert asked == ["https://index.docker.io/v1/", "ghcr.io", "quay.io", "gcr.io"]


async def test_cred_helpers_per_host(helper_log: Path) -> None:
    config = parse_docker_config({"credHelpers": {"ghcr.io": "test"}, "auths": {"docker.io": {"auth": b64("file:pw")}}})
    assert await lookup(config, "ghcr.io") == Credentials(identity_token="identity")
    assert await lookup(config, "docker.io") == Credentials("file", "pw")  # no helper for Hub
    assert helper_log.read_text().split() == ["ghcr.io"]


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("broken.example.com", "not JSON"),
        ("fails.example.com", "exit 1"),
    ],
)
async def test_helper_failures(helper_log: Path, host: str, why: str) -> None:
    with pytest.raises(CredentialsError) as info:
        await lookup(parse_docker_config({"credsStore": "test"}), host)
    assert why in str(info.value)


async def test_helper_timeout(helper_log: Path) -> None:
    with pytest.raises(CredentialsError) as info:
        await lookup(parse_docker_config({"credsStore": "test"}), "slow.example.com", timeout=0.5)
    assert "did not answer" in str(info.value)


async def test_missing_helper() -> None:
    config = DockerConfig(creds_store="does-not-exist-anywhere")
    with pytest.raises(CredentialsError) as info:
        await lookup(config, "ghcr.io")
    assert "docker-credential-does-not-exist-anywhere" in str(info.value)
