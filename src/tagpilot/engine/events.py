"""One event stream: every reconcile, webhook and command publishes typed events here.

An `Event` says what happened to which object (`type` Normal or Warning, as Kubernetes events; a
`reason` from the constants below; a message for people; metadata for programs: revision, image,
commit). Publishers do not know who listens. Subscribers are the store's event log (`tagpilot
events`, the API), metrics, the daemon's log and, later, notifications and the dashboard. The CLI
publishes to the same stream as the daemon, so `tagpilot events` shows what `tagpilot reconcile` did
with the same reasons.

Why a plain synchronous publisher: subscribers are cheap (a SQLite insert, a counter, a log line);
one that must do I/O (a notification) queues the event and delivers it on its own task, so a slow
chat service never slows a reconcile. A subscriber that raises is logged and does not stop the others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tagpilot.engine.keys import ObjectKey
    from tagpilot.store.protocols import EventLog

log = logging.getLogger("tagpilot.events")

NORMAL = "Normal"
WARNING = "Warning"


class Reason:
    """The reasons tagpilot's own events carry (docs/architecture.md lists them).

    Warnings carry the failed condition's reason instead (Flux's vocabulary, e.g. `GitOperationFailed`,
    `AuthenticationFailed`, `DependencyNotReady`), which comes from the exception tree in `errors.py`.
    """

    NEW_TAGS = "NewTags"  # a scan found a different tag list
    LATEST_IMAGE_CHANGED = "LatestImageChanged"  # a policy selected a different image
    PUSHED = "Pushed"  # an automation committed and pushed
    RECOVERED = "Recovered"  # an object that failed succeeded again
    DELETED = "Deleted"  # a RetentionPolicy deleted a digest from a registry (metadata: repository, digest, tags)
    UNKNOWN_POLICY = "UnknownPolicy"  # a setters marker names an ImagePolicy that does not exist
    DEPRECATED = "Deprecated"  # an Application uses an old annotation value (update-strategy latest/name)
    UNKNOWN_ANNOTATION = "UnknownAnnotation"  # an argocd-image-updater annotation tagpilot does not know
    APPLICATION_STATUS = "ApplicationStatus"  # an ArgoCDServer read a changed Application (metadata: liveApplication)
    # approvals, pins and manual changes (tagpilot.approvals; docs/approvals.md)
    AWAITING_APPROVAL = "AwaitingApproval"  # a gated object recorded an approval request instead of pushing
    APPROVED = "Approved"  # a person approved a request (metadata: request, by, comment, approvedBy, required)
    APPROVAL_REJECTED = "ApprovalRejected"  # a person rejected a request: its tags are never proposed again
    APPROVAL_EXPIRED = "ApprovalExpired"  # a request passed its deadline; a new one is made
    APPROVAL_SUPERSEDED = "ApprovalSuperseded"  # a newer candidate replaced a pending request
    APPROVAL_STALE = "ApprovalStale"  # an approved change no longer applies to the branch; a new request is made
    PINNED = "Pinned"  # a policy or alias held at a tag (by a person, or after a manual change)
    UNPINNED = "Unpinned"
    PROMOTED = "Promoted"  # a Promotion copied and committed, or rolled back (metadata: from, to, digest, commit)
    PROMOTION_HELD = "PromotionHeld"  # a candidate waits because a rollback holds the Promotion
    PULL_REQUEST = "PullRequest"  # a pull/merge request was opened or updated (metadata: number, url, action)
    MANUAL_CHANGE = "ManualChange"  # a person changed a field tagpilot wrote: kept and pinned
    SUSPENDED = "Suspended"
    RESUMED = "Resumed"
    # webhook deliveries (Flux Receivers, Argo EventSources + Sensors)
    ACCEPTED = "Accepted"
    REJECTED = "Rejected"
    FILTERED = "Filtered"
    TRIGGERED = "Triggered"


@dataclass(frozen=True)
class Event:
    """Something that happened to one object."""

    key: ObjectKey
    type: str
    reason: str
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
    derived: bool = False  # re-published by the next reconcile if lost (reconciler.Note.derived)

    @property
    def object(self) -> str:
        return "/".join(self.key)


Subscriber = Callable[[Event], None]


class EventStream:
    """Publish once, deliver to every subscriber in subscription order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    @classmethod
    def recorded_in(cls, store: EventLog) -> EventStream:
        """A stream whose events go to the store's log: what every command and the daemon start from."""
        stream = cls()
        stream.subscribe(event_log(store))
        return stream

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Add a subscriber; returns a function that removes it."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber) if subscriber in self._subscribers else None

    def publish(self, event: Event) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:  # one broken subscriber must not lose the event for the others
                log.exception("event subscriber %r failed on %s %s", subscriber, event.object, event.reason)

    def emit(self, key: ObjectKey, type_: str, reason: str, message: str, *, derived: bool = False,
             **metadata: Any) -> Event:
        """Build and publish an event; returns it."""
        event = Event(key, type_, reason, message, metadata, derived=derived)
        self.publish(event)
        return event


def event_log(store: EventLog) -> Subscriber:
    """The subscriber that appends every event to the store's log (`tagpilot events`, `/api/v1/events`)."""

    def record(event: Event) -> None:
        store.add_event(*event.key, event.type, event.reason, event.message, event.metadata, grouped=event.derived)

    return record


def log_lines(logger: logging.Logger) -> Subscriber:
    """The daemon's log: Warnings at warning level, the rest at info, with the object and reason."""

    def write(event: Event) -> None:
        level = logging.WARNING if event.type == WARNING else logging.INFO
        logger.log(level, "%s %s: %s", event.object, event.reason, event.message)

    return write
