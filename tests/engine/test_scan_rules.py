"""The pure rules of a scan: exclusions, Flux's latestTags order and revision checksum, due-ness."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tagpilot.config.flux_image import ImageRepository
from tagpilot.engine.scan import exclude_tags, go_json_marshal_strings, is_due, latest_tags, scan_revision
from tagpilot.engine.status import RepositoryStatus


def test_latest_tags_is_bytewise_descending_first_ten() -> None:
    # the example of Flux's documentation: not semver, not numeric
    tags = ["15", "-88", "100", "16", "72", "15", "29", "-91", "101", "73", "-100", "1"]
    assert latest_tags(tags) == ["73", "72", "29", "16", "15", "15", "101", "100", "1", "-91"]


def test_latest_tags_uppercase_before_lowercase_is_byte_order() -> None:
    assert latest_tags(["b", "B", "a", "A", "é"]) == ["é", "b", "a", "B", "A"]


def test_default_exclusion_drops_signatures_unanchored() -> None:
    tags = ["1.0.0", "sha256-abc.sig", "1.0.0.sig", "sig", "v.sigx"]
    assert exclude_tags(tags, ["^.*\\.sig$"]) == ["1.0.0", "sig", "v.sigx"]
    # unanchored: a pattern matches anywhere in the tag
    assert exclude_tags(["main-1", "dev-2", "maintenance"], ["main"]) == ["dev-2"]
    assert exclude_tags(["a", "b"], []) == ["a", "b"]


def test_go_json_marshal_escapes_html() -> None:
    assert go_json_marshal_strings(["<a&b>", "x"]) == b'["\\u003ca\\u0026b\\u003e","x"]'
    assert go_json_marshal_strings([]) == b"[]"


def test_revision_is_adler32_of_go_json() -> None:
    assert scan_revision(["1.0.0", "latest"]) == str(zlib.adler32(b'["1.0.0","latest"]'))
    assert scan_revision(["a", "b"]) != scan_revision(["b", "a"])  # Flux hashes the list as stored
    assert scan_revision([]) == str(zlib.adler32(b"[]"))


@given(st.lists(st.text(max_size=12), max_size=40))
def test_latest_tags_properties(tags: list[str]) -> None:
    result = latest_tags(tags)
    assert len(result) == min(10, len(tags))
    assert result == sorted(result, key=lambda t: t.encode(), reverse=True)
    assert latest_tags(list(reversed(tags))) == result


def repo(interval: str = "5m") -> ImageRepository:
    return ImageRepository.model_validate({
        "apiVersion": "image.toolkit.fluxcd.io/v1", "kind": "ImageRepository", "metadata": {"name": "r"},
        "spec": {"image": "alpine", "interval": interval},
    })


NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def status(scanned: datetime, ready: str = "True", generation: int = 1) -> dict:
    return {
        "observedGeneration": generation,
        "lastScanResult": {"scanTime": scanned.strftime("%Y-%m-%dT%H:%M:%SZ"), "tagCount": 1},
        "conditions": [{"type": "Ready", "status": ready}],
    }


@pytest.mark.parametrize(
    ("stored", "generation", "due"),
    [
        ({}, 1, True),  # never scanned
        (status(NOW - timedelta(minutes=1)), 1, False),
        (status(NOW - timedelta(minutes=5)), 1, True),  # interval passed
        (status(NOW - timedelta(minutes=1), ready="False"), 1, True),  # last scan failed
        (status(NOW - timedelta(minutes=1)), 2, True),  # spec changed
    ],
)
def test_is_due(stored: dict, generation: int, due: bool) -> None:
    assert is_due(repo(), RepositoryStatus.from_json(stored), generation, NOW) is due


def test_default_exclusion_fast_path_matches_re2() -> None:
    """The default `^.*\\.sig$` is tested as a string suffix; it keeps exactly what RE2's search keeps,
    newlines included (`^.*` cannot cross one and `$` is the end of the text: both are kept)."""
    from tagpilot.config.flux_image import DEFAULT_EXCLUSION_LIST
    from tagpilot.regex import compile_regex

    tags = ["v1.sig", "v1", "sha256-abc.sig", ".sig", "sig", "x.sig\n", "x\n.sig", "a.sigs", "a.SIG"]
    pattern = compile_regex(DEFAULT_EXCLUSION_LIST[0])
    assert exclude_tags(tags, DEFAULT_EXCLUSION_LIST) == [t for t in tags if not pattern.search(t)]
    assert exclude_tags(tags, DEFAULT_EXCLUSION_LIST) == ["v1", "sig", "x.sig\n", "x\n.sig", "a.sigs", "a.SIG"]


def test_revision_of_plain_and_escaped_tags() -> None:
    """The joined fast path for plain tags gives json.Marshal's bytes, as the per-tag escaping does."""
    from tagpilot.engine.scan import go_json_marshal_strings

    assert go_json_marshal_strings([]) == b"[]"
    assert go_json_marshal_strings(["1.0.0", "build_7-x"]) == b'["1.0.0","build_7-x"]'
    assert go_json_marshal_strings(["a<b", "é"]) == '["a\\u003cb","é"]'.encode()
