"""Secrets never leave through any door: stdout, stderr, `-o json`, the state directory, argv in `ps`.

Each test runs the real CLI (subprocess) against real servers with right and wrong credentials, then
searches every place a secret could leak for the secret itself and for its usual encodings (base64 of
`user:password` as a Basic header or a docker `auth` field, URL-quoted): the command's output, every
file under the state directory byte for byte (the SQLite database and its WAL, the git workspaces
with their `.git/config`, helper scripts), and, while a deliberately slow git operation runs, the
command line of every process on the machine.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.fixtures.config import UPDATE_TEMPLATE, flux_automation_config
from tests.fixtures.git import GitHttpServer, GitRemote, _GitHttpHandler
from tests.fixtures.pusher import push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import Result, run_tagpilot

SRC = Path(__file__).resolve().parents[1] / "src"


def encodings(secret: str, user: str | None = None) -> list[bytes]:
    """The secret and the forms it takes on the wire or in config files."""
    forms = {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()}
    if user is not None:
        forms.add(base64.b64encode(f"{user}:{secret}".encode()).decode())
        forms.add(f"{quote(user, safe='')}:{quote(secret, safe='')}@")
    return sorted(f.encode() for f in forms)


def assert_nowhere(needles: list[bytes], *, results: list[Result], state: Path) -> int:
    """No needle in any output or in any file under `state`; returns how many files were searched."""
    for result in results:
        for stream in (result.stdout, result.stderr):
            for needle in needles:
                assert needle not in stream.encode(), f"secret {needle!r} in command output"
    files = [p for p in state.rglob("*") if p.is_file() and not p.is_symlink()]
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"secret {needle!r} in {path.relative_to(state)}"
    return len(files)


def docker_config_secret(name: str, host: str, user: str, password: str) -> str:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    doc = json.dumps({"auths": {host: {"auth": auth}}})
    return (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\ntype: kubernetes.io/dockerconfigjson\n"
            f"stringData:\n  .dockerconfigjson: '{doc}'\n")


def basic_secret(name: str, user: str, password: str, *, namespace: str = "default", as_data: bool = False) -> str:
    if as_data:
        b64 = base64.b64encode(password.encode()).decode()
        body = f"data: {{username: {base64.b64encode(user.encode()).decode()}, password: {b64}}}\n"
    else:
        body = f'stringData: {{username: {user}, password: "{password}"}}\n'
    return (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
            f"type: kubernetes.io/basic-auth\n{body}")


def image_repository(name: str, image: str, secret: str | None) -> str:
    ref = f"  secretRef: {{name: {secret}}}\n" if secret else ""
    return (f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {{name: {name}}}\n"
            f"spec:\n  image: {image}\n  interval: 5m\n  insecure: true\n{ref}")


def policy(name: str) -> str:
    return (f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {{name: {name}}}\n"
            f"spec:\n  imageRepositoryRef: {{name: {name}}}\n  policy: {{semver: {{range: '>=1.0.0'}}}}\n")


# -- registry credentials ----------------------------------------------------------------------------


def test_registry_passwords_never_leak(registry_htpasswd: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    reg = registry_htpasswd
    assert reg.username and reg.password
    push_tags(reg, repo_name, ["1.0.0", "1.1.0"])
    image = f"{reg.host}/{repo_name}"
    wrong = "wrong-" + secrets.token_hex(8)
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    auth = base64.b64encode(f"{reg.username}:{wrong}".encode()).decode()
    (docker_dir / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
    config = tmp_path / "config.yaml"
    config.write_text("---\n".join([
        image_repository("dockercfg", image, "dockercfg"), policy("dockercfg"),
        image_repository("basic", image, "basic"), policy("basic"),
        image_repository("data", image, "data"), policy("data"),
        image_repository("wrongcfg", image, "wrongcfg"), policy("wrongcfg"),
        image_repository("wrongbasic", image, "wrongbasic"),
        image_repository("fromdocker", image, None),  # DOCKER_CONFIG holds the wrong password
        docker_config_secret("dockercfg", reg.host, reg.username, reg.password),
        basic_secret("basic", reg.username, reg.password),
        basic_secret("data", reg.username, reg.password, as_data=True),
        docker_config_secret("wrongcfg", reg.host, reg.username, wrong),
        basic_secret("wrongbasic", reg.username, wrong),
    ]))
    state = tmp_path / "state"
    env = {"DOCKER_CONFIG": str(docker_dir)}
    results = [
        run_tagpilot("scan", "-f", config, "--state", state, "-o", "json", env=env),
        run_tagpilot("scan", "-f", config, "--state", state, env=env),
        run_tagpilot("reconcile", "-f", config, "--state", state, "-o", "json", env=env),
        run_tagpilot("get", "repositories", "-f", config, "--state", state, "-o", "json", env=env),
        run_tagpilot("get", "policies", "-f", config, "--state", state, "-o", "json", env=env),
    ]
    views = {v["name"]: v for v in results[2].json() if v["kind"] == "ImageRepository"}
    assert {n for n, v in views.items() if v["status"].get("lastScanResult", {}).get("tagCount") == 2} == {
        "dockercfg", "basic", "data"}  # the right credentials really were used
    for name in ("wrongcfg", "wrongbasic", "fromdocker"):
        ready = next(c for c in views[name]["status"]["conditions"] if c["type"] == "Ready")
        assert ready["reason"] == "AuthenticationFailed", (name, ready)
    assert "Traceback" not in "".join(r.stderr for r in results)
    needles = encodings(reg.password, reg.username) + encodings(wrong, reg.username)
    assert assert_nowhere(needles, results=results, state=state) >= 1
    assert (state / "state.db").exists()


# -- git credentials ---------------------------------------------------------------------------------

DEPLOY = 'image: "{image}:1.0.0" # {{"$imagepolicy": "apps:app"}}\n'


def automation_config(image: str, url: str, *, secret: str, signing: str = "") -> str:
    return flux_automation_config(image, url, secret=secret, signing=signing or None, source_timeout="60s",
                                  compact=True, scan_interval="1m", api="v1beta2", interval="1m", checkout=False,
                                  author="signer@example.org", template=UPDATE_TEMPLATE)


def test_git_passwords_tokens_and_signing_passphrase_never_leak(
        registry: RegistryServer, repo_name: str, git_http: GitRemote, tmp_path: Path) -> None:
    assert git_http.username and git_http.password
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0", "1.2.0"])
    git_http.commit({"deploy/app.yaml": DEPLOY.format(image=image)}, message="add")
    head = git_http.head("main")
    wrong = "wrong-" + secrets.token_hex(8)
    token = "tok-" + secrets.token_hex(12)
    config = tmp_path / "config.yaml"
    state = tmp_path / "state"
    results: list[Result] = []

    # wrong password, then a bearer token the server does not accept: refused, nothing pushed
    for secret in (basic_secret("git-auth", git_http.username, wrong, namespace="apps"),
                   "apiVersion: v1\nkind: Secret\nmetadata: {name: git-auth, namespace: apps}\n"
                   f"stringData: {{bearerToken: {token}}}\n"):
        config.write_text(automation_config(image, git_http.url, secret="git-auth") + "---\n" + secret)
        bad = run_tagpilot("reconcile", "-f", config, "--state", state, "-o", "json")
        assert bad.code == 1, bad.stderr
        results.append(bad)
        assert git_http.head("main") == head

    # the right password, with a passphrase-protected gpg signing key
    from tests.gitops.test_signing import gpg_home, make_gpg_key

    passphrase = "pp-" + secrets.token_hex(8)
    with gpg_home() as gpg_env:
        armored, _fpr = make_gpg_key(gpg_env, passphrase)
    key_block = "".join(f"    {line}\n" for line in armored.decode().splitlines())
    signing = ("apiVersion: v1\nkind: Secret\nmetadata: {name: signing, namespace: apps}\nstringData:\n"
               f"  git.asc: |\n{key_block}  passphrase: \"{passphrase}\"\n")
    config.write_text(automation_config(image, git_http.url, secret="git-auth", signing="signing") + "---\n"
                      + basic_secret("git-auth", git_http.username, git_http.password, namespace="apps")
                      + "---\n" + signing)
    good = run_tagpilot("reconcile", "-f", config, "--state", state, "-o", "json")
    assert good.code == 0, good.stderr
    results.append(good)
    results.append(run_tagpilot("get", "automations", "-f", config, "--state", state, "-o", "json"))
    assert f"{image}:1.2.0" in git_http.read_file("deploy/app.yaml", "main")
    assert "gpgsig" in git_http.git("cat-file", "commit", "main")  # the signing key really was used

    needles = (encodings(git_http.password, git_http.username) + encodings(wrong, git_http.username)
               + encodings(token) + encodings(passphrase))
    needles.append(b"PRIVATE KEY BLOCK")  # no copy of the armoured key anywhere in the state
    searched = assert_nowhere(needles, results=results, state=state)
    git_configs = [p for p in state.rglob("config") if p.parent.name == ".git"]
    assert git_configs, "expected a git workspace under the state directory"
    assert searched > len(git_configs)
    for cfg in git_configs:
        assert "@" not in cfg.read_text()  # no userinfo in the stored remote URL


# -- process command lines ---------------------------------------------------------------------------


class SlowGitHttpServer(GitHttpServer):
    """The test git smart-HTTP server, but every request waits `delay` seconds before it is served,
    so the git processes tagpilot starts live long enough to be looked at in /proc."""

    delay: float = 0.4

    def start(self) -> SlowGitHttpServer:
        import http.server

        self.basedir.mkdir(parents=True, exist_ok=True)
        owner = self
        delay = self.delay

        class Handler(_GitHttpHandler):
            server_owner = owner

            def _handle(self) -> None:
                time.sleep(delay)
                super()._handle()

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="slow-git-http", daemon=True).start()
        return self


def _all_cmdlines() -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    out[int(entry)] = fh.read()
            except OSError:
                continue
    return out


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_no_secret_in_any_process_command_line(registry: RegistryServer, repo_name: str, git_environ: dict[str, str],
                                                tmp_path: Path) -> None:
    password = "argv-" + secrets.token_hex(10)
    server = SlowGitHttpServer(tmp_path / "git-http", username="fleet", password=password).start()
    try:
        remote = server.create_repo("fleet.git", env=git_environ)
        image = f"{registry.host}/{repo_name}"
        push_tags(registry, repo_name, ["1.0.0", "1.4.0"])
        remote.seed({"deploy/app.yaml": DEPLOY.format(image=image)}, message="seed")
        config = tmp_path / "config.yaml"
        config.write_text(automation_config(image, remote.url, secret="git-auth") + "---\n"
                          + basic_secret("git-auth", "fleet", password, namespace="apps"))
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        env.pop("TAGPILOT_STATE", None)
        proc = subprocess.Popen([sys.executable, "-m", "tagpilot", "reconcile", "-f", str(config), "--state",
                                 str(tmp_path / "state")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        needles = encodings(password, "fleet")
        seen_git = 0
        leaks: list[str] = []
        try:
            while proc.poll() is None:
                for pid, cmdline in _all_cmdlines().items():
                    if pid == os.getpid():
                        continue
                    if cmdline.startswith(b"git\0") or b"/git\0" in cmdline[:200] or cmdline.startswith(b"git-"):
                        seen_git += 1
                    leaks += [f"{pid}: {cmdline!r}" for n in needles if n in cmdline]
                time.sleep(0.02)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err.decode()
        assert f"{image}:1.4.0" in remote.read_file("deploy/app.yaml", "main")
        assert seen_git > 0, "no git process was observed; the check proved nothing"
        assert not leaks, leaks
        for needle in needles:
            assert needle not in out and needle not in err
    finally:
        server.stop()
