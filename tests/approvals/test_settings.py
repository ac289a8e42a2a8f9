"""The approvals annotations: what they mean, and every value nobody can mean refused with the object named."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tagpilot.approvals.settings import InvalidAnnotation, settings_of


def obj(**annotations: str) -> SimpleNamespace:
    meta = SimpleNamespace(annotations=annotations, namespace="apps", name="prod")
    return SimpleNamespace(metadata=meta, key=("ImageUpdateAutomation", "apps", "prod"),
                           ref="ImageUpdateAutomation/apps/prod")


def test_defaults_and_values() -> None:
    assert not settings_of(obj()).gated
    s = settings_of(obj(**{"tagpilot.dev/approvals": "2", "tagpilot.dev/approvers": "alice, bob,alice",
                           "tagpilot.dev/approval-deadline": "90m", "tagpilot.dev/respect-manual-changes": "true"}))
    assert (s.required, s.approvers, s.deadline_seconds, s.respect_manual_changes) == (2, ("alice", "bob"), 5400.0,
                                                                                        True)
    assert settings_of(obj(**{"tagpilot.dev/approvals": "1"})).deadline_seconds == 24 * 3600


@pytest.mark.parametrize(("annotations", "words"), [
    ({"tagpilot.dev/approvals": "two"}, "not a number of approvals"),
    ({"tagpilot.dev/approvals": "0"}, "from 1 to 100"),
    ({"tagpilot.dev/approvals": "101"}, "from 1 to 100"),
    ({"tagpilot.dev/approvals": "1", "tagpilot.dev/approval-deadline": "5"}, "missing unit"),
    ({"tagpilot.dev/approvals": "1", "tagpilot.dev/approval-deadline": "-1h"}, "must be positive"),
    ({"tagpilot.dev/approvals": "1", "tagpilot.dev/approvers": " , "}, "is empty"),
    ({"tagpilot.dev/approvers": "alice"}, "does nothing without"),
    ({"tagpilot.dev/approvals": "3", "tagpilot.dev/approvers": "alice,bob"}, "can never be given"),
    ({"tagpilot.dev/aprovals": "2"}, "unknown annotation"),
    ({"tagpilot.dev/approval-deadlin": "1h"}, "unknown annotation"),
    ({"tagpilot.dev/respect-manual-changes": "yes"}, "write \"true\" or \"false\""),
])
def test_refused_with_the_object_named(annotations: dict[str, str], words: str) -> None:
    with pytest.raises(InvalidAnnotation) as caught:
        settings_of(obj(**annotations))
    assert words in str(caught.value)
    assert "ImageUpdateAutomation/apps/prod" in str(caught.value)
