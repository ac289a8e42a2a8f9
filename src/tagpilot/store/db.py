"""The state database: one SQLite file under the state directory (`--state`, default `./.tagpilot`).

Why SQLite: tagpilot runs as one process without a cluster; objects' status, scanned tags and the
content-addressed metadata cache must survive restarts, and SQLite in WAL mode gives atomic writes,
concurrent readers and no server to run. Explicit SQL, versioned migrations (`MIGRATIONS`): a
database written by an older tagpilot is upgraded in place on open.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tagpilot.errors import StoreError
from tagpilot.store.private import prepare_database

log = logging.getLogger(__name__)

DEFAULT_STATE_DIR = ".tagpilot"
DB_FILE = "state.db"


def _rfc3339(seconds: float) -> str:
    """An event time as people and `kubectl` read it: UTC, RFC 3339, milliseconds."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def state_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """The state directory: `value` (`--state`), else `$TAGPILOT_STATE`, else `./.tagpilot`.

    One rule for every command and the daemon, so that `tagpilot get` reads the database a
    `tagpilot run` writes and finds its `daemon.json`. An empty string counts as absent (an
    exported but empty `TAGPILOT_STATE` must not mean the current directory).
    """
    return Path(value or os.environ.get("TAGPILOT_STATE") or DEFAULT_STATE_DIR)


MIGRATIONS: list[str] = [
    # 1: object status, tags per scanned repository, metadata cache by digest
    """
    CREATE TABLE objects (
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        spec_hash TEXT NOT NULL DEFAULT '', generation INTEGER NOT NULL DEFAULT 1,
        status TEXT NOT NULL DEFAULT '{}', updated_at REAL NOT NULL,
        PRIMARY KEY (kind, namespace, name)
    );
    CREATE TABLE repository_tags (
        canonical_name TEXT PRIMARY KEY, tags TEXT NOT NULL, revision TEXT NOT NULL, scanned_at REAL NOT NULL
    );
    CREATE TABLE blobs (
        digest TEXT PRIMARY KEY, media_type TEXT NOT NULL, body BLOB NOT NULL, stored_at REAL NOT NULL
    );
    """,
    # 2: the events log (scans, selections, commits, webhook deliveries) for `tagpilot events` and the API
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL,
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        type TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_object ON events (kind, namespace, name, id);
    CREATE TABLE suspensions (
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, since REAL NOT NULL,
        PRIMARY KEY (kind, namespace, name)
    );
    """,
    # 3: webhook deliveries (receiver answers, sensor decisions) in a ring of their own, so that a storm
    # of posts cannot push scans, selections and commits out of the events log; ids stay one sequence
    """
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY, time REAL NOT NULL,
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        type TEXT NOT NULL, reason TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX deliveries_object ON deliveries (kind, namespace, name, id);
    INSERT INTO deliveries (id, time, kind, namespace, name, type, reason, message, data)
        SELECT id, time, kind, namespace, name, type, reason, message, data FROM events
        WHERE (kind = 'Receiver' AND reason IN ('Accepted', 'Rejected'))
           OR (kind = 'Sensor' AND reason IN ('Filtered', 'Fired'));
    DELETE FROM events WHERE (kind = 'Receiver' AND reason IN ('Accepted', 'Rejected'))
           OR (kind = 'Sensor' AND reason IN ('Filtered', 'Fired'))
    """,
    # 4: reconcile requests accepted (webhook, API) and not yet run: persisted before the 202, so a
    # daemon killed right after answering still runs them when it restarts
    """
    CREATE TABLE pending_triggers (
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        reason TEXT NOT NULL, since REAL NOT NULL,
        PRIMARY KEY (kind, namespace, name)
    )
    """,
    # 5: notifications (argocd-notifications triggers): oncePer/condition dedupe keys (sent once, across restarts
    # and replicas sharing the database) and the outbox of rendered deliveries (retried, never lost on restart)
    """
    CREATE TABLE notify_sent (key TEXT PRIMARY KEY, time REAL NOT NULL);
    CREATE TABLE notify_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL,
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        trigger TEXT NOT NULL, service TEXT NOT NULL, recipient TEXT NOT NULL, dedupe_key TEXT NOT NULL,
        request TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending', last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX notify_outbox_due ON notify_outbox (state, next_at);
    """,
    # 6: retention: when tagpilot first saw each tag of a registry repository (plain registries report no
    # push time); `digest` is bound when retention first resolves the tag, and a tag found on another
    # digest counts as pushed again
    """
    CREATE TABLE tag_first_seen (
        canonical_name TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT, first_seen REAL NOT NULL,
        PRIMARY KEY (canonical_name, tag)
    );
    """,
    # retention: digests left untagged when their tag moved (seen by a retention plan), with the time the
    # tag was first seen on them: the only untagged images a client of a plain registry can know about
    """
    CREATE TABLE retention_untagged (
        canonical_name TEXT NOT NULL, digest TEXT NOT NULL, tag TEXT NOT NULL, first_seen REAL NOT NULL,
        PRIMARY KEY (canonical_name, digest)
    );
    """,
    # approvals (tagpilot.approvals): approval requests and every decision on them, tags rejected per object,
    # pins (by a person or a detected manual change) and what tagpilot last wrote to each marked field
    """
    CREATE TABLE approval_requests (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        images TEXT NOT NULL, targets TEXT NOT NULL, changes TEXT NOT NULL, diff TEXT NOT NULL,
        required INTEGER NOT NULL, approvers TEXT NOT NULL, state TEXT NOT NULL,
        requested REAL NOT NULL, deadline REAL NOT NULL, closed REAL, note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX approval_requests_object ON approval_requests (kind, namespace, name, state);
    CREATE TABLE approval_decisions (
        request_id TEXT NOT NULL, voter TEXT NOT NULL, action TEXT NOT NULL, comment TEXT NOT NULL,
        time REAL NOT NULL, PRIMARY KEY (request_id, voter)
    );
    CREATE TABLE rejected_tags (
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, image TEXT NOT NULL, tag TEXT NOT NULL,
        request_id TEXT NOT NULL, PRIMARY KEY (kind, namespace, name, image, tag)
    );
    CREATE TABLE pins (
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, target TEXT NOT NULL, tag TEXT NOT NULL,
        reason TEXT NOT NULL, by TEXT NOT NULL, since REAL NOT NULL, PRIMARY KEY (kind, namespace, name, target)
    );
    CREATE TABLE written_fields (
        kind TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, setter TEXT NOT NULL,
        value TEXT NOT NULL, PRIMARY KEY (kind, namespace, name, file, setter)
    );
    """,
    # promotions: every promotion a Promotion made (who/what triggered it, from → to, digest, commit), kept
    # for `tagpilot history` (Kargo's freight history without a cluster)
    """
    CREATE TABLE promotion_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
        trigger TEXT NOT NULL, from_ref TEXT NOT NULL, to_ref TEXT NOT NULL, digest TEXT NOT NULL,
        commit_sha TEXT NOT NULL, rollback INTEGER NOT NULL
    );
    CREATE INDEX promotion_history_object ON promotion_history (namespace, name, id);
    """,
    # promotions with `push.pullRequest`: the request each promotion opened or updated (its URL, or "")
    """
    ALTER TABLE promotion_history ADD COLUMN pull_request TEXT NOT NULL DEFAULT '';
    """,
    # scans: the digest of the tag list record_tags_seen last recorded per repository, so that a new
    # process scanning an unchanged repository skips re-inserting every tag (30,000 rows in a scan of
    # 1,000 repositories) without a query per tag
    """
    CREATE TABLE tag_lists_seen (canonical_name TEXT PRIMARY KEY, digest BLOB NOT NULL);
    """,
    # scans: the first tag list of a repository, kept whole with the time it was seen (one row instead
    # of a tag_first_seen row per tag: 30,000 rows in a first scan of 1,000 repositories); made into
    # tag_first_seen rows when they are first needed (the list changes, or retention asks)
    """
    CREATE TABLE tag_baselines (canonical_name TEXT PRIMARY KEY, tags TEXT NOT NULL, first_seen REAL NOT NULL);
    """,
]
EVENTS_KEPT = 10_000  # the log is a ring: older events are dropped
DELIVERIES_KEPT = 5_000  # webhook deliveries: a ring of their own
TRIM_EVERY = 100  # inserts (per table, per process) between two trims; a ring may exceed its size by this
# how long grouped writes wait for company before they commit: the write lock is held this long at most,
# and other processes see a status or tag list this much later (see `Store`)
GROUP_WINDOW = 0.01
_COLUMNS = "id, time, kind, namespace, name, type, reason, message, data"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running on this thread, if any (its timer commits grouped writes)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@dataclass(frozen=True)
class StoredObject:
    kind: str
    namespace: str
    name: str
    generation: int
    status: dict[str, Any]
    spec_hash: str


