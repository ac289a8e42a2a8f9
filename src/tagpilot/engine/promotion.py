"""Reconciling Promotions: read the source environment's image, pass the gates, copy, commit to the next one.

One run, level-triggered (a crash anywhere leaves nothing a rerun cannot finish):

1. The candidate: what the source last wrote to git for `spec.image` (its setters markers on its branch
   and path, `promotion/candidate.py`), or an ImagePolicy's ``latestRef``. Its digest comes from the
   registry when the markers do not carry one.
2. A hold (`tagpilot promote --tag`, a rollback) wins over the candidate until `tagpilot unpin`.
3. Gates: ``requireReady`` (the source object Ready), ``soak`` (the candidate held that long since this
   promotion first saw it), ``verify`` (an HTTP check answering ``expectStatus``).
4. The copy (``spec.copy.to``, `registry/copy.py`: same digest, tag written last), then the setters
   write-back on the target branch and path (markers name the promotion), one commit, pushed with the
   gitops retry (with ``push.pullRequest``: to a head branch, and a pull request into the target branch is
   opened or updated, engine/promotion_pr.py). The promotion is recorded in the status (``lastPromoted``)
   and the store's history.
"""

from __future__ import annotations

import contextvars
import getpass
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, cast

import httpx

from tagpilot.approvals.book import ApprovalRequest
from tagpilot.approvals.gate import AWAITING_APPROVAL, Gate, GatePlan, Planned
from tagpilot.config.argo_cd import Application
from tagpilot.config.flux_automation import ImageUpdateAutomation
from tagpilot.config.flux_image import ImagePolicy, ImageRepository
from tagpilot.config.flux_source import GitRepository
from tagpilot.config.promotion import Promotion
from tagpilot.engine import promotion_argo, promotion_pr, promotion_soak
from tagpilot.engine.events import Reason
from tagpilot.engine.keys import ObjectKey
from tagpilot.engine.kinds import Column, Kind
from tagpilot.engine.reconciler import Context, Note, Outcome, Stalled
from tagpilot.engine.status import ObjectStatus, is_ready, parse_rfc3339, rfc3339
from tagpilot.errors import TagpilotError
from tagpilot.gitops import CheckoutRef, GitClient, auth_from_secret, signing_key_from_secret
from tagpilot.gitops.commit_data import render_commit_message
from tagpilot.promotion import Candidate, read_candidate, soak_gate
from tagpilot.store.protocols import ObjectSource
from tagpilot.update import ImageRef, TreeResult, updater_for

KIND = "Promotion"
PROMOTED = Reason.PROMOTED
HELD = Reason.PROMOTION_HELD
DEFAULT_MESSAGE = ("Promote {{ .Image }} to {{ .To }}\n\n{{ .Promotion }}: {{ .From }} -> {{ .To }} "
                   "({{ .Digest }}) from {{ .Source }}")


class PromotionFailed(TagpilotError):
    reason = "PromotionFailed"


class PullRequestFailed(TagpilotError):
    reason = "PullRequestFailed"


@dataclass(frozen=True)
class ManualRequest:
    """`tagpilot promote`: promote now, or a given tag (a rollback that holds later promotions)."""

    tag: str | None = None
    by: str = ""


# set by `tagpilot promote` around its reconcile: the reconciler reads it, so a dry run writes no hold
MANUAL: contextvars.ContextVar[ManualRequest | None] = contextvars.ContextVar("tagpilot_promotion", default=None)


class PromotionLog(Protocol):
    def add_promotion(self, namespace: str, name: str, *, time: float, trigger: str, from_ref: str, to_ref: str,
                      digest: str, commit: str, rollback: bool, pull_request: str = "") -> None: ...


@dataclass
class PromotionStatus(ObjectStatus):
    """`lastPromoted {name, tag, digest, at, commit}`, `candidate {name, tag, digest, since}`, `gate`, `hold`."""

    FIELDS = (
        ("last_promoted", "lastPromoted"),
        ("candidate", "candidate"),
        ("gate", "gate"),
        ("hold", "hold"),
    )
    last_promoted: dict[str, Any] | None = None
    candidate: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    hold: dict[str, Any] | None = None


def _ref_text(ref: dict[str, Any] | ImageRef | None) -> str:
    if ref is None:
        return "-"
    if isinstance(ref, ImageRef):
        return f"{ref.name}:{ref.tag}" if ref.tag else f"{ref.name}@{ref.digest}"
    return f"{ref.get('name')}:{ref.get('tag')}" if ref.get("tag") else f"{ref.get('name')}@{ref.get('digest')}"


