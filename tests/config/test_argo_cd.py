"""Argo CD Application and its image updater annotations: tables of upstream's parsing rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagpilot.config.argo_cd import (
    PREFIX,
    AnnotationError,
    Application,
    PullSecret,
    parse_image_list,
    parse_image_updater,
)
from tagpilot.config.loader import load_config
from tagpilot.errors import ConfigError

P = PREFIX


@pytest.mark.parametrize(("value", "expected"), [
    ("nginx", [("", "nginx", "")]),
    ("nginx=nginx:~1.26", [("nginx", "nginx", "~1.26")]),
    (" a=some/img:1.2.x , ,b=ghcr.io/x/y:latest", [("a", "some/img", "1.2.x"), ("b", "ghcr.io/x/y", "latest")]),
    ("r=127.0.0.1:5000/cyw/frontend", [("r", "127.0.0.1:5000/cyw/frontend", "")]),
    ("r=127.0.0.1:5000/cyw/frontend:^1.0", [("r", "127.0.0.1:5000/cyw/frontend", "^1.0")]),
    ("argoproj/argocd=quay.io/argoproj/argocd", [("argoproj/argocd", "quay.io/argoproj/argocd", "")]),
])
def test_image_list(value: str, expected: list[tuple[str, str, str]]) -> None:
    assert parse_image_list(value) == expected


@pytest.mark.parametrize(("value", "needle"), [
    ("", "no image in the list"),
    (" , ", "no image in the list"),
    ("a=", "empty image name"),
    ("=nginx", "empty alias"),
    ("a=nginx, a=redis", "used twice"),
    ("a=Not/Valid", "a=Not/Valid"),
])
def test_image_list_errors(value: str, needle: str) -> None:
    with pytest.raises(AnnotationError) as err:
        parse_image_list(value)
    assert needle in str(err.value)
    assert "image-list" in str(err.value)


SEED = {
    P + "backend.allow-tags": "regexp:^main",
    P + "backend.helm.image-name": "backend.image",
    P + "backend.helm.image-tag": "backend.tag",
    P + "backend.pull-secret": "pullsecret:argocd/dockerhub-secret",
    P + "frontend.allow-tags": "regexp:^main",
    P + "frontend.helm.image-name": "frontend.image",
    P + "frontend.helm.image-tag": "frontend.tag",
    P + "frontend.pull-secret": "pullsecret:argocd/dockerhub-secret",
    P + "image-list": "frontend=cyw/frontend, backend=cyw/backend",
    P + "update-strategy": "latest",
    P + "write-back-method": "git",
}


def test_seed_annotations() -> None:
    settings = parse_image_updater(SEED, "argocd")
    front, back = settings.images
    assert (front.alias, front.image, back.alias, back.image) == ("frontend", "cyw/frontend", "backend", "cyw/backend")
    assert front.strategy == "latest" and front.policy().strategy == "latest"
    assert front.policy().needs_metadata  # newest-build reads `created`
    assert front.allow_tags == "regexp:^main"
    assert front.helm_names() == ("frontend.image", "frontend.tag", None)
    assert front.pull_secret == PullSecret("pullsecret", "argocd", "dockerhub-secret",
                                           annotation=P + "frontend.pull-secret")
    assert settings.write_back.method == "git" and settings.write_back.credentials == "repocreds"
    assert settings.write_back.target == "default"
    # `latest` works, with upstream's deprecation warning naming the annotation
    assert [(w.annotation, "deprecated" in w.message) for w in settings.warnings] == [
        (P + "update-strategy", True), (P + "update-strategy", True)]


def test_per_alias_wins_over_app_wide_and_unaliased_images_take_app_wide_only() -> None:
    settings = parse_image_updater({
        P + "image-list": "a=nginx:~1.26, redis",
        P + "update-strategy": "alphabetical",
        P + "a.update-strategy": "newest-build",
        P + "allow-tags": "regexp:^v",
        P + "ignore-tags": "*-rc*, ,latest",
        P + "force-update": "T",
        P + "a.force-update": "0",
        P + "a.platforms": "linux/amd64, linux/arm64/v8",
    })
    a, redis = settings.images
    assert (a.strategy, a.constraint, a.force_update, a.platforms) == (
        "newest-build", "~1.26", False, ("linux/amd64", "linux/arm64/v8"))
    assert (redis.alias, redis.strategy, redis.force_update, redis.platforms) == ("", "alphabetical", True, ())
    assert a.ignore_tags == ("*-rc*", "", "latest")  # empty entries preserved, as upstream
    assert a.allow_tags == redis.allow_tags == "regexp:^v"
    assert redis.helm_names() == ("image.name", "image.tag", None)
    assert settings.warnings == ()


def test_alias_with_slash_is_written_with_underscore() -> None:
    settings = parse_image_updater({P + "image-list": "argoproj/argocd=quay.io/argoproj/argocd",
                                    P + "argoproj_argocd.update-strategy": "digest"})
    assert settings.images[0].strategy == "digest"
    assert settings.warnings == ()


def test_helm_spec_and_kustomize() -> None:
    settings = parse_image_updater({P + "image-list": "a=nginx, b=redis",
                                    P + "a.helm.image-spec": "images[0].spec",
                                    P + "b.kustomize.image-name": "docker.io/redis"})
    a, b = settings.images
    assert a.helm_names() == (None, None, "images[0].spec")
    assert b.kustomize_image_name == "docker.io/redis" and not b.uses_helm


@pytest.mark.parametrize(("value", "expected"), [
    ("git", ("git", "repocreds", "", "")),
    ("git:repocreds", ("git", "repocreds", "", "")),
    ("git:secret:argocd/git-creds", ("git", "secret", "argocd", "git-creds")),
    ("git:secret:git-creds", ("git", "secret", "apps", "git-creds")),
    ("argocd", ("argocd", "repocreds", "", "")),
])
def test_write_back_method(value: str, expected: tuple[str, str, str, str]) -> None:
    wb = parse_image_updater({P + "image-list": "nginx", P + "write-back-method": value}, "apps").write_back
    assert (wb.method, wb.credentials, wb.secret_namespace, wb.secret_name) == expected


def test_write_back_defaults_to_argocd_and_branch_forms() -> None:
    assert parse_image_updater({P + "image-list": "nginx"}).write_back.method == "argocd"
    for value, base, push in (("main", "main", ""), ("main:update-{{.SHA256}}", "main", "update-{{.SHA256}}"),
                              (":auto", "", "auto")):
        wb = parse_image_updater({P + "image-list": "nginx", P + "git-branch": value}).write_back
        assert (wb.base_branch, wb.push_branch) == (base, push)
    wb = parse_image_updater({P + "image-list": "nginx", P + "write-back-target": "helmvalues:/env/values.yaml",
                              P + "git-repository": "https://example.invalid/x.git"}).write_back
    assert (wb.target, wb.target_path, wb.repository) == ("helmvalues", "/env/values.yaml",
                                                          "https://example.invalid/x.git")


@pytest.mark.parametrize(("annotations", "key", "needle"), [
    ({P + "force-update": "yes"}, "force-update", "not a boolean"),
    ({P + "a.force-update": "maybe"}, "a.force-update", "not a boolean"),
    ({P + "write-back-method": "svn"}, "write-back-method", "not a write-back method"),
    ({P + "write-back-method": "git:secret:ns/"}, "write-back-method", "git:secret:<namespace>/<name>"),
    ({P + "write-back-target": "values"}, "write-back-target", "not a write-back target"),
    ({P + "git-branch": "main:"}, "git-branch", "nothing after ':'"),
    ({P + "a.pull-secret": "pullsecret:nons"}, "a.pull-secret", "<namespace>/<name>"),
    ({P + "a.pull-secret": "secret:ns/name"}, "a.pull-secret", "#<field>"),
    ({P + "a.pull-secret": "ext:relative.sh"}, "a.pull-secret", "absolute path"),
    ({P + "a.pull-secret": "vault:x"}, "a.pull-secret", "unknown credential source"),
    ({P + "a.platforms": "linux"}, "a.platforms", "os/architecture"),
    ({P + "a.helm.image-name": "x.image", P + "a.kustomize.image-name": "nginx"}, "a.kustomize.image-name",
     "both helm and kustomize"),
])
def test_annotation_errors_name_the_annotation(annotations: dict[str, str], key: str, needle: str) -> None:
    with pytest.raises(AnnotationError) as err:
        parse_image_updater({P + "image-list": "a=nginx", **annotations})
    assert err.value.key == P + key
    assert str(err.value).startswith(f"annotation {P}{key}: ")
    assert needle in str(err.value)


@pytest.mark.parametrize(("value", "expected"), [
    ("pullsecret:argocd/regcred", PullSecret("pullsecret", "argocd", "regcred")),
    ("secret:argocd/creds#token", PullSecret("secret", "argocd", "creds", "token")),
    ("env:REGISTRY_CREDS", PullSecret("env", name="REGISTRY_CREDS")),
    ("ext:/usr/local/bin/ecr-login.sh", PullSecret("ext", name="/usr/local/bin/ecr-login.sh")),
])
def test_pull_secret_forms(value: str, expected: PullSecret) -> None:
    got = parse_image_updater({P + "image-list": "a=nginx", P + "a.pull-secret": value}).images[0].pull_secret
    assert got is not None
    assert (got.kind, got.namespace, got.name, got.field) == (expected.kind, expected.namespace, expected.name,
                                                              expected.field)


def test_unknown_annotations_are_warnings_naming_them() -> None:
    settings = parse_image_updater({
        P + "image-list": "a=nginx",
        P + "b.update-strategy": "semver",  # alias not in the list
        P + "update-stratgy": "semver",  # typo
        P + "a.tag-match": "regexp:^v",  # old name
        P + "platforms": "linux/amd64",  # per image only
        P + "a.update-strategy": "newest",  # unknown strategy → semver, warned
    })
    warned = {w.annotation: w.message for w in settings.warnings}
    assert "alias 'b', which is not in" in warned[P + "b.update-strategy"]
    assert "check the spelling" in warned[P + "update-stratgy"]
    assert "renamed allow-tags" in warned[P + "a.tag-match"]
    assert "per image only" in warned[P + "platforms"]
    assert "unknown update strategy 'newest'" in warned[P + "a.update-strategy"]
    assert settings.images[0].policy().select(["1.0.0", "1.2.0", "main-1"]).tag == "1.2.0"  # semver fallback


def test_no_image_list_means_nothing_to_do_and_says_so() -> None:
    assert not parse_image_updater({}).enabled
    settings = parse_image_updater({P + "write-back-method": "git"})
    assert not settings.enabled
    assert "no argocd-image-updater.argoproj.io/image-list" in settings.warnings[0].message


APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: example
  annotations:
    argocd-image-updater.argoproj.io/image-list: frontend=cyw/frontend
    argocd-image-updater.argoproj.io/write-back-method: git
spec:
  destination: {namespace: gitops-example-updater, server: https://kubernetes.default.svc}
  project: default
  source:
    path: .
    repoURL: https://github.com/Hugh-yw/kubernetes-example-helm.git
    targetRevision: main
    helm:
      parameters: [{name: frontend.tag, value: main-1, forceString: true}]
      valueFiles: [values.yaml]
  syncPolicy:
    automated: {}
    syncOptions: [CreateNamespace=true]
status:
  summary:
    images: [cyw/frontend:main-0, other/x:1]
  sync: {status: Synced}
"""


