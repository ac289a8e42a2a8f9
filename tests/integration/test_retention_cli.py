"""`tagpilot retention plan|apply` against the REAL registry (delete enabled) and a real git remote.

The seed's scenario (shared/seeds/000_...: main-branch builds tagged with a timestamp, keep what was
pushed in the last 30 days) with what Harbor gets wrong: the deployed tag older than 30 days survives,
a digest shared by two tags, cosign signature tags, a multi-arch index, a tag re-pushed between plan
and apply, a registry with delete disabled; then `registry garbage-collect` frees blobs.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path

import pytest

from tagpilot.registry.reference import parse_repository
from tagpilot.store import Store
from tests.fixtures.git import GitRemote
from tests.fixtures.pusher import Pusher, build_image, list_tags
from tests.fixtures.registry import REGISTRY_BINARY, RegistryServer
from tests.integration.cli import run_tagpilot

pytestmark = pytest.mark.integration

OLD, RECENT, FRESH = "20261001-0800", "20261020-0900", "20261125-1200"
DAY = 86400.0

VALUES = """\
# deployed by the fleet
app:
  replicas: 2
  image: {image}:{tag}
"""


def config(image: str, url: str, *, dry_run: bool = False, rules: str | None = None, extra: str = "") -> str:
    rules = rules or """\
    - template: nDaysSinceLastPush
      params: {nDaysSinceLastPush: 30}
      tagSelectors: [{kind: doublestar, decoration: matches, pattern: "**"}]"""
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app, namespace: apps}}
spec: {{image: {image}, interval: 1h, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: app, namespace: apps}}
spec:
  imageRepositoryRef: {{name: app}}
  policy: {{alphabetical: {{order: asc}}}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: deploy, namespace: apps}}
spec: {{url: {url}, interval: 1m, ref: {{branch: main}}}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: deploy, namespace: apps}}
spec:
  interval: 3m
  sourceRef: {{kind: GitRepository, name: deploy}}
  git:
    commit: {{author: {{name: tagpilot, email: tagpilot@example.invalid}}}}
    push: {{branch: main}}
  update: {{path: ./deploy, strategy: Setters}}
---
apiVersion: tagpilot.dev/v1alpha1
kind: RetentionPolicy
metadata: {{name: cleanup, namespace: apps}}
spec:
  imageRepositoryRefs: [{{name: app}}]
  dryRun: {str(dry_run).lower()}
  maxDeletePercent: 100
  rules:
{rules}
{extra}"""


def push(pusher: Pusher, repo: str, tags: list[str], n: int, *, platforms: list[str] | None = None) -> str:
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=n)
    return pusher.push(repo, build_image(created=created, platforms=platforms, layer=f"layer {n}\n".encode()),
                       tags)


def seen_days_ago(state: Path, image: str, tags: dict[str, float]) -> None:
    """What scans `days` ago would have recorded (push times on a plain registry are first-seen times)."""
    canonical = parse_repository(image).canonical_name
    seen: list[str] = []
    with Store.open(state) as store:
        for tag, days in sorted(tags.items(), key=lambda kv: -kv[1]):  # oldest scan first, lists growing
            seen.append(tag)
            store.record_tags_seen(canonical, list(seen), time.time() - days * DAY)


@pytest.fixture
def scenario(registry: RegistryServer, repo_name: str, git_remote_file: GitRemote, tmp_path: Path):
    image = f"{registry.host}/{repo_name}"
    with Pusher(registry) as p:
        old = push(p, repo_name, [OLD], 1)
        recent = push(p, repo_name, [RECENT, "build-17"], 2)  # a digest shared by two tags
        fresh = push(p, repo_name, [FRESH], 3)
        # cosign's tag schema: sha256-<hex>.sig in the same repository
        push(p, repo_name, [f"sha256-{recent[7:]}.sig"], 11)
        push(p, repo_name, [f"sha256-{fresh[7:]}.sig"], 12)
    git_remote_file.commit({"deploy/values.yaml": VALUES.format(image=image, tag=OLD)}, message="deploy")
    state = tmp_path / "state"
    seen_days_ago(state, image, {OLD: 61, RECENT: 42, "build-17": 42, FRESH: 6,
                                 f"sha256-{recent[7:]}.sig": 42, f"sha256-{fresh[7:]}.sig": 6})
    cfg = tmp_path / "retention.yaml"
    cfg.write_text(config(image, git_remote_file.url))
    return {"image": image, "repo": repo_name, "state": state, "cfg": cfg, "old": old, "recent": recent,
            "fresh": fresh, "git": git_remote_file}