class PromotionReconciler:
    """Runs Promotions; several in parallel (each checkout is locked by the GitClient)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def git(self) -> GitClient:
        assert self.ctx.git is not None, "promotions need a GitClient in the context"
        return self.ctx.git

    # -- the source --------------------------------------------------------------------------------
    def _repo(self, namespace: str, name: str, field_name: str) -> GitRepository:
        repo = self.ctx.config.get(GitRepository, namespace, name)
        if repo is None:
            raise Stalled(f"{field_name}: GitRepository {namespace}/{name} is not in the configuration",
                          reason="DependencyNotReady")
        return repo

    def _secret(self, repo: GitRepository) -> Any:
        if repo.spec.secret_ref is None:
            return None
        return self.ctx.config.secret(repo.namespace, repo.spec.secret_ref.name, referenced_by=repo,
                                      field_name="spec.secretRef")

    async def _read_git(self, repo: GitRepository, branch: str, path: str, marker: tuple[str, str], *,
                        introduced: bool = False) -> Candidate | None:
        """The markers' image on `branch`; with `introduced`, since when (the commit that put it there)."""
        secret = self._secret(repo)
        async with await self.git.prepare(repo.spec.url, CheckoutRef(branch=branch), auth_from_secret(secret),
                                          timeout=repo.spec.timeout_seconds) as workspace:
            found = read_candidate(workspace.path, path, *marker)
            if found is not None and introduced:
                since = await promotion_soak.introduced_at(self.git, workspace.path, found.origin)
                found = replace(found, since=since)
            return found

    def _source_object(self, promotion: Promotion) -> tuple[str, Any]:
        spec, ns = promotion.spec.source, promotion.namespace
        if spec.image_policy_ref is not None:
            obj: Any = self.ctx.config.get(ImagePolicy, ns, spec.image_policy_ref.name)
            kind = "ImagePolicy"
        elif spec.kind == "ImageUpdateAutomation":
            obj, kind = self.ctx.config.get(ImageUpdateAutomation, ns, spec.name or ""), spec.kind
        elif spec.kind == "Application":
            obj, kind = self.ctx.config.get(Application, spec.namespace or ns, spec.name or ""), spec.kind
            ns = spec.namespace or ns
        else:
            obj, kind = self.ctx.config.get(Promotion, ns, spec.name or ""), "Promotion"
        if obj is None:
            raise Stalled(f"spec.source: {spec.describe()} is not in the configuration (namespace {ns})",
                          reason="DependencyNotReady")
        return kind, obj

    async def _candidate(self, promotion: Promotion) -> Candidate:
        kind, source = self._source_object(promotion)
        ns, image = promotion.namespace, promotion.spec.image
        if kind == "ImagePolicy":
            stored = self.ctx.store.get_object("ImagePolicy", ns, source.name)
            latest = (stored.status if stored else {}).get("latestRef")
            if not latest or not latest.get("tag"):
                raise PromotionFailed(f"ImagePolicy {ns}/{source.name} has selected no image yet")
            return Candidate(ImageRef(latest["name"], latest["tag"], latest.get("digest")), {"tag": "latestRef"})
        if kind == "Application":
            found, where = await self._read_app(source, image, "spec.image")
            if found is None:
                raise PromotionFailed(f"Application {source.namespace}/{source.name} names no tag for {image!r} in "
                                      f"{where} (its write-back target, values files or spec): nothing to promote")
            return found
        if kind == "Promotion" and source.spec.target.application_ref is not None:
            app = self._target_app(source)
            alias = source.spec.target.image or source.spec.image
            found, where = await self._read_app(app, alias, f"Promotion {ns}/{source.name} target.image")
            if found is None:
                raise PromotionFailed(f"Promotion {ns}/{source.name} has not written {alias!r} to Application "
                                      f"{app.namespace}/{app.name} yet ({where})")
            return found
        if kind == "ImageUpdateAutomation":
            if self.ctx.config.get(ImagePolicy, ns, image) is None:
                raise Stalled(f"spec.image: ImagePolicy {ns}/{image} is not in the configuration; spec.image names "
                              f"the source's policy (the one its markers name)", reason="DependencyNotReady")
            ref = source.spec.source_ref
            repo = self._repo(ref.namespace or ns, ref.name, f"ImageUpdateAutomation {ns}/{source.name} sourceRef")
            checkout = source.spec.git.checkout.ref.branch if source.spec.git and source.spec.git.checkout else None
            branch, _refspec = source.spec.push_targets(checkout or (repo.spec.ref.branch if repo.spec.ref else None)
                                                        or "main")
            found = await self._read_git(repo, branch or "main", source.spec.update_path, (ns, image),
                                         introduced=True)
            where = f"{repo.spec.url} branch {branch} path {source.spec.update_path}"
        else:
            target = source.spec.target
            repo = self._repo(ns, target.git_repository_ref.name, f"Promotion {ns}/{source.name} target")
            branch = source.spec.deployed_branch  # a pull request's head only proposes
            found = await self._read_git(repo, branch, target.path, (ns, source.name), introduced=True)
            where = f"{repo.spec.url} branch {branch} path {target.path}"
        if found is None:
            raise PromotionFailed(f"no setters marker for {ns}:{image if kind != 'Promotion' else source.name} "
                                  f"in {where}: the source has not written this image yet")
        if not found.ref.name:
            found = replace(found, ref=ImageRef(self._image_name(promotion, set()), found.ref.tag, found.ref.digest))
        return found

    def _image_name(self, promotion: Promotion, seen: set[str]) -> str:
        """The repository of the source image when its markers only set the tag (``:tag`` markers)."""
        if promotion.name in seen:
            raise Stalled(f"spec.source: promotions form a loop ({' -> '.join(sorted(seen))})")
        seen.add(promotion.name)
        spec = promotion.spec.source
        if spec.kind == "Promotion":
            upstream = self.ctx.config.get(Promotion, promotion.namespace, spec.name or "")
            if upstream is not None:
                if upstream.spec.copy_ is not None:
                    return upstream.spec.copy_.to
                return self._image_name(upstream, seen)
        policy_name = spec.image_policy_ref.name if spec.image_policy_ref else promotion.spec.image
        policy = self.ctx.config.get(ImagePolicy, promotion.namespace, policy_name)
        if policy is not None:
            ref = policy.spec.image_repository_ref
            repository = self.ctx.config.get(ImageRepository, ref.namespace or promotion.namespace, ref.name)
            if repository is not None:
                return repository.spec.image
        raise Stalled(f"cannot tell the image repository of {promotion.ref}: its source's markers set only the "
                      f"tag and ImagePolicy {promotion.namespace}/{policy_name} names no known ImageRepository")

    def _target_app(self, promotion: Promotion) -> Application:
        ref = promotion.spec.target.application_ref
        assert ref is not None
        namespace = ref.namespace or promotion.namespace
        app = self.ctx.config.get(Application, namespace, ref.name)
        if app is None:
            raise Stalled(f"{promotion.ref} spec.target.applicationRef: Application {namespace}/{ref.name} is not in "
                          f"the configuration (Argo CD keeps Applications in namespace argocd: "
                          "set applicationRef.namespace)", reason="DependencyNotReady")
        return app

    async def _read_app(self, app: Application, alias: str, field_name: str) -> tuple[Candidate | None, str]:
        """What `app`'s write-back target (and the files its reconciler reads) name for `alias`, on its branch."""
        import asyncio

        settings = promotion_argo.image_settings(app, alias, field_name)
        repo = await promotion_argo.app_repo(app, self.ctx.config, self.git)
        async with await self.git.prepare(repo.url, CheckoutRef(branch=repo.branch), repo.auth,
                                          timeout=60.0) as workspace:
            found = await asyncio.to_thread(promotion_argo.read_app_candidate, workspace.path, repo, settings)
            if found is not None:
                found = replace(found, since=await promotion_soak.introduced_at(self.git, workspace.path,
                                                                               found.origin))
        return found, f"{repo.url} branch {repo.branch}"

    async def _digest(self, promotion: Promotion, ref: ImageRef) -> str:
        if ref.digest:
            return ref.digest
        assert self.ctx.registry is not None, "promotions need a RegistryClient in the context"
        from tagpilot.registry.reference import parse_reference

        insecure = bool(promotion.spec.copy_ and promotion.spec.copy_.insecure)
        access = _access(parse_reference(f"{ref.name}:{ref.tag}"), insecure)
        return await self.ctx.registry.head_digest(access, ref.tag or "latest")

    # -- gates --------------------------------------------------------------------------------------
    async def _gates(self, promotion: Promotion, status: PromotionStatus, source_kind: str, source: Any
                     ) -> tuple[bool, dict[str, Any]]:
        gate = promotion.spec.gate
        now = self.ctx.clock()
        state: dict[str, Any] = {}
        ok = True
        if gate.require_ready:
            stored = self.ctx.store.get_object(source_kind, source.namespace, source.name)
            ready = is_ready(stored.status if stored else {})
            state["requireReady"] = {"open": ready, "message": f"{source_kind}/{source.namespace}/{source.name} "
                                     + ("is Ready" if ready else "is not Ready")}
            ok = ok and ready
        if gate.soak:
            since = parse_rfc3339(status.candidate["since"]) if status.candidate else now
            soak = soak_gate(since, now, gate.soak_seconds)
            state["soak"] = {"open": soak.open, "message": soak.message}
            ok = ok and soak.open
        if gate.verify is not None and ok:
            verify = gate.verify
            from tagpilot.config.base import seconds

            try:
                async with httpx.AsyncClient(timeout=seconds(verify.timeout), follow_redirects=False) as client:
                    answer = (await client.request(verify.method, verify.url)).status_code
                passed = answer == verify.expect_status
                message = f"{verify.method} {verify.url} answered {answer}" + (
                    "" if passed else f", expected {verify.expect_status}")
            except httpx.HTTPError as exc:
                passed, message = False, f"{verify.method} {verify.url} failed: {type(exc).__name__}"
            state["verify"] = {"open": passed, "message": message}
            ok = ok and passed
        return ok, state

    # -- the run ------------------------------------------------------------------------------------
    async def reconcile(self, promotion: Promotion, status: PromotionStatus, generation: int, *,
                        force: bool = True, dry_run: bool = False) -> Outcome:
        outcome = await self._run(promotion, status, generation, dry_run=dry_run)
        outcome.persist = outcome.persist and not dry_run
        outcome.dry_run = dry_run
        return outcome

    async def _run(self, promotion: Promotion, status: PromotionStatus, generation: int, *,
                   dry_run: bool) -> Outcome:
        now = self.ctx.clock()
        ns, name = promotion.namespace, promotion.name
        manual = MANUAL.get()
        pr_notes, endpoint = await self._refresh_pull_request(promotion, status) if not dry_run else ([], None)
        source_kind, source = self._source_object(promotion)
        candidate = await self._candidate(promotion)
        digest = await self._digest(promotion, candidate.ref)
        seen = status.candidate or {}
        if (seen.get("tag"), seen.get("digest"), seen.get("name")) != (candidate.ref.tag, digest, candidate.ref.name):
            status.candidate = {"name": candidate.ref.name, "tag": candidate.ref.tag, "digest": digest,
                                "since": rfc3339(now), "readFrom": candidate.origins}
        if candidate.since is not None:  # the commit that put it there, if earlier than the first sighting
            first_seen = parse_rfc3339(status.candidate["since"])
            status.candidate = {**status.candidate, "since": rfc3339(min(first_seen, candidate.since)),
                                "sinceFrom": "commit" if candidate.since <= first_seen else "first seen"}
        trigger, rollback = "automatic", False
        if manual is not None and manual.tag:
            wanted = ImageRef(candidate.ref.name, manual.tag, None)
            digest = await self._digest(promotion, wanted)
            rollback = manual.tag != candidate.ref.tag
            trigger = f"tagpilot promote --tag {manual.tag} by {manual.by}"
            if rollback:
                status.hold = {"tag": manual.tag, "digest": digest, "at": rfc3339(now), "by": manual.by,
                               "reason": f"rollback from candidate {candidate.ref.tag}"}
            else:
                status.hold = None
        elif status.hold:
            hold = status.hold
            wanted = ImageRef(candidate.ref.name, hold["tag"], None)
            digest = hold["digest"]
            trigger, rollback = "hold", True
        else:
            wanted = candidate.ref
            if manual is not None:
                trigger = f"tagpilot promote by {manual.by}"
        gates_open, gate_state = await self._gates(promotion, status, source_kind, source)
        status.gate = gate_state or None
        if status.hold and not (manual and manual.tag) and candidate.ref.tag != status.hold["tag"]:
            note = (f"held at {status.hold['tag']} by {status.hold['by']} ({status.hold['reason']}); candidate "
                    f"{candidate.ref.tag} waits until `tagpilot unpin {promotion.ref}`")
        else:
            note = ""
        target_name = promotion.spec.copy_.to if promotion.spec.copy_ else wanted.name
        to_ref = ImageRef(target_name, wanted.tag, digest)
        last = status.last_promoted or {}
        if (last.get("name"), last.get("tag"), last.get("digest")) == (to_ref.name, to_ref.tag, digest):
            message = f"up to date: {_ref_text(to_ref)} ({digest[:19]}) promoted at {last.get('at')}"
            request = last.get("pullRequest")
            if request:
                message = (f"up to date: {_ref_text(to_ref)} ({digest[:19]}) proposed at {last.get('at')} in pull "
                           f"request #{request.get('number')} ({_pr_state(request)}): {request.get('url')}")
            status.mark_ready(f"{message}; {note}" if note else message, now, generation)
            return Outcome(status, ok=True, notes=[*pr_notes, *([Note(HELD, note)] if note and not dry_run else [])])
        if not rollback and not gates_open and manual is None:
            closed = "; ".join(g["message"] for g in gate_state.values() if not g["open"])
            status.mark_ready(f"candidate {_ref_text(wanted)} waits: {closed}", now, generation)
            return Outcome(status, ok=True, notes=pr_notes)
        approved: ApprovalRequest | None = None
        approval_gate: Gate | None = None
        gate_notes: list[Note] = [*pr_notes]
        if not rollback and not dry_run:
            gated = await self._approval_gate(promotion, wanted, digest, target_name, last)
            if gated is not None:
                plan, approval_gate = gated
                gate_notes += plan.notes
                if plan.hold is not None:
                    status.mark_failed(AWAITING_APPROVAL, plan.hold, now, generation)
                    return Outcome(status, ok=True, notes=gate_notes)
                chosen = plan.targets.get(_gate_key(promotion))
                if chosen is None:
                    status.mark_ready(f"candidate {_ref_text(wanted)} was rejected for this Promotion; not proposed "
                                      "again", now, generation)
                    return Outcome(status, ok=True, notes=gate_notes)
                wanted, digest = ImageRef(chosen.name, chosen.tag, None), chosen.digest or digest
                to_ref = ImageRef(target_name, wanted.tag, digest)
                approved = plan.request
        from_text = _ref_text(ImageRef(wanted.name, wanted.tag, None))
        if dry_run:
            status.mark_ready(f"would promote {from_text} -> {_ref_text(to_ref)} ({digest})", now, generation)
            return Outcome(status, ok=True, message=f"would promote {from_text} -> {_ref_text(to_ref)} ({digest})")
        if endpoint is None:  # checked before the copy and the push
            endpoint = await self._pull_request_endpoint(promotion)
        if promotion.spec.copy_ is not None:
            await self._copy(promotion, wanted, digest)
        try:
            commit, request = await self._write(promotion, to_ref, from_text, digest, endpoint)
        except PullRequestFailed as exc:
            status.mark_failed(exc.reason, str(exc), now, generation)
            return Outcome(status, ok=False, error=str(exc), notes=gate_notes)
        if request is not None:
            gate_notes.append(Note(Reason.PULL_REQUEST, f"pull request #{request['number']} {request['action']}: "
                                   f"{request['url']}", {k: v for k, v in request.items() if k != "state"}))
        if approved is not None and approval_gate is not None:
            approval_gate.after_push(commit, approved)
            trigger = f"approved by {', '.join(approved.approved_by)} (approval request {approved.id})"
        status.last_promoted = {"name": to_ref.name, "tag": to_ref.tag, "digest": digest, "at": rfc3339(now),
                                "commit": commit or (last.get("commit") if last else None), "from": from_text,
                                "trigger": trigger, "rollback": rollback}
        if request is not None:
            status.last_promoted["pullRequest"] = request
        cast(PromotionLog, self.ctx.store).add_promotion(
            ns, name, time=now.timestamp(), trigger=trigger, from_ref=from_text, to_ref=_ref_text(to_ref),
            digest=digest, commit=commit or "", rollback=rollback,
            pull_request=request.get("url") or f"#{request['number']}" if request else "")
        what = "rolled back to" if rollback else "promoted"
        if request is not None:
            what = "proposed a rollback to" if rollback else "proposed"
        status.mark_ready(f"{what} {_ref_text(to_ref)} ({digest[:19]})"
                          + (f" in commit {commit[:7]}" if commit else " (the target already had it)")
                          + (f" on branch {request['head']}; pull request #{request['number']} {request['action']}: "
                             f"{request['url']}" if request else ""), now, generation)
        meta = {"from": from_text, "to": _ref_text(to_ref), "digest": digest, "commit": commit or "",
                "trigger": trigger, "rollback": rollback, "pullRequest": request["url"] if request else ""}
        return Outcome(status, ok=True, changed=True, commit=commit,
                       notes=[*gate_notes, Note(PROMOTED, f"{what} {from_text} -> {_ref_text(to_ref)} ({digest})",
                                                meta)])

    async def _approval_gate(self, promotion: Promotion, wanted: ImageRef, digest: str, target_name: str,
                             last: dict[str, Any]) -> tuple[GatePlan, Gate] | None:
        """The approval gate (tagpilot.approvals) for promoting `wanted`: None when the Promotion is not gated;
        else the plan (hold: a request waits; else the target to promote, an approved request's exact one)."""
        gate = Gate(self.ctx, _gated(promotion))
        if not gate.settings.gated:
            return None
        key = _gate_key(promotion)
        # what the target runs now, read back from its markers: the request says "from" truthfully even
        # before this Promotion ever promoted
        running = await self._read_target(promotion)
        current = running.ref if running is not None else None

        async def planned(targets: dict[str, ImageRef]) -> Planned:
            ref = targets.get(key)
            if ref is None:
                return Planned(changes=[], images=[], diff="", used=set())
            to = ImageRef(target_name, ref.tag, ref.digest)
            if (last.get("name"), last.get("tag"), last.get("digest")) == (to.name, to.tag, to.digest):
                return Planned(changes=[], images=[], diff="", used=set())
            before = _ref_text(current) if current is not None else "(nothing)"
            return Planned(changes=[{"image": to.name, "tag": to.tag, "digest": to.digest}],
                           images=[{"image": to.name, "from": (current.tag if current else None) or "",
                                    "to": to.tag or ""}],
                           diff=f"{before} -> {_ref_text(to)}\n", used={key})

        return await gate.decide({key: ImageRef(wanted.name, wanted.tag, digest)}, planned), gate

    async def _copy(self, promotion: Promotion, ref: ImageRef, digest: str) -> None:
        from tagpilot.registry.copy import copy_image
        from tagpilot.registry.reference import parse_reference

        assert self.ctx.registry is not None and promotion.spec.copy_ is not None
        spec = promotion.spec.copy_
        source = _access(parse_reference(f"{ref.name}@{digest}"), spec.insecure)
        target = _access(parse_reference(f"{spec.to}:{ref.tag}" if ref.tag else f"{spec.to}@{digest}"),
                         spec.insecure)
        try:
            await copy_image(self.ctx.registry, source, target, signatures=spec.signatures)
        except TagpilotError as exc:
            raise PromotionFailed(f"spec.copy: {exc}") from None

    async def _read_target(self, promotion: Promotion) -> Candidate | None:
        """What the target environment runs now: its markers naming this promotion, or its Application's files."""
        spec = promotion.spec.target
        if spec.application_ref is not None:
            return (await self._read_app(self._target_app(promotion), spec.image or promotion.spec.image,
                                         "spec.target.image"))[0]
        assert spec.git_repository_ref is not None and spec.branch is not None
        repo = self._target_repo(promotion)
        return await self._read_git(repo, spec.branch, spec.path, (promotion.namespace, promotion.name))

    def _target_repo(self, promotion: Promotion) -> GitRepository:
        spec = promotion.spec.target
        assert spec.git_repository_ref is not None and spec.branch is not None
        return self._repo(promotion.namespace, spec.git_repository_ref.name, "spec.target.gitRepositoryRef")

    async def _pull_request_endpoint(self, promotion: Promotion) -> tuple[str, str] | None:
        """With `push.pullRequest`: the repository URL the request is opened on and the forge token, checked
        (a ForgeError naming the fix) before anything is copied or pushed. The target's GitRepository and its
        Secret, or the target Application's repository and its Argo CD credentials."""
        mode = promotion.spec.push.pull_request
        if mode is None:
            return None
        where = self._where(promotion)
        if promotion.spec.target.application_ref is not None:
            app_repo = await promotion_argo.app_repo(self._target_app(promotion), self.ctx.config, self.git)
            url, token = app_repo.url, promotion_pr.token_of_auth(app_repo.auth, where)
        else:
            repo = self._target_repo(promotion)
            url, token = repo.spec.url, promotion_pr.token_of(self._secret(repo), where)
        promotion_pr.settings_for(mode, url, where)
        return url, token

    async def _refresh_pull_request(self, promotion: Promotion, status: PromotionStatus
                                    ) -> tuple[list[Note], tuple[str, str] | None]:
        """With `push.pullRequest`: the last request's state (merged, closed without merging) into
        lastPromoted; the endpoint it resolved, for the rest of the run (None when there was no request)."""
        if promotion.spec.push.pull_request is None or not (status.last_promoted or {}).get("pullRequest"):
            return [], None
        try:
            endpoint = await self._pull_request_endpoint(promotion)
            assert endpoint is not None
            notes = await promotion_pr.refresh(promotion, *endpoint, status.last_promoted, self._where(promotion))
        except TagpilotError as exc:
            raise PullRequestFailed(f"spec.push.pullRequest: {exc}") from None
        return notes, endpoint

    async def _propose(self, promotion: Promotion, endpoint: tuple[str, str], *, head: str, base: str,
                       commit: str | None, message: str, auth: Any, timeout: float
                       ) -> tuple[str | None, dict[str, Any] | None]:
        """After the push to `head`: open or update the request into `base` (also when the head branch already
        had the change: a rerun after a failed request)."""
        url = endpoint[0]
        if commit is None:  # the head branch has the change (a rerun after a failed request), or the target has it
            commit = await self.git.remote_head(url, head, auth, timeout=timeout)
            if commit is None:
                return None, None  # no head branch: the target branch has it already, nothing to propose
        try:
            request = await promotion_pr.propose(promotion, *endpoint, head=head, base=base, message=message,
                                                 where=self._where(promotion))
        except TagpilotError as exc:
            pushed_text = f"pushed {commit[:7]} to branch {head!r}" if commit else f"branch {head!r} has the change"
            raise PullRequestFailed(f"{pushed_text}, but the pull request failed: {exc}") from None
        return commit, request

    def _signing(self, promotion: Promotion) -> Any:
        key = promotion.spec.commit.signing_key
        if key is None:
            return None
        key_secret = self.ctx.config.secret(promotion.namespace, key.secret_ref.name, referenced_by=promotion,
                                            field_name="spec.commit.signingKey")
        return signing_key_from_secret(key_secret, key.type)

    def _message(self, promotion: Promotion, to_ref: ImageRef, from_text: str, digest: str) -> str:
        spec = promotion.spec
        data = {"Promotion": f"{promotion.namespace}/{promotion.name}", "Source": spec.source.describe(),
                "Image": spec.image, "From": from_text, "To": _ref_text(to_ref), "Digest": digest}
        return render_commit_message(spec.commit.message_template or DEFAULT_MESSAGE, data)

    async def _write_app(self, promotion: Promotion, to_ref: ImageRef, from_text: str, digest: str,
                         endpoint: tuple[str, str] | None) -> tuple[str | None, dict[str, Any] | None]:
        """Write `to_ref` into the target Application's write-back target (engine/promotion_argo.py) on its
        branch (or `push.branch`), one commit with the Promotion's message and author; with `push.pullRequest`
        on a head branch, proposed into the Application's branch."""
        import asyncio

        spec = promotion.spec
        app = self._target_app(promotion)
        alias = spec.target.image or spec.image
        settings = promotion_argo.image_settings(app, alias, "spec.target.image")
        repo = await promotion_argo.app_repo(app, self.ctx.config, self.git)
        # the digest only where the Application's own updater would write one (its digest strategy)
        ref = ImageRef(to_ref.name, to_ref.tag, to_ref.digest if settings.strategy == "digest" else None)
        write, state = promotion_argo.app_writer(repo, settings, ref)
        head = promotion.push_branch if endpoint is not None else (spec.push.branch or repo.branch)
        if endpoint is not None and head == repo.branch:
            raise PromotionFailed(f"{self._where(promotion)} spec.push.branch {head!r} is the branch Application "
                                  f"{app.namespace}/{app.name} deploys from: a pull request needs a head branch of "
                                  "its own (leave push.branch out for promote/<name>)")

        async def apply(root: Path) -> Any:
            return await asyncio.to_thread(write.apply, root)

        def message(_result: Any) -> str:
            return self._message(promotion, to_ref, from_text, digest)

        async with await self.git.prepare(repo.url, CheckoutRef(branch=repo.branch), repo.auth,
                                          timeout=60.0) as workspace:
            pushed = await self.git.commit_and_push(
                workspace, apply=apply, message=message, author=(spec.commit.author.name, spec.commit.author.email),
                signing=self._signing(promotion), push_branch=head)
        try:
            promotion_argo.check_written(write, state, write.result, f"spec.target: Application {app.namespace}/"
                                         f"{app.name} image {alias!r}")
        except TagpilotError as exc:
            raise PromotionFailed(str(exc)) from None
        commit = pushed.commit if pushed is not None else None
        if endpoint is None:
            return commit, None
        return await self._propose(promotion, endpoint, head=head, base=repo.branch, commit=commit,
                                   message=message(None), auth=repo.auth, timeout=60.0)

    def _where(self, promotion: Promotion) -> str:
        origins = getattr(self.ctx.config, "origins", {})
        where = origins.get(promotion.key) if isinstance(origins, dict) else None
        return f"{promotion.ref} ({where.file}:{where.line})" if where and where.file else promotion.ref

    async def _write(self, promotion: Promotion, to_ref: ImageRef, from_text: str, digest: str,
                     endpoint: tuple[str, str] | None) -> tuple[str | None, dict[str, Any] | None]:
        """Commit and push the new reference; with `push.pullRequest`, to the head branch, then open or update
        the request (also when the head branch already had the change: a rerun after a failed request)."""
        if promotion.spec.target.application_ref is not None:
            return await self._write_app(promotion, to_ref, from_text, digest, endpoint)
        spec, ns = promotion.spec, promotion.namespace
        repo = self._target_repo(promotion)
        secret = self._secret(repo)
        signing = self._signing(promotion)
        images = {(ns, promotion.name): to_ref}
        updater = updater_for(spec.target.strategy)
        found: list[TreeResult] = []

        async def apply(root: Path) -> TreeResult:
            import asyncio

            result = await asyncio.to_thread(updater.apply, root, spec.target.path, images)
            found[:] = [result]
            return result

        def message(_result: Any) -> str:
            return self._message(promotion, to_ref, from_text, digest)

        auth = auth_from_secret(secret)
        head = promotion.push_branch
        async with await self.git.prepare(repo.spec.url, CheckoutRef(branch=spec.target.branch), auth,
                                          timeout=repo.spec.timeout_seconds) as workspace:
            pushed = await self.git.commit_and_push(
                workspace, apply=apply, message=message,
                author=(spec.commit.author.name, spec.commit.author.email), signing=signing,
                push_branch=head,
            )
        if pushed is None and found and (promotion.namespace, promotion.name) not in found[0].named:
            raise PromotionFailed(
                f"spec.target: no setters marker names {ns}:{promotion.name} under {spec.target.path!r} on branch "
                f"{spec.target.branch} of {repo.spec.url}; add `# {{\"$imagepolicy\": \"{ns}:{promotion.name}\"}}` "
                f"next to the image (or :tag / :name / :digest)")
        commit = pushed.commit if pushed is not None else None
        if endpoint is None:
            return commit, None
        return await self._propose(promotion, endpoint, head=head, base=spec.target.branch or "", commit=commit,
                                   message=message(found[0] if found else None), auth=auth,
                                   timeout=repo.spec.timeout_seconds)


