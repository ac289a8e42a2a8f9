"""`tagpilot reconcile` and `tagpilot get policies`: ImagePolicies evaluated over real scans."""

from __future__ import annotations

import time
from pathlib import Path

from tests.fixtures.pusher import push_image, push_tags
from tests.fixtures.registry import RegistryServer
from tests.integration.cli import run_tagpilot


def repository(name: str, image: str, interval: str = "5m") -> str:
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: {name}
  namespace: apps
spec:
  image: {image}
  interval: {interval}
  insecure: true
"""


def policy(name: str, repo: str, body: str, api: str = "v1") -> str:
    return f"""\
apiVersion: image.toolkit.fluxcd.io/{api}
kind: ImagePolicy
metadata:
  name: {name}
  namespace: apps
spec:
  imageRepositoryRef:
    name: {repo}
{body}"""


def write(tmp_path: Path, *docs: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text("---\n".join(docs))
    return path


def by_name(views: list[dict], kind: str = "ImagePolicy") -> dict[str, dict]:
    return {v["name"]: v for v in views if v["kind"] == kind}


def ready(view: dict) -> dict:
    return next(c for c in view["status"]["conditions"] if c["type"] == "Ready")


def test_policies_select_like_flux(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, [
        "1.0.0", "1.4.2", "2.0.0-rc.1", "1.5", "v1.4.3",
        "main-25de3e1a-1695469144", "main-f4fc1ec0-1695470344", "main-9813cf9a-1695469744", "dev-1-1695479999",
    ])
    config = write(
        tmp_path,
        repository("app", image),
        policy("stable", "app", "  policy:\n    semver:\n      range: '>=1.0.0 <2.0.0'\n"),
        policy("pre", "app", "  policy:\n    semver:\n      range: '>=1.0.0-0'\n"),
        # the tutorial's timestamp policy, with its v1beta1 apiVersion
        policy("main", "app", "  filterTags:\n    pattern: '^main-[a-fA-F0-9]+-(?P<ts>.*)'\n    extract: '$ts'\n"
               "  policy:\n    numerical:\n      order: asc\n", api="v1beta1"),
        policy("alpha", "app",
               "  filterTags:\n    pattern: '^main-'\n  policy:\n    alphabetical:\n      order: desc\n"),
        policy("orphan", "nothere", "  policy:\n    semver:\n      range: '*'\n"),
        policy("badre", "app",
               "  filterTags:\n    pattern: '(unclosed'\n  policy:\n    alphabetical: {}\n"),
    )
    state = tmp_path / "state"
    result = run_tagpilot("reconcile", "-f", config, "--state", state, "-o", "json")
    assert result.code == 1, result.stderr  # orphan and badre fail
    views = by_name(result.json())
    assert views["stable"]["status"]["latestRef"] == {"name": image, "tag": "v1.4.3"}
    assert views["pre"]["status"]["latestRef"]["tag"] == "2.0.0-rc.1"
    assert views["main"]["status"]["latestRef"]["tag"] == "main-f4fc1ec0-1695470344"
    assert views["alpha"]["status"]["latestRef"]["tag"] == "main-25de3e1a-1695469144"
    assert ready(views["stable"])["reason"] == "Succeeded"
    assert ready(views["stable"])["message"] == f"Latest image tag for {image} resolved to v1.4.3"
    assert ready(views["orphan"])["reason"] == "DependencyNotReady"
    assert ready(views["badre"])["reason"] == "InvalidPolicy"
    assert any(c["type"] == "Stalled" for c in views["badre"]["status"]["conditions"])
    assert "ImagePolicy/apps/orphan" in result.stderr and "Traceback" not in result.stderr

    stored = run_tagpilot("get", "policies", "-f", config, "--state", state, "-o", "json")
    assert stored.code == 0
    assert by_name(stored.json())["stable"]["status"] == views["stable"]["status"]
    table = run_tagpilot("get", "policies", "-f", config, "--state", state)
    assert f"{image}:v1.4.3" in table.stdout


def test_new_tag_updates_latest_and_records_previous(registry: RegistryServer, repo_name: str,
                                                      tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0"])
    config = write(tmp_path, repository("app", image, interval="1s"),
                   policy("p", "app", "  policy:\n    semver:\n      range: '1.x'\n"))
    state = tmp_path / "state"
    first = run_tagpilot("reconcile", "-f", config, "--state", state, "-o", "json")
    assert by_name(first.json())["p"]["status"]["latestRef"]["tag"] == "1.0.0"
    push_tags(registry, repo_name, ["1.1.0"])
    time.sleep(1.1)  # the repository's interval must pass before it is due again
    second = run_tagpilot("reconcile", "-f", config, "--state", state, "-o", "json")
    status = by_name(second.json())["p"]["status"]
    assert status["latestRef"]["tag"] == "1.1.0"
    assert status["observedPreviousRef"] == {"name": image, "tag": "1.0.0"}
    assert ready(by_name(second.json())["p"])["message"].endswith("updated from 1.0.0 to 1.1.0")


def test_reconcile_sees_the_image_a_ci_job_just_pushed(registry: RegistryServer, repo_name: str,
                                                      tmp_path: Path) -> None:
    """A CI job pushes an image, then runs `reconcile -f`: every repository is scanned now, due or not."""
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0"])
    config = write(tmp_path, repository("app", image, interval="1h"),
                   policy("p", "app", "  policy:\n    semver:\n      range: '*'\n"))
    state = tmp_path / "state"
    run_tagpilot("reconcile", "-f", config, "--state", state)
    push_tags(registry, repo_name, ["1.1.0"])
    again = run_tagpilot("reconcile", "-f", config, "--state", state, "-o", "json")
    assert by_name(again.json())["p"]["status"]["latestRef"]["tag"] == "1.1.0"


def test_repository_not_due_is_not_rescanned(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    push_tags(registry, repo_name, ["1.0.0"])
    config = write(tmp_path, repository("app", image, interval="1h"),
                   policy("p", "app", "  policy:\n    semver:\n      range: '*'\n"))
    state = tmp_path / "state"
    run_tagpilot("reconcile", "-f", config, "--state", state)
    push_tags(registry, repo_name, ["1.1.0"])
    again = run_tagpilot("reconcile", "--due-only", "-f", config, "--state", state, "-o", "json")
    assert by_name(again.json())["p"]["status"]["latestRef"]["tag"] == "1.0.0"  # the scan was not due
    scanned = run_tagpilot("scan", "-f", config, "--state", state)
    assert scanned.code == 0
    after = run_tagpilot("reconcile", "--due-only", "-f", config, "--state", state, "-o", "json")
    assert by_name(after.json())["p"]["status"]["latestRef"]["tag"] == "1.1.0"


def test_digest_reflection(registry: RegistryServer, repo_name: str, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    digest = push_image(registry, repo_name, "1.0.0", platforms=["linux/amd64", "linux/arm64"])
    config = write(
        tmp_path, repository("app", image),
        policy("never", "app", "  policy:\n    semver:\n      range: '*'\n"),
        policy("once", "app", "  digestReflectionPolicy: IfNotPresent\n  policy:\n    semver:\n      range: '*'\n"),
        policy("always", "app", "  digestReflectionPolicy: Always\n  interval: 1s\n"
               "  policy:\n    semver:\n      range: '*'\n"),
    )
    state = tmp_path / "state"
    views = by_name(run_tagpilot("reconcile", "-f", config, "--state", state, "-o", "json").json())
    assert "digest" not in views["never"]["status"]["latestRef"]
    assert views["once"]["status"]["latestRef"]["digest"] == digest  # the index digest for multi-arch
    assert views["always"]["status"]["latestRef"]["digest"] == digest
    # the tag moves to a new image: Always follows it, IfNotPresent keeps the digest it saw
    moved = push_image(registry, repo_name, "1.0.0", labels={"rebuild": "yes"})
    time.sleep(1.1)
    views = by_name(run_tagpilot("reconcile", "-f", config, "--state", state, "-o", "json").json())
    assert views["once"]["status"]["latestRef"]["digest"] == digest
    assert views["always"]["status"]["latestRef"]["digest"] == moved
    assert views["always"]["status"]["observedPreviousRef"]["digest"] == digest
