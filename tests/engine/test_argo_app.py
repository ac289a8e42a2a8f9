"""The Application reconciler's pure parts and edges: credentials, repository Secrets, values lookup,
what this version refuses, and the write batcher."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from tagpilot.config.argo_cd import PREFIX, Application, PullSecret
from tagpilot.config.core import Secret
from tagpilot.config.loader import Config
from tagpilot.engine.argo_app import (
    AppWrite,
    PushOutcome,
    Target,
    WriteBatcher,
    _split_tag,
    _values_lookup,
    check_supported,
    git_auth_from_argo_secret,
    pull_credentials,
    repository_secret,
)
from tagpilot.engine.reconciler import Stalled
from tagpilot.errors import CredentialsError
from tagpilot.registry.reference import parse_repository


def app(annotations: dict[str, str] | None = None, **source: object) -> Application:
    src = {"repoURL": "https://git.example.invalid/deploy.git", "path": ".", "targetRevision": "main", **source}
    return Application.model_validate({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "web", "annotations": {PREFIX + "image-list": "a=nginx",
                                                    PREFIX + "write-back-method": "git", **(annotations or {})}},
        "spec": {"destination": {}, "source": src}})


def secret(name: str, namespace: str = "argocd", labels: dict[str, str] | None = None, **data: str) -> Secret:
    return Secret.model_validate({"apiVersion": "v1", "kind": "Secret",
                                  "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
                                  "stringData": data})


def config(*objects: object) -> Config:
    cfg = Config()
    for obj in objects:
        cfg.objects[obj.key] = obj  # type: ignore[attr-defined]
    return cfg


@pytest.mark.parametrize(("annotations", "source", "needle"), [
    ({PREFIX + "write-back-method": "argocd"}, {}, "without a cluster"),
    ({PREFIX + "git-branch": "main:up-{{.SHA256"}, {}, "could not be created from the template"),
    ({}, {"chart": "nginx", "repoURL": "https://charts.example.invalid"}, "git-repository"),
])
def test_refused_with_a_stalled_condition(annotations: dict[str, str], source: dict[str, str], needle: str) -> None:
    with pytest.raises(Stalled) as err:
        check_supported(app(annotations, **source))
    assert needle in str(err.value)


def test_supported_source_and_branch_target() -> None:
    assert check_supported(app({PREFIX + "git-branch": "main:image-updates"})).path == "."
    assert check_supported(app({PREFIX + "git-repository": "https://git.example.invalid/x.git"},
                               chart="nginx")).chart == "nginx"


def multi(annotations: dict[str, str], sources: list[dict], status: dict | None = None) -> Application:
    return Application.model_validate({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
        "metadata": {"name": "web", "annotations": {PREFIX + "image-list": "nginx", PREFIX + "write-back-method": "git",
                                                    **annotations}},
        "spec": {"sources": sources}, **({"status": status} if status else {})})


CHART = {"repoURL": "https://charts.invalid", "chart": "web", "targetRevision": "1.2.0",
         "helm": {"valueFiles": ["$values/web/values.yaml"]}}
VALUES_REF = {"repoURL": "https://git.invalid/values.git", "targetRevision": "prod", "ref": "values"}
KUST = {"repoURL": "https://git.invalid/k.git", "path": "overlays/prod", "kustomize": {"namePrefix": "x-"},
        "targetRevision": "main"}


def test_multi_source_write_back_source_as_upstream_picks_it() -> None:
    from tagpilot.engine.argo_app import write_back_revision, write_back_source

    plain = {"repoURL": "https://git.invalid/plain.git", "path": "p"}
    # no target, no status: the first source with a helm/kustomize block (upstream: Directory, skipped)
    assert write_back_source(multi({}, [plain, KUST, CHART])).repo_url == KUST["repoURL"]
    # status.sourceTypes: the first Helm/Kustomize entry decides
    kustomize_first = multi({}, [plain, KUST, CHART], {"sourceTypes": ["Directory", "Kustomize", "Helm"]})
    assert write_back_source(kustomize_first).repo_url == KUST["repoURL"]  # upstream takes the FIRST known type
    assert write_back_source(multi({}, [plain, KUST, CHART], {"sourceTypes": ["Helm"]})).chart == "web"
    # the target decides first
    assert write_back_source(multi({PREFIX + "write-back-target": "helmvalues:/web/values.yaml"},
                                   [KUST, CHART])).chart == "web"
    # none has a block: the first source
    assert write_back_source(multi({}, [plain, VALUES_REF])).repo_url == plain["repoURL"]
    # a chart repository needs git-repository; the branch is then that repository's source revision
    with pytest.raises(Stalled, match="git-repository"):
        check_supported(multi({}, [CHART, VALUES_REF]))
    app_ = multi({PREFIX + "git-repository": VALUES_REF["repoURL"]}, [CHART, VALUES_REF])
    source = check_supported(app_)
    assert source.chart == "web" and write_back_revision(app_, source) == "prod"
    with pytest.raises(Stalled, match="plugin"):
        check_supported(multi({}, [plain, KUST], {"sourceTypes": ["Plugin", "Kustomize"]}))


@pytest.mark.parametrize(("path", "value"), [
    ("frontend.tag", "main-1"), ("images[1].tag", "2"), ("images[0].name", "x"),
    ("images[2].tag", None), ("frontend", None), ("missing.tag", None), ("images[a].tag", None),
])
def test_values_lookup(path: str, value: str | None) -> None:
    doc = {"frontend": {"tag": "main-1"}, "images": [{"name": "x", "tag": "1"}, {"tag": "2"}]}
    assert _values_lookup(doc, path) == value


@pytest.mark.parametrize(("image", "split"), [
    ("nginx:1.2", ("nginx", "1.2")), ("127.0.0.1:5000/x/y", ("127.0.0.1:5000/x/y", "")),
    ("x/y:v1@sha256:ab", ("x/y", "v1@sha256:ab")),
])
def test_split_tag(image: str, split: tuple[str, str]) -> None:
    assert _split_tag(image) == split


def test_repository_secrets_exact_url_then_longest_repo_creds_prefix() -> None:
    label = {"argocd.argoproj.io/secret-type": "repository"}
    creds = {"argocd.argoproj.io/secret-type": "repo-creds"}
    exact = secret("exact", labels=label, url="https://git.example.invalid/org/deploy", username="u",
                   password="pw-s3cr3t")
    broad = secret("broad", labels=creds, url="https://git.example.invalid/", username="b", password="p")
    narrow = secret("narrow", labels=creds, url="https://git.example.invalid/org/", username="n", password="p")
    unlabelled = secret("plain", url="https://git.example.invalid/org/deploy.git", username="x", password="p")
    secrets = [unlabelled, broad, narrow, exact]
    assert repository_secret(secrets, "https://git.example.invalid/org/deploy.git") is exact  # .git ignored
    assert repository_secret(secrets, "https://git.example.invalid/org/other.git") is narrow
    assert repository_secret([unlabelled], "https://git.example.invalid/org/deploy.git") is None
    auth = git_auth_from_argo_secret(exact)
    assert auth is not None and (auth.username, auth.password) == ("u", "pw-s3cr3t")
    key = git_auth_from_argo_secret(secret("ssh", sshPrivateKey="-----BEGIN KEY-----"))
    assert key is not None and key.identity == b"-----BEGIN KEY-----"
    assert "s3cr3t" not in repr(auth)


IMAGE = parse_repository("registry.example.invalid/team/web")


async def test_pull_secret_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    obj = app()
    docker = secret("regcred", **{".dockerconfigjson": '{"auths": {"registry.example.invalid": '
                                                       '{"username": "du", "password": "dp"}}}'})
    fielded = secret("creds", token="su:sp")
    cfg = config(docker, fielded)
    creds = await pull_credentials(PullSecret("pullsecret", "argocd", "regcred"), cfg, obj, IMAGE)
    assert creds is not None and (creds.username, creds.password) == ("du", "dp")
    creds = await pull_credentials(PullSecret("secret", "argocd", "creds", "token"), cfg, obj, IMAGE)
    assert creds is not None and (creds.username, creds.password) == ("su", "sp")
    monkeypatch.setenv("TAGPILOT_TEST_CREDS", "eu:ep")
    creds = await pull_credentials(PullSecret("env", name="TAGPILOT_TEST_CREDS"), cfg, obj, IMAGE)
    assert creds is not None and (creds.username, creds.password) == ("eu", "ep")
    script = tmp_path / "creds.sh"
    script.write_text("#!/bin/sh\necho 'xu:xp'\necho ignored\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    creds = await pull_credentials(PullSecret("ext", name=str(script)), cfg, obj, IMAGE)
    assert creds is not None and (creds.username, creds.password) == ("xu", "xp")


@pytest.mark.parametrize(("ref", "needle"), [
    (PullSecret("pullsecret", "argocd", "absent", annotation=PREFIX + "a.pull-secret"),
     "Secret argocd/absent, which is not in the configuration"),
    (PullSecret("secret", "argocd", "creds", "nope", annotation=PREFIX + "a.pull-secret"), "has no key 'nope'"),
    (PullSecret("env", name="TAGPILOT_TEST_UNSET_VAR", annotation=PREFIX + "a.pull-secret"), "is not set"),
    (PullSecret("env", name="TAGPILOT_TEST_BAD_VAR", annotation=PREFIX + "a.pull-secret"), "must hold user:password"),
    (PullSecret("ext", name="/nonexistent/creds.sh", annotation=PREFIX + "a.pull-secret"), "cannot run"),
    (PullSecret("ext", name="/bin/false", annotation=PREFIX + "a.pull-secret"), "exited with status 1"),
])
async def test_pull_secret_errors_name_the_annotation_and_never_the_value(
        ref: PullSecret, needle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAGPILOT_TEST_UNSET_VAR", raising=False)
    monkeypatch.setenv("TAGPILOT_TEST_BAD_VAR", "s3cr3t-no-colon")
    with pytest.raises(CredentialsError) as err:
        await pull_credentials(ref, config(secret("creds", token="su:sp")), app(), IMAGE)
    assert needle in str(err.value)
    assert "a.pull-secret" in str(err.value)
    assert "s3cr3t" not in str(err.value) and "sp" not in str(err.value).split()


async def test_batcher_waits_for_the_expected_writes_and_runs_once() -> None:
    runs: list[list[str]] = []

    async def run(target: Target, writes: list[AppWrite]) -> PushOutcome:
        runs.append([w.app.name for w in writes])
        return PushOutcome("c0ffee", "2024-01-01T00:00:00Z")

    batcher = WriteBatcher(run, max_wait=30.0)  # never reached: all three arrive
    target = Target("file:///r", "main", "main")
    writes = [AppWrite(app(), [], app().spec.all_sources()[0]) for _ in range(3)]

    async def later(i: int) -> PushOutcome:
        with batcher.preparing():  # selecting images takes a while, longer for some
            await asyncio.sleep(0.2 * i)
        return await batcher.submit(target, writes[i], expected=3)

    outcomes = await asyncio.wait_for(asyncio.gather(*(later(i) for i in range(3))), 10)
    assert runs == [["web", "web", "web"]]
    assert {o.commit for o in outcomes} == {"c0ffee"}
    # a later round is a new batch
    await batcher.submit(target, writes[0], expected=1)
    assert len(runs) == 2


async def test_batcher_closes_when_the_missing_writer_gave_up() -> None:
    """Three expected, one fails while selecting: the other two land together, without waiting for
    `max_wait` (60 s here; the test would time out)."""
    runs: list[int] = []

    async def run(target: Target, writes: list[AppWrite]) -> PushOutcome:
        runs.append(len(writes))
        return PushOutcome("c0ffee", None)

    batcher = WriteBatcher(run, max_wait=60.0)
    target = Target("file:///r", "main", "main")

    async def good(delay: float) -> PushOutcome:
        with batcher.preparing():
            await asyncio.sleep(delay)
        return await batcher.submit(target, AppWrite(app(), [], app().spec.all_sources()[0]), expected=3)

    async def bad() -> None:
        with batcher.preparing():
            await asyncio.sleep(0.3)
            raise RuntimeError("registry unreachable")

    results = await asyncio.wait_for(asyncio.gather(good(0.0), good(0.1), bad(), return_exceptions=True), 10)
    assert runs == [2] and isinstance(results[2], RuntimeError)


async def test_batcher_gives_every_writer_the_failure() -> None:
    from tagpilot.errors import GitError

    async def run(target: Target, writes: list[AppWrite]) -> PushOutcome:
        raise GitError("push rejected")

    batcher = WriteBatcher(run, max_wait=30.0)
    target = Target("file:///r", "main", "main")
    results = await asyncio.gather(*(batcher.submit(target, AppWrite(app(), [], app().spec.all_sources()[0]), 2)
                                     for _ in range(2)), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["GitError", "GitError"]


def test_no_secret_in_the_environment_of_the_test() -> None:
    assert "TAGPILOT_TEST_UNSET_VAR" not in os.environ
