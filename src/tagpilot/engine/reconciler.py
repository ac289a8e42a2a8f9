"""The reconcile skeleton's parts: what a reconciler gets (`Context`), returns (`Outcome`), and is.

The controller does, once for every kind: the spec's generation, the stored status, suspension,
turning an exception into conditions, saving the status, publishing the events and finding the
dependents. A reconciler only decides and acts: given the object, a copy of its status and its
generation, it returns an `Outcome` (kopf's habit: the framework owns progress and status, the
handler owns the work).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from tagpilot.engine.status import ObjectStatus
from tagpilot.errors import TagpilotError

if TYPE_CHECKING:
    from tagpilot.gitops import GitClient
    from tagpilot.registry.client import RegistryClient
    from tagpilot.store.protocols import ObjectSource, Store


@dataclass
class Context:
    """What reconcilers share: the configuration (swapped on reload), the store, clients and clock."""

    config: ObjectSource
    store: Store
    registry: RegistryClient | None = None
    git: GitClient | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class Note:
    """A Normal event a reconciler asks the controller to publish (reason from `events.Reason`).

    `derived`: the next reconcile would publish it again if it were lost with the status it goes with
    (a scan's `NewTags`: the tags are recorded in the same group of writes); the events log may then
    write it with that group instead of committing it on its own (store/db.py, grouped writes)."""

    reason: str
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)
    derived: bool = False


@dataclass
class Outcome:
    """What one reconcile decided.

    `changed` means the object's output moved (new tags, a new latest image): its kind's dependents
    run next. `persist=False` (dry runs, skipped runs) leaves the stored status as it was.
    """

    status: ObjectStatus
    ok: bool = True
    skipped: str | None = None  # "suspended", "not due"
    error: str | None = None
    changed: bool = False
    persist: bool = True
    notes: list[Note] = field(default_factory=list)
    operation: str | None = None  # what talked to the outside ("scan"), counted per outcome in metrics
    # automations
    dry_run: bool = False  # the diff and message below are what would have been committed
    commit: str | None = None
    branch: str | None = None  # the branch the commit goes (dry run: would go) to, when a kind knows it
    files: list[str] = field(default_factory=list)
    diff: str = ""
    message: str = ""
    skipped_files: list[dict[str, str]] = field(default_factory=list)
    pushed: dict[str, Any] = field(default_factory=dict)  # branch, message, changes: the Pushed event's metadata
    warnings: list[Note] = field(default_factory=list)  # problems a person must fix; the run itself worked


class Reconciler(Protocol):
    """One kind's decisions. `force=False` lets a kind skip work that is not due (scans)."""

    async def reconcile(self, obj: Any, status: Any, generation: int, *, force: bool,
                        dry_run: bool = False) -> Outcome: ...


class Stalled(TagpilotError):
    """A failure that retrying cannot fix (missing source, unsupported field, invalid spec)."""

    def __init__(self, message: str, *, reason: str = "InvalidSpec") -> None:
        super().__init__(message)
        self.reason = reason
