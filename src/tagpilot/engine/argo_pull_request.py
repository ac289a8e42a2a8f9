"""Pull/merge request mode of an `ImageUpdater` (`writeBackConfig.gitConfig.pullRequest`).

Upstream pushes the change to `image-updater-<targetKey>-<sha256>` (the hash of the changes, so the same
change always lands on the same branch: pushing it again changes nothing) and opens a request from it
into the base branch: title the commit message's first line, body the rest, with upstream's defaults.
tagpilot does the same through the forge client of the manual path (approvals/forge.py), and goes
where upstream users asked it to: one open request per Application, so when a newer tag makes a new
head branch the older request is closed as superseded; and a request a person closed without merging
is a "no": its tags are not proposed again, so its deleted branch is never re-created (Argo CD Image
Updater #537). The token is the repository credentials' password (a PAT); SSH keys cannot open requests.
"""

from __future__ import annotations

from typing import Any

from tagpilot.approvals import forge
from tagpilot.approvals.book import ApprovalBook
from tagpilot.config.argo_cd import PullRequestMode
from tagpilot.engine.events import Reason
from tagpilot.engine.reconciler import Note

TITLE_MAX, BODY_MAX = 255, 65_536
STATUS_KEY = "pullRequest"


def forge_settings(mode: PullRequestMode, url: str, where: str) -> forge.PullRequestSettings:
    annotations = {forge.ANNOTATION: mode.forge, forge.LABELS_ANNOTATION: ",".join(mode.labels)}
    if mode.api:
        annotations[forge.API_ANNOTATION] = mode.api
    settings = forge.settings_for(annotations, url, where)
    assert settings is not None
    return settings


def token_of(auth: Any, where: str) -> str:
    token = (getattr(auth, "password", None) or getattr(auth, "bearer_token", None) or "") if auth else ""
    if not token:
        raise forge.ForgeError(f"{where}: writeBackConfig.gitConfig.pullRequest needs token credentials (a personal "
                               "access token as the repository Secret's password); SSH keys cannot open requests")
    return str(token)


def title_and_body(message: str, app: Any) -> tuple[str, str]:
    """Upstream's: the first line and the rest of the commit message, else its defaults."""
    first, _, rest = message.strip().partition("\n")
    title = first.strip() or f"chore: update images for {app.namespace}/{app.name}"
    body = rest.strip() or (f"This pull request was created automatically by argocd-image-updater for application "
                            f"{app.namespace}/{app.name}.")
    return title[:TITLE_MAX], body[:BODY_MAX]


async def after_push(app: Any, mode: PullRequestMode, url: str, auth: Any, *, head: str, base: str, message: str,
                     images: list[dict[str, str]], extra: dict[str, Any], where: str) -> list[Note]:
    """Open (or update) the request for `head` → `base`; close the Application's older open one."""
    settings = forge_settings(mode, url, where)
    token = token_of(auth, where)
    title, body = title_and_body(message, app)
    request = await forge.open_or_update(settings, token, head=head, base=base, title=title, body=body)
    notes = [Note(Reason.PULL_REQUEST, f"pull request #{request['number']} {request['action']}: {request['url']}",
                  dict(request))]
    previous = extra.get(STATUS_KEY)
    if previous and previous.get("head") != head and previous.get("number") != request["number"]:
        await forge.close(settings, token, previous["number"])
        notes.append(Note(Reason.PULL_REQUEST, f"pull request #{previous['number']} closed: superseded by "
                          f"#{request['number']}", {**previous, "action": "superseded"}))
    extra[STATUS_KEY] = {**request, "head": head, "base": base, "images": images}
    return notes


async def refuse_closed(app: Any, mode: PullRequestMode, url: str, auth: Any, extra: dict[str, Any],
                        book: ApprovalBook, where: str) -> list[Note]:
    """Before a run: the last request, if a person closed it without merging, makes its tags a "no"."""
    last = extra.get(STATUS_KEY)
    if not last:
        return []
    settings = forge_settings(mode, url, where)
    closed = await forge.closed_state(settings, token_of(auth, where), last)
    if closed is None:
        return []
    if closed == "merged":
        extra.pop(STATUS_KEY, None)
        return []
    book.refuse(app.key, [(i["image"], i["tag"]) for i in last.get("images", [])], f"pull request #{last['number']}")
    extra.pop(STATUS_KEY, None)
    return [Note(Reason.PULL_REQUEST, f"pull request #{last['number']} was closed without merging; its tags are not "
                 "proposed again", {**last, "action": "closed"})]
