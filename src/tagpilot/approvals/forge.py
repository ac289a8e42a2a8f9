"""Pull/merge requests for an automation that pushes to a branch of its own (GitHub, GitLab, Gitea REST APIs).

Flux pushes to `spec.git.push.branch` when it differs from the checkout branch, and stops there;
`tagpilot.dev/pull-request: github|gitlab|gitea` makes tagpilot open the request too, or update the one
already open for that head and base in place (title and body name the newest tags) where upstream
tools skip the cycle. The token is the GitRepository Secret's `token` (else `password`), sent only in
a header, never in a URL or a message. `tagpilot.dev/pull-request-api` overrides the API's base URL
(GitHub Enterprise, a self-hosted GitLab or Gitea; tests point it at a stand-in server),
`tagpilot.dev/pull-request-labels: "a,b"` adds labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from tagpilot.errors import TagpilotError

KINDS = ("github", "gitlab", "gitea")
ANNOTATION = "tagpilot.dev/pull-request"
API_ANNOTATION = "tagpilot.dev/pull-request-api"
LABELS_ANNOTATION = "tagpilot.dev/pull-request-labels"
TIMEOUT = 30.0


class ForgeError(TagpilotError):
    reason = "PullRequestFailed"


@dataclass(frozen=True)
class PullRequestSettings:
    kind: str
    api: str
    owner: str
    repo: str
    labels: tuple[str, ...]


def settings_for(annotations: dict[str, str], git_url: str, where: str) -> PullRequestSettings | None:
    """The pull-request settings of an object, or None; a value nobody can mean is an error naming it."""
    kind = annotations.get(ANNOTATION)
    if kind is None:
        for name in (API_ANNOTATION, LABELS_ANNOTATION):
            if name in annotations:
                raise ForgeError(f"{where}: {name} does nothing without {ANNOTATION}: github|gitlab|gitea")
        return None
    if kind not in KINDS:
        raise ForgeError(f"{where}: {ANNOTATION}: {kind!r}; write one of {', '.join(KINDS)}")
    scp_like = "://" not in git_url and ":" in git_url  # git@host:owner/repo.git
    parts = urlsplit("ssh://" + git_url.replace(":", "/", 1) if scp_like else git_url)
    path = parts.path.strip("/").removesuffix(".git").split("/")
    if len(path) < 2:
        raise ForgeError(f"{where}: cannot tell owner/repository from the GitRepository URL")
    host = parts.hostname or ""
    default = {"github": "https://api.github.com", "gitlab": f"https://{host}/api/v4",
               "gitea": f"https://{host}/api/v1"}[kind]
    api = annotations.get(API_ANNOTATION, default).rstrip("/")
    if not api.startswith(("https://", "http://")):
        raise ForgeError(f"{where}: {API_ANNOTATION}: {api!r} is not an http(s) URL")
    labels = tuple(x.strip() for x in annotations.get(LABELS_ANNOTATION, "").split(",") if x.strip())
    owner = "/".join(path[:-1]) if kind == "gitlab" else path[-2]  # GitLab groups nest
    return PullRequestSettings(kind, api, owner, path[-1], labels)


async def open_or_update(settings: PullRequestSettings, token: str, *, head: str, base: str, title: str,
                         body: str) -> dict[str, Any]:
    """One open request per head and base: created, or its title and body updated in place.
    Returns {"number", "url", "action": "opened"|"updated"}."""
    async with httpx.AsyncClient(base_url=settings.api, headers=_headers(settings, token),
                                 timeout=TIMEOUT) as client:
        try:
            if settings.kind == "gitlab":
                return await _gitlab(client, settings, head, base, title, body)
            return await _github_or_gitea(client, settings, head, base, title, body)
        except httpx.HTTPError as exc:
            raise ForgeError(f"{settings.kind} API at {settings.api}: {exc.__class__.__name__}") from None


def _check(response: httpx.Response, what: str, shape: type = dict, key: str | None = None) -> Any:
    """The JSON answer, of the `shape` expected (with `key`), else a ForgeError saying what came."""
    if response.status_code >= 400:
        raise ForgeError(f"{what}: the forge answered {response.status_code}: {response.text[:200]}")
    try:
        value = response.json() if response.content else shape()
    except ValueError:
        value = None
    if not isinstance(value, shape) or (key is not None and key not in value):
        raise ForgeError(f"{what}: unexpected answer from the forge ({response.status_code}): {response.text[:200]}")
    return value


async def _github_or_gitea(client: httpx.AsyncClient, s: PullRequestSettings, head: str, base: str, title: str,
                           body: str) -> dict[str, Any]:
    pulls = f"/repos/{s.owner}/{s.repo}/pulls"
    query = {"state": "open", "base": base, **({"head": f"{s.owner}:{head}"} if s.kind == "github" else {})}
    found = _check(await client.get(pulls, params=query), "listing pull requests", list)
    mine = [p for p in found if isinstance(p, dict) and "number" in p and (s.kind == "github" or (
        p.get("head", {}).get("ref") == head and p.get("base", {}).get("ref") == base))]
    if mine:
        number = mine[0]["number"]
        _check(await client.patch(f"{pulls}/{number}", json={"title": title, "body": body}), "updating the request")
        return {"number": number, "url": mine[0].get("html_url", ""), "action": "updated"}
    payload: dict[str, Any] = {"title": title, "body": body, "head": head, "base": base}
    created = _check(await client.post(pulls, json=payload), "opening the pull request", dict, "number")
    number = created["number"]
    if s.labels and s.kind == "github":  # GitHub adds labels afterwards, through the issue
        _check(await client.post(f"/repos/{s.owner}/{s.repo}/issues/{number}/labels",
                                 json={"labels": list(s.labels)}), "labelling the pull request", list)
    return {"number": number, "url": created.get("html_url", ""), "action": "opened"}


async def _gitlab(client: httpx.AsyncClient, s: PullRequestSettings, head: str, base: str, title: str,
                  body: str) -> dict[str, Any]:
    project = f"/projects/{quote(s.owner + '/' + s.repo, safe='')}/merge_requests"
    found = _check(await client.get(project, params={"state": "opened", "source_branch": head,
                                                     "target_branch": base}), "listing merge requests", list)
    found = [m for m in found if isinstance(m, dict) and "iid" in m]
    if found:
        iid = found[0]["iid"]
        _check(await client.put(f"{project}/{iid}", json={"title": title, "description": body}),
               "updating the merge request")
        return {"number": iid, "url": found[0].get("web_url", ""), "action": "updated"}
    created = _check(await client.post(project, json={"source_branch": head, "target_branch": base, "title": title,
                                                      "description": body, "labels": ",".join(s.labels)}),
                     "opening the merge request", dict, "iid")
    return {"number": created["iid"], "url": created.get("web_url", ""), "action": "opened"}


async def after_push(obj: Any, git_url: str, secret: Any, *, branch: str | None, base: str | None,
                     message: str, where: str) -> dict[str, Any] | None:
    """The automation pushed `message` to `branch`: open or update its request against `base`.
    None when the object asks for no request (or pushed to its checkout branch)."""
    settings = settings_for(dict(obj.metadata.annotations or {}), git_url, where)
    if settings is None:
        return None
    if not branch or not base or branch == base:
        raise ForgeError(f"{where}: {ANNOTATION} needs spec.git.push.branch different from the checkout branch")
    token = _token(secret, where)
    title, _, rest = message.strip().partition("\n")
    body = rest.strip() or f"This pull request was created automatically by tagpilot for {where}."
    return await open_or_update(settings, token, head=branch, base=base, title=title, body=body)


async def closed_without_merge(obj: Any, git_url: str, secret: Any, last: dict[str, Any] | None,
                               where: str) -> dict[str, Any] | None:
    """The request tagpilot opened last, when a person closed it without merging; else None.

    Such a request is the reviewers' "no" (Renovate remembers it too): its tags are not proposed
    again, so a deleted branch is not re-created for them (Argo CD Image Updater #537)."""
    settings = settings_for(dict(obj.metadata.annotations or {}), git_url, where)
    if settings is None or not last or "number" not in last:
        return None
    state = await closed_state(settings, _token(secret, where), last)
    return {**last, "state": "closed"} if state == "closed" else None


def _request_path(settings: PullRequestSettings, number: Any) -> str:
    return (f"/projects/{quote(settings.owner + '/' + settings.repo, safe='')}/merge_requests/{number}"
            if settings.kind == "gitlab" else f"/repos/{settings.owner}/{settings.repo}/pulls/{number}")


async def closed_state(settings: PullRequestSettings, token: str, last: dict[str, Any]) -> str | None:
    """"merged", "closed" (without merging) or None (still open) for the request `last` names."""
    number = last["number"]
    async with httpx.AsyncClient(base_url=settings.api, headers=_headers(settings, token), timeout=TIMEOUT) as client:
        try:
            found = _check(await client.get(_request_path(settings, number)), f"reading request #{number}", dict,
                           "state")
        except httpx.HTTPError as exc:
            raise ForgeError(f"{settings.kind} API at {settings.api}: {exc.__class__.__name__}") from None
    state = found["state"]
    if bool(found.get("merged")) or state == "merged":
        return "merged"
    return None if state in ("open", "opened") else "closed"


async def close(settings: PullRequestSettings, token: str, number: Any) -> None:
    """Close an open request (superseded by a newer one): GitHub/Gitea `state: closed`, GitLab `state_event`."""
    async with httpx.AsyncClient(base_url=settings.api, headers=_headers(settings, token), timeout=TIMEOUT) as client:
        try:
            if settings.kind == "gitlab":
                response = await client.put(_request_path(settings, number), json={"state_event": "close"})
            else:
                response = await client.patch(_request_path(settings, number), json={"state": "closed"})
        except httpx.HTTPError as exc:
            raise ForgeError(f"{settings.kind} API at {settings.api}: {exc.__class__.__name__}") from None
    _check(response, f"closing request #{number}")


def _token(secret: Any, where: str) -> str:
    values = secret.values() if secret is not None else {}
    token = values.get("token") or values.get("password")
    if not token:
        raise ForgeError(f"{where}: {ANNOTATION} needs an API token: add `token` to the GitRepository's Secret")
    return token.decode("utf-8", "replace").strip() if isinstance(token, bytes) else str(token).strip()


def _headers(settings: PullRequestSettings, token: str) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "tagpilot"}
    if settings.kind == "github":
        headers["Authorization"] = f"Bearer {token}"
    elif settings.kind == "gitlab":
        headers["PRIVATE-TOKEN"] = token
    else:
        headers["Authorization"] = f"token {token}"
    return headers
