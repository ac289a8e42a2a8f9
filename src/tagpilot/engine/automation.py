"""Reconciling ImageUpdateAutomations: write the policies' choices into the git repository.

Flux's image-automation-controller without a cluster: check out the GitRepository (a cached, locked
workspace), apply the setters markers of the selected ImagePolicies under `update.path` with the
byte-exact rewriter, render the commit message from the Go template, commit (signed if asked) and
push. When the push is rejected because the branch moved, `GitClient.commit_and_push` fetches the
new tip and runs `apply` again there, so the same policy results land on top of the other writer's
commits. No change means no commit. Status mirrors Flux's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tagpilot.approvals import forge
from tagpilot.approvals.gate import AWAITING_APPROVAL, AutomationGate, GatePlan
from tagpilot.config.flux_automation import ImageUpdateAutomation, selector_matches
from tagpilot.config.flux_image import ImagePolicy
from tagpilot.config.flux_source import GitRepository
from tagpilot.engine.events import Reason
from tagpilot.engine.keys import ObjectKey
from tagpilot.engine.kinds import Column, Kind
from tagpilot.engine.reconciler import Context, Note, Outcome, Stalled
from tagpilot.engine.status import AutomationStatus, rfc3339
from tagpilot.gitops import CheckoutRef, GitClient, auth_from_secret, signing_key_from_secret
from tagpilot.gitops.commit_data import build_commit_data, render_commit_message
from tagpilot.store.protocols import ObjectSource, StatusStore
from tagpilot.update import ImageRef, Notice, TreeResult, updater_for
from tagpilot.update.tree import KnownTree

KIND = "ImageUpdateAutomation"
DEPENDENCY_NOT_READY = "DependencyNotReady"


def selected_policies(config: ObjectSource, store: StatusStore, automation: ImageUpdateAutomation
                      ) -> dict[tuple[str, str], ImageRef]:
    """The automation's namespace's ImagePolicies that match `policySelector` and have a `latestRef`."""
    chosen: dict[tuple[str, str], ImageRef] = {}
    for policy in config.of_kind(ImagePolicy):
        if policy.namespace != automation.namespace:
            continue
        if not selector_matches(automation.spec.policy_selector, policy.metadata.labels):
            continue
        stored = store.get_object(policy.kind, policy.namespace, policy.name)
        latest = (stored.status if stored else {}).get("latestRef")
        if latest and latest.get("tag"):
            chosen[(policy.namespace, policy.name)] = ImageRef(
                name=latest["name"], tag=latest["tag"], digest=latest.get("digest"))
    return chosen


class AutomationReconciler:
    """Runs ImageUpdateAutomations: one at a time per workspace (the GitClient's lock), many in parallel."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def git(self) -> GitClient:
        assert self.ctx.git is not None, "automations need a GitClient in the context"
        return self.ctx.git

    async def reconcile(self, automation: ImageUpdateAutomation, status: AutomationStatus, generation: int, *,
                        force: bool = True, dry_run: bool = False) -> Outcome:
        unmatched: list[Notice] = []
        outcome = await self._run(automation, status, generation, dry_run=dry_run, unmatched=unmatched)
        self._report_unknown_policies(automation, status, outcome, unmatched)
        outcome.persist = outcome.persist and not dry_run
        outcome.dry_run = dry_run
        if outcome.commit:
            outcome.notes.append(Note(Reason.PUSHED, status.ready_message("pushed"),
                                      {"commit": outcome.commit, "files": outcome.files, **outcome.pushed}))
        return outcome

    def _source(self, automation: ImageUpdateAutomation) -> GitRepository:
        ref = automation.spec.source_ref
        namespace = ref.namespace or automation.namespace
        source = self.ctx.config.get(GitRepository, namespace, ref.name)
        if source is None:
            raise Stalled(f"spec.sourceRef: GitRepository {namespace}/{ref.name} is not in the configuration",
                           reason=DEPENDENCY_NOT_READY)
        unsupported = source.spec.unsupported_fields()
        if unsupported:
            raise Stalled(f"GitRepository {namespace}/{ref.name}: {', '.join(unsupported)} not supported yet",
                           reason="UnsupportedField")
        return source

    def _report_unknown_policies(self, automation: ImageUpdateAutomation, status: AutomationStatus,
                                 outcome: Outcome, unmatched: list[Notice]) -> None:
        """A marker naming an ImagePolicy that exists nowhere is a typo: warn with file:line (the other
        markers still apply). Markers of policies this automation does not select are ignored, as in Flux."""
        if not unmatched and status.unknown_policy_markers is None:
            return
        missing = []
        for notice in unmatched:
            namespace, name = notice.setter.split(":")[:2]
            if self.ctx.config.get(ImagePolicy, namespace, name) is None:
                missing.append(notice)
        if not missing:
            status.unknown_policy_markers = None
            return
        status.unknown_policy_markers = [
            {"file": n.file, "line": n.line, "setter": n.setter} for n in missing]
        for notice in missing:
            namespace, name = notice.setter.split(":")[:2]
            outcome.warnings.append(Note(
                Reason.UNKNOWN_POLICY,
                f"{notice.file}:{notice.line}: the marker {{\"$imagepolicy\": \"{notice.setter}\"}} names ImagePolicy "
                f"{namespace}/{name}, which is not in the configuration; fix the marker or add the policy",
                {"file": notice.file, "line": notice.line, "setter": notice.setter}))

    async def _run(self, automation: ImageUpdateAutomation, status: AutomationStatus, generation: int, *,
                   dry_run: bool, unmatched: list[Notice]) -> Outcome:
        now = self.ctx.clock()
        spec = automation.spec
        if spec.git is None:
            raise Stalled("spec.git is required (commit author, optional checkout and push)")
        source = self._source(automation)
        secret = None
        if source.spec.secret_ref is not None:
            secret = self.ctx.config.secret(source.namespace, source.spec.secret_ref.name, referenced_by=source,
                                        field_name="spec.secretRef")
        auth = auth_from_secret(secret)
        checkout = CheckoutRef.from_spec(spec.git.checkout.ref if spec.git.checkout else source.spec.ref)
        signing = None
        if spec.git.commit.signing_key is not None:
            key_secret = self.ctx.config.secret(automation.namespace, spec.git.commit.signing_key.secret_ref.name,
                                            referenced_by=automation, field_name="spec.git.commit.signingKey")
            signing = signing_key_from_secret(key_secret, spec.git.commit.signing_key.type)
        # approval gates, pins and manual changes (tagpilot.approvals): pins hold policies before anything else
        gate = AutomationGate(self.ctx, automation, author_email=spec.git.commit.author.email, auth=auth)
        gate.record_status(status)
        extra_notes: list[Note] = []
        if status.extra.get("pullRequest"):  # a request closed without merging: its tags are a "no"
            closed = await forge.closed_without_merge(automation, source.spec.url, secret,
                                                      status.extra["pullRequest"], automation.ref)
            if closed is not None:
                gate.book.refuse(automation.key, [(i["image"], i["tag"]) for i in closed.get("images", [])],
                                 f"pull request #{closed['number']}")
                status.extra.pop("pullRequest")
                extra_notes.append(Note(Reason.PULL_REQUEST, f"pull request #{closed['number']} was closed without "
                                        "merging; its tags are not proposed again", {**closed, "action": "closed"}))
        policies = gate.with_pins(selected_policies(self.ctx.config, self.ctx.store, automation))
        images = {f"{ns}:{name}": ref for (ns, name), ref in policies.items()}
        plan: GatePlan | None = None

        messages: dict[int, tuple[TreeResult, str]] = {}  # id -> (result, its message): each rendered once

        def message_for(result: TreeResult) -> str:
            # asked for the commit, then again for the pull request and the event (~2 ms each for 200 changes)
            known = messages.get(id(result))
            if known is not None and known[0] is result:
                return known[1]
            data = build_commit_data(automation.namespace, automation.name, result.changes, images,
                                     spec.git.commit.message_template_values)  # type: ignore[union-attr]
            message = render_commit_message(spec.git.commit.message_template, data)  # type: ignore[union-attr]
            message += gate.commit_trailer(result, plan.request if plan else None) if gate.active else ""
            messages[id(result)] = (result, message)
            return message

        skipped: list[dict[str, str]] = []
        updater = updater_for(spec.update.strategy if spec.update else "Setters")

        def known_tree() -> KnownTree | None:
            # a screened work tree is exactly what materialize wrote: the updater needs no walk to find it
            return workspace.screened.tree() if workspace.screened is not None else None

        async def apply(root: Path) -> TreeResult:
            # GitClient decides "no change" from what git sees staged, not from this result. The tree
            # walk, YAML parsing and writes run in a thread: the daemon keeps answering webhooks meanwhile.
            result = await asyncio.to_thread(updater.apply, root, spec.update_path, policies, dry_run=dry_run,
                                             known=known_tree())
            skipped[:] = [{"path": s.path, "reason": s.reason} for s in result.skipped]
            unmatched[:] = result.unmatched
            return result

        author = (spec.git.commit.author.name, spec.git.commit.author.email)
        observed = {
            name: {k: v for k, v in (("name", ref.name), ("tag", ref.tag), ("digest", ref.digest)) if v}
            for (_ns, name), ref in sorted(policies.items())
        }
        # Nothing moved since the last run (same spec, same policy results, same branch tip): the last
        # run left the branch up to date, so skip the checkout (Flux v1 skips on the same grounds).
        push = spec.git.push
        simple = checkout.branch and not (push and (push.refspec or (push.branch and push.branch != checkout.branch)))
        settled = status.unknown_policy_markers is None and gate.may_skip  # a typo is re-checked every run
        if not dry_run and simple and settled and status.observed_source_revision and \
                status.observed_generation == generation and status.observed_policies == observed:
            tip = await self.git.remote_head(source.spec.url, checkout.branch, auth,  # type: ignore[arg-type]
                                             timeout=source.spec.timeout_seconds)
            if tip == status.observed_source_revision:
                status.last_automation_run_time = rfc3339(now)
                last = status.last_push_commit
                status.mark_ready(f"no updates made; last commit {last[:7]} at {status.last_push_time}"
                           if last else "no updates made", now, generation)
                return Outcome(status, ok=True)
        async with await self.git.prepare(source.spec.url, checkout, auth, timeout=source.spec.timeout_seconds,
                                          screen=updater.screen) as workspace:
            try:
                branch, refspec = spec.push_targets(workspace.checkout_branch)
            except ValueError as exc:
                raise Stalled(str(exc)) from None
            if dry_run:
                result = await apply(workspace.path)
                outcome = Outcome(status, ok=True, skipped_files=list(skipped))
                if result.files:
                    outcome.diff = "".join(f.diff for f in result.files)
                    outcome.message = message_for(result)
                    outcome.files = [f.path for f in result.files]
                return outcome
            tip_after = workspace.head  # the remote tip we started from (what the branch is if nothing is pushed)
            if gate.active:
                plan = await gate.plan(workspace.path, policies, lambda chosen: asyncio.to_thread(
                    updater.apply, workspace.path, spec.update_path, chosen, dry_run=True, known=known_tree()),
                    revision=workspace.head)
                if plan.hold is not None:
                    plan.notes.extend(extra_notes)
                    return self._awaiting(status, generation, plan, tip_after)
                policies = plan.targets  # type: ignore[assignment]
                images = {f"{ns}:{name}": ref for (ns, name), ref in policies.items()}
            pushed = await self.git.commit_and_push(
                workspace, apply=apply, message=message_for, author=author, signing=signing,
                push_branch=branch, refspec=refspec, push_options=spec.git.push.option_list() if spec.git.push else [],
            )
        if plan is not None:
            gate.after_automation_push(pushed.changes if pushed else None, pushed.commit if pushed else None,
                                       plan.request)
            gate.record_status(status)
        status.last_automation_run_time = rfc3339(now)
        status.observed_source_revision = pushed.commit if pushed is not None else tip_after
        # tagpilot: files under update.path that carry markers but could not be updated (Flux only logs them)
        if skipped:
            status.skipped_files = list(skipped)
        else:
            status.skipped_files = None
        status.observed_policies = observed
        if pushed is None:
            # the wording of Flux's image-automation-controller, which users know from `kubectl describe`
            last = status.last_push_commit
            message = f"no updates made; last commit {last[:7]} at {status.last_push_time}" if last else \
                "no updates made"
            status.mark_ready(message, now, generation)
            return Outcome(status, ok=True, skipped_files=list(skipped),
                           notes=[*(plan.notes if plan else []), *extra_notes])
        request = await forge.after_push(automation, source.spec.url, secret, branch=pushed.branch,
                                         base=workspace.checkout_branch, where=automation.ref,
                                         message=message_for(pushed.changes) if pushed.changes else "")
        if request is not None:  # tagpilot.dev/pull-request (approvals/forge.py)
            used = {c.policy for c in (pushed.changes.changes if pushed.changes else []) if c.policy}
            request["images"] = [{"image": ref.name, "tag": ref.tag} for key, ref in sorted(policies.items())
                                 if key in used]
            status.extra["pullRequest"] = request
            extra_notes.append(Note(
                Reason.PULL_REQUEST, f"pull request #{request['number']} {request['action']}: {request['url']}",
                request))
        status.last_push_commit = pushed.commit
        status.last_push_time = rfc3339(pushed.pushed_at)
        target = pushed.branch or pushed.refspec
        status.mark_ready(f"committed and pushed commit '{pushed.commit[:7]}' to branch '{target}'", now, generation)
        changes = pushed.changes.changes if pushed.changes else []
        details = {"branch": target, "commitMessage": message_for(pushed.changes) if pushed.changes else "",
                   "changes": [{"file": c.file, "line": c.line, "old": c.old_value, "new": c.new_value,
                                "setter": c.setter} for c in changes]}
        return Outcome(status, ok=True, changed=True, commit=pushed.commit, skipped_files=list(skipped), pushed=details,
                       files=[f.path for f in pushed.changes.files] if pushed.changes else [],
                       notes=[*(plan.notes if plan else []), *extra_notes])

    def _awaiting(self, status: AutomationStatus, generation: int, plan: GatePlan, tip: str) -> Outcome:
        """A gated change waits for approvals: Ready False `AwaitingApproval`, naming the request; nothing pushed."""
        now = self.ctx.clock()
        assert plan.hold is not None
        status.last_automation_run_time = rfc3339(now)
        status.observed_source_revision = tip
        status.mark_failed(AWAITING_APPROVAL, plan.hold, now, generation)
        return Outcome(status, ok=True, notes=plan.notes)


def _interval(automation: ImageUpdateAutomation) -> float | None:
    return automation.spec.interval_seconds


def _automations_reading(source: ObjectSource, repo: GitRepository) -> list[ObjectKey]:
    """A GitRepository (a git push webhook) runs the automations whose sourceRef names it."""
    return sorted(
        auto.key for auto in source.of_kind(ImageUpdateAutomation)
        if (auto.spec.source_ref.namespace or auto.namespace, auto.spec.source_ref.name) == (repo.namespace, repo.name)
    )


def _last_push(view: dict[str, Any]) -> str:
    return (view["status"].get("lastPushCommit") or "-")[:7]


KINDS = (
    Kind(
        name=KIND, model=ImageUpdateAutomation, plural="imageupdateautomations", short=("automations", "automation"),
        reconciler=AutomationReconciler, status=AutomationStatus, order=30, interval=_interval, webhook_target=True,
        columns=(
            Column("LAST RUN", lambda v: v["status"].get("lastAutomationRunTime", "-")),
            Column("LAST PUSH", _last_push),
            Column("PUSHED AT", lambda v: v["status"].get("lastPushTime", "-")),
        ),
    ),
    Kind(name="GitRepository", model=GitRepository, plural="gitrepositories", runs=_automations_reading,
         rerun_on_change=True, webhook_target=True,
         columns=(Column("URL", lambda v: v["spec"].get("url", "-")),)),
)
