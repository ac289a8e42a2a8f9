"""Pull/merge request mode of a Promotion (`spec.push.pullRequest`): propose, do not push to the environment.

The promotion commits to a head branch (`push.branch`, default ``promote/<name>``, built on when it exists,
as Flux's push branch is) and opens a request into `target.branch` through the manual path's forge client
(approvals/forge.py: GitHub, GitLab, Gitea REST APIs), or updates the one already open for that head and
base in place when a newer candidate (or a rollback) comes: one open request per Promotion. Each run
reads back the state of the last request: a merged one is the environment running it; one a person
closed without merging is a "no" that is not re-opened for the same tag (lastPromoted keeps naming it,
so the candidate is "up to date"; a newer candidate or `tagpilot promote --tag` proposes again).
The token is the GitRepository Secret's `token` (else `password`); for an Argo CD Application target, the
password (a personal access token) of the Application's repository credentials, as Argo CD Image Updater's
pull requests take it. Sent only in a header.
"""

from __future__ import annotations

from typing import Any

from tagpilot.approvals import forge
from tagpilot.config.promotion import Promotion, PromotionPullRequest
from tagpilot.engine.events import Reason
from tagpilot.engine.reconciler import Note

FIELD = "spec.push.pullRequest"


def settings_for(mode: PromotionPullRequest, url: str, where: str) -> forge.PullRequestSettings:
    """The forge settings, through the same parser the annotation path uses (one place derives owner/repo)."""
    annotations = {forge.ANNOTATION: mode.forge, forge.LABELS_ANNOTATION: ",".join(mode.labels or ())}
    if mode.api:
        annotations[forge.API_ANNOTATION] = mode.api
    try:
        settings = forge.settings_for(annotations, url, where)
    except forge.ForgeError as exc:
        raise forge.ForgeError(str(exc).replace(forge.ANNOTATION, FIELD)) from None
    assert settings is not None
    return settings


def token_of(secret: Any, where: str) -> str:
    values = secret.values() if secret is not None else {}
    token = values.get("token") or values.get("password")
    if not token:
        raise forge.ForgeError(f"{where}: {FIELD} needs an API token: add `token` to the Secret of the target's "
                               "GitRepository (spec.secretRef)")
    return token.decode("utf-8", "replace").strip() if isinstance(token, bytes) else str(token).strip()


def token_of_auth(auth: Any, where: str) -> str:
    """The token of an Argo CD Application target: its repository credentials' password."""
    token = (getattr(auth, "password", None) or getattr(auth, "bearer_token", None) or "") if auth else ""
    if not token:
        raise forge.ForgeError(f"{where}: {FIELD} into an Application needs token credentials: a personal access "
                               "token as the password of the Argo CD repository Secret for the Application's "
                               "repository (SSH keys cannot open requests)")
    return str(token)


async def propose(promotion: Promotion, url: str, token: str, *, head: str, base: str, message: str,
                  where: str) -> dict[str, Any]:
    """Open (or update in place) the request `head` → `base`; the record kept in `lastPromoted.pullRequest`."""
    mode = promotion.spec.push.pull_request
    assert mode is not None
    settings = settings_for(mode, url, where)
    title, _, rest = message.strip().partition("\n")
    body = rest.strip() or f"This pull request was created automatically by tagpilot for {where}."
    request = await forge.open_or_update(settings, token, head=head, base=base,
                                         title=title.strip() or f"Promote {promotion.spec.image}", body=body)
    return {**request, "head": head, "base": base, "state": "open"}


async def refresh(promotion: Promotion, url: str, token: str, last: dict[str, Any] | None, where: str
                  ) -> list[Note]:
    """Read back the state of the request `last` names while it is open; mark it merged or closed in place."""
    mode = promotion.spec.push.pull_request
    request = (last or {}).get("pullRequest")
    if mode is None or not request or request.get("state") != "open" or "number" not in request:
        return []
    settings = settings_for(mode, url, where)
    state = await forge.closed_state(settings, token, request)
    if state is None:
        return []
    request["state"] = state
    if state == "merged":
        text = f"pull request #{request['number']} was merged: {last.get('tag')} runs in {request.get('base')}"
    else:
        text = (f"pull request #{request['number']} was closed without merging; {last.get('tag')} is not proposed "
                "again (a newer candidate or `tagpilot promote --tag` proposes again)")
    return [Note(Reason.PULL_REQUEST, text, {**request, "action": state})]
