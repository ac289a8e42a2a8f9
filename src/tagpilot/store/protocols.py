"""The seams between the engine and its storage and object sources, as small protocols.

Reconcilers and the scheduler depend on these, not on `Store` or files, so they can be tested in
process with dictionaries, and a PostgreSQL store or a Kubernetes object source (operator mode) can
be added without touching a reconciler. `tagpilot.store.Store` (SQLite) implements the first three;
`tagpilot.config.loader.Config` loaded from files is today's object source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tagpilot.store.db import StoredObject


class StatusStore(Protocol):
    """Status, generation and suspension of objects, by (kind, namespace, name)."""

    def get_object(self, kind: str, namespace: str, name: str) -> StoredObject | None: ...

    def observe_spec(self, kind: str, namespace: str, name: str, spec_hash: str) -> int: ...

    def set_status(self, kind: str, namespace: str, name: str, status: dict[str, Any]) -> None: ...

    def is_suspended(self, kind: str, namespace: str, name: str) -> bool: ...

    def set_suspended(self, kind: str, namespace: str, name: str, suspended: bool) -> None: ...


class TagStore(Protocol):
    """The tag lists scans found, per repository object."""

    def set_tags(self, canonical_name: str, tags: list[str], revision: str) -> None: ...

    def get_tags(self, canonical_name: str) -> list[str] | None: ...

    def record_tags_seen(self, canonical_name: str, tags: list[str], now: float) -> None: ...


class EventLog(Protocol):
    """The append-only log behind `tagpilot events`."""

    def add_event(self, kind: str, namespace: str, name: str, type_: str, reason: str, message: str,
                  data: dict[str, Any] | None = None, *, grouped: bool = False) -> int: ...

    def events(self, *, kind: str | None = None, namespace: str | None = None, name: str | None = None,
               since_id: int = 0, limit: int = 100) -> list[dict[str, Any]]: ...


class ObjectSource(Protocol):
    """Where configuration objects come from: files today (`Config`), an API server later."""

    objects: dict[tuple[str, str, str], Any]

    def of_kind(self, model: type[Any]) -> list[Any]: ...

    def get(self, model: type[Any], namespace: str, name: str) -> Any: ...

    def secret(self, namespace: str, name: str, *, referenced_by: Any, field_name: str) -> Any: ...


class Store(StatusStore, TagStore, EventLog, Protocol):
    """Everything a reconciler may read and write."""

