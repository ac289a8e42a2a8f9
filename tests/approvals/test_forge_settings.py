"""Pull-request annotations: API URLs and owner/repository from the git URL; mistakes refused."""

from __future__ import annotations

import pytest

from tagpilot.approvals.forge import ForgeError, settings_for


def test_defaults_per_forge() -> None:
    gh = settings_for({"tagpilot.dev/pull-request": "github"}, "https://github.com/acme/fleet.git", "x")
    assert gh is not None and (gh.api, gh.owner, gh.repo) == ("https://api.github.com", "acme", "fleet")
    gl = settings_for({"tagpilot.dev/pull-request": "gitlab"}, "https://gitlab.example.com/g/sub/fleet", "x")
    assert gl is not None and (gl.api, gl.owner, gl.repo) == ("https://gitlab.example.com/api/v4", "g/sub", "fleet")
    gt = settings_for({"tagpilot.dev/pull-request": "gitea"}, "git@gitea.example.com:acme/fleet.git", "x")
    assert gt is not None and (gt.api, gt.owner) == ("https://gitea.example.com/api/v1", "acme")
    assert settings_for({}, "https://github.com/acme/fleet.git", "x") is None


@pytest.mark.parametrize(("annotations", "words"), [
    ({"tagpilot.dev/pull-request": "bitbucket"}, "one of github, gitlab, gitea"),
    ({"tagpilot.dev/pull-request-labels": "a"}, "does nothing without"),
    ({"tagpilot.dev/pull-request": "github", "tagpilot.dev/pull-request-api": "ftp://x"}, "not an http(s) URL"),
])
def test_mistakes_refused(annotations: dict[str, str], words: str) -> None:
    with pytest.raises(ForgeError) as caught:
        settings_for(annotations, "https://github.com/acme/fleet.git", "ImageUpdateAutomation/apps/x")
    assert words in str(caught.value) and "ImageUpdateAutomation/apps/x" in str(caught.value)
