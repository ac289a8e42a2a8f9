"""Grouped writes: the derived state a reconcile writes on the event loop commits together, soon after the
first write; a failing write rolls back alone; a durable write (an event, a pending trigger) commits the
open group with itself; `close` and the next loop commit what a stopped loop left."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tagpilot.errors import StoreError
from tagpilot.store import Store
from tagpilot.store.db import DB_FILE

KEY = ("ImageRepository", "ns", "a")


def committed_status(tmp_path: Path, name: str = "a") -> str | None:
    """What another process reads: the committed status of ImageRepository ns/NAME, if any."""
    with sqlite3.connect(tmp_path / DB_FILE) as other:
        row = other.execute("SELECT status FROM objects WHERE kind = ? AND namespace = ? AND name = ?",
                            ("ImageRepository", "ns", name)).fetchone()
    return None if row is None else row[0]


async def group_committed(store: Store) -> None:
    """Wait until the loop's timer has committed the open group (no wall-time assertion: it just waits)."""
    while store._group_loop is not None:
        await asyncio.sleep(0.001)


async def test_grouped_writes_commit_once_together(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        before = store.commits
        store.observe_spec(*KEY, "h")
        store.set_status(*KEY, {"n": 1})
        store.set_tags("ns/a", ["1.0.0"], "1")
        store.record_tags_seen("reg/a", ["1.0.0"], 1.0)
        assert store.get_object(*KEY).status == {"n": 1}  # this connection reads its group at once
        assert committed_status(tmp_path) is None  # nobody else does until the group commits
        await group_committed(store)
        assert store.commits == before + 1
        assert committed_status(tmp_path) == '{"n": 1}'
        with sqlite3.connect(tmp_path / DB_FILE) as other:
            assert other.execute("SELECT tags FROM repository_tags").fetchone()[0] == '["1.0.0"]'
            # a repository's first tag list is one row, its tags' rows made when first needed
            assert other.execute("SELECT tags FROM tag_baselines").fetchone()[0] == '["1.0.0"]'


async def test_a_failing_grouped_write_does_not_lose_the_others(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.set_status(*KEY, {"n": 1})
        with pytest.raises(TypeError), store._tx(grouped=True) as db:
            db.execute("UPDATE objects SET status = '{\"n\": 2}'")
            raise TypeError("a bug halfway through one repository's write")
        store.set_status("ImageRepository", "ns", "b", {"n": 3})
        with pytest.raises(StoreError, match="cannot write the state database"), store._tx(grouped=True) as db:
            db.execute("INSERT INTO no_such_table VALUES (1)")
        await group_committed(store)
        assert committed_status(tmp_path) == '{"n": 1}'  # the failed write rolled back alone
        assert committed_status(tmp_path, "b") == '{"n": 3}'


async def test_a_durable_write_commits_the_open_group_with_itself(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.set_status(*KEY, {"n": 1})
        before = store.commits
        store.add_pending(*KEY, "webhook")  # promised before answering: durable when it returns
        store.add_event(*KEY, "Normal", "Approved", "approved by alice")  # what an API answer reports
        assert store.commits == before + 2  # one commit each, the first carrying the grouped status
        assert committed_status(tmp_path) == '{"n": 1}'
        with sqlite3.connect(tmp_path / DB_FILE) as other:
            assert other.execute("SELECT reason FROM pending_triggers").fetchall() == [("webhook",)]
            assert other.execute("SELECT reason FROM events").fetchall() == [("Approved",)]


async def test_a_failing_durable_write_still_commits_the_group_before_it(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.set_status(*KEY, {"n": 1})
        with pytest.raises(StoreError, match="cannot write the state database"), store._tx() as db:
            db.execute("INSERT INTO no_such_table VALUES (1)")
        assert committed_status(tmp_path) == '{"n": 1}'


async def test_close_commits_the_open_group(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.set_status(*KEY, {"n": 1})
    store.close()
    assert committed_status(tmp_path) == '{"n": 1}'


def test_without_a_running_loop_every_write_commits_at_once(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.set_status(*KEY, {"n": 1})
        assert committed_status(tmp_path) == '{"n": 1}'


def test_a_group_left_by_a_stopped_loop_commits_before_the_next_write_or_at_close(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    loop = asyncio.new_event_loop()

    def write_and_stop() -> None:
        store.set_status(*KEY, {"n": 1})
        loop.stop()  # the loop stops before its timer commits the group

    loop.call_soon(write_and_stop)
    loop.run_forever()
    loop.close()
    assert committed_status(tmp_path) is None

    async def write(n: int) -> None:
        store.set_status("ImageRepository", "ns", "b", {"n": n})
        assert committed_status(tmp_path) == '{"n": 1}'  # the old loop's group, committed first

    asyncio.run(write(2))  # this loop too ends before its timer fires
    assert committed_status(tmp_path, "b") is None
    store.close()
    assert committed_status(tmp_path, "b") == '{"n": 2}'


async def test_a_derived_event_joins_the_group_and_a_durable_one_commits_it(tmp_path: Path) -> None:
    """A scan's `NewTags` (reconciler.Note.derived) is written with the status it goes with: one commit
    for both; an event nobody would emit again (an approval) commits the group at once with itself."""
    from tagpilot.engine.events import EventStream

    with Store.open(tmp_path) as store:
        stream = EventStream.recorded_in(store)
        before = store.commits
        store.set_status(*KEY, {"n": 1})
        stream.emit(KEY, "Normal", "NewTags", "scanned", derived=True, revision="r1")
        assert store.commits == before  # still open: status and event together
        await group_committed(store)
        assert store.commits == before + 1
        store.set_status(*KEY, {"n": 2})
        stream.emit(KEY, "Normal", "Approved", "by a person")
        assert store.commits == before + 2 and store._group_loop is None  # durable on return, group included
        with sqlite3.connect(tmp_path / DB_FILE) as other:
            reasons = [r[0] for r in other.execute("SELECT reason FROM events ORDER BY id")]
        assert reasons == ["NewTags", "Approved"] and committed_status(tmp_path) == '{"n": 2}'