def _pr_state(request: dict[str, Any]) -> str:
    return {"open": "open", "merged": "merged", "closed": "closed without merging"}.get(request.get("state", ""),
                                                                                       "unknown")


def _access(reference: Any, insecure: bool) -> Any:
    from tagpilot.registry.client import RepositoryAccess, TLSSettings

    return RepositoryAccess(reference=reference, insecure=insecure,
                            tls=TLSSettings(insecure_skip_verify=True) if insecure else None, timeout=120.0)


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _gate_key(promotion: Promotion) -> str:
    """The gate's target name: the promotion as its setters markers name it (`NS:NAME`)."""
    return f"{promotion.namespace}:{promotion.name}"


def _gated(promotion: Promotion) -> Promotion:
    """The Promotion with `spec.gate.approvals` as the annotation tagpilot.approvals reads (a copy)."""
    from tagpilot.approvals.settings import APPROVALS

    required = promotion.spec.gate.approvals
    annotations = promotion.metadata.annotations or {}
    if required is None:
        return promotion
    if APPROVALS in annotations and annotations[APPROVALS].strip() != str(required):
        raise Stalled(f"{promotion.ref}: spec.gate.approvals ({required}) and the annotation {APPROVALS} "
                      f"({annotations[APPROVALS]!r}) disagree; keep one", reason="InvalidAnnotation")
    return promotion.with_annotations({APPROVALS: str(required)})


