"""The configurations in examples/ load, and their files do what their READMEs say."""

from __future__ import annotations

import shutil
from pathlib import Path

from tagpilot.config.flux_automation import ImageUpdateAutomation
from tagpilot.config.flux_image import ImagePolicy, ImageRepository
from tagpilot.config.flux_source import GitRepository
from tagpilot.config.loader import load_config
from tagpilot.gitops.commit_data import build_commit_data, render_commit_message
from tagpilot.gotemplate import TemplateError
from tagpilot.update import ImageRef, update_tree

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_flux_style_config_loads() -> None:
    config = load_config([EXAMPLES / "flux-style" / "config"])
    assert len(config.of_kind(ImageRepository)) == 2
    assert len(config.of_kind(ImagePolicy)) == 5
    assert len(config.of_kind(GitRepository)) == 1
    automations = {a.name: a for a in config.of_kind(ImageUpdateAutomation)}
    assert automations["k8s-demo"].spec.update_path == "./helm/my-values.yaml"
    assert config.ignored == []


def test_argo_style_seed_application_loads_as_the_tutorial_wrote_it() -> None:
    from tagpilot.config.argo_cd import Application
    from tagpilot.config.core import Secret

    config = load_config([EXAMPLES / "argo-style" / "config"])
    assert config.ignored == []
    app = config.get(Application, "argocd", "example")
    assert app is not None
    settings = app.image_updater
    assert [(i.alias, i.image, i.allow_tags, i.helm_names()) for i in settings.images] == [
        ("frontend", "cyw/frontend", "regexp:^main", ("frontend.image", "frontend.tag", None)),
        ("backend", "cyw/backend", "regexp:^main", ("backend.image", "backend.tag", None))]
    assert [i.strategy for i in settings.images] == ["latest", "latest"]  # newest-build, deprecated name
    assert settings.write_back.method == "git"
    assert {s.name for s in config.of_kind(Secret)} == {"dockerhub-secret", "repo-kubernetes-example-helm"}


def test_argo_style_directory_app_markers_name_every_image_of_the_application() -> None:
    """The Directory example: each image alias of the Application is named by a setters marker in its
    manifests (as `NS:APP/ALIAS[:part]`), and the markers rewrite exactly the marked fields."""
    from tagpilot.config.argo_cd import Application
    from tagpilot.engine import argo_directory

    base = EXAMPLES / "argo-style" / "directory-app"
    config = load_config([base / "application.yaml"])
    assert config.ignored == []
    app = config.get(Application, "argocd", "web-app")
    assert app is not None and app.spec.source is not None and app.spec.source.path == "web"
    repo = base / "deploy-repo"
    assert not (repo / "web" / "Chart.yaml").exists() and not (repo / "web" / "kustomization.yaml").exists()
    images = list(app.image_updater.images)
    markers = argo_directory.find_markers(repo, "web", app, images)
    assert markers.sites == {"frontend": ["web/frontend.yaml:16"], "backend": ["web/backend.yaml:15",
                                                                             "web/backend.yaml:25"]}
    assert argo_directory.current_tag(repo, "web", app, "backend") == ("main-0000000", "web/backend.yaml:15")
    chosen = {"frontend": ImageRef("cyw/frontend", "main-1"), "backend": ImageRef("cyw/backend", "main-2")}
    result = argo_directory.write_markers(repo, "web", app, chosen, dry_run=True)
    assert sorted((c.file, c.line, c.new_value) for c in result.changes) == [
        ("backend.yaml", 15, "cyw/backend:main-2"), ("backend.yaml", 25, "main-2"),
        ("frontend.yaml", 16, "cyw/frontend:main-1")]


def test_argo_style_image_updater_cr_gives_the_seed_applications_settings() -> None:
    """The example ImageUpdater configures the seed Application exactly as its annotations do
    (strategy newest-build, allow-tags, Helm parameters, pull secret, write-back git)."""
    from tagpilot.config.argo_cd import Application
    from tagpilot.config.argo_image_updater import ImageUpdater
    from tagpilot.engine.argo_app import _strategy_name

    config = load_config([EXAMPLES / "argo-style" / "image-updater", EXAMPLES / "argo-style" / "config" /
                          "dockerhub-secret.yaml"])
    assert config.ignored == []
    cr = config.get(ImageUpdater, "argocd", "example-updater")
    app = config.get(Application, "argocd", "example")
    assert cr is not None and app is not None and not app.image_updater.enabled
    ref = cr.ref_for(app.name, app.metadata.labels)
    assert ref is not None
    settings = cr.settings_for(ref)
    annotated = load_config([EXAMPLES / "argo-style" / "config"]).get(Application, "argocd", "example")
    assert annotated is not None
    legacy = annotated.image_updater
    assert [(i.alias, i.image, i.allow_tags, i.helm_names(), i.pull_secret.describe()) for i in settings.images] == [
        (i.alias, i.image, i.allow_tags, i.helm_names(), i.pull_secret.describe()) for i in legacy.images]
    assert [_strategy_name(i.strategy) for i in settings.images] == [_strategy_name(i.strategy) for i in legacy.images]
    assert settings.write_back.method == legacy.write_back.method == "git"


