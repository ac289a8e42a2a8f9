"""`tagpilot policy test IMAGE` in a subprocess, against the REAL registry (anonymous and htpasswd).

Images are pushed with chosen `created` times and platforms, so the expected choice is known; the
command's output is what a user sees (stdout: the choice and explanation; stderr: errors).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.cli import policy_live as cli
from tagpilot.errors import InvalidReference
from tests.engine.test_live_policy import config_blob_paths, day, push_index
from tests.fixtures.pusher import push_image, push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import Result, run_tagpilot

pytestmark = pytest.mark.integration

# Until the main CLI mounts `policy test`, run it from a `policy` group of its own (same code path).
_DRIVER = (
    "import sys, typer\n"
    "from tagpilot.cli import policy_live\n"
    "app = typer.Typer(pretty_exceptions_enable=False)\n"
    "policy = typer.Typer()\n"
    "app.add_typer(policy, name='policy')\n"
    "policy_live.register(policy)\n"
    "@policy.command('noop', hidden=True)\n"
    "def _noop() -> None: ...\n"
    "app(prog_name='tagpilot')\n"
)


def _mounted() -> bool:
    from tagpilot.cli.main import policy_app

    return any(c.name == "test" for c in policy_app.registered_commands)


def tagpilot(tmp_path: Path, *args: str | Path, env: dict[str, str] | None = None) -> Result:
    """Run `tagpilot policy test ...` with an empty Docker config and a private state directory."""
    docker = tmp_path / "docker"
    docker.mkdir(exist_ok=True)
    full_env = {"DOCKER_CONFIG": str(docker), **(env or {})}
    argv = ["policy", "test", *map(str, args)]
    if "--state" not in argv:
        argv += ["--state", str(tmp_path / "state")]
    if _mounted():
        return run_tagpilot(*argv, env=full_env)
    environ = {k: v for k, v in os.environ.items() if k != "TAGPILOT_STATE"} | full_env
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, *argv], capture_output=True, text=True, env=environ, timeout=120
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def explained(result: Result) -> dict[str, tuple[str, str]]:
    """tag -> (outcome, detail) from the explanation lines (`  outcome  tag  detail`)."""
    out = {}
    for line in result.stdout.splitlines()[1:] if result.code == 0 else result.stderr.splitlines()[1:]:
        outcome, tag, detail = line.split(maxsplit=2)
        out[tag] = (outcome, detail)
    return out


def test_newest_build_by_created_time_and_platform(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    image = registry.ref(repo_name)
    push_index(registry, repo_name, "multi", {"linux/amd64": day(1), "linux/arm64": day(10)})
    push_image(registry, repo_name, "amd-mid", created=day(5), platforms=["linux/amd64"])
    push_image(registry, repo_name, "old", created=day(2), platforms=["linux/amd64"])

    amd = tagpilot(tmp_path, image, "--strategy", "newest-build", "--platforms", "linux/amd64", "--explain")
    assert amd.code == 0, amd.stderr
    assert amd.stdout.splitlines()[0] == "amd-mid"
    assert explained(amd) == {
        "amd-mid": ("selected", "'amd-mid' is the newest build (2024-01-06T00:00:00+00:00)"),
        "multi": ("lower", "'multi' was built 2024-01-02T00:00:00+00:00, before 'amd-mid'"),
        "old": ("lower", "'old' was built 2024-01-03T00:00:00+00:00, before 'amd-mid'"),
    }

    arm = tagpilot(tmp_path, image, "--strategy", "newest-build", "--platforms", "linux/arm64", "--explain")
    assert arm.code == 0, arm.stderr
    assert arm.stdout.splitlines()[0] == "multi"
    assert explained(arm)["amd-mid"][0] == "wrong-platform"
    assert explained(arm)["old"] == ("wrong-platform", "'old' offers linux/amd64, not linux/arm64")

    both = tagpilot(tmp_path, image, "--strategy", "latest", "--platforms", "linux/amd64,linux/arm64")
    assert (both.code, both.stdout.strip()) == (0, "multi")


def test_newest_build_tie_goes_to_the_greater_name(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    push_image(registry, repo_name, "build-b", created=when, labels={"n": "b"})
    push_image(registry, repo_name, "build-a", created=when, labels={"n": "a"})
    push_image(registry, repo_name, "build-c", created=when - dt.timedelta(seconds=1))
    result = tagpilot(tmp_path, registry.ref(repo_name), "--strategy", "newest-build", "--platforms", "linux/amd64",
                      "--explain")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "build-b"
    assert explained(result)["build-a"] == (
        "lower", "'build-a' was built at the same time as 'build-b', which sorts later"
    )


def test_digest_prints_the_pushed_digest_and_follows_a_repush(
    registry: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    first = push_index(registry, repo_name, "stable", {"linux/amd64": day(1), "linux/arm64": day(1)})
    push_image(registry, repo_name, "other", created=day(3))
    result = tagpilot(tmp_path, registry.ref(repo_name, "stable"), "--strategy", "digest")
    assert (result.code, result.stdout.strip()) == (0, f"stable@{first}"), result.stderr  # the index digest

    moved = push_image(registry, repo_name, "stable", created=day(4))
    again = tagpilot(tmp_path, registry.ref(repo_name), "--strategy", "digest", "--constraint", "stable",
                     "--explain")
    assert again.code == 0, again.stderr
    assert again.stdout.splitlines()[0] == f"stable@{moved}"
    assert explained(again)["stable"] == ("selected", f"'stable' currently points to {moved}")
    assert explained(again)["other"][0] == "lower"

    gone = tagpilot(tmp_path, registry.ref(repo_name, "nightly"), "--strategy", "digest")
    assert gone.code == 1
    assert "tag 'nightly' followed by the digest strategy is not among the allowed tags" in gone.stderr


ARGO_TAGS = ["0.1", "0.5.1", "0.9", "1.0", "1.0.1", "1.1.2", "2.0.3"]


@pytest.mark.parametrize(
    ("suffix", "extra", "expected"),
    [
        ("", [], "2.0.3"),
        (":^1.0", [], "1.1.2"),
        (":~1.0", [], "1.0.1"),
        ("", ["--constraint", "1.x"], "1.1.2"),
        (":1.0.x", ["--strategy", "semver"], "1.0.1"),  # a constraint that is also a valid tag
        ("", ["--semver", ">=0.5.0 <1.0.0"], "0.5.1"),  # Flux: partial versions are not versions
        ("", ["--alphabetical", "desc"], "0.1"),
    ],
)
def test_semver_with_the_constraint_in_the_image(
    registry: RegistryServer, repo_name: str, tmp_path: Path, suffix: str, extra: list[str], expected: str
) -> None:
    push_tags(registry, repo_name, ARGO_TAGS)
    result = tagpilot(tmp_path, registry.ref(repo_name) + suffix, *extra)
    assert (result.code, result.stdout.strip()) == (0, expected), result.stderr


def test_allow_and_ignore_tags(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    push_tags(registry, repo_name, ["1.0.0", "1.2.0", "1.3.0-rc.1", "2.0.0", "1.2.1-hotfix", "feature-x"])
    image = registry.ref(repo_name)
    result = tagpilot(tmp_path, image, "--allow-tags", r"regexp:^1\.", "--ignore-tags", "1.2.*", "--explain")
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "1.0.0"
    verdicts = {tag: outcome for tag, (outcome, _) in explained(result).items()}
    assert verdicts == {
        "1.0.0": "selected", "1.2.0": "ignored", "1.3.0-rc.1": "prerelease", "2.0.0": "not-allowed",
        "1.2.1-hotfix": "ignored", "feature-x": "not-allowed",
    }
    none_left = tagpilot(tmp_path, image, "--ignore-tags", "*", "--explain")
    assert none_left.code == 1
    assert "no tag satisfies the semver constraint '*'" in none_left.stderr
    assert none_left.stdout == ""
    pattern = tagpilot(tmp_path, image, "--alphabetical", "asc", "--pattern", "^feature-(?P<n>.*)", "--extract",
                       "$n")
    assert (pattern.code, pattern.stdout.strip()) == (0, "feature-x")


def test_htpasswd_registry_with_credentials_from_the_environment(
    registry_htpasswd: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    push_tags(registry_htpasswd, repo_name, ["1.0.0", "1.1.0"])
    image = registry_htpasswd.ref(repo_name)
    good = f"{registry_htpasswd.username}:{registry_htpasswd.password}"
    result = tagpilot(tmp_path, image, "--credentials", "env:REGCRED", env={"REGCRED": good})
    assert (result.code, result.stdout.strip()) == (0, "1.1.0"), result.stderr

    wrong_password = "not-the-password-5f3c"
    denied = tagpilot(tmp_path, image, "--credentials", "env:REGCRED",
                      env={"REGCRED": f"{registry_htpasswd.username}:{wrong_password}"})
    assert denied.code == 1
    assert f"authentication to {registry_htpasswd.host} failed" in denied.stderr
    assert "environment variable REGCRED" in denied.stderr
    assert wrong_password not in denied.stdout + denied.stderr
    assert "Traceback" not in denied.stderr

    anonymous = tagpilot(tmp_path, image)  # the (empty) Docker config has nothing for this host
    assert anonymous.code == 1 and "no credentials were found" in anonymous.stderr
    # the hint names the flag this command has (not a secretRef, which only configurations have)
    assert "pass --credentials env:VAR" in anonymous.stderr and "secretRef" not in anonymous.stderr

    unset = tagpilot(tmp_path, image, "--credentials", "env:NOT_SET_ANYWHERE")
    assert unset.code == 1 and "NOT_SET_ANYWHERE is not set" in unset.stderr

    on_argv = tagpilot(tmp_path, image, "--credentials", good)
    assert on_argv.code == 2
    assert registry_htpasswd.password not in on_argv.stderr and "env:VAR" in on_argv.stderr


def test_docker_config_credentials_are_used_by_default(
    registry_htpasswd: RegistryServer, repo_name: str, tmp_path: Path
) -> None:
    import base64
    import json

    push_tags(registry_htpasswd, repo_name, ["3.0.0"])
    auth = base64.b64encode(f"{registry_htpasswd.username}:{registry_htpasswd.password}".encode()).decode()
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"auths": {registry_htpasswd.host: {"auth": auth}}}))
    result = tagpilot(tmp_path, registry_htpasswd.ref(repo_name))
    assert (result.code, result.stdout.strip()) == (0, "3.0.0"), result.stderr


def test_unknown_repository(registry: RegistryServer, tmp_path: Path) -> None:
    result = tagpilot(tmp_path, registry.ref("t/never-pushed-here"))
    assert result.code == 1
    assert result.stderr.startswith(f"error: listing tags of {registry.host}/t/never-pushed-here: not found")
    assert "NAME_UNKNOWN" in result.stderr and "Traceback" not in result.stderr


def test_second_run_fetches_no_blob(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    push_image(registry, repo_name, "a", created=day(1))
    push_image(registry, repo_name, "b", created=day(3))
    push_index(registry, repo_name, "c", {"linux/amd64": day(2), "linux/arm64": day(4)})
    image = registry.ref(repo_name)
    args = (image, "--strategy", "newest-build", "--platforms", "linux/amd64", "--explain")
    first = tagpilot(tmp_path, *args)
    assert first.code == 0 and first.stdout.splitlines()[0] == "b", first.stderr

    # Take every config blob (and the index's child manifests) away from the registry: only the
    # tags and the tagged manifests remain. A run with the same state must not need what is gone.
    for tag in ("a", "b", "c"):
        for path in config_blob_paths(registry, repo_name, tag):
            path.unlink()
    second = tagpilot(tmp_path, *args)
    assert (second.code, second.stdout) == (0, first.stdout), second.stderr

    fresh = tagpilot(tmp_path, *args, "--state", tmp_path / "fresh-state")
    assert fresh.code == 1  # without the cache the same command cannot read any build time
    assert {outcome for outcome, _ in explained(fresh).values()} == {"no-metadata"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--semver", "1.x", "--strategy", "semver"], "at most one of"),
        (["--semver", "1.x", "--allow-tags", "any"], "--allow-tags: Argo options"),
        (["--strategy", "newest-build", "--pattern", "x"], "--pattern/--extract are Flux options"),
        (["--strategy", "fastest"], "--strategy 'fastest': must be one of"),
        (["--platforms", "linux"], "--platforms: platform 'linux' must be os/architecture"),
        (["--credentials", "secret:ns/name#pw"], "--credentials must be env:VAR"),
    ],
)
def test_misuse_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = tagpilot(tmp_path, "127.0.0.1:9/t/app", *args)
    assert result.code == 2
    assert message in result.stderr
    assert not (tmp_path / "state").exists()  # nothing was opened, nothing contacted


def test_misuse_of_image(tmp_path: Path) -> None:
    both = tagpilot(tmp_path, "127.0.0.1:9/t/app:^1.0", "--constraint", "~1.0")
    assert both.code == 2 and "not both" in both.stderr
    flux_tag = tagpilot(tmp_path, "127.0.0.1:9/t/app:1.0", "--semver", "1.x")
    assert flux_tag.code == 2 and "without a tag" in flux_tag.stderr
    bad = tagpilot(tmp_path, "Not A/Reference")
    assert bad.code == 2 and "invalid image reference" in bad.stderr
    pinned = tagpilot(tmp_path, "127.0.0.1:9/t/app@sha256:" + "0" * 64)
    assert pinned.code == 2 and "pinned to a digest" in pinned.stderr


def test_bad_policy_is_exit_1(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    push_tags(registry, repo_name, ["1.0.0"])
    bad_range = tagpilot(tmp_path, registry.ref(repo_name), "--semver", "not a range")
    assert bad_range.code == 1 and bad_range.stderr.startswith("error: ")
    latest = tagpilot(tmp_path, registry.ref(repo_name, "latest"))  # `latest` is no semver constraint
    assert latest.code == 1 and "Traceback" not in latest.stderr


def test_help_renders(tmp_path: Path) -> None:
    result = tagpilot(tmp_path, "--help")
    assert result.code == 0, result.stderr
    for option in ("--strategy", "--credentials", "--platforms", "--explain", "--state"):
        assert option in result.stdout


# -- the command line's own parsing, in process ------------------------------------------------------

@pytest.mark.parametrize(
    ("image", "name", "tag_part"),
    [
        ("nginx", "docker.io/library/nginx", None),
        ("nginx:~1.26", "docker.io/library/nginx", "~1.26"),
        ("ghcr.io/org/app:1.2.x", "ghcr.io/org/app", "1.2.x"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app", None),
        ("127.0.0.1:5000/app:>=1.0 <2", "127.0.0.1:5000/app", ">=1.0 <2"),
        ("localhost:5000/team/app:^2.0", "localhost:5000/team/app", "^2.0"),
    ],
)
def test_image_and_constraint_split(image: str, name: str, tag_part: str | None) -> None:
    ref, part = cli._split_image(image)
    assert (ref.name, ref.tag, part) == (name, None, tag_part)


@given(st.text(max_size=60))
def test_image_parsing_never_crashes_on_junk(text: str) -> None:
    try:
        ref, _part = cli._split_image(text)
    except (InvalidReference, cli._Usage):
        return
    assert ref.tag is None and ref.digest is None


@pytest.mark.parametrize(
    ("machine", "expected"),
    [("x86_64", "linux/amd64"), ("aarch64", "linux/arm64"), ("arm64", "linux/arm64"), ("armv7l", "linux/arm/v7"),
     ("s390x", "linux/s390x")],
)
def test_default_platform_is_linux_on_this_architecture(
    monkeypatch: pytest.MonkeyPatch, machine: str, expected: str
) -> None:
    monkeypatch.setattr(cli.host_platform, "machine", lambda: machine)
    assert cli.default_platform() == expected


def test_credentials_from_the_environment_in_process() -> None:
    creds, source = cli._credentials("env:RC", {"RC": "robot:pa:ss"})
    assert (creds.username, creds.password, source) == ("robot", "pa:ss", "environment variable RC")
    assert "pa:ss" not in repr(creds)
    assert cli._credentials(None, {}) == (None, None)
    code, text = cli.policy_test("127.0.0.1:9/t/app", credentials="env:RC", environ={"RC": "no-colon"})
    assert code == 1 and "must hold user:password" in text and "no-colon" not in text
