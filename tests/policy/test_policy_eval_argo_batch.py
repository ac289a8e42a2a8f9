"""`tagpilot policy eval --batch` with Argo CD Image Updater lines: the exact result shapes
(`{"latest": TAG}`, `{"none": true}`, `{"error": MSG}`), upstream's facts, and what upstream does with
bad input (a broken allow-tags regexp matches nothing; an unknown strategy falls back to semver)."""

from __future__ import annotations

import json
from pathlib import Path

from tagpilot.cli.policy_eval import eval_batch
from tests.integration.cli import run_tagpilot

FACT_TAGS = ["0.1", "0.5.1", "0.9", "1.0", "1.0.1", "1.1.2", "2.0.3"]


def line(tags: list[str], **argo: object) -> str:
    return json.dumps({"tags": tags, "argo": argo})


def run(*lines: str) -> list[dict]:
    code, out = eval_batch("\n".join(lines))
    assert code == 0
    return [json.loads(x) for x in out.splitlines()]


def test_reference_facts_semver() -> None:
    assert run(line(FACT_TAGS, strategy="semver"), line(FACT_TAGS, strategy="semver", constraint="^1.0"),
               line(FACT_TAGS, strategy="semver", constraint="~1.0"),
               line(["v2.2.0", "v2.3.0-rc.0.18.g1abb7b5dd-ppc64le"], strategy="semver")) == [
        {"latest": "2.0.3"}, {"latest": "1.1.2"}, {"latest": "1.0.1"}, {"latest": "v2.2.0"}]


def test_allow_ignore_alphabetical_and_old_name() -> None:
    tags = ["main-aaa", "main-ccc", "main-bbb", "feature-x", "main-zzz"]
    assert run(line(tags, strategy="alphabetical", allowTags="regexp:^main", ignoreTags=["main-z*"]),
               line(tags, strategy="name", allowTags="regexp:^main"),
               line(tags, strategy="alphabetical", ignoreTags=["*"])) == [
        {"latest": "main-ccc"}, {"latest": "main-zzz"}, {"none": True}]


def test_bad_regexp_matches_nothing_as_upstream_and_none_shape() -> None:
    assert run(line(["1.0.0", "2.0.0"], strategy="semver", allowTags="regexp:(["),
               line(["1.0.0"], strategy="semver", allowTags="glob:*"),
               line([], strategy="semver"),
               line(["latest", "main"], strategy="semver")) == [{"none": True}] * 4


def test_errors_keep_the_shape() -> None:
    out = run(line(["1.0.0"], strategy="semver", constraint="latest"),
              line(["1.0.0"], strategy="newest-build"),
              line(["1.0.0"], strategy="semver", allowtags="regexp:^1"),
              json.dumps({"tags": "1.0.0", "argo": {}}),
              "not json")
    assert all(list(o) == ["error"] for o in out), out
    assert "newest-build" in out[1]["error"] and "registry metadata" in out[1]["error"]
    assert "unknown field(s) allowtags" in out[2]["error"]


def test_unknown_strategy_falls_back_to_semver_with_a_warning(tmp_path: Path) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text(line(FACT_TAGS, strategy="newest") + "\n" + line(["b", "a"], strategy="alphabetical") + "\n")
    result = run_tagpilot("policy", "eval", "--batch", batch)
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == ['{"latest": "2.0.3"}', '{"latest": "b"}']
    assert "unknown update strategy 'newest', falling back to semver" in result.stderr
