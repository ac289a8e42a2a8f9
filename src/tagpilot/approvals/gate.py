"""The one gate an ImageUpdateAutomation's push path passes before it pushes a planned change.

Why here and not in the reconciler: the automation computes its change as usual (the Setters
updater in dry-run mode on the checked-out tip); this module decides what may be pushed:

- pins hold a policy at a tag (`tagpilot pin`, or a detected manual change);
- with `tagpilot.dev/respect-manual-changes: "true"`, a marked field whose value in git differs from
  what tagpilot last wrote there, put there by a commit tagpilot did not make, is kept: a pin
  "manual change in <commit> by <author>" is recorded and an event says so;
- with `tagpilot.dev/approvals: "N"`, a change is recorded as an approval request instead of being
  pushed; once N distinct approvers said yes, exactly the planned change (the request's targets) is
  applied on the current tip and pushed; when it no longer applies the same way the request is
  stale and a new one is made. A newer candidate supersedes a pending request, an expired one is
  closed and re-proposed, and a rejected tag is never proposed again for the object.

Every decision the gate makes comes back as `Note`s for the reconcile's Outcome, so the controller
publishes them to the event stream like any other event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagpilot.approvals.book import APPROVED, EXPIRED, PENDING, STALE, SUPERSEDED, ApprovalBook, ApprovalRequest, Pin
from tagpilot.approvals.settings import GateSettings, InvalidAnnotation, settings_of
from tagpilot.engine.events import Reason
from tagpilot.engine.reconciler import Context, Note, Stalled
from tagpilot.errors import InvalidReference
from tagpilot.gitops.auth import Redactor
from tagpilot.gitops.process import base_env, run_git
from tagpilot.registry.reference import split_as_written
from tagpilot.update import ImageRef, TreeResult

AWAITING_APPROVAL = "AwaitingApproval"
Policies = dict[tuple[str, str], ImageRef]
DryApply = Callable[[Policies], Awaitable[TreeResult]]


def signature(result: TreeResult) -> list[dict[str, Any]]:
    """The planned field edits, independent of line numbers (a change still applies after lines moved)."""
    return sorted(({"file": c.file, "setter": c.setter, "old": c.old_value, "new": c.new_value}
                   for c in result.changes), key=lambda c: (c["file"], c["setter"], c["old"], c["new"]))


def _tag_of(value: str, part: str) -> str | None:
    """The tag a marked field holds: the value itself for `:tag` markers, the reference's tag for full ones."""
    if part == "tag":
        return value
    if part == "":
        try:
            return split_as_written(value)[1]
        except InvalidReference:
            return None
    return None


