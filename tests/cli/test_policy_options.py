"""The policy options `policy eval` and `policy test` share: one validation for both commands."""

from __future__ import annotations

import pytest

from tagpilot.cli.policy_eval import eval_policy
from tagpilot.cli.policy_options import UsageError, policies
from tagpilot.errors import ConfigError, PolicyError
from tagpilot.policy import ArgoPolicy


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"semver": "*", "strategy": "semver"}, "at most one of"),
        ({"semver": "*", "alphabetical": "asc"}, "at most one of"),
        ({"semver": "*", "constraint": "1.x"}, "--constraint: Argo options; with --semver"),
        ({"numerical": "asc", "ignore_tags": ["x*"]}, "--ignore-tags: Argo options; with --numerical"),
        ({"alphabetical": "asc", "platforms": "linux/amd64"}, "--platforms: Argo options"),
        ({"semver": "*", "tag_part": "1.x"}, "without a tag (got the tag part '1.x')"),
        ({"strategy": "digest", "pattern": "^v"}, "--pattern/--extract are Flux options"),
        ({"extract": "$1"}, "--pattern/--extract are Flux options"),
        ({"strategy": "newest"}, "--strategy 'newest': must be one of"),
        ({"constraint": "~1", "tag_part": "~2"}, "not both"),
        ({"strategy": "newest-build", "platforms": "linux"}, "--platforms: "),
    ],
)
def test_misuse_is_a_usage_error(options: dict, message: str) -> None:
    with pytest.raises(UsageError) as info:
        policies(**options)
    assert message in str(info.value)
    assert info.value.exit_code == 2 and isinstance(info.value, ConfigError)


def test_a_choice_is_required_only_without_a_default() -> None:
    assert policies() == (None, ArgoPolicy(strategy="semver"))
    with pytest.raises(UsageError, match="exactly one of --semver"):
        policies(default_strategy=None)
    with pytest.raises(UsageError, match="exactly one of"):
        policies(semver="*", numerical="asc", default_strategy=None)


def test_argo_policy_from_the_options() -> None:
    _, argo = policies(strategy=" Newest-Build ", allow_tags="regexp:^v", ignore_tags=["*-rc"],
                       platforms="linux/amd64, linux/arm64/v8", default_platforms="linux/s390x")
    assert argo == ArgoPolicy(strategy="newest-build", constraint="", allow_tags="regexp:^v",
                              ignore_tags=["*-rc"], platforms=["linux/amd64", "linux/arm64/v8"])
    # the constraint comes from IMAGE's tag part; the platforms from the default when none are given
    _, argo = policies(tag_part="~1.26", default_platforms="linux/arm/v7")
    assert argo is not None and (argo.constraint, argo.platforms) == ("~1.26", ["linux/arm/v7"])
    _, argo = policies(strategy="digest", constraint="latest")
    assert argo is not None and (argo.strategy, argo.constraint, argo.platforms) == ("digest", "latest", [])


def test_flux_policy_from_the_options() -> None:
    flux, argo = policies(numerical="desc", pattern=r"^b-(\d+)", extract="$1")
    assert argo is None and flux is not None
    with pytest.raises(PolicyError):
        policies(semver="not a range")


@pytest.mark.parametrize(
    "options",
    [
        {"semver": "*", "constraint": "1.x"},
        {"alphabetical": "asc", "allow_tags": "any"},
        {"strategy": "semver", "extract": "$1"},
        {"strategy": "nope"},
        {},
    ],
)
def test_eval_reports_misuse_with_exit_2(options: dict) -> None:
    code, text = eval_policy(tags_text="1.0.0\n", **options)
    assert code == 2 and text.startswith("error: ")


def test_eval_without_platforms_filters_nothing() -> None:
    # unlike `policy test`, `policy eval` has no registry and no own platform to default to
    text = "a\t2024-01-01T00:00:00Z\tlinux/s390x\nb\t2024-02-01T00:00:00Z\tlinux/ppc64le\n"
    assert eval_policy(tags_text=text, strategy="newest-build") == (0, "b")
    assert eval_policy(tags_text=text, strategy="newest-build", platforms="linux/s390x") == (0, "a")