def test_application_loads_with_status_and_defaults_to_the_argocd_namespace(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(APP)
    app = load_config([tmp_path]).get(Application, "argocd", "example")
    assert app is not None
    source = app.spec.all_sources()[0]
    assert (source.repo_url, source.path, source.target_revision) == (
        "https://github.com/Hugh-yw/kubernetes-example-helm.git", ".", "main")
    assert source.helm is not None and source.helm.parameters[0].value == "main-1"
    assert app.status_images() == ["cyw/frontend:main-0", "other/x:1"]
    assert app.image_updater.images[0].alias == "frontend"
    assert "status" not in app.to_yaml_dict()


def test_bad_annotation_is_a_load_error_naming_file_object_and_annotation(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(APP.replace("write-back-method: git", "force-update: perhaps"))
    with pytest.raises(ConfigError) as err:
        load_config([tmp_path])
    text = str(err.value)
    assert f"{tmp_path / 'app.yaml'}:3" in text  # the metadata line
    assert "Application/argocd/example" in text
    assert "annotation argocd-image-updater.argoproj.io/force-update: 'perhaps' is not a boolean" in text


def test_unknown_spec_field_and_missing_source_are_errors(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(APP.replace("  project: default\n", "  projekt: default\n"))
    with pytest.raises(ConfigError, match=r"field spec\.projekt: unknown field"):
        load_config([tmp_path])
    start, end = APP.index("  source:"), APP.index("  syncPolicy:")
    (tmp_path / "app.yaml").write_text(APP[:start] + APP[end:])
    with pytest.raises(ConfigError, match=r"spec.source or spec.sources is required"):
        load_config([tmp_path])
