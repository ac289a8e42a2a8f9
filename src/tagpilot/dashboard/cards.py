"""The cards other features fill: approvals and pins (manual path), environments (promotion).

The one place that wires them: each card names the JSON API route it reads and the buttons of its
rows. A card whose route the daemon does not serve (the feature is not built, or not merged yet)
says "no data yet"; once the route exists the card lists what it answers, with no other change.
Rows are the route's JSON list (or the list under `items`); columns are the keys named here.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Action:
    """A button on a row: POST to `path` (`{id}` and other row keys are filled in), with a role."""

    label: str
    path: str
    role: str = "approver"
    when: tuple[str, str] | None = None  # (row key, value): shown only on rows where it holds


@dataclass(frozen=True)
class Card:
    title: str
    source: str  # GET route under the daemon, e.g. /api/v1/approvals
    columns: tuple[str, ...]
    actions: tuple[Action, ...] = field(default_factory=tuple)
    empty: str = "nothing here"


CARDS: tuple[Card, ...] = (
    Card("Approvals", "/api/v1/approvals", ("id", "object", "images", "state", "required", "approvedBy", "deadline"),
         (Action("Approve", "/api/v1/approvals/{id}/approve", when=("state", "pending")),
          Action("Reject", "/api/v1/approvals/{id}/reject", when=("state", "pending"))),
         empty="no pending approval requests"),
    Card("Pins", "/api/v1/pins", ("object", "image", "tag", "reason", "by", "since"),  # image: policy or alias
         (Action("Unpin", "/api/v1/pins/{id}/unpin", role="approver"),), empty="nothing is pinned"),
    Card("Environments", "/api/v1/environments", ("name", "from", "image", "tag", "since", "next"),
         empty="no environments"),
)
