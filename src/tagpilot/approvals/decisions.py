"""What people decide: approve, reject, pin, unpin. One implementation for the CLI and the daemon's API.

Each function checks the input (names bounded, the approver allowed, the request still open),
records the decision in the state database and publishes an event on the object, so `tagpilot
events` shows who decided what, when and with which comment. Pushing is not done here: an approved
request is pushed by the object's next reconcile (the daemon queues one at once), on the tip of that
moment, as automations do.
"""

from __future__ import annotations

import re
import time
from typing import Any

from tagpilot.approvals.book import APPROVED, PENDING, REJECTED, ApprovalBook, ApprovalRequest, Pin
from tagpilot.engine.events import NORMAL, EventStream, Reason
from tagpilot.engine.keys import ObjectKey
from tagpilot.errors import TagpilotError

MAX_NAME = 100
MAX_COMMENT = 2000
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1," + str(MAX_NAME) + "}")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_REQUEST_ID = re.compile(r"[0-9a-f]{1,64}")


class DecisionError(TagpilotError):
    """A decision that cannot be taken (unknown request, not an approver, already closed); exit 1."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status  # the API's answer


def check_name(value: str, what: str = "--by") -> str:
    value = value.strip()
    if not _NAME.fullmatch(value):
        raise DecisionError(f"{what}: a name of 1 to {MAX_NAME} printable characters is required", status=400)
    return value


def check_comment(value: str) -> str:
    if len(value) > MAX_COMMENT or any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise DecisionError(f"--comment: at most {MAX_COMMENT} printable characters", status=400)
    return value


def _request(book: ApprovalBook, request_id: str) -> ApprovalRequest:
    request = book.get(request_id) if _REQUEST_ID.fullmatch(request_id) else None
    if request is None:
        raise DecisionError(f"approval request {request_id!r} not found; `tagpilot approvals list` shows them",
                            status=404)
    return request


def _may_decide(request: ApprovalRequest, by: str) -> None:
    if request.state != PENDING:
        raise DecisionError(f"approval request {request.id} for {request.object} is {request.state}; only pending "
                            "requests take decisions")
    if request.approvers and by not in request.approvers:
        raise DecisionError(f"{by!r} is not an approver of {request.object} (tagpilot.dev/approvers: "
                            f"{','.join(request.approvers)}); approval request {request.id} is unchanged", status=403)
    if by in [d["by"] for d in request.decisions]:
        raise DecisionError(f"{by} already decided on approval request {request.id}; it needs "
                            f"{request.required - len(request.approved_by)} more approval(s) from other approvers")


def approve(book: ApprovalBook, events: EventStream, request_id: str, by: str, comment: str = "",
            now: float | None = None) -> ApprovalRequest:
    """One approval; at `required` distinct approvals the request becomes `approved` (pushed next reconcile)."""
    by, comment = check_name(by), check_comment(comment)
    request = _request(book, request_id)
    _may_decide(request, by)
    now = time.time() if now is None else now
    book.vote(request.id, by, "approve", comment, now)
    request = _request(book, request.id)
    done = len(request.approved_by) >= request.required
    if done:
        book.set_state(request.id, APPROVED, now=now, note="", close=False)
        request.state = APPROVED
    said = f": {comment}" if comment else ""
    events.emit(request.key, NORMAL, Reason.APPROVED,
                f"{by} approved request {request.id} ({len(request.approved_by)}/{request.required}) for "
                f"{request.summary()}{said}" + ("; it is pushed at the next reconcile" if done else ""),
                request=request.id, by=by, comment=comment, approvedBy=request.approved_by,
                required=request.required, state=request.state)
    return request


def reject(book: ApprovalBook, events: EventStream, request_id: str, by: str, comment: str = "",
           now: float | None = None) -> ApprovalRequest:
    """A rejection closes the request at once; its tags are never proposed again for the object."""
    by, comment = check_name(by), check_comment(comment)
    request = _request(book, request_id)
    _may_decide(request, by)
    now = time.time() if now is None else now
    book.vote(request.id, by, "reject", comment, now)
    book.set_state(request.id, REJECTED, now=now, note=f"rejected by {by}")
    book.reject_tags(request)
    request = _request(book, request.id)
    said = f": {comment}" if comment else ""
    events.emit(request.key, NORMAL, Reason.APPROVAL_REJECTED,
                f"{by} rejected request {request.id} for {request.summary()}{said}; these tags are not proposed "
                "again for this object", request=request.id, by=by, comment=comment, images=request.images)
    return request


def pin_target(policy: str | None, alias: str | None) -> str:
    """`--policy NS:NAME` or `--alias A`, exactly one."""
    if (policy is None) == (alias is None):
        raise DecisionError("give exactly one of --policy NS:NAME or --alias A", status=400)
    if policy is not None:
        namespace, _, name = policy.partition(":")
        if not namespace or not name or ":" in name:
            raise DecisionError(f"--policy {policy!r}: write NAMESPACE:NAME, e.g. apps:podinfo", status=400)
        return policy
    assert alias is not None
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", alias):
        raise DecisionError(f"--alias {alias!r}: letters, digits, '.', '_' and '-' only", status=400)
    return alias


def pin(book: ApprovalBook, events: EventStream, key: ObjectKey, target: str, tag: str, *, reason: str = "",
        by: str = "", now: float | None = None) -> Pin:
    if not _TAG.fullmatch(tag):
        raise DecisionError(f"--tag {tag!r} is not a valid image tag", status=400)
    by = check_name(by or "unknown")
    reason = check_comment(reason) or "pinned"
    record = Pin(key, target, tag, reason, by, time.time() if now is None else now)
    book.pin(record)
    events.emit(key, NORMAL, Reason.PINNED, f"{target} pinned at {tag} by {by}: {reason}", target=target, tag=tag,
                by=by, why=reason)
    return record


def unpin(book: ApprovalBook, events: EventStream, key: ObjectKey, target: str, *, by: str = "") -> None:
    if not book.unpin(key, target):
        raise DecisionError(f"{'/'.join(key)} has no pin on {target}; `tagpilot get` shows its pins", status=404)
    who = check_name(by) if by else "unknown"
    events.emit(key, NORMAL, Reason.UNPINNED, f"{target} unpinned by {who}; automation resumes", target=target,
                by=who)


def listing(book: ApprovalBook, key: ObjectKey | None = None) -> list[dict[str, Any]]:
    return [r.to_json() for r in book.list(key)]
