"""Argo CD Image Updater strategies: facts from its docs and tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tagpilot.errors import InvalidPolicy, PolicyError
from tagpilot.policy import ArgoPolicy, SelectionFailed, TagMetadata, argo_needs_metadata, argo_strategy, select_argo

TAGS = ["0.1", "0.5.1", "0.9", "1.0", "1.0.1", "1.1.2", "2.0.3"]


@pytest.mark.parametrize(
    ("constraint", "expected"), [("", "2.0.3"), ("^1.0", "1.1.2"), ("~1.0", "1.0.1"), ("0.x", "0.9")]
)
def test_semver_with_partial_versions(constraint: str, expected: str) -> None:
    assert select_argo(TAGS, ArgoPolicy(constraint=constraint)).tag == expected


def test_semver_prerelease_needs_prerelease_constraint() -> None:
    tags = ["v2.2.0", "v2.3.0-rc.0.18.g1abb7b5dd-ppc64le"]
    assert select_argo(tags, ArgoPolicy()).tag == "v2.2.0"
    assert select_argo(tags, ArgoPolicy(constraint="2.x-0")).tag == "v2.3.0-rc.0.18.g1abb7b5dd-ppc64le"


def test_semver_tie_goes_to_greater_original() -> None:
    assert select_argo(["1.0", "1.0.0", "v1.0.0"], ArgoPolicy()).tag == "v1.0.0"


def test_invalid_constraint_is_an_error() -> None:
    with pytest.raises(InvalidPolicy, match="improper constraint: latest"):
        select_argo(TAGS, ArgoPolicy(constraint="latest"))


def test_allow_and_ignore() -> None:
    tags = ["1.0.0", "1.1.0-debug", "1.2.0", "2.0.0", "latest"]
    policy = ArgoPolicy(allow_tags=r"regexp:^1\.", ignore_tags=["1.2.*"])
    sel = select_argo(tags, policy, explain=True)
    assert sel.tag == "1.0.0"
    assert [(v.tag, v.outcome) for v in sel.verdicts or []] == [
        ("1.0.0", "selected"),
        ("1.1.0-debug", "prerelease"),
        ("1.2.0", "ignored"),
        ("2.0.0", "not-allowed"),
        ("latest", "not-allowed"),
    ]


@pytest.mark.parametrize("allow", ["regexp:(", "glob:*", "nonsense"])
def test_malformed_allow_tags_allow_nothing(allow: str) -> None:
    with pytest.raises(SelectionFailed):
        select_argo(["1.0.0"], ArgoPolicy(allow_tags=allow))


def test_allow_any_and_ignore_star() -> None:
    assert select_argo(["1.0.0"], ArgoPolicy(allow_tags="any")).tag == "1.0.0"
    with pytest.raises(PolicyError):
        select_argo(["1.0.0"], ArgoPolicy(ignore_tags=["*"]))


def test_alphabetical_and_old_name() -> None:
    tags = ["b", "a", "c10", "c9"]
    assert select_argo(tags, ArgoPolicy(strategy="alphabetical")).tag == "c9"
    assert select_argo(tags, ArgoPolicy(strategy="name")).tag == "c9"


T0 = datetime(2024, 5, 1, tzinfo=UTC)


def test_newest_build_ties_on_name_and_needs_metadata() -> None:
    md = {
        "a": TagMetadata(T0, ["linux/amd64"]),
        "b": TagMetadata(T0 + timedelta(hours=1), ["linux/amd64"]),
        "c": TagMetadata(T0 + timedelta(hours=1), ["linux/amd64"]),
        "d": TagMetadata(None, []),
        "f": TagMetadata(T0 + timedelta(days=9), ["linux/arm/v7"]),
    }
    policy = ArgoPolicy(strategy="newest-build", platforms=["linux/amd64"])
    sel = select_argo(["a", "b", "c", "d", "e", "f"], policy, metadata=md, explain=True)
    assert sel.tag == "c"
    assert [(v.tag, v.outcome) for v in sel.verdicts or []] == [
        ("a", "lower"),
        ("b", "lower"),
        ("c", "selected"),
        ("d", "no-metadata"),
        ("e", "no-metadata"),
        ("f", "wrong-platform"),
    ]
    assert argo_needs_metadata(policy) and argo_needs_metadata(ArgoPolicy(strategy="latest"))
    assert not argo_needs_metadata(ArgoPolicy())


def test_platform_variant_matching() -> None:
    md = {"x": TagMetadata(T0, ["linux/arm64/v8"])}
    assert select_argo(["x"], ArgoPolicy(strategy="newest-build", platforms=["linux/arm64"]), metadata=md).tag == "x"
    with pytest.raises(SelectionFailed):
        select_argo(["x"], ArgoPolicy(strategy="newest-build", platforms=["linux/arm64/v9"]), metadata=md)


def test_naive_created_is_utc() -> None:
    md = {"old": TagMetadata(datetime(2024, 1, 1), []), "new": TagMetadata(T0, [])}
    assert select_argo(["new", "old"], ArgoPolicy(strategy="newest-build"), metadata=md).tag == "new"


def test_digest() -> None:
    d = "sha256:" + "ab" * 32
    sel = select_argo(["latest", "1.0"], ArgoPolicy(strategy="digest", constraint="latest"), digest=d)
    assert (sel.tag, sel.value) == ("latest", f"latest@{d}")
    with pytest.raises(PolicyError, match="needs the current digest"):
        select_argo(["latest"], ArgoPolicy(strategy="digest", constraint="latest"))
    with pytest.raises(PolicyError, match="not among"):
        select_argo(["1.0"], ArgoPolicy(strategy="digest", constraint="latest"), digest=d)
    with pytest.raises(InvalidPolicy):
        select_argo(["1.0"], ArgoPolicy(strategy="digest"), digest=d)


def test_strategy_names() -> None:
    assert argo_strategy("latest") == ("newest-build", None)
    assert argo_strategy("") == ("semver", None)
    strategy, warning = argo_strategy("fancy")
    assert strategy == "semver" and warning and "fancy" in warning
