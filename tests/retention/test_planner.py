"""The pure retention planner: Harbor's templates and selectors, per-digest action, protections."""

from datetime import UTC, datetime, timedelta

import pytest

from tagpilot.retention.planner import (
    Artifact,
    PlanError,
    Protections,
    Rule,
    TagSelector,
    plan_repository,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def d(n: int) -> str:
    return "sha256:" + f"{n:x}".rjust(64, "0")


def art(n: int, *tags: str, days_ago: float | None = None, created_days_ago: float | None = None,
        children: tuple[str, ...] = ()) -> Artifact:
    pushed = NOW - timedelta(days=days_ago) if days_ago is not None else None
    created = NOW - timedelta(days=created_days_ago) if created_days_ago is not None else None
    return Artifact(d(n), tuple(tags), pushed=pushed, pushed_source=f"pushed {days_ago} days ago",
                    created=created, children=children)


def actions(plan) -> dict[str, str]:
    return {item.digest: item.action for item in plan.items}


def test_seed_scenario_timestamp_tags_30_days_deployed_survives() -> None:
    # main-branch builds tagged with a timestamp; keep what was pushed in the last 30 days
    arts = [art(1, "20261125-1200", days_ago=6), art(2, "20261020-0900", days_ago=42),
            art(3, "20261001-0800", days_ago=61)]
    rule = Rule("nDaysSinceLastPush", 30, (TagSelector(pattern="**"),))
    deployed = Protections(tags={"20261001-0800": ["deployed: GitRepository/apps/deploy deploy/values.yaml:4"]})
    plan = plan_repository(arts, [rule], now=NOW, protections=deployed, max_delete_percent=100)
    assert actions(plan) == {d(1): "retain", d(2): "delete", d(3): "retain"}
    kept = next(i for i in plan.items if i.digest == d(3))
    assert kept.reasons == ["deployed: GitRepository/apps/deploy deploy/values.yaml:4 (tag 20261001-0800)"]
    assert next(i for i in plan.items if i.digest == d(1)).reasons == [
        "rule 0 nDaysSinceLastPush=30 (pushed 6 days ago)"]


def test_latest_pushed_k_keeps_the_newest_k() -> None:
    arts = [art(i, f"b{i}", days_ago=10 - i) for i in range(5)]
    plan = plan_repository(arts, [Rule("latestPushedK", 2)], now=NOW, max_delete_percent=100)
    assert [i.action for i in sorted(plan.items, key=lambda i: i.tags)] == ["delete", "delete", "delete",
                                                                         "retain", "retain"]


def test_unknown_push_time_counts_as_now_and_is_kept() -> None:
    arts = [art(1, "old", days_ago=90), art(2, "new-to-us")]
    plan = plan_repository(arts, [Rule("nDaysSinceLastPush", 30)], now=NOW, max_delete_percent=100)
    assert actions(plan) == {d(1): "delete", d(2): "retain"}


def test_latest_pushed_k_never_ranks_a_guessed_push_time() -> None:
    # three tags first seen by this run ("pushed now" is a guess) and one known: all kept with k=1
    arts = [art(1, "a"), art(2, "b"), art(3, "c"), art(4, "known", days_ago=3)]
    guessed = [Artifact(a.digest, a.tags, pushed=NOW, pushed_source="first seen now", pushed_guessed=True)
               for a in arts[:2]]
    plan = plan_repository([*guessed, arts[2], arts[3]], [Rule("latestPushedK", 1)], now=NOW)
    assert set(actions(plan).values()) == {"retain"}
    plan = plan_repository([art(4, "k1", days_ago=3), art(5, "k2", days_ago=4), *guessed],
                           [Rule("latestPushedK", 1)], now=NOW)
    assert actions(plan) == {d(4): "retain", d(5): "delete", d(1): "retain", d(2): "retain"}


def test_union_of_rules_and_shared_digest_keeps_every_tag() -> None:
    # one digest tagged v1.0 and build-7: retained by the semver rule, so build-7 survives too
    arts = [art(1, "v1.0", "build-7", days_ago=100), art(2, "build-8", days_ago=100), art(3, "build-9", days_ago=1)]
    rules = [Rule("always", None, (TagSelector(kind="regexp", pattern=r"v\d+\.\d+"),)),
             Rule("latestPushedK", 1, (TagSelector(pattern="build-*"),))]
    plan = plan_repository(arts, rules, now=NOW, max_delete_percent=100)
    assert actions(plan) == {d(1): "retain", d(2): "delete", d(3): "retain"}
    assert next(i for i in plan.items if i.digest == d(1)).tags == ["build-7", "v1.0"]


def test_excludes_selects_an_artifact_when_any_tag_does_not_match() -> None:
    # Harbor #11450: `excludes master*` still selects an artifact tagged master + build-7
    arts = [art(1, "master", "build-7", days_ago=50), art(2, "master-2", days_ago=50)]
    rule = Rule("latestPushedK", 0, (TagSelector(decoration="excludes", pattern="master*"),))
    keep_all = Rule("always", None, (TagSelector(decoration="excludes", pattern="master*"),))
    plan = plan_repository(arts, [keep_all], now=NOW, max_delete_percent=100)
    assert actions(plan) == {d(1): "retain", d(2): "delete"}
    plan0 = plan_repository(arts, [rule], now=NOW, max_delete_percent=100)
    assert actions(plan0) == {d(1): "delete", d(2): "delete"}


@pytest.mark.parametrize(
    ("decoration", "untagged", "selected"),
    [("matches", None, True), ("matches", True, True), ("matches", False, False),
     ("excludes", None, True), ("excludes", False, True), ("excludes", True, False)],
)
def test_untagged_flag(decoration: str, untagged: bool | None, selected: bool) -> None:
    arts = [art(1, days_ago=1)]
    rule = Rule("always", None, (TagSelector(decoration=decoration, pattern="x*", untagged=untagged),))
    plan = plan_repository(arts, [rule], now=NOW, max_delete_percent=100)
    assert actions(plan)[d(1)] == ("retain" if selected else "delete")


def test_selectors_are_anded() -> None:
    arts = [art(1, "release-1", days_ago=1), art(2, "release-rc", days_ago=1)]
    rule = Rule("always", None, (TagSelector(pattern="release-*"),
                                 TagSelector(decoration="excludes", pattern="*-rc")))
    assert actions(plan_repository(arts, [rule], now=NOW, max_delete_percent=100)) == {
        d(1): "retain", d(2): "delete"}


def test_regexp_is_re2_and_anchored() -> None:
    arts = [art(1, "v1.2.3", days_ago=1), art(2, "v1.2.3-rc1", days_ago=1)]
    rule = Rule("always", None, (TagSelector(kind="regexp", pattern=r"v\d+\.\d+\.\d+"),))
    assert actions(plan_repository(arts, [rule], now=NOW, max_delete_percent=100)) == {
        d(1): "retain", d(2): "delete"}
    with pytest.raises(PlanError, match="invalid regular expression"):
        plan_repository(arts, [Rule("always", None, (TagSelector(kind="regexp", pattern=r"(?=x)"),))], now=NOW)


def test_created_templates_use_image_created_and_keep_unknown() -> None:
    arts = [art(1, "a", created_days_ago=1), art(2, "b", created_days_ago=40), art(3, "c")]
    plan = plan_repository(arts, [Rule("nDaysSinceCreated", 30)], now=NOW, max_delete_percent=100)
    assert actions(plan) == {d(1): "retain", d(2): "delete", d(3): "retain"}
    plan = plan_repository(arts, [Rule("latestCreatedK", 0)], now=NOW, max_delete_percent=100)
    assert actions(plan) == {d(1): "delete", d(2): "delete", d(3): "retain"}


def test_index_children_of_retained_index_are_retained() -> None:
    arts = [art(1, "multi", days_ago=1, children=(d(2), d(3))), art(2, "amd64-only", days_ago=99),
            art(3, "arm64-only", days_ago=99), art(4, "other", days_ago=99)]
    plan = plan_repository(arts, [Rule("nDaysSinceLastPush", 30)], now=NOW, max_delete_percent=100)
    assert actions(plan) == {d(1): "retain", d(2): "retain", d(3): "retain", d(4): "delete"}
    assert any("child of retained index" in r for r in plan.items[0].reasons + plan.items[1].reasons)


def test_cosign_signatures_follow_their_subject() -> None:
    kept, gone = d(1), d(2)
    arts = [art(1, "new", days_ago=1), art(2, "old", days_ago=99),
            art(10, f"sha256-{kept[7:]}.sig", days_ago=99), art(11, f"sha256-{gone[7:]}.att", days_ago=1),
            art(12, f"sha256-{d(99)[7:]}.sbom", days_ago=99)]
    # latestPushedK=1 must not count the signatures (d(11) is the newest push)
    plan = plan_repository(arts, [Rule("latestPushedK", 1)], now=NOW, max_delete_percent=100)
    assert actions(plan) == {d(1): "retain", d(2): "delete", d(10): "retain", d(11): "delete", d(12): "retain"}
    reasons = {i.digest: i.reasons for i in plan.items}
    assert reasons[d(11)] == [f"signature of deleted {gone}"]
    assert "not in this repository" in reasons[d(12)][0]


def test_protect_patterns_and_policy_refs() -> None:
    arts = [art(1, "prod-1", days_ago=99), art(2, "v9", days_ago=99), art(3, "x", days_ago=99)]
    prot = Protections(tags={"v9": ["ImagePolicy/default/app latestRef"]},
                       patterns=(TagSelector(pattern="prod-*"),))
    plan = plan_repository(arts, [Rule("latestPushedK", 0)], now=NOW, protections=prot, max_delete_percent=100)
    assert actions(plan) == {d(1): "retain", d(2): "retain", d(3): "delete"}


def test_max_delete_percent_blocks() -> None:
    arts = [art(i, f"t{i}", days_ago=99) for i in range(4)]
    plan = plan_repository(arts, [Rule("latestPushedK", 1)], now=NOW)  # 3 of 4 = 75% > 50
    assert plan.blocked is not None and "maxDeletePercent 50" in plan.blocked and "--yes" in plan.blocked
    assert all(any(r.startswith("blocked:") for r in i.reasons) for i in plan.deletes)
    assert plan_repository(arts, [Rule("latestPushedK", 2)], now=NOW).blocked is None  # 50% is allowed


@pytest.mark.parametrize(
    ("rule", "message"),
    [(Rule("latestPulledN", 5), "no pull times"), (Rule("nDaysSinceLastPull", 5), "no pull times"),
     (Rule("keepSome", 5), "unknown template"), (Rule("latestPushedK", -1), "integer from 0"),
     (Rule("latestPushedK", 32767), "integer from 0"),
     (Rule("always", None, (TagSelector(pattern="{a"),)), "unterminated"),
     (Rule("always", None, (TagSelector(decoration="keeps"),)), "decoration"),
     (Rule("always", None, (TagSelector(kind="glob"),)), "kind")],
)
def test_bad_rules_are_refused(rule: Rule, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan_repository([art(1, "a", days_ago=1)], [rule], now=NOW)


def test_untagged_referrers_follow_their_subject_not_the_rules() -> None:
    # an untagged OCI referrer would be "selected" by `untagged: true`; it follows its subject instead
    arts = [art(1, "keep", days_ago=1), art(2, "old", days_ago=90),
            Artifact(d(3), (), subject=d(1)), Artifact(d(4), (), subject=d(2)), Artifact(d(5), (), subject=d(9))]
    rule = Rule("nDaysSinceLastPush", 30, (TagSelector(pattern="**", untagged=True),))
    plan = plan_repository(arts, [rule], now=NOW, max_delete_percent=100)
    by = {i.digest: i for i in plan.items}
    assert by[d(3)].reasons == [f"referrer of retained {d(1)}"]
    assert (by[d(4)].action, by[d(4)].reasons) == ("delete", [f"referrer of deleted {d(2)}"])
    assert by[d(5)].reasons == [f"referrer of {d(9)}, which is not in this repository: kept"]


def test_untagged_selector_decides_for_untagged_artifacts_without_subject() -> None:
    arts = [art(1, "a", days_ago=90), Artifact(d(2), (), pushed=NOW - timedelta(days=90), pushed_source="x")]
    keep_untagged = Rule("always", None, (TagSelector(pattern="a", untagged=True),))
    drop_untagged = Rule("always", None, (TagSelector(pattern="a", untagged=False),))
    assert actions(plan_repository(arts, [keep_untagged], now=NOW, max_delete_percent=100))[d(2)] == "retain"
    assert actions(plan_repository(arts, [drop_untagged], now=NOW, max_delete_percent=100))[d(2)] == "delete"


def test_the_oci_fallback_tag_is_a_signature_of_its_subject() -> None:
    subject = art(1, "v1", days_ago=90)
    fallback = art(2, f"sha256-{d(1)[7:]}", days_ago=1)
    plan = plan_repository([subject, fallback], [Rule("nDaysSinceLastPush", 30)], now=NOW, max_delete_percent=100)
    assert actions(plan) == {d(1): "delete", d(2): "delete"}  # a fresh fallback index is not kept on its own
