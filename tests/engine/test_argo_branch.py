"""`git-branch` push-branch templates rendered as upstream's TemplateBranchName does."""

from __future__ import annotations

import hashlib

import pytest

from tagpilot.engine.argo_branch import BranchTemplateError, ImageChange, image_name, render_branch, target_key

CHANGES = [ImageChange("ghcr.io/org/web", "web", "1.0", "1.1"), ImageChange("nginx", "", "1.25", "1.26")]


def render(template: str, changes=CHANGES) -> tuple[str, str | None]:
    return render_branch(template, changes, app_name="shop", app_namespace="argocd", key="1a2b3c4d")


def test_reference_example_and_hash() -> None:
    branch, warning = render("image-updater{{range .Images}}-{{.Name}}-{{.NewTag}}{{end}}")
    assert (branch, warning) == ("image-updater-org/web-1.1-nginx-1.26", None)
    want = hashlib.sha256(b"org/web-1.0-1.1,nginx-1.25-1.26,").hexdigest()
    assert render("u-{{.SHA256}}")[0] == f"u-{want}"
    assert render("{{.AppNamespace}}/{{.AppName}}-{{.TargetKey}}-{{range .Images}}{{.Alias}}{{.OldTag}}{{end}}")[0] \
        == "argocd/shop-1a2b3c4d-web1.01.25"


def test_long_names_truncated_with_a_warning() -> None:
    branch, warning = render("x{{range .Images}}{{.Name}}{{end}}" * 40)
    assert len(branch) == 255 and warning is not None and "exceeded 255 characters" in warning


@pytest.mark.parametrize(("template", "needle"), [
    ("{{.Nope}}", "can't evaluate field Nope"),
    ("{{range .Images}}", "unexpected EOF"),
    ("{{if false}}x{{end}}", "rendered empty"),
    ("{{sha256sum .AppName}}", "function \"sha256sum\" not defined"),  # plain text/template: no Sprig
])
def test_errors_say_the_branch_could_not_be_created(template: str, needle: str) -> None:
    with pytest.raises(BranchTemplateError) as err:
        render(template)
    assert str(err.value).startswith(f"git branch name could not be created from the template: {template}")
    assert needle in str(err.value)


def test_image_name_and_target_key() -> None:
    assert [image_name(i) for i in ("ghcr.io/a/b", "127.0.0.1:5000/a/b", "a/b", "nginx", "localhost/x")] == [
        "a/b", "a/b", "a/b", "nginx", "localhost/x"]
    assert target_key("https://git/x.git", "main", "apps/.argocd-source-a.yaml") == hashlib.sha256(
        b"https://git/x.git|main|apps/.argocd-source-a.yaml").hexdigest()[:8]
