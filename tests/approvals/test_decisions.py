"""approve/reject/pin on a real state database: quorum of distinct people, refusals, bounded input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagpilot.approvals import decisions
from tagpilot.approvals.book import ApprovalBook
from tagpilot.engine.events import EventStream
from tagpilot.store import Store

KEY = ("ImageUpdateAutomation", "apps", "prod")


def request(book: ApprovalBook, required: int = 2, approvers: list[str] | None = None) -> str:
    return book.create(KEY, images=[{"image": "r/app", "from": "1.0.0", "to": "1.1.0"}],
                       targets={"apps:app": {"name": "r/app", "tag": "1.1.0"}}, changes=[], diff="",
                       required=required, approvers=approvers or [], now=0.0, deadline=100.0).id


def test_quorum_refusals_and_rejection_remembered(tmp_path: Path) -> None:
    with Store(tmp_path / "state.db") as store:
        book, events = ApprovalBook(store), EventStream.recorded_in(store)
        rid = request(book, approvers=["alice", "bob"])
        with pytest.raises(decisions.DecisionError, match="not an approver"):
            decisions.approve(book, events, rid, "mallory")
        assert decisions.approve(book, events, rid, "alice").state == "pending"
        with pytest.raises(decisions.DecisionError, match="already decided"):
            decisions.approve(book, events, rid, "alice")
        assert decisions.approve(book, events, rid, "bob").approved_by == ["alice", "bob"]
        assert book.get(rid).state == "approved"  # type: ignore[union-attr]
        other = request(book)
        decisions.reject(book, events, other, "carol", "no")
        assert book.rejected(KEY) == {("r/app", "1.1.0")}
        with pytest.raises(decisions.DecisionError, match="rejected"):
            decisions.approve(book, events, other, "dave")
        assert [e["reason"] for e in store.events()] == ["Approved", "Approved", "ApprovalRejected"]


@pytest.mark.parametrize(("call", "words"), [
    (lambda b, e, r: decisions.approve(b, e, r, "x" * 101), "--by"),
    (lambda b, e, r: decisions.approve(b, e, r, "eve\x1b[31m"), "--by"),
    (lambda b, e, r: decisions.approve(b, e, r, "eve", "c" * 3000), "--comment"),
    (lambda b, e, r: decisions.approve(b, e, "../../etc", "eve"), "not found"),
    (lambda b, e, r: decisions.pin(b, e, KEY, "apps:app", "bad tag!"), "not a valid image tag"),
    (lambda b, e, r: decisions.pin_target("apps", None), "NAMESPACE:NAME"),
    (lambda b, e, r: decisions.pin_target(None, None), "exactly one"),
])
def test_hostile_or_mistaken_input_refused(tmp_path: Path, call, words: str) -> None:
    with Store(tmp_path / "state.db") as store:
        book, events = ApprovalBook(store), EventStream.recorded_in(store)
        rid = request(book)
        with pytest.raises(decisions.DecisionError, match=words.replace("-", r"\-")):
            call(book, events, rid)
        assert book.get(rid).decisions == [] and book.pins(KEY) == []  # type: ignore[union-attr]