def test_flux_style_deploy_repo_markers(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "flux-style" / "deploy-repo", repo)
    policies = {("default", "k8s-demo"): ImageRef("cnych/devops-demo", "main-e21d5f90-1695526572"),
                ("default", "dev-docs"): ImageRef("ghcr.io/devops-ws/dev-docs", "20231201000000")}
    # the automation of the tutorial names one file
    result = update_tree(repo, "./helm/my-values.yaml", policies)
    assert [f.path for f in result.files] == ["helm/my-values.yaml"]
    text = (repo / "helm" / "my-values.yaml").read_text()
    assert "tag: main-e21d5f90-1695526572 # {" in text and "repository: cnych/devops-demo # {" in text
    result = update_tree(repo, "./kubernetes", policies)
    assert "ghcr.io/devops-ws/dev-docs:20231201000000" in (repo / "kubernetes" / "deployment.yaml").read_text()
    # the v1beta1 template of the tutorial
    data = build_commit_data("default", "k8s-demo", result.changes, {"default:dev-docs": policies[
        ("default", "dev-docs")]}, {})
    message = render_commit_message("skip-ci: {{range .Updated.Images}}{{println .}}{{end}}", data)
    assert message == "skip-ci: ghcr.io/devops-ws/dev-docs:20231201000000\n"


def test_tutorial_template_with_index_as_image_fails_like_go() -> None:
    # seed 002's last template ranges `$image, $_ := .Updated.Images`: $image is the index (an int),
    # so `contains "1.0.0" $image` is a type error in Go; tagpilot reports the same error.
    template = ('{{ range $image, $_ := .Updated.Images -}}{{ if contains "1.0.0" $image -}}- {{ $image }}'
                "{{ end -}}{{ end -}}")
    data = build_commit_data("default", "flux-system", [], [ImageRef("cnych/devops-demo", "1.0.0")], {})
    try:
        render_commit_message(template, data)
    except TemplateError as exc:
        assert "wrong type for value; expected string; got int" in str(exc)
    else:
        raise AssertionError("the template must fail as it does in Go")


def test_webhooks_examples_load_and_the_sensor_fires_for_a_developer_push() -> None:
    from tagpilot.cli.sensor_person import run_person
    from tagpilot.config.argo_events import EventSource, Sensor
    from tagpilot.config.flux_notification import Receiver

    config = load_config([EXAMPLES / "flux-style" / "config", EXAMPLES / "webhooks"])
    assert len(config.of_kind(Receiver)) == 2
    assert len(config.of_kind(Sensor)) == 1 and len(config.of_kind(EventSource)) == 1
    code, text = run_person([EXAMPLES / "webhooks" / "sensor.yaml"], EXAMPLES / "webhooks" / "push.json")
    assert code == 0 and "2 of 2 trigger(s) would fire" in text


def test_retention_example_loads_with_the_flux_style_config() -> None:
    from tagpilot.config.retention import RetentionPolicy

    config = load_config([EXAMPLES / "flux-style" / "config", EXAMPLES / "retention"])
    assert config.ignored == []
    (policy,) = config.of_kind(RetentionPolicy)
    assert policy.spec.dry_run is True and [r.name for r in policy.spec.image_repository_refs] == ["dev-docs"]
    assert config.get(ImageRepository, "default", "dev-docs") is not None
    assert [r.template for r in policy.spec.rules] == ["nDaysSinceLastPush", "always"]


def test_approvals_example_loads_with_its_gate_and_pull_request_settings() -> None:
    from tagpilot.approvals.forge import settings_for
    from tagpilot.approvals.settings import settings_of

    config = load_config([EXAMPLES / "approvals" / "config"])
    assert config.ignored == []
    production = config.get(ImageUpdateAutomation, "apps", "production")
    staging = config.get(ImageUpdateAutomation, "apps", "staging")
    gate = settings_of(production, config)
    assert (gate.required, gate.deadline_seconds, gate.approvers, gate.respect_manual_changes) == (
        2, 24 * 3600.0, ("alice", "bob", "carol"), True)
    assert not settings_of(staging, config).gated
    pr = settings_for(dict(staging.metadata.annotations), "https://github.com/example/fleet.git", staging.ref)
    assert pr is not None and (pr.kind, pr.api, pr.owner, pr.repo, pr.labels) == (
        "github", "https://api.github.com", "example", "fleet", ("images",))
    assert staging.spec.git.push.branch == "tagpilot/staging"


def test_environments_example_loads_and_its_markers_name_the_promotion(tmp_path: Path) -> None:
    """examples/environments (seed 004's dev/test flow); tests/integration/test_promotion.py runs it for real."""
    from tagpilot.config.promotion import Promotion
    from tagpilot.promotion import read_candidate

    config = load_config([EXAMPLES / "environments" / "config"])
    assert config.ignored == []
    promotion = config.get(Promotion, "default", "demo-test")
    assert promotion is not None and promotion.spec.copy_ is not None
    assert promotion.spec.copy_.to == "localhost:5000/demo-test/demo" and promotion.spec.target.branch == "test"
    dev = read_candidate(EXAMPLES / "environments" / "config-repo" / "dev", "./helm", "default", "demo")
    assert dev is not None and (dev.ref.name, dev.ref.tag) == ("localhost:5000/demo-dev/demo", "1.0.0")
    test = read_candidate(EXAMPLES / "environments" / "config-repo" / "test", "./helm", "default", "demo-test")
    assert test is not None and test.ref.name == "localhost:5000/demo-test/demo"