def images_of(result: TreeResult, policies: Policies) -> list[dict[str, str]]:
    """(image, from, to) per policy the change touches, in the order the changes come."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for change in result.changes:
        if change.policy is None or change.policy in seen or change.policy not in policies:
            continue
        ref = policies[change.policy]
        before = _tag_of(change.old_value, change.part)
        if before is None or ref.tag is None:
            continue
        seen[change.policy] = {"image": ref.name, "from": before, "to": ref.tag}
    return list(seen.values())


@dataclass
class Planned:
    """A change computed in dry-run mode: its field edits (`signature`), what people read, the diff,
    and which targets it touches."""

    changes: list[dict[str, Any]]
    images: list[dict[str, str]]
    diff: str
    used: set[str]


Targets = dict[str, ImageRef]  # "ns:name" (ImagePolicy) or an alias (Argo CD) -> the image to write
DryRun = Callable[[Targets], Awaitable[Planned]]


@dataclass
class GatePlan:
    """What may be pushed now: `targets` (pins applied, rejected tags left out, or an approved
    request's exact targets), or `hold` (nothing is pushed; the request waits)."""

    targets: Targets
    hold: str | None = None  # why nothing is pushed: the Ready message naming the request
    request: ApprovalRequest | None = None  # the approved request this push carries out
    notes: list[Note] = field(default_factory=list)


class Gate:
    """The approval gate and pins of one updating object for one reconcile (any kind: targets are keyed
    by strings the kind chooses; reads annotations and a few rows, so cheap)."""

    def __init__(self, ctx: Context, obj: Any) -> None:
        self.ctx = ctx
        self.obj = obj
        self.key = obj.key
        try:
            self.settings: GateSettings = settings_of(obj, ctx.config)
        except InvalidAnnotation as exc:
            raise Stalled(str(exc), reason=exc.reason) from None
        self.book = ApprovalBook(ctx.store)  # type: ignore[arg-type]
        self.pins = self.book.pins(self.key)

    @property
    def active(self) -> bool:
        """Whether anything here can change what is pushed (else the reconciler's fast path is exact)."""
        return self.settings.gated or self.settings.respect_manual_changes or bool(self.pins) or \
            bool(self.book.rejected(self.key))

    @property
    def may_skip(self) -> bool:
        """Gated and manual-change objects look at the branch on every run: an approval or a person's
        commit is news the reconciler's "nothing moved" check does not see."""
        return not (self.settings.gated or self.settings.respect_manual_changes)

    def pinned(self, targets: Targets) -> Targets:
        """Targets with every pinned one held at its pinned tag."""
        held = dict(targets)
        for pin in self.pins:
            ref = held.get(pin.target)
            if ref is not None:
                held[pin.target] = ImageRef(name=ref.name, tag=pin.tag)
        return held

    def record_status(self, status: Any) -> None:
        """Status shows every pin (and drops the field when there is none)."""
        pins = [p.to_json() for p in self.book.pins(self.key)]
        if pins:
            status.extra["pins"] = pins
        else:
            status.extra.pop("pins", None)

    def trailer(self, touched: set[str], request: ApprovalRequest | None) -> str:
        """Lines for the commit message: who pinned what and why, who approved."""
        lines = [f"Pinned {p.target} at {p.tag} by {p.by}: {p.reason}" for p in self.pins if p.target in touched]
        if request is not None:
            lines.append(f"Approved by {', '.join(request.approved_by)} (approval request {request.id})")
        return ("\n\n" + "\n".join(lines)) if lines else ""

    async def decide(self, targets: Targets, dry_run: DryRun, notes: list[Note] | None = None) -> GatePlan:
        """Pins applied; ungated: push; gated: carry out an approved request, or record/keep one and hold."""
        notes = notes if notes is not None else []
        targets = self.pinned(targets)
        if not self.settings.gated:  # a rejected tag (a closed pull request) is not proposed even ungated
            return GatePlan(self._without_rejected(targets), notes=notes)
        now = self.ctx.clock().timestamp()
        open_requests = self.book.list(self.key, open_only=True)
        for request in [r for r in open_requests if r.state == APPROVED]:
            approved = {k: ImageRef(**v) for k, v in request.targets.items()}
            if (await dry_run(approved)).changes == request.changes:
                return GatePlan(approved, request=request, notes=notes)
            self.book.set_state(request.id, STALE, now=now, note="the planned change no longer applies to the branch")
            notes.append(Note(Reason.APPROVAL_STALE, f"approval request {request.id} ({request.summary()}) no longer "
                              "applies to the branch; a new request is made", {"request": request.id}))
        targets = self._without_rejected(targets)
        planned = await dry_run(targets)
        pending = [r for r in open_requests if r.state == PENDING]
        if not planned.changes:
            for request in pending:
                self.book.set_state(request.id, SUPERSEDED, now=now, note="no change is needed any more")
                notes.append(Note(Reason.APPROVAL_SUPERSEDED, f"approval request {request.id} closed: the branch "
                                  "needs no change any more", {"request": request.id}))
            return GatePlan(targets, notes=notes)
        waiting = None
        for request in pending:
            if request.changes == planned.changes and now <= request.deadline:
                waiting = request
                continue
            if request.changes == planned.changes:
                self.book.set_state(request.id, EXPIRED, now=now, note="deadline passed")
                notes.append(Note(Reason.APPROVAL_EXPIRED, f"approval request {request.id} ({request.summary()}) "
                                  "expired without enough approvals; proposed again", {"request": request.id}))
            else:
                self.book.set_state(request.id, SUPERSEDED, now=now, note="a newer candidate")
                notes.append(Note(Reason.APPROVAL_SUPERSEDED, f"approval request {request.id} ({request.summary()}) "
                                  "superseded by a newer candidate", {"request": request.id}))
        if waiting is None:
            chosen = {k: _ref_json(ref) for k, ref in targets.items() if k in planned.used}
            waiting = self.book.create(
                self.key, images=planned.images, targets=chosen, changes=planned.changes, diff=planned.diff,
                required=self.settings.required, approvers=list(self.settings.approvers), now=now,
                deadline=now + self.settings.deadline_seconds)
            notes.append(Note(Reason.AWAITING_APPROVAL, f"approval request {waiting.id} needs {waiting.required} "
                              f"approval(s): {waiting.summary()}; approve with "
                              f"`tagpilot approve {waiting.id} --by NAME`",
                              {"request": waiting.id, "images": waiting.images, "required": waiting.required,
                               "deadline": waiting.to_json()["deadline"], "diff": waiting.diff}))
        return GatePlan(targets, hold=self._hold(waiting), notes=notes)

    @staticmethod
    def _hold(request: ApprovalRequest) -> str:
        """The Ready=False message (reason AwaitingApproval): which request, how far, until when."""
        return (f"awaiting approval: request {request.id} has {len(request.approved_by)} of {request.required} "
                f"approval(s) for {request.summary()} (deadline {request.to_json()['deadline']})")

    def _without_rejected(self, targets: Targets) -> Targets:
        rejected = self.book.rejected(self.key)
        if not rejected:
            return targets
        return {key: ref for key, ref in targets.items() if (ref.name, ref.tag) not in rejected}

    def after_push(self, commit: str | None, request: ApprovalRequest | None) -> None:
        """Close the approved request the push carried out."""
        if request is not None:
            self.book.set_state(request.id, APPROVED, now=self.ctx.clock().timestamp(),
                                note=f"pushed {commit}" if commit else "nothing to push")


def _policy_key(policy: tuple[str, str]) -> str:
    return f"{policy[0]}:{policy[1]}"


def planned_from(result: TreeResult, targets: Targets) -> Planned:
    """A Setters dry run as a `Planned` change."""
    used = {_policy_key(c.policy) for c in result.changes if c.policy}
    policies = {tuple(k.split(":", 1)): ref for k, ref in targets.items()}
    return Planned(signature(result), images_of(result, policies), "".join(f.diff for f in result.files), used)


class AutomationGate(Gate):
    """The gate of an ImageUpdateAutomation: targets are its ImagePolicies ("ns:name"), the change a
    Setters dry run, and with `respect-manual-changes` a person's edit of a marked field is kept."""

    def __init__(self, ctx: Context, obj: Any, *, author_email: str, auth: Any = None) -> None:
        super().__init__(ctx, obj)
        self.author_email = author_email.lower()
        self.auth = auth  # the GitRepository's credentials: deepening a shallow workspace talks to the remote

    def with_pins(self, policies: Policies) -> Policies:
        """Pinned policies held at their tags; tags rejected for this object (a person's "no", a pull
        request closed without merging) left out."""
        held = self._without_rejected(self.pinned({_policy_key(k): v for k, v in policies.items()}))
        return {tuple(k.split(":", 1)): v for k, v in held.items()}  # type: ignore[misc]

    def commit_trailer(self, result: TreeResult, request: ApprovalRequest | None) -> str:
        return self.trailer({_policy_key(c.policy) for c in result.changes if c.policy}, request)

    async def plan(self, root: Path, policies: Policies, dry_apply: DryApply, revision: str = "HEAD") -> GatePlan:
        """`revision`: the commit the workspace was prepared at (a screened workspace never moves HEAD)."""
        notes: list[Note] = []
        if self.settings.respect_manual_changes:
            policies = await self._keep_manual_changes(root, revision, policies, dry_apply, notes)

        async def dry_run(targets: Targets) -> Planned:
            return planned_from(await dry_apply({tuple(k.split(":", 1)): v for k, v in targets.items()}),  # type: ignore[misc]
                                targets)

        plan = await self.decide({_policy_key(k): v for k, v in policies.items()}, dry_run, notes)
        plan.targets = {tuple(k.split(":", 1)): v for k, v in plan.targets.items()}  # type: ignore[misc]
        return plan

    def after_automation_push(self, result: TreeResult | None, commit: str | None,
                              request: ApprovalRequest | None) -> None:
        """Close the request; remember the values written (what a later manual change is told apart from)."""
        self.after_push(commit, request)
        if self.settings.respect_manual_changes and result is not None:
            self.book.remember_written(self.key, {(c.file, c.setter): c.new_value for c in result.changes})

    async def _deepen(self, root: Path) -> bool:
        """Fetch 20 more commits of history into the shallow workspace, with the source's credentials."""
        git = self.ctx.git
        if git is None:
            return False
        redact = Redactor(self.auth.secrets() if self.auth else [])
        code, _out, _err = await git._remote(root, ["fetch", "--quiet", "--no-tags", "--deepen=20", "origin"],
                                             self.auth, timeout=120, redact=redact, check=False)
        return code == 0

    # --- manual changes -------------------------------------------------------------------------------

    async def _keep_manual_changes(self, root: Path, revision: str, policies: Policies, dry_apply: DryApply,
                                   notes: list[Note]) -> Policies:
        written = self.book.written(self.key)
        if not written:
            return policies
        result = await dry_apply(policies)
        now = self.ctx.clock().timestamp()
        for file_change in result.files:
            for change in file_change.changes:
                ours = written.get((change.file, change.setter))
                if ours is None or ours == change.old_value or change.policy is None:
                    continue
                tag = _tag_of(change.old_value, change.part)
                if tag is None:
                    continue
                author = await _line_author(root, revision, file_change.path, change.line, self._deepen)
                if author is None or author[2].lower() == self.author_email:
                    continue
                commit, name, email = author
                target = f"{change.policy[0]}:{change.policy[1]}"
                if any(p.target == target for p in self.pins):
                    continue
                pin = Pin(self.key, target, tag, f"manual change in {commit[:12]} by {name} <{email}>", name, now)
                self.book.pin(pin)
                self.pins = [*self.pins, pin]
                notes.append(Note(Reason.MANUAL_CHANGE, f"{file_change.path}:{change.line}: {change.old_value!r} was "
                                  f"written by {name} <{email}> in {commit[:12]}, not by tagpilot; kept, and "
                                  f"{target} pinned at {tag} (`tagpilot unpin {'/'.join(self.key)} --policy {target}` "
                                  "resumes automation)",
                                  {"file": file_change.path, "line": change.line, "commit": commit, "author": name,
                                   "policy": target, "tag": tag}))
        return self.with_pins(policies)


def _ref_json(ref: ImageRef) -> dict[str, Any]:
    return {"name": ref.name, "tag": ref.tag, **({"digest": ref.digest} if ref.digest else {})}


async def _line_author(root: Path, revision: str, path: str, line: int,
                       deepen: Callable[[Path], Awaitable[bool]]) -> tuple[str, str, str] | None:
    """(commit, author name, author email) of the commit that last wrote `path:line`, from `git blame`.

    The workspace is a shallow clone; a line blamed on the boundary commit may come from an older
    commit, so the history is deepened (bounded) until the line's commit is inside it."""
    redact = Redactor([])
    for _ in range(6):
        result = await run_git("git", ["-C", str(root), "blame", "--porcelain", "-L", f"{line},{line}", revision,
                                       "--", path], env=base_env(), timeout=60, redact=redact, check=False)
        if result.returncode != 0:
            return None
        fields = result.stdout.splitlines()
        commit = fields[0].split()[0] if fields else ""
        info = {k: v for k, _, v in (f.partition(" ") for f in fields[1:] if not f.startswith("\t"))}
        if "boundary" not in info and "boundary" not in [f.strip() for f in fields]:
            return commit, info.get("author", ""), info.get("author-mail", "").strip("<>")
        shallow = await run_git("git", ["-C", str(root), "rev-parse", "--is-shallow-repository"], env=base_env(),
                                timeout=30, redact=redact, check=False)
        if shallow.stdout.strip() != "true":
            return commit, info.get("author", ""), info.get("author-mail", "").strip("<>")
        if not await deepen(root):
            return commit, info.get("author", ""), info.get("author-mail", "").strip("<>")
    return None