def by_digest(items: list[dict]) -> dict[str, dict]:
    return {i["digest"]: i for i in items}


def test_plan_keeps_the_deployed_tag_and_deletes_nothing(scenario, registry: RegistryServer) -> None:
    before = sorted(list_tags(registry, scenario["repo"]))
    result = run_tagpilot("retention", "plan", "-f", scenario["cfg"], "--state", scenario["state"], "-o", "json")
    assert result.code == 0, result.stderr
    items = by_digest(result.json())
    old, recent, fresh = items[scenario["old"]], items[scenario["recent"]], items[scenario["fresh"]]
    assert set(old) == {"policy", "repository", "digest", "tags", "action", "reasons"}
    assert old["policy"] == "apps/cleanup" and old["repository"] == parse_repository(scenario["image"]).canonical_name
    # older than 30 days, but deployed: kept, and the reason names the file and line
    assert old["action"] == "retain"
    assert f"deployed: GitRepository/apps/deploy deploy/values.yaml:4 (tag {OLD})" in old["reasons"]
    # 42 days old, not deployed: both tags of the shared digest go together
    assert recent["action"] == "delete" and recent["tags"] == sorted(["build-17", RECENT])
    assert "first seen by tagpilot" in recent["reasons"][0]
    assert fresh["action"] == "retain" and fresh["reasons"][0].startswith("rule 0 nDaysSinceLastPush=30 (pushed ")
    sig_of = {i["tags"][0]: i for i in items.values() if i["tags"] and i["tags"][0].endswith(".sig")}
    assert sig_of[f"sha256-{scenario['recent'][7:]}.sig"]["action"] == "delete"
    assert sig_of[f"sha256-{scenario['fresh'][7:]}.sig"]["reasons"] == [f"signature of retained {scenario['fresh']}"]
    assert sorted(list_tags(registry, scenario["repo"])) == before  # plan deletes nothing

    table = run_tagpilot("retention", "plan", "-f", scenario["cfg"], "--state", scenario["state"])
    assert table.code == 0 and "delete" in table.stdout and "deployed: GitRepository/apps/deploy" in table.stdout


def test_apply_deletes_by_digest_then_gc_frees_blobs(scenario, registry_factory, tmp_path: Path) -> None:
    # a registry of its own: garbage-collect must not run under another test's pushes
    server = registry_factory(tmpfs=False)
    image = f"{server.host}/{scenario['repo']}"
    with Pusher(server) as p:
        old = push(p, scenario["repo"], [OLD], 1)
        recent = push(p, scenario["repo"], [RECENT, "build-17"], 2)
        fresh = push(p, scenario["repo"], [FRESH], 3, platforms=["linux/amd64", "linux/arm64"])
        push(p, scenario["repo"], [f"sha256-{recent[7:]}.sig"], 40)
    scenario["git"].commit({"deploy/values.yaml": VALUES.format(image=image, tag=OLD)}, message="deploy")
    state = tmp_path / "state2"
    seen_days_ago(state, image, {OLD: 61, RECENT: 42, "build-17": 42, FRESH: 6, f"sha256-{recent[7:]}.sig": 42})
    cfg = tmp_path / "apply.yaml"
    cfg.write_text(config(image, scenario["git"].url))

    result = run_tagpilot("retention", "apply", "-f", cfg, "--state", state, "-o", "json")
    assert result.code == 0, result.stderr
    items = by_digest(result.json())
    assert items[recent]["deleted"] is True and items[recent]["action"] == "delete"
    assert items[old]["deleted"] is False and items[fresh]["deleted"] is False
    sig = next(i for i in items.values() if i["tags"] == [f"sha256-{recent[7:]}.sig"])
    assert sig["deleted"] is True
    assert sorted(list_tags(server, scenario["repo"])) == sorted([OLD, FRESH])
    # the multi-arch index still pulls on both platforms (its children were never touched)
    with Pusher(server) as p:
        _body, _type, digest = p.get_manifest(scenario["repo"], FRESH)
        assert digest == fresh
    events = run_tagpilot("events", "--state", state, "-o", "json").json()
    assert any(e["reason"] == "Deleted" and e["data"]["digest"] == recent for e in events)

    blobs = server.root / "docker/registry/v2/blobs"
    before = sum(1 for _ in blobs.rglob("data"))
    server.stop()  # garbage-collect runs on a stopped (or read-only) registry
    subprocess.run([REGISTRY_BINARY, "garbage-collect", "--delete-untagged", str(server.config_path)],
                   check=True, capture_output=True, timeout=120)
    after = sum(1 for _ in blobs.rglob("data"))
    assert after < before, (before, after)


