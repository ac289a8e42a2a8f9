"""ImageUpdater CR rules that need no registry: ref selection, precedence, interval, refusals."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from tagpilot.config.argo_image_updater import ImageUpdater
from tagpilot.engine.argo_updater import KINDS, _recent_updates


def cr(spec: dict[str, Any], annotations: dict[str, str] | None = None) -> ImageUpdater:
    return ImageUpdater.model_validate({
        "apiVersion": "argocd-image-updater.argoproj.io/v1alpha1", "kind": "ImageUpdater",
        "metadata": {"name": "u", "namespace": "argocd", "annotations": annotations or {}}, "spec": spec})


IMG = [{"alias": "web", "imageName": "nginx:~1.26"}]


def test_refs_are_taken_most_specific_first_as_upstream() -> None:
    updater = cr({"applicationRefs": [
        {"namePattern": "*", "images": IMG},
        {"namePattern": "app-*", "images": IMG},
        {"namePattern": "app-prod-*", "images": IMG},
        {"namePattern": "a*", "labelSelectors": {"matchLabels": {"team": "x"}}, "images": IMG},
        {"namePattern": "app-prod-1", "images": IMG},
    ]})
    assert [r.name_pattern for r in updater.sorted_refs()] == ["app-prod-1", "a*", "app-prod-*", "app-*", "*"]
    assert updater.ref_for("app-prod-1", {}).name_pattern == "app-prod-1"
    assert updater.ref_for("app-prod-2", {"team": "x"}).name_pattern == "a*"
    assert updater.ref_for("app-prod-2", {}).name_pattern == "app-prod-*"
    assert updater.ref_for("zzz", {}).name_pattern == "*"
    # Go filepath.Match: `*` does not cross `/`, classes work
    assert cr({"applicationRefs": [{"namePattern": "app-[0-9]", "images": IMG}]}).ref_for("app-x", {}) is None


def test_settings_precedence_image_over_ref_over_spec() -> None:
    updater = cr({
        "commonUpdateSettings": {"updateStrategy": "newest-build", "allowTags": "regexp:^v", "forceUpdate": True,
                                 "ignoreTags": ["a*"], "platforms": ["linux/amd64"]},
        "writeBackConfig": {"method": "git", "gitConfig": {"branch": "main", "repository": "https://x/r.git"}},
        "applicationRefs": [{
            "namePattern": "app", "commonUpdateSettings": {"allowTags": "regexp:^main", "ignoreTags": ["b*"]},
            "writeBackConfig": {"gitConfig": {"branch": "main:updates"}},
            "images": [{"alias": "web", "imageName": "nginx:~1.26",
                        "commonUpdateSettings": {"updateStrategy": "digest"},
                        "manifestTargets": {"helm": {"spec": "web.image"}}},
                       {"alias": "api", "imageName": "ghcr.io/x/api",
                        "manifestTargets": {"kustomize": {"name": "example/api"}}}]}]})
    settings = updater.settings_for(updater.spec.application_refs[0])
    web, api = settings.images
    assert (web.strategy, web.allow_tags, web.ignore_tags, web.force_update, web.platforms, web.constraint) == (
        "digest", "regexp:^main", ("b*",), True, ("linux/amd64",), "~1.26")
    assert web.helm_names() == (None, None, "web.image")
    assert (api.strategy, api.kustomize_image_name) == ("newest-build", "example/api")
    wb = settings.write_back
    assert (wb.method, wb.base_branch, wb.push_branch, wb.repository) == ("git", "main", "updates", "https://x/r.git")


def test_interval_from_the_annotation_else_two_minutes() -> None:
    kind = KINDS[0]
    assert kind.interval(cr({"applicationRefs": [{"namePattern": "a", "images": IMG}]})) == 120.0
    assert kind.interval(cr({"applicationRefs": [{"namePattern": "a", "images": IMG}]},
                            {"tagpilot.dev/interval": "30s"})) == 30.0
    with pytest.raises(ValidationError, match=r"tagpilot\.dev/interval"):
        cr({"applicationRefs": [{"namePattern": "a", "images": IMG}]}, {"tagpilot.dev/interval": "soon"})


@pytest.mark.parametrize(("spec", "message"), [
    ({"commonUpdateSettings": {"pullSecret": "secret:team-b/creds#x"}}, "only use Secrets of its own namespace"),
    ({"writeBackConfig": {"method": "git:secret:team-b/creds"}}, "only use Secrets of its own namespace"),
    ({"writeBackConfig": {"method": "svn"}}, "String should match pattern"),
    ({"writeBackConfig": {"method": "git", "gitConfig": {"writeBackTarget": "values"}}},
     "writeBackConfig.gitConfig.writeBackTarget"),
    ({"commonUpdateSettings": {"platforms": ["linux"]}}, "platform"),
    ({"writeBackConfig": {"method": "git", "gitConfig": {"pullRequest": {"github": {}, "labels": ["x" * 256]}}}},
     "1 to 255 characters"),
])
def test_refused_at_load(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        cr({**spec, "applicationRefs": [{"namePattern": "a", "images": IMG}]})


def test_unsupported_parts_are_named() -> None:
    updater = cr({"imagesVerification": {"cosignKey": {"secretName": "k", "key": "cosign.pub"}},
                  "writeBackConfig": {"method": "git", "gitConfig": {"pullRequest": {"gitlab": {}}}},
                  "applicationRefs": [{"namePattern": "a", "images": [
                      {"alias": "p", "imageName": "x", "manifestTargets": {"plugin": {"name": "IMG"}}}]}]})
    lines = updater.unsupported(updater.spec.application_refs[0])
    assert [line.split(":")[0] for line in lines] == ["imagesVerification", "images[0].manifestTargets.plugin"]
    # pullRequest is done (engine/argo_pull_request.py): the settings carry upstream's head branch and the forge
    write_back = updater.settings_for(updater.spec.application_refs[0]).write_back
    assert write_back.push_branch == "image-updater-{{.TargetKey}}-{{.SHA256}}"
    assert write_back.pull_request is not None and write_back.pull_request.forge == "gitlab"


def test_recent_updates_aggregate_by_alias_and_version() -> None:
    changes = [(None, {"alias": "web", "image": "nginx", "old": "1", "new": "2"}),
               (None, {"alias": "web", "image": "nginx", "old": "1", "new": "2"}),
               (None, {"alias": "web", "image": "nginx", "old": "0", "new": "3"})]
    out = _recent_updates(changes, "2026-01-01T00:00:00Z")  # type: ignore[arg-type]
    assert [(u["newVersion"], u["applicationsUpdated"], u["message"]) for u in out] == [
        ("2", 2, "Updated from 1 to 2."), ("3", 1, "Updated from 0 to 3.")]
