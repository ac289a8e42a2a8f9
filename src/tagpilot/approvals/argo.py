"""The gate of an Argo CD Application (Image Updater annotations): pins by alias and approval requests.

The Application reconciler selects a tag per image, then asks `gate_application` before it hands its
write to the batcher. Targets are keyed by the image's alias (the image name when it has none), so
`tagpilot pin Application/NS/NAME --alias A --tag T` holds one image. The planned change is computed
the way the write-back computes it (the same `AppWrite` in dry-run mode on the checked-out tip), so
an approved request is exactly what gets pushed, and a request whose edits no longer apply is stale.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from tagpilot.approvals.gate import AWAITING_APPROVAL, Gate, GatePlan, Planned, Targets
from tagpilot.engine.reconciler import Context, Outcome
from tagpilot.gitops import CheckoutRef


def _key(state: Any) -> str:
    return str(state.settings.alias or state.settings.image)


async def gate_application(reconciler: Any, app: Any, states: list[Any], source: Any, target: Any, status: Any,
                           generation: int, outcome: Outcome) -> bool:
    """Apply pins and the approval gate to `states` (their `selected` refs); True when the change is held
    (status Ready False AwaitingApproval, the notes in `outcome`) and nothing may be written."""
    ctx: Context = reconciler.ctx
    gate = Gate(ctx, app)
    gate.record_status(status)
    if not gate.active:
        return False
    from tagpilot.engine.argo_app import AppWrite
    from tagpilot.engine.argo_branch import image_name

    async def dry_run(targets: Targets) -> Planned:
        trial = copy.deepcopy(states)
        for state in trial:
            state.selected = targets.get(_key(state))
        write = AppWrite(app, trial, source, dry_run=True)
        auth = reconciler._git_auth(app, target.url)
        async with await reconciler.git.prepare(target.url, CheckoutRef(branch=target.checkout), auth,
                                                timeout=60.0) as workspace:
            result = await asyncio.to_thread(write.apply, workspace.path)
        if write.error is not None:
            raise write.error
        changes = sorted(write.changes, key=lambda c: (c["Image"], c["OldTag"], c["NewTag"]))
        # the commit data's `.Image` drops the registry host (as upstream); the request names the whole image
        full = {image_name(s.settings.image): s.settings.image for s in trial}
        return Planned(changes=changes, images=[{"image": full.get(c["Image"], c["Image"]), "from": c["OldTag"],
                                                 "to": c["NewTag"]} for c in changes],
                       diff="".join(f.diff for f in result.files),
                       used={_key(s) for s in trial if s.updated})

    plan: GatePlan = await gate.decide({_key(s): s.selected for s in states if s.selected is not None}, dry_run)
    outcome.notes.extend(plan.notes)
    if plan.hold is not None:
        status.mark_failed(AWAITING_APPROVAL, plan.hold, ctx.clock(), generation)
        return True
    for state in states:
        if state.selected is not None and _key(state) not in plan.targets:
            state.reason = f"{state.selected.tag} was rejected for this Application; not proposed again"
        state.selected = plan.targets.get(_key(state)) if state.selected is not None else None
    # closed once the batch pushed (`approval_pushed`); keyed by Application, as one reconciler runs many at once
    reconciler.__dict__.setdefault("_approved", {})[app.key] = plan.request
    return False


def approval_pushed(reconciler: Any, app: Any, commit: str | None) -> None:
    """After the write: the approved request this reconcile carried out is closed with its commit."""
    request = reconciler.__dict__.get("_approved", {}).pop(app.key, None)
    if request is not None:
        Gate(reconciler.ctx, app).after_push(commit, request)