def test_dry_run_policy_deletes_nothing_without_yes(scenario, registry: RegistryServer, tmp_path: Path) -> None:
    cfg = tmp_path / "dry.yaml"
    cfg.write_text(config(scenario["image"], scenario["git"].url, dry_run=True))
    result = run_tagpilot("retention", "apply", "-f", cfg, "--state", scenario["state"], "-o", "json")
    assert result.code == 0, result.stderr
    assert "dryRun: true: nothing deleted" in result.stderr
    assert all(i["deleted"] is False for i in result.json())
    assert RECENT in list_tags(registry, scenario["repo"])


def test_max_delete_percent_stops_without_yes(scenario, registry: RegistryServer, tmp_path: Path) -> None:
    cfg = tmp_path / "typo.yaml"
    text = config(scenario["image"], scenario["git"].url).replace("maxDeletePercent: 100", "maxDeletePercent: 10")
    cfg.write_text(text)
    result = run_tagpilot("retention", "apply", "-f", cfg, "--state", scenario["state"], "-o", "json")
    assert result.code == 1
    assert "maxDeletePercent 10" in result.stderr and "--yes" in result.stderr
    recent = by_digest(result.json())[scenario["recent"]]
    assert recent["deleted"] is False and recent["error"].startswith("blocked:")
    assert RECENT in list_tags(registry, scenario["repo"])


def test_registry_with_delete_disabled_is_a_clear_error(registry_factory, repo_name: str,
                                                       git_remote_file: GitRemote, tmp_path: Path) -> None:
    server = registry_factory(extra_config={"storage": {"delete": {"enabled": False}}})
    image = f"{server.host}/{repo_name}"
    with Pusher(server) as p:
        push(p, repo_name, ["a"], 1)
        push(p, repo_name, ["b"], 2)
    state = tmp_path / "state"
    seen_days_ago(state, image, {"a": 90, "b": 90})
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config(image, git_remote_file.url))
    result = run_tagpilot("retention", "apply", "-f", cfg, "--state", state, "-o", "json")
    assert result.code == 1
    items = result.json()
    assert [i["deleted"] for i in items] == [False, False]
    assert all("storage.delete.enabled" in i["error"] and "405" in i["error"] for i in items)
    assert sorted(list_tags(server, repo_name)) == ["a", "b"]