def _interval(promotion: Promotion) -> float | None:
    return promotion.spec.interval_seconds


def _reads(promotion: Promotion) -> list[ObjectKey]:
    """The automation, ImagePolicy or previous Promotion of a chain this Promotion takes its candidate
    from: a push, a new latest image or a promotion there runs it at once. An Application's batched
    write-back does not report a change per Application, so Application sources wait for their interval."""
    source = promotion.spec.source
    if source.image_policy_ref is not None:
        return [("ImagePolicy", promotion.namespace, source.image_policy_ref.name)]
    if source.kind in ("ImageUpdateAutomation", "Promotion") and source.name:
        return [(source.kind, promotion.namespace, source.name)]
    return []


def _chain_depth(source: ObjectSource, promotion: Promotion) -> int:
    """How many Promotions come before this one in its chain (dev → test → prod: 0, 1, 2), so a round
    runs each stage after the one it reads; a loop is cut (and reported by the reconciler)."""
    depth, seen, current = 0, {promotion.name}, promotion
    while current.spec.source.kind == "Promotion" and depth < 50:
        upstream = source.get(Promotion, current.namespace, current.spec.source.name or "")
        if upstream is None or upstream.name in seen:
            break
        seen.add(upstream.name)
        depth, current = depth + 1, upstream
    return min(depth, 8)  # 31..39: after automations (30), before retention (40)