class Store:
    """Thread-safe access to the state database. Every write is one transaction, or part of a group.

    Grouped writes: the derived state every reconcile writes (the spec's generation, the status, the
    tag list, first-seen tags), made on an event loop's thread, joins one transaction that the loop
    commits `GROUP_WINDOW` after the first of its writes. A scan of 1,000 repositories made ~5,000
    transactions, a commit (a WAL append; a checkpoint with fsync every 1,000 pages) each. Each
    grouped write is a SAVEPOINT, so a write that fails rolls back alone and the others in its group
    still commit. Every other write (the events log, pending triggers, approvals, notification
    claims, the outbox, ...) is durable when it returns: made while a group is open, it joins the
    group and commits it with itself (one commit, the order of writes kept). Readers on this
    connection see grouped writes at once; other processes see them at most `GROUP_WINDOW` later, and
    a crash loses at most that window of them: the state is then the last committed one (the last
    good tags), and the next reconcile writes it again. What an API or a person was told (an event, an
    approval) is never in that window.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._inserts: dict[str, int] = {}  # rows appended per ring table since open (trim cadence)
        # canonical name → digest of the tag list record_tags_seen last recorded: the same list again
        # (every scan of an unchanged repository, and every ImageRepository on the same image) has
        # nothing new and nothing gone, and a thousand-row insert per scan was most of a round's store time
        self._seen_lists: dict[str, bytes] = {}
        # the loop whose iteration commits the open group of grouped writes (None: no group open)
        self._group_loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0  # transactions committed since open (grouped writes count once per group)
        try:
            prepare_database(self.path)  # directory 0700, database (and so its -wal, -shm) 0600
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the state database {self.path}: {exc}") from None

    @classmethod
    def open(cls, directory: str | os.PathLike[str] | None = None) -> Store:
        """The database in the state directory `directory` resolves to (see `state_dir`)."""
        return cls(state_dir(directory) / DB_FILE)

    def close(self) -> None:
        with self._lock:
            self.flush()
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, *, grouped: bool = False) -> Iterator[sqlite3.Connection]:
        """One write: its own transaction, or (`grouped`, on an event loop's thread) a savepoint in the
        group the loop commits `GROUP_WINDOW` after the group's first write (see the class docstring).
        A durable write while a group is open joins it and commits it at once: one commit for both."""
        with self._lock:
            loop = _running_loop() if grouped else None
            if loop is not None and self._group_loop is not None and self._group_loop is not loop:
                self.flush()  # a group a stopped loop left: commit it before this loop's writes
            if self._group_loop is None:
                self._begin()
                if loop is None:  # a durable write, no group open: a transaction of its own
                    try:
                        yield self._db
                        self._db.execute("COMMIT")
                        self.commits += 1
                    except BaseException as exc:
                        with contextlib.suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                        self._raise_store_error(exc)
                        raise
                    return
                self._group_loop = loop
                loop.call_later(GROUP_WINDOW, self.flush)
            self._db.execute("SAVEPOINT grouped")
            try:
                yield self._db
                self._db.execute("RELEASE grouped")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK TO grouped")
                    self._db.execute("RELEASE grouped")
                if loop is None:
                    self._commit_group()  # what was grouped before stays written, as without a group
                self._raise_store_error(exc)
                raise
            if loop is None:
                self._commit_group()  # durable on return: the group's writes (earlier ones) and this one

    def _begin(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the state database {self.path}: {exc}") from None

    def _raise_store_error(self, exc: BaseException) -> None:
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"cannot write the state database {self.path}: {exc}") from None

    def flush(self) -> None:
        """Commit the open group of grouped writes, if any (the loop's timer does; `close` does). A
        commit that fails here is logged and its group rolled back: its callers returned long ago, and
        the state is then what the last committed group left, as after a crash."""
        with self._lock:
            try:
                self._commit_group()
            except StoreError as exc:
                log.error("%s (a group of status and tag writes is lost)", exc)

    def _commit_group(self) -> None:
        """Commit the open group; a failure rolls it back and raises `StoreError`."""
        if self._group_loop is None:
            return
        self._group_loop = None
        try:
            self._db.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            self._seen_lists.clear()  # what it says was recorded may be in the lost group
            raise StoreError(f"cannot write the state database {self.path}: {exc}") from None

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"the state database {self.path} was written by a newer tagpilot (schema {version})"
                )
            for number in range(version, len(MIGRATIONS)):
                # executescript() would COMMIT our transaction; run the statements one by one
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
            if row is None:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (len(MIGRATIONS),))
            else:
                db.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))

    # --- objects -------------------------------------------------------------------------------------

    def get_object(self, kind: str, namespace: str, name: str) -> StoredObject | None:
        with self._lock:
            row = self._db.execute(
                "SELECT generation, status, spec_hash FROM objects WHERE kind=? AND namespace=? AND name=?",
                (kind, namespace, name),
            ).fetchone()
        if row is None:
            return None
        return StoredObject(kind, namespace, name, row[0], json.loads(row[1]), row[2])

    def observe_spec(self, kind: str, namespace: str, name: str, spec_hash: str) -> int:
        """Record the object's current spec; returns its generation (incremented when the spec changed)."""
        with self._tx(grouped=True) as db:
            row = db.execute(
                "SELECT generation, spec_hash FROM objects WHERE kind=? AND namespace=? AND name=?",
                (kind, namespace, name),
            ).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO objects (kind, namespace, name, spec_hash, generation, updated_at)"
                    " VALUES (?, ?, ?, ?, 1, ?)",
                    (kind, namespace, name, spec_hash, time.time()),
                )
                return 1
            generation, old_hash = row
            if old_hash != spec_hash:
                generation += 1
                db.execute(
                    "UPDATE objects SET spec_hash=?, generation=?, updated_at=?"
                    " WHERE kind=? AND namespace=? AND name=?",
                    (spec_hash, generation, time.time(), kind, namespace, name),
                )
            return generation

    def set_status(self, kind: str, namespace: str, name: str, status: dict[str, Any]) -> None:
        with self._tx(grouped=True) as db:
            cur = db.execute(
                "UPDATE objects SET status=?, updated_at=? WHERE kind=? AND namespace=? AND name=?",
                (json.dumps(status, sort_keys=True), time.time(), kind, namespace, name),
            )
            if cur.rowcount == 0:
                db.execute(
                    "INSERT INTO objects (kind, namespace, name, status, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (kind, namespace, name, json.dumps(status, sort_keys=True), time.time()),
                )

    # --- suspend / resume without editing the user's files (`tagpilot suspend KIND/NS/NAME`) -----------

    # --- accepted triggers ----------------------------------------------------------------------------

    def add_pending(self, kind: str, namespace: str, name: str, reason: str) -> None:
        """Remember that a run of the object was promised (the earliest promise is kept)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO pending_triggers (kind, namespace, name, reason, since)"
                       " VALUES (?, ?, ?, ?, ?)", (kind, namespace, name, reason, time.time()))

    def clear_pending(self, kind: str, namespace: str, name: str, started: float) -> None:
        """A run that started at `started` (epoch seconds) kept every promise made before it."""
        with self._tx() as db:
            db.execute("DELETE FROM pending_triggers WHERE kind=? AND namespace=? AND name=? AND since <= ?",
                       (kind, namespace, name, started))

    def pending(self) -> list[tuple[tuple[str, str, str], str]]:
        """Promised runs not yet started: ((kind, namespace, name), reason), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, namespace, name, reason FROM pending_triggers ORDER BY since").fetchall()
        return [((r[0], r[1], r[2]), r[3]) for r in rows]

    def set_suspended(self, kind: str, namespace: str, name: str, suspended: bool) -> None:
        with self._tx() as db:
            if suspended:
                db.execute("INSERT OR IGNORE INTO suspensions (kind, namespace, name, since) VALUES (?, ?, ?, ?)",
                           (kind, namespace, name, time.time()))
            else:
                db.execute("DELETE FROM suspensions WHERE kind=? AND namespace=? AND name=?", (kind, namespace, name))

    def is_suspended(self, kind: str, namespace: str, name: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM suspensions WHERE kind=? AND namespace=? AND name=?",
                                    (kind, namespace, name)).fetchone() is not None

    # --- events --------------------------------------------------------------------------------------

    def _next_id(self, db: sqlite3.Connection) -> int:
        """The next id of the one sequence events and deliveries share (a merged listing and the API's
        `since` then work across both). `sqlite_sequence` remembers the largest event id ever used,
        and the newest delivery is never trimmed, so an id is never reused."""
        row = db.execute("SELECT MAX(m) FROM (SELECT seq AS m FROM sqlite_sequence WHERE name = 'events'"
                         " UNION ALL SELECT MAX(id) FROM deliveries)").fetchone()
        return int(row[0] or 0) + 1

    def _append(self, table: str, kept: int, kind: str, namespace: str, name: str, type_: str, reason: str,
                message: str, data: dict[str, Any] | None, *, grouped: bool = False) -> int:
        with self._tx(grouped=grouped) as db:
            row_id = self._next_id(db)
            db.execute(
                f"INSERT INTO {table} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row_id, time.time(), kind, namespace, name, type_, reason, message, json.dumps(data or {})),
            )
            self._inserts[table] = self._inserts.get(table, 0) + 1
            if self._inserts[table] % TRIM_EVERY == 0:
                # by count, not by id: ids are shared, so id arithmetic would drop too much of one table
                db.execute(f"DELETE FROM {table} WHERE id <= (SELECT id FROM {table} ORDER BY id DESC"
                           " LIMIT 1 OFFSET ?)", (kept,))
            return row_id

    def add_event(self, kind: str, namespace: str, name: str, type_: str, reason: str, message: str,
                  data: dict[str, Any] | None = None, *, grouped: bool = False) -> int:
        """Append to the events log (type `Normal` or `Warning`, as Kubernetes events). Durable when it
        returns, unless `grouped`: an event the next reconcile would emit again if it were lost
        (`reconciler.Note.derived`) joins the open group of grouped writes, with the status it goes with."""
        return self._append("events", EVENTS_KEPT, kind, namespace, name, type_, reason, message, data,
                            grouped=grouped)

    def add_delivery(self, kind: str, namespace: str, name: str, type_: str, reason: str, message: str,
                     data: dict[str, Any] | None = None) -> int:
        """Record a webhook delivery or a sensor decision (kept apart from the events log, in a ring of
        `DELIVERIES_KEPT`, so that bad posts by the thousand never evict the history)."""
        return self._append("deliveries", DELIVERIES_KEPT, kind, namespace, name, type_, reason, message, data)

    def events(self, *, kind: str | None = None, namespace: str | None = None, name: str | None = None,
               since_id: int = 0, limit: int = 100, with_deliveries: bool = True) -> list[dict[str, Any]]:
        """Events newest last; filtered by object when given. Deliveries are merged in (in id order)
        unless `with_deliveries` is False."""
        return self._list(("events", "deliveries") if with_deliveries else ("events",), kind=kind,
                          namespace=namespace, name=name, since_id=since_id, limit=limit)

    def deliveries(self, *, kind: str | None = None, namespace: str | None = None, name: str | None = None,
                   since_id: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """Webhook deliveries and sensor decisions only, newest last."""
        return self._list(("deliveries",), kind=kind, namespace=namespace, name=name, since_id=since_id,
                          limit=limit)

    def _list(self, tables: tuple[str, ...], *, kind: str | None, namespace: str | None, name: str | None,
              since_id: int, limit: int) -> list[dict[str, Any]]:
        clauses, args = ["id > ?"], [since_id]
        for column, value in (("kind", kind), ("namespace", namespace), ("name", name)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        where = " AND ".join(clauses)
        # following with `since` must not skip: the oldest after it first; otherwise the newest `limit`
        order = "ASC" if since_id > 0 else "DESC"
        query = " UNION ALL ".join(f"SELECT {_COLUMNS} FROM {table} WHERE {where}" for table in tables)
        with self._lock:
            rows = self._db.execute(f"{query} ORDER BY id {order} LIMIT ?",
                                    (*(args * len(tables)), limit)).fetchall()
        if order == "ASC":
            rows.reverse()
        return [
            {"id": r[0], "time": _rfc3339(r[1]), "kind": r[2], "namespace": r[3], "name": r[4], "type": r[5],
             "reason": r[6], "message": r[7], "data": json.loads(r[8])}
            for r in reversed(rows)
        ]

    def history(self, keys: list[tuple[str, str, str]] | None = None, *, before_id: int = 0, limit: int = 50,
                namespace: str | None = None, data_equals: tuple[str, str] | None = None,
                reasons: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        """A page of the events log (deliveries left out), newest first: events of `keys` (all when None),
        older than `before_id` (0: the newest), optionally of one namespace or with `data[field] == value`
        (an environment). The dashboard's timelines page with the smallest id shown."""
        clauses: list[str] = []
        args: list[Any] = []
        if before_id > 0:
            clauses.append("id < ?")
            args.append(before_id)
        if namespace:
            clauses.append("namespace = ?")
            args.append(namespace)
        if reasons:
            clauses.append(f"reason IN ({', '.join('?' * len(reasons))})")
            args.extend(reasons)
        if data_equals is not None:
            clauses.append("json_extract(data, '$.' || ?) = ?")
            args.extend(data_equals)
        if keys is not None:
            if not keys:
                return []
            clauses.append("(" + " OR ".join(["(kind = ? AND namespace = ? AND name = ?)"] * len(keys)) + ")")
            args.extend(part for key in keys for part in key)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM events {where} ORDER BY id DESC LIMIT ?",
                                    (*args, limit)).fetchall()
        return [{"id": r[0], "time": _rfc3339(r[1]), "kind": r[2], "namespace": r[3], "name": r[4], "type": r[5],
                 "reason": r[6], "message": r[7], "data": json.loads(r[8])} for r in rows]

    # --- notifications: dedupe keys and the outbox --------------------------------------------------

    def notify_claim(self, key: str) -> bool:
        """Record that `key` was notified; False when it already was (another run or replica sent it)."""
        with self._tx() as db:
            return db.execute("INSERT OR IGNORE INTO notify_sent (key, time) VALUES (?, ?)",
                              (key, time.time())).rowcount == 1

    def notify_claim_window(self, key: str, now: float, window: float) -> bool:
        """Claim `key` unless it was claimed less than `window` seconds ago (Flux's duplicate suppression)."""
        with self._tx() as db:
            return db.execute("INSERT INTO notify_sent (key, time) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET"
                              " time = excluded.time WHERE notify_sent.time <= ?",
                              (key, now, now - window)).rowcount == 1

    def notify_forget(self, key: str) -> None:
        """Re-arm a condition (it became false, or its send could not even be queued)."""
        with self._tx() as db:
            db.execute("DELETE FROM notify_sent WHERE key = ?", (key,))

    def outbox_add(self, kind: str, namespace: str, name: str, trigger: str, service: str, recipient: str,
                   dedupe_key: str, request: dict[str, Any], now: float) -> int:
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO notify_outbox (created, kind, namespace, name, trigger, service, recipient,"
                " dedupe_key, request, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (now, kind, namespace, name, trigger, service, recipient, dedupe_key, json.dumps(request), now))
            return int(cursor.lastrowid or 0)

    def outbox_due(self, now: float, limit: int = 100) -> list[dict[str, Any]]:
        columns = ("id", "kind", "namespace", "name", "trigger", "service", "recipient", "dedupe_key", "request",
                   "attempts")
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(columns)} FROM notify_outbox WHERE state = 'pending'"
                                    " AND next_at <= ? ORDER BY id LIMIT ?", (now, limit)).fetchall()
        out = [dict(zip(columns, row, strict=True)) for row in rows]
        for item in out:
            item["request"] = json.loads(item["request"])
        return out

    def outbox_done(self, item_id: int, *, ok: bool, error: str = "", next_at: float = 0.0,
                    give_up: bool = False) -> None:
        state = "sent" if ok else ("failed" if give_up else "pending")
        with self._tx() as db:
            db.execute("UPDATE notify_outbox SET attempts = attempts + 1, state = ?, last_error = ?, next_at = ?"
                       " WHERE id = ?", (state, error, next_at, item_id))

    def outbox(self, state: str | None = None) -> list[dict[str, Any]]:
        columns = ("id", "kind", "namespace", "name", "trigger", "service", "recipient", "attempts", "state",
                   "last_error")
        where, args = ("WHERE state = ?", (state,)) if state else ("", ())
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(columns)} FROM notify_outbox {where} ORDER BY id",
                                    args).fetchall()
        return [dict(zip(columns, row, strict=True)) for row in rows]

    # --- promotions ----------------------------------------------------------------------------------

    def add_promotion(self, namespace: str, name: str, *, time: float, trigger: str, from_ref: str, to_ref: str,
                      digest: str, commit: str, rollback: bool, pull_request: str = "") -> None:
        with self._tx() as db:
            db.execute("INSERT INTO promotion_history (time, namespace, name, trigger, from_ref, to_ref, digest,"
                       " commit_sha, rollback, pull_request) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (time, namespace, name, trigger, from_ref, to_ref, digest, commit, int(rollback),
                        pull_request))

    def promotion_history(self, namespace: str, name: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest first: ``{time, trigger, from, to, digest, commit, rollback, pullRequest}``
        (`pullRequest`: the URL of the request a `push.pullRequest` promotion opened or updated, else "")."""
        with self._lock:
            rows = self._db.execute(
                "SELECT time, trigger, from_ref, to_ref, digest, commit_sha, rollback, pull_request"
                " FROM promotion_history WHERE namespace = ? AND name = ? ORDER BY id DESC LIMIT ?",
                (namespace, name, limit)).fetchall()
        return [{"time": _rfc3339(r[0]), "trigger": r[1], "from": r[2], "to": r[3], "digest": r[4],
                 "commit": r[5], "rollback": bool(r[6]), "pullRequest": r[7]} for r in rows]

    # --- tags ----------------------------------------------------------------------------------------

    def set_tags(self, canonical_name: str, tags: list[str], revision: str) -> None:
        with self._tx(grouped=True) as db:
            db.execute(
                "INSERT INTO repository_tags (canonical_name, tags, revision, scanned_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(canonical_name) DO UPDATE SET tags=excluded.tags, revision=excluded.revision,"
                " scanned_at=excluded.scanned_at",
                (canonical_name, json.dumps(tags), revision, time.time()),
            )

    def get_tags(self, canonical_name: str) -> list[str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT tags FROM repository_tags WHERE canonical_name=?", (canonical_name,)
            ).fetchone()
        return None if row is None else json.loads(row[0])

    # --- content-addressed metadata cache (manifests, image configs) -----------------------------------

    def get(self, digest: str) -> bytes | None:
        """MetadataCache protocol: the bytes stored for `digest`, if any."""
        with self._lock:
            row = self._db.execute("SELECT body FROM blobs WHERE digest=?", (digest,)).fetchone()
        return None if row is None else bytes(row[0])

    def put(self, digest: str, media_type: str, body: bytes) -> None:
        """MetadataCache protocol: store content that can never change for this digest."""
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO blobs (digest, media_type, body, stored_at) VALUES (?, ?, ?, ?)",
                (digest, media_type, body, time.time()),
            )

    def has_table(self, name: str) -> bool:
        """Whether a table exists (optional features look for their tables before reading them)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                    (name,)).fetchone() is not None

    def blob_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM blobs").fetchone()[0])

    # --- retention: first-seen times of tags ------------------------------------------------------------

    def record_tags_seen(self, canonical_name: str, tags: list[str], now: float) -> None:
        """A scan's tag list: new tags are first seen `now`; tags gone from the registry are forgotten
        (a tag deleted and pushed again is new again).

        The same list as last time (every scan of an unchanged repository, and every ImageRepository
        on the same image) has nothing new and nothing gone: its digest, kept in memory and in
        `tag_lists_seen` (for the next process), says so without touching the tags' rows. The first list
        of a repository is kept whole (`tag_baselines`, one row) until its tags need rows of their own."""
        digest = hashlib.blake2b("\n".join(tags).encode("utf-8", "surrogatepass"), digest_size=16).digest()
        if self._seen_lists.get(canonical_name) == digest:
            return
        with self._tx(grouped=True) as db:
            row = db.execute("SELECT digest FROM tag_lists_seen WHERE canonical_name=?", (canonical_name,)).fetchone()
            if row is None or bytes(row[0]) != digest:
                self._record_tags(db, canonical_name, tags, now)
                db.execute("INSERT INTO tag_lists_seen (canonical_name, digest) VALUES (?, ?)"
                           " ON CONFLICT(canonical_name) DO UPDATE SET digest=excluded.digest",
                           (canonical_name, digest))
        self._seen_lists[canonical_name] = digest

    @staticmethod
    def _record_tags(db: sqlite3.Connection, canonical_name: str, tags: list[str], now: float) -> None:
        seen_before = db.execute(
            "SELECT EXISTS(SELECT 1 FROM tag_first_seen WHERE canonical_name=?)"
            " OR EXISTS(SELECT 1 FROM tag_baselines WHERE canonical_name=?)", (canonical_name, canonical_name),
        ).fetchone()[0]
        if not seen_before:  # a repository never seen: every tag is first seen now, kept as one row
            db.execute("INSERT INTO tag_baselines (canonical_name, tags, first_seen) VALUES (?, ?, ?)",
                       (canonical_name, json.dumps(tags), now))
            return
        Store._expand_baseline(db, canonical_name)
        Store._insert_first_seen(db, canonical_name, tags, now)
        known = {r[0] for r in db.execute("SELECT tag FROM tag_first_seen WHERE canonical_name=?",
                                          (canonical_name,))}
        gone = known - set(tags)
        db.executemany("DELETE FROM tag_first_seen WHERE canonical_name=? AND tag=?",
                       [(canonical_name, tag) for tag in gone])

    @staticmethod
    def _expand_baseline(db: sqlite3.Connection, canonical_name: str) -> None:
        """The repository's first tag list (`tag_baselines`), if still kept whole, as tag_first_seen rows:
        what every reader of first-seen times works on."""
        row = db.execute("SELECT tags, first_seen FROM tag_baselines WHERE canonical_name=?",
                         (canonical_name,)).fetchone()
        if row is None:
            return
        Store._insert_first_seen(db, canonical_name, json.loads(row[0]), row[1])
        db.execute("DELETE FROM tag_baselines WHERE canonical_name=?", (canonical_name,))

    @staticmethod
    def _insert_first_seen(db: sqlite3.Connection, canonical_name: str, tags: list[str], first_seen: float) -> None:
        """Rows for the tags that have none yet, first seen at `first_seen` (a known tag keeps its time)."""
        db.executemany(
            "INSERT OR IGNORE INTO tag_first_seen (canonical_name, tag, digest, first_seen) VALUES (?, ?, NULL, ?)",
            [(canonical_name, tag, first_seen) for tag in tags],
        )

    def untagged(self, canonical_name: str) -> dict[str, tuple[float, str]]:
        """Digests left untagged when a tag moved: digest → (when its tag was first seen on it, that tag)."""
        with self._lock:
            return {r[0]: (r[1], r[2]) for r in self._db.execute(
                "SELECT digest, first_seen, tag FROM retention_untagged WHERE canonical_name=?", (canonical_name,))}

    def forget_untagged(self, canonical_name: str, digests: list[str]) -> None:
        """Digests that are gone (deleted) or tagged again."""
        with self._tx() as db:
            db.executemany("DELETE FROM retention_untagged WHERE canonical_name=? AND digest=?",
                           [(canonical_name, d) for d in digests])

    def first_seen(self, canonical_name: str, resolved: dict[str, str], now: float) -> dict[str, tuple[float, bool]]:
        """For every `tag → digest` resolved now: (first-seen time, seen for the first time now).

        A tag seen before on the same digest (or before its digest was known) keeps its time; a tag
        never seen, or now on another digest (pushed again), is recorded as first seen `now`."""
        out: dict[str, tuple[float, bool]] = {}
        with self._tx() as db:
            self._expand_baseline(db, canonical_name)
            rows = {r[0]: (r[1], r[2]) for r in db.execute(
                "SELECT tag, digest, first_seen FROM tag_first_seen WHERE canonical_name=?", (canonical_name,))}
            for tag, digest in resolved.items():
                row = rows.get(tag)
                if row is not None and row[0] in (None, digest):
                    out[tag] = (row[1], False)
                    if row[0] is None:
                        db.execute("UPDATE tag_first_seen SET digest=? WHERE canonical_name=? AND tag=?",
                                   (digest, canonical_name, tag))
                    continue
                out[tag] = (now, True)
                if row is None:  # a tag the last recorded list did not have: that list is no longer what is stored
                    db.execute("DELETE FROM tag_lists_seen WHERE canonical_name=?", (canonical_name,))
                    self._seen_lists.pop(canonical_name, None)
                if row is not None and row[0] is not None:  # the tag moved: its old digest may stay, untagged
                    db.execute("INSERT OR IGNORE INTO retention_untagged (canonical_name, digest, tag, first_seen)"
                               " VALUES (?, ?, ?, ?)", (canonical_name, row[0], tag, row[1]))
                db.execute(
                    "INSERT INTO tag_first_seen (canonical_name, tag, digest, first_seen) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT(canonical_name, tag) DO UPDATE SET digest=excluded.digest,"
                    " first_seen=excluded.first_seen",
                    (canonical_name, tag, digest, now),
                )
        return out
