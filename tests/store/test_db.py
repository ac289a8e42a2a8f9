"""The SQLite state: generations, status, tags and the digest cache survive a reopen."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tagpilot.errors import StoreError
from tagpilot.store import Store
from tagpilot.store.db import DB_FILE, DELIVERIES_KEPT, MIGRATIONS, TRIM_EVERY


def test_generation_bumps_only_when_spec_changes(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert store.observe_spec("ImageRepository", "ns", "a", "h1") == 1
        assert store.observe_spec("ImageRepository", "ns", "a", "h1") == 1
        assert store.observe_spec("ImageRepository", "ns", "a", "h2") == 2
        assert store.observe_spec("ImageRepository", "ns", "b", "h2") == 1


def test_status_tags_and_blobs_persist(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.observe_spec("ImageRepository", "ns", "a", "h")
        store.set_status("ImageRepository", "ns", "a", {"lastScanResult": {"tagCount": 2}})
        store.set_tags("ns/a", ["1.0.0", "latest"], "123")
        store.put("sha256:abc", "application/json", b"{}")
        store.put("sha256:abc", "application/json", b"ignored: content-addressed, first write wins")
    with Store.open(tmp_path) as store:
        obj = store.get_object("ImageRepository", "ns", "a")
        assert obj is not None and obj.status == {"lastScanResult": {"tagCount": 2}} and obj.generation == 1
        assert store.get_tags("ns/a") == ["1.0.0", "latest"]
        assert store.get_tags("ns/missing") is None
        assert store.get("sha256:abc") == b"{}"
        assert store.get("sha256:other") is None
        assert store.blob_count() == 1


def test_state_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGPILOT_STATE", str(tmp_path / "st"))
    with Store.open() as store:
        store.set_tags("x/y", [], "1")
    assert (tmp_path / "st" / "state.db").exists()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute("UPDATE schema_version SET version = 999")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer tagpilot"):
        Store.open(tmp_path)


def test_unwritable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the state database"):
        Store.open(blocker / "sub")


def test_events_log_filters_and_order(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.add_event("ImageRepository", "ns", "a", "Normal", "Succeeded", "found 2 tags", {"tags": 2})
        store.add_event("ImagePolicy", "ns", "p", "Warning", "Failed", "no tag")
        third = store.add_event("ImageRepository", "ns", "a", "Normal", "Succeeded", "found 3 tags")
        everything = store.events()
        assert [e["message"] for e in everything] == ["found 2 tags", "no tag", "found 3 tags"]
        assert [e["message"] for e in store.events(kind="ImageRepository")] == ["found 2 tags", "found 3 tags"]
        assert store.events(since_id=third) == []
        assert store.events(limit=1)[0]["id"] == third
        assert everything[0]["data"] == {"tags": 2}


def test_suspensions_persist(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.set_suspended("ImageRepository", "ns", "a", True)
        store.set_suspended("ImageRepository", "ns", "a", True)
    with Store.open(tmp_path) as store:
        assert store.is_suspended("ImageRepository", "ns", "a")
        assert not store.is_suspended("ImageRepository", "ns", "b")
        store.set_suspended("ImageRepository", "ns", "a", False)
        assert not store.is_suspended("ImageRepository", "ns", "a")


def test_schema_1_database_is_upgraded(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "state.db")
    from tagpilot.store.db import MIGRATIONS

    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO repository_tags VALUES ('ns/a', '[\"1\"]', '1', 0)")
    db.commit()
    db.close()
    with Store.open(tmp_path) as store:
        assert store.get_tags("ns/a") == ["1"]  # kept
        store.add_event("K", "ns", "n", "Normal", "R", "m")  # the new table exists


def test_a_storm_of_deliveries_leaves_the_events_log_alone(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        pushed = store.add_event("ImageUpdateAutomation", "ns", "fleet", "Normal", "Pushed", "commit abc")
        for n in range(DELIVERIES_KEPT + 2 * TRIM_EVERY):
            store.add_delivery("Receiver", "ns", "gh", "Warning", "Rejected", f"bad signature {n}", {"status": 400})
        history = store.events(with_deliveries=False)
        assert [e["id"] for e in history] == [pushed]
        assert store.events(kind="ImageUpdateAutomation")[0]["message"] == "commit abc"
        deliveries = store.deliveries(limit=10_000)
        assert DELIVERIES_KEPT <= len(deliveries) < DELIVERIES_KEPT + TRIM_EVERY  # its own ring, trimmed
        assert deliveries[-1]["message"] == f"bad signature {DELIVERIES_KEPT + 2 * TRIM_EVERY - 1}"


def test_events_and_deliveries_share_one_id_sequence(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        first = store.add_event("ImageRepository", "ns", "a", "Normal", "NewTags", "one")
        hook = store.add_delivery("Receiver", "ns", "gh", "Normal", "Accepted", "hook")
        last = store.add_event("ImageRepository", "ns", "a", "Normal", "NewTags", "two")
        assert first < hook < last
        assert [e["message"] for e in store.events()] == ["one", "hook", "two"]  # merged, in order
        assert [e["message"] for e in store.events(since_id=first)] == ["hook", "two"]
        assert [e["message"] for e in store.events(since_id=first, with_deliveries=False)] == ["two"]
        assert [e["message"] for e in store.deliveries(kind="Receiver")] == ["hook"]
        assert store.events(limit=1)[0]["id"] == last
    with Store.open(tmp_path) as store:  # ids are not reused after a restart
        assert store.add_delivery("Receiver", "ns", "gh", "Normal", "Accepted", "again") > last


def test_migration_moves_stored_deliveries_out_of_the_events_log(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / DB_FILE)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for script in MIGRATIONS[:2]:
        db.executescript(script)
    db.execute("INSERT INTO schema_version (version) VALUES (2)")
    rows = [("ImageRepository", "NewTags"), ("Receiver", "Accepted"), ("Sensor", "Filtered"), ("Sensor", "Fired"),
            ("Receiver", "Suspended")]
    for kind, reason in rows:
        db.execute("INSERT INTO events (time, kind, namespace, name, type, reason, message) VALUES"
                   " (1, ?, 'ns', 'x', 'Normal', ?, ?)", (kind, reason, reason))
    db.commit()
    db.close()
    with Store.open(tmp_path) as store:
        assert [e["reason"] for e in store.events(with_deliveries=False)] == ["NewTags", "Suspended"]
        assert [e["reason"] for e in store.deliveries()] == ["Accepted", "Filtered", "Fired"]
        assert [e["id"] for e in store.events()] == [1, 2, 3, 4, 5]
        assert store.add_event("ImageRepository", "ns", "x", "Normal", "NewTags", "new") == 6


def test_first_seen_times_for_retention(tmp_path) -> None:
    from tagpilot.store import Store

    with Store.open(tmp_path / "state") as store:
        store.record_tags_seen("r.example/app", ["a", "b", "c"], 100.0)
        store.record_tags_seen("r.example/app", ["a", "b"], 200.0)  # c deleted: forgotten; a, b keep 100
        seen = store.first_seen("r.example/app", {"a": "sha256:1", "b": "sha256:2", "c": "sha256:3"}, 300.0)
        assert seen == {"a": (100.0, False), "b": (100.0, False), "c": (300.0, True)}
        # a re-pushed on another digest: pushed again now; b unchanged keeps its time
        again = store.first_seen("r.example/app", {"a": "sha256:9", "b": "sha256:2"}, 400.0)
        assert again == {"a": (400.0, True), "b": (100.0, False)}
        assert store.first_seen("other/app", {"a": "sha256:9"}, 500.0) == {"a": (500.0, True)}


def test_an_unchanged_tag_list_is_not_recorded_again_by_a_new_process(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.record_tags_seen("r.example/app", ["a", "b"], 100.0)
    with Store.open(tmp_path) as store:  # a new process: nothing in memory
        changes = store._db.total_changes
        store.record_tags_seen("r.example/app", ["a", "b"], 200.0)
        assert store._db.total_changes == changes  # no tag row touched
        store.record_tags_seen("r.example/app", ["a", "c"], 300.0)  # b deleted, c pushed
        assert store.first_seen("r.example/app", {"a": "sha256:1", "c": "sha256:3"}, 400.0) == {
            "a": (100.0, False), "c": (300.0, False)}
    with sqlite3.connect(tmp_path / DB_FILE) as db:
        assert db.execute("SELECT tag FROM tag_first_seen ORDER BY tag").fetchall() == [("a",), ("c",)]


def test_a_tag_first_seen_outside_the_recorded_list_forgets_the_list(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.record_tags_seen("r.example/app", ["a"], 100.0)
        assert store.first_seen("r.example/app", {"new": "sha256:2"}, 200.0) == {"new": (200.0, True)}
    with Store.open(tmp_path) as store:
        store.record_tags_seen("r.example/app", ["a"], 300.0)  # the same list again: "new" is gone now
    with sqlite3.connect(tmp_path / DB_FILE) as db:
        assert db.execute("SELECT tag FROM tag_first_seen").fetchall() == [("a",)]


def test_a_first_tag_list_is_one_row_until_its_tags_are_needed(tmp_path: Path) -> None:
    """A repository's first list is kept whole (`tag_baselines`); retention asking, or the list
    changing, makes the tags' rows with the list's time, as if they had been written one by one."""
    with Store.open(tmp_path) as store:
        store.record_tags_seen("r.example/app", ["a", "b", "a"], 100.0)  # a duplicate tag is one tag
        store.record_tags_seen("r.example/web", ["x", "y"], 150.0)
        with sqlite3.connect(tmp_path / DB_FILE) as db:
            assert db.execute("SELECT COUNT(*) FROM tag_first_seen").fetchone()[0] == 0
            assert db.execute("SELECT canonical_name FROM tag_baselines ORDER BY 1").fetchall() == [
                ("r.example/app",), ("r.example/web",)]
        assert store.first_seen("r.example/app", {"a": "sha256:1", "c": "sha256:3"}, 300.0) == {
            "a": (100.0, False), "c": (300.0, True)}
        store.record_tags_seen("r.example/web", ["y", "z"], 400.0)  # x deleted, z pushed
        assert store.first_seen("r.example/web", {"y": "sha256:1", "z": "sha256:2"}, 500.0) == {
            "y": (150.0, False), "z": (400.0, False)}
    with sqlite3.connect(tmp_path / DB_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM tag_baselines").fetchone()[0] == 0
        assert db.execute("SELECT canonical_name, tag, first_seen FROM tag_first_seen ORDER BY 1, 2").fetchall() == [
            ("r.example/app", "a", 100.0), ("r.example/app", "b", 100.0), ("r.example/app", "c", 300.0),
            ("r.example/web", "y", 150.0), ("r.example/web", "z", 400.0)]


def test_rows_written_before_baselines_existed_are_extended_as_before(tmp_path: Path) -> None:
    """A state directory whose repository already has tag rows (an older tagpilot wrote them) gets no
    baseline: new tags become rows next to the old ones."""
    with Store.open(tmp_path) as store:
        store._db.execute("INSERT INTO tag_first_seen (canonical_name, tag, digest, first_seen)"
                          " VALUES ('r.example/app', 'old', NULL, 50.0)")
        store.record_tags_seen("r.example/app", ["old", "new"], 100.0)
        assert store.first_seen("r.example/app", {"old": "sha256:1", "new": "sha256:2"}, 200.0) == {
            "old": (50.0, False), "new": (100.0, False)}
    with sqlite3.connect(tmp_path / DB_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM tag_baselines").fetchone()[0] == 0