def _promoted(view: dict[str, Any]) -> str:
    last = view["status"].get("lastPromoted")
    return f"{last.get('tag')} ({(last.get('digest') or '')[7:19]})" if last else "-"


def _waiting(view: dict[str, Any]) -> str:
    status = view["status"]
    if status.get("hold"):
        return f"HELD at {status['hold'].get('tag')}"
    candidate = status.get("candidate") or {}
    last = status.get("lastPromoted") or {}
    if candidate and candidate.get("digest") != last.get("digest"):
        return f"{candidate.get('tag')} waiting"
    return "-"


def _target_column(view: dict[str, Any]) -> str:
    target = view["spec"].get("target", {})
    app = target.get("applicationRef")
    if app:
        return f"Application/{app.get('namespace') + '/' if app.get('namespace') else ''}{app.get('name')}"
    return f"{target.get('branch', '-')}:{target.get('path', '.')}"


def _source(view: dict[str, Any]) -> str:
    source = view["spec"].get("source", {})
    if "imagePolicyRef" in source:
        return f"ImagePolicy/{source['imagePolicyRef'].get('name')}"
    namespace = f"{source['namespace']}/" if source.get("namespace") else ""
    return f"{source.get('kind')}/{namespace}{source.get('name')}"


KINDS = (
    Kind(
        name=KIND, model=Promotion, plural="promotions", short=("promotion", "promo"),
        reconciler=PromotionReconciler, status=PromotionStatus, order=31, interval=_interval,
        reads=_reads, object_order=_chain_depth,
        columns=(
            Column("FROM", _source),
            Column("TO", _target_column),
            Column("RUNS", _promoted),
            Column("NEXT", _waiting),
        ),
    ),
)
