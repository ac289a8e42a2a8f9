"""The approvals' rows in the state database: requests, decisions, rejected tags, pins, written fields.

The tables are created by the store's migrations (store/db.py); this module owns their SQL, so the
shared `Store` class stays about objects and events. Every write is one transaction of the store's,
which is what lets a daemon killed at any point (kill -9) come back with every request, vote and pin.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tagpilot.engine.keys import ObjectKey
from tagpilot.store.db import Store

PENDING, APPROVED, REJECTED, EXPIRED, SUPERSEDED, STALE = (
    "pending", "approved", "rejected", "expired", "superseded", "stale")
STATES = (PENDING, APPROVED, REJECTED, EXPIRED, SUPERSEDED, STALE)


def rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ApprovalRequest:
    """One planned change waiting for (or past) people's decisions.

    `targets` is what the push path needs to make exactly this change again on a newer tip (for an
    automation: policy "ns:name" → {name, tag, digest}); `changes` the planned field edits
    (file, setter, old, new) that tell whether it still applies; `images` what people read.
    """

    id: str
    key: ObjectKey
    images: list[dict[str, str]]
    targets: dict[str, dict[str, Any]]
    changes: list[dict[str, Any]]
    diff: str
    required: int
    approvers: list[str]
    state: str
    requested: float
    deadline: float
    closed: float | None = None
    note: str = ""
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def object(self) -> str:
        return "/".join(self.key)

    @property
    def approved_by(self) -> list[str]:
        return [d["by"] for d in self.decisions if d["action"] == "approve"]

    def summary(self) -> str:
        """`img 1.0.0 -> 1.1.0, other 2 -> 3`: what a person reads in a status message or event."""
        return ", ".join(f"{i['image']} {i['from']} -> {i['to']}" for i in self.images)

    def to_json(self) -> dict[str, Any]:
        """The shape `tagpilot approvals list -o json` prints (issue 13 names its fields)."""
        return {"id": self.id, "object": self.object, "images": self.images, "required": self.required,
                "approvedBy": self.approved_by, "state": self.state, "deadline": rfc3339(self.deadline)}

    def detail(self) -> dict[str, Any]:
        """Everything kept about the request (`tagpilot approvals show`)."""
        return {**self.to_json(), "requested": rfc3339(self.requested), "approvers": self.approvers,
                "closed": rfc3339(self.closed) if self.closed else None, "note": self.note,
                "decisions": [{**d, "time": rfc3339(d["time"])} for d in self.decisions], "diff": self.diff}


@dataclass(frozen=True)
class Pin:
    """A policy (`ns:name`) or alias held at a tag, by a person or a detected manual change."""

    key: ObjectKey
    target: str
    tag: str
    reason: str
    by: str
    since: float

    def to_json(self) -> dict[str, Any]:
        kind = "alias" if ":" not in self.target else "policy"
        return {kind: self.target, "tag": self.tag, "reason": self.reason, "by": self.by,
                "since": rfc3339(self.since)}


_REQUEST_COLUMNS = ("id, kind, namespace, name, images, targets, changes, diff, required, approvers, state, "
                    "requested, deadline, closed, note")


class ApprovalBook:
    """Typed access to the approvals' tables of one state database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- requests -------------------------------------------------------------------------------------

    def _read(self, rows: list[tuple[Any, ...]]) -> list[ApprovalRequest]:
        found = []
        for row in rows:
            request = ApprovalRequest(
                id=row[0], key=(row[1], row[2], row[3]), images=json.loads(row[4]), targets=json.loads(row[5]),
                changes=json.loads(row[6]), diff=row[7], required=row[8], approvers=json.loads(row[9]),
                state=row[10], requested=row[11], deadline=row[12], closed=row[13], note=row[14])
            with self.store._lock:
                votes = self.store._db.execute(
                    "SELECT voter, action, comment, time FROM approval_decisions WHERE request_id = ? ORDER BY time",
                    (request.id,)).fetchall()
            request.decisions = [{"by": v[0], "action": v[1], "comment": v[2], "time": v[3]} for v in votes]
            found.append(request)
        return found

    def create(self, key: ObjectKey, *, images: list[dict[str, str]], targets: dict[str, dict[str, Any]],
               changes: list[dict[str, Any]], diff: str, required: int, approvers: list[str], now: float,
               deadline: float) -> ApprovalRequest:
        request = ApprovalRequest(secrets.token_hex(5), key, images, targets, changes, diff, required,
                                  approvers, PENDING, now, deadline)
        with self.store._tx() as db:
            db.execute(f"INSERT INTO approval_requests ({_REQUEST_COLUMNS}) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '')",
                       (request.id, *key, json.dumps(images), json.dumps(targets), json.dumps(changes), diff,
                        required, json.dumps(approvers), PENDING, now, deadline))
        return request

    def get(self, request_id: str) -> ApprovalRequest | None:
        with self.store._lock:
            rows = self.store._db.execute(f"SELECT {_REQUEST_COLUMNS} FROM approval_requests WHERE id = ?",
                                          (request_id,)).fetchall()
        found = self._read(rows)
        return found[0] if found else None

    def list(self, key: ObjectKey | None = None, *, open_only: bool = False) -> list[ApprovalRequest]:
        """Requests oldest first; `open_only`: pending, and approved but not pushed yet."""
        where, args = [], []
        if key is not None:
            where.append("kind = ? AND namespace = ? AND name = ?")
            args.extend(key)
        if open_only:
            where.append("closed IS NULL AND state IN ('pending', 'approved')")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self.store._lock:
            rows = self.store._db.execute(
                f"SELECT {_REQUEST_COLUMNS} FROM approval_requests{clause} ORDER BY requested, rowid", args).fetchall()
        return self._read(rows)

    def vote(self, request_id: str, voter: str, action: str, comment: str, now: float) -> None:
        """Record one person's decision; a second vote of the same person replaces nothing (counted once)."""
        with self.store._tx() as db:
            db.execute("INSERT OR IGNORE INTO approval_decisions (request_id, voter, action, comment, time) "
                       "VALUES (?, ?, ?, ?, ?)", (request_id, voter, action, comment, now))

    def set_state(self, request_id: str, state: str, *, now: float, note: str = "", close: bool = True) -> None:
        with self.store._tx() as db:
            db.execute("UPDATE approval_requests SET state = ?, note = ?, closed = ? WHERE id = ?",
                       (state, note, now if close else None, request_id))

    # --- rejected tags --------------------------------------------------------------------------------

    def reject_tags(self, request: ApprovalRequest) -> None:
        self.refuse(request.key, [(i["image"], i["to"]) for i in request.images], request.id)

    def refuse(self, key: ObjectKey, images: list[tuple[str, str]], because: str) -> None:
        """Never propose these (image, tag) pairs for the object again (a rejection, a closed pull request)."""
        with self.store._tx() as db:
            for image, tag in images:
                db.execute("INSERT OR IGNORE INTO rejected_tags VALUES (?, ?, ?, ?, ?, ?)", (*key, image, tag, because))

    def rejected(self, key: ObjectKey) -> set[tuple[str, str]]:
        """(image, tag) pairs people rejected for this object: never proposed again."""
        with self.store._lock:
            rows = self.store._db.execute("SELECT image, tag FROM rejected_tags WHERE kind = ? AND namespace = ? "
                                          "AND name = ?", key).fetchall()
        return {(r[0], r[1]) for r in rows}

    # --- pins -----------------------------------------------------------------------------------------

    def pin(self, pin: Pin) -> None:
        with self.store._tx() as db:
            db.execute("INSERT OR REPLACE INTO pins VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (*pin.key, pin.target, pin.tag, pin.reason, pin.by, pin.since))

    def unpin(self, key: ObjectKey, target: str) -> bool:
        with self.store._tx() as db:
            gone = db.execute("DELETE FROM pins WHERE kind = ? AND namespace = ? AND name = ? AND target = ?",
                              (*key, target)).rowcount
            # what tagpilot wrote before the pin no longer tells a manual change apart: start afresh
            db.execute("DELETE FROM written_fields WHERE kind = ? AND namespace = ? AND name = ?", key)
        return bool(gone)

    def all_pins(self) -> list[Pin]:
        """Every pin of every object (the dashboard's pins card, retention's holds)."""
        with self.store._lock:
            rows = self.store._db.execute("SELECT kind, namespace, name, target, tag, reason, by, since FROM pins "
                                          "ORDER BY kind, namespace, name, target").fetchall()
        return [Pin((r[0], r[1], r[2]), r[3], r[4], r[5], r[6], r[7]) for r in rows]

    def pins(self, key: ObjectKey) -> list[Pin]:
        with self.store._lock:
            rows = self.store._db.execute("SELECT kind, namespace, name, target, tag, reason, by, since FROM pins "
                                          "WHERE kind = ? AND namespace = ? AND name = ? ORDER BY target",
                                          key).fetchall()
        return [Pin((r[0], r[1], r[2]), r[3], r[4], r[5], r[6], r[7]) for r in rows]

    # --- fields tagpilot wrote (manual change detection) ----------------------------------------------

    def remember_written(self, key: ObjectKey, values: dict[tuple[str, str], str]) -> None:
        with self.store._tx() as db:
            for (file, setter), value in values.items():
                db.execute("INSERT OR REPLACE INTO written_fields VALUES (?, ?, ?, ?, ?, ?)",
                           (*key, file, setter, value))

    def written(self, key: ObjectKey) -> dict[tuple[str, str], str]:
        with self.store._lock:
            rows = self.store._db.execute("SELECT file, setter, value FROM written_fields WHERE kind = ? AND "
                                          "namespace = ? AND name = ?", key).fetchall()
        return {(r[0], r[1]): r[2] for r in rows}