def test_bad_template_is_a_file_line_error_and_nothing_runs(scenario, registry: RegistryServer,
                                                           tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(config(scenario["image"], scenario["git"].url,
                          rules="    - template: latestPulledN\n      params: {latestPulledN: 3}"))
    result = run_tagpilot("retention", "apply", "--yes", "-f", cfg, "--state", scenario["state"])
    assert result.code == 2
    assert "bad.yaml:" in result.stderr and "latestPulledN" in result.stderr and "pull times" in result.stderr
    assert RECENT in list_tags(registry, scenario["repo"])


def test_missing_image_repository_ref_names_the_policy_file(scenario, tmp_path: Path) -> None:
    cfg = tmp_path / "ref.yaml"
    cfg.write_text(config(scenario["image"], scenario["git"].url).replace("imageRepositoryRefs: [{name: app}]",
                                                                         "imageRepositoryRefs: [{name: nope}]"))
    result = run_tagpilot("retention", "plan", "-f", cfg, "--state", scenario["state"])
    assert result.code == 2
    assert "spec.imageRepositoryRefs[0]" in result.stderr and "ImageRepository apps/nope" in result.stderr
    assert "ref.yaml:" in result.stderr



def test_reconcile_runs_the_policy_like_the_daemon_and_get_lists_it(scenario, registry: RegistryServer,
                                                                   tmp_path: Path) -> None:
    """The kind's reconciler (what the daemon runs on the interval): dryRun true reports, false deletes."""
    dry = tmp_path / "dry.yaml"
    dry.write_text(config(scenario["image"], scenario["git"].url, dry_run=True))
    key = "RetentionPolicy/apps/cleanup"
    result = run_tagpilot("reconcile", key, "-f", dry, "--state", scenario["state"], "-o", "json")
    assert result.code == 0, result.stderr
    assert RECENT in list_tags(registry, scenario["repo"])
    got = run_tagpilot("get", "retentionpolicies", "-f", dry, "--state", scenario["state"], "-o", "json").json()
    (view,) = got
    assert view["status"]["lastRun"]["dryRun"] is True and view["status"]["lastRun"]["toDelete"] == 2
    assert view["status"]["protectedSources"][0].startswith("GitRepository/apps/deploy@")
    assert view["status"]["protections"][:3] == ["deployed", "policyRefs", "holds"]

    result = run_tagpilot("reconcile", key, "-f", scenario["cfg"], "--state", scenario["state"], "-o", "json")
    assert result.code == 0, result.stderr
    assert sorted(list_tags(registry, scenario["repo"])) == sorted(
        [OLD, FRESH, f"sha256-{scenario['fresh'][7:]}.sig"])
    table = run_tagpilot("get", "retentionpolicies", "-f", scenario["cfg"], "--state", scenario["state"])
    assert "DELETED" in table.stdout and " 2" in table.stdout
    events = run_tagpilot("events", "--state", scenario["state"], "-o", "json").json()
    deleted = {e["data"]["digest"] for e in events if e["reason"] == "Deleted"}
    assert scenario["recent"] in deleted


def test_two_policies_cleaning_one_repository_are_refused(scenario, tmp_path: Path) -> None:
    cfg = tmp_path / "two.yaml"
    text = config(scenario["image"], scenario["git"].url)
    second = text[text.index("apiVersion: tagpilot.dev/v1alpha1"):].replace("name: cleanup", "name: other")
    cfg.write_text(text + "---\n" + second)
    result = run_tagpilot("retention", "plan", "-f", cfg, "--state", scenario["state"])
    assert result.code == 2
    assert "RetentionPolicy/apps/cleanup" in result.stderr and "RetentionPolicy/apps/other" in result.stderr
    assert "merge their rules" in result.stderr


def test_created_templates_read_image_configs_and_index_platforms(registry: RegistryServer, repo_name: str,
                                                                 git_remote_file: GitRemote, tmp_path: Path) -> None:
    image = f"{registry.host}/{repo_name}"
    now = dt.datetime.now(dt.UTC)
    with Pusher(registry) as p:
        ancient = p.push(repo_name, build_image(created=now - dt.timedelta(days=400), layer=b"x1"), ["ancient"])
        multi = p.push(repo_name, build_image(created=now - dt.timedelta(days=2), layer=b"x2",
                                              platforms=["linux/amd64", "linux/arm64"]), ["multi"])
    cfg = tmp_path / "created.yaml"
    cfg.write_text(config(image, git_remote_file.url,
                          rules="    - template: nDaysSinceCreated\n      params: {nDaysSinceCreated: 30}"))
    result = run_tagpilot("retention", "plan", "-f", cfg, "--state", tmp_path / "state", "-o", "json")
    assert result.code == 0, result.stderr
    items = by_digest(result.json())
    assert items[ancient]["action"] == "delete"  # its tag is new to tagpilot, but `created` is known
    assert items[multi]["action"] == "retain" and "created" in items[multi]["reasons"][0]


def test_the_daemon_run_gives_clear_conditions_for_405_and_the_delete_limit(
        scenario, registry: RegistryServer, registry_factory, repo_name: str, git_remote_file: GitRemote,
        tmp_path: Path) -> None:
    """What `reconcile` (the daemon's run) leaves in the status: a condition a person can act on."""
    key = "RetentionPolicy/apps/cleanup"
    typo = tmp_path / "typo.yaml"
    typo.write_text(config(scenario["image"], scenario["git"].url).replace("maxDeletePercent: 100",
                                                                          "maxDeletePercent: 10"))
    result = run_tagpilot("reconcile", key, "-f", typo, "--state", scenario["state"], "-o", "json")
    assert result.code == 1
    (view,) = run_tagpilot("get", "retentionpolicies", "-f", typo, "--state", scenario["state"], "-o", "json").json()
    ready = next(c for c in view["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "DeleteLimitExceeded"
    assert "maxDeletePercent 10" in ready["message"] and "--yes" in ready["message"]
    assert ready["message"].count("blocked") <= 1 and "2 digests not deleted" in ready["message"]
    assert RECENT in list_tags(registry, scenario["repo"])

    server = registry_factory(extra_config={"storage": {"delete": {"enabled": False}}})
    image = f"{server.host}/{repo_name}"
    with Pusher(server) as p:
        push(p, repo_name, ["a"], 1)
        push(p, repo_name, ["b"], 2)
    state = tmp_path / "state405"
    seen_days_ago(state, image, {"a": 90, "b": 90})
    cfg = tmp_path / "405.yaml"
    cfg.write_text(config(image, git_remote_file.url))
    result = run_tagpilot("reconcile", key, "-f", cfg, "--state", state, "-o", "json")
    assert result.code == 1
    (view,) = run_tagpilot("get", "retentionpolicies", "-f", cfg, "--state", state, "-o", "json").json()
    ready = next(c for c in view["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "DeleteUnsupported" and "storage.delete.enabled" in ready["message"]
    assert view["status"]["lastRun"]["deleted"] == 0
    assert sorted(list_tags(server, repo_name)) == ["a", "b"]


def test_a_digest_left_untagged_by_a_moved_tag_is_an_untagged_artifact(registry_factory, repo_name: str,
                                                                       git_remote_file: GitRemote,
                                                                       tmp_path: Path) -> None:
    """`latest` re-pushed leaves its old image untagged; the `untagged` selector decides on it (Harbor's
    semantics: selected by default with `matches`; retained by no rule → deleted)."""
    server = registry_factory()
    image = f"{server.host}/{repo_name}"
    with Pusher(server) as p:
        before = push(p, repo_name, ["latest"], 1)
        push(p, repo_name, ["v1"], 2)
    state = tmp_path / "state"
    seen_days_ago(state, image, {"latest": 90, "v1": 90})
    keep_untagged = tmp_path / "keep.yaml"
    keep_untagged.write_text(config(image, git_remote_file.url, rules="""\
    - template: always
      tagSelectors: [{pattern: "v*", untagged: true}]""", extra="  protect: {tags: [{pattern: latest}]}\n"))
    drop_untagged = tmp_path / "drop.yaml"
    drop_untagged.write_text(config(image, git_remote_file.url, rules="""\
    - template: always
      tagSelectors: [{pattern: "v*", untagged: false}]""", extra="  protect: {tags: [{pattern: latest}]}\n"))
    first = run_tagpilot("retention", "plan", "-f", keep_untagged, "--state", state, "-o", "json")
    assert first.code == 0, first.stderr  # records latest → before
    with Pusher(server) as p:
        after = push(p, repo_name, ["latest"], 3)  # the tag moves; `before` stays, untagged

    kept = {i["digest"]: i for i in run_tagpilot("retention", "plan", "-f", keep_untagged, "--state", state,
                                                 "-o", "json").json()}
    assert kept[before]["tags"] == [] and kept[before]["action"] == "retain"
    assert kept[before]["reasons"] == ["rule 0 always"]
    assert kept[after]["action"] == "retain" and kept[after]["tags"] == ["latest"]

    result = run_tagpilot("retention", "apply", "-f", drop_untagged, "--state", state, "-o", "json")
    assert result.code == 0, result.stderr
    items = {i["digest"]: i for i in result.json()}
    assert items[before]["action"] == "delete" and items[before]["deleted"] is True
    assert "untagged since latest moved" in items[before]["reasons"][0]
    with Pusher(server) as p:
        assert p.request("HEAD", f"/v2/{repo_name}/manifests/{before}", f"repository:{repo_name}:pull",
                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).status_code == 404
    assert sorted(list_tags(server, repo_name)) == ["latest", "v1"]
    again = run_tagpilot("retention", "plan", "-f", drop_untagged, "--state", state, "-o", "json").json()
    assert before not in {i["digest"] for i in again}  # gone from the registry: forgotten
