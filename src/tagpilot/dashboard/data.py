"""What the dashboard shows, as JSON: the overview rows, an object's detail, timelines, deliveries.

These functions answer the dashboard's read-only API routes (`dashboard/api.py`); the pages render the
very same dictionaries, so everything on a page is also at an API URL (nothing hidden in HTML). They read
the configuration and the store only: no registry or git I/O happens when someone opens a page (the
explanation of a selection re-runs the pure policy on the tags of the last scan).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from tagpilot.config.loader import Config
from tagpilot.engine.keys import ObjectKey
from tagpilot.engine.kinds import KINDS
from tagpilot.engine.status import get_condition
from tagpilot.store.db import Store

HISTORY_PAGE = 50
# reasons recorded on the updating objects that a person reads as "what changed"
CHANGE_REASONS = ("Pushed", "LatestImageChanged", "NewTags", "Suspended", "Resumed", "Deleted")


def ready_of(status: dict[str, Any]) -> tuple[str, str]:
    """("True"/"False"/"Unknown", message) of the Ready condition."""
    condition = get_condition(status, "Ready") or {}
    return str(condition.get("status", "Unknown")), str(condition.get("message", ""))


def badges(view: dict[str, Any]) -> list[str]:
    """Short states a person must notice: suspended, failing, awaiting approval, pinned."""
    status = view.get("status") or {}
    ready, _ = ready_of(status)
    reason = str((get_condition(status, "Ready") or {}).get("reason", ""))
    out = []
    if view.get("suspended"):
        out.append("suspended")
    if reason == "AwaitingApproval":
        out.append("awaiting approval")
    elif ready == "False":
        out.append("failing")
    if status.get("pins") or status.get("hold"):  # tagpilot.approvals' pins; a Promotion's rollback hold
        out.append("pinned")
    return out


def _policy_text(spec: dict[str, Any]) -> str:
    policy = spec.get("policy") or {}
    for name, body in policy.items():
        detail = body.get("range") or body.get("order") or "" if isinstance(body, dict) else ""
        return f"{name} {detail}".strip()
    return "-"


def _last_changes(store: Store, keys: Iterable[ObjectKey]) -> dict[ObjectKey, str]:
    """The time of each object's newest change event among the newest 2,000 changes (one indexed query;
    naming 1,000 objects in its WHERE clause would cost more than reading and skipping)."""
    wanted = set(keys)
    out: dict[ObjectKey, str] = {}
    for event in store.history(None, limit=2000, reasons=CHANGE_REASONS):
        key = (event["kind"], event["namespace"], event["name"])
        if key in wanted and key not in out:
            out[key] = event["time"]
    return out


def overview(config: Config, store: Store) -> dict[str, Any]:
    """One row per image target: automation × policy, Argo Application × image, and policies nothing
    updates; with counts for the header. The shape of `GET /api/v1/overview`."""
    from tagpilot.config.flux_automation import ImageUpdateAutomation, selector_matches
    from tagpilot.config.flux_image import ImagePolicy, ImageRepository

    views = {(v["kind"], v["namespace"], v["name"]): v for v in
             (KINDS.view(config, store, obj) for key, obj in config.objects.items()
              if key[0] not in ("Secret",) and (KINDS.get(key[0]) is None or KINDS.get(key[0]).listed))}  # type: ignore[union-attr]
    policies = {p.key: p for p in config.of_kind(ImagePolicy)}
    repos = {r.key: r for r in config.of_kind(ImageRepository)}
    by_namespace: dict[str, list[ImagePolicy]] = {}
    by_label: dict[tuple[str, str, str], list[ImagePolicy]] = {}
    for policy in policies.values():
        by_namespace.setdefault(policy.namespace, []).append(policy)
        for label in policy.metadata.labels.items():
            by_label.setdefault((policy.namespace, *label), []).append(policy)

    def policy_cells(policy: ImagePolicy) -> dict[str, Any]:
        pview = views.get(policy.key, {})
        repo_ref = policy.spec.image_repository_ref
        repo_key = ("ImageRepository", repo_ref.namespace or policy.namespace, repo_ref.name)
        repo = repos.get(repo_key)
        rstatus = views.get(repo_key, {}).get("status") or {}
        latest = (rstatus.get("lastScanResult") or {}).get("latestTags") or []
        return {"image": repo.spec.image if repo else "-", "policy": f"{policy.namespace}/{policy.name}",
                "policyRule": _policy_text(pview.get("spec") or {}),
                "allowed": ((pview.get("status") or {}).get("latestRef") or {}).get("tag", ""),
                "registry": latest[0] if latest else ""}

    rows: list[dict[str, Any]] = []
    used: set[ObjectKey] = set()
    for auto in sorted(config.of_kind(ImageUpdateAutomation), key=lambda a: a.key):
        view = views.get(auto.key)
        if view is None:
            continue
        status = view.get("status") or {}
        observed = status.get("observedPolicies") or {}
        chosen = [p for p in _candidates(by_label, by_namespace, auto)
                  if selector_matches(auto.spec.policy_selector, p.metadata.labels)]
        for policy in sorted(chosen, key=lambda p: p.key) or [None]:
            cells = policy_cells(policy) if policy else {"image": "-", "policy": "-", "policyRule": "-",
                                                          "allowed": "", "registry": ""}
            if policy:
                used.add(policy.key)
            deployed = (observed.get(policy.name) or {}).get("tag", "") if policy else ""
            rows.append(_row(view, cells, deployed))
    for key, view in sorted(views.items()):
        if key[0] in ("Application", "ImageUpdater", "Promotion"):
            images = (view.get("status") or {}).get("images") or [{}]
            for image in images:
                rows.append(_row(view, {"image": image.get("image", "-"), "policy": image.get("alias", "-"),
                                        "policyRule": image.get("strategy", "-"),
                                        "allowed": image.get("selectedTag", ""), "registry": ""},
                                 image.get("currentTag", "")))
    for key, policy in sorted(policies.items()):
        if key not in used and key in views:
            rows.append(_row(views[key], policy_cells(policy), ""))
    changed = _last_changes(store, {(r["kind"], r["namespace"], r["name"]) for r in rows})
    for row in rows:
        row["lastChange"] = changed.get((row["kind"], row["namespace"], row["name"]), "")
    counts = {"targets": len(rows), "objects": len(views),
              "ready": sum(1 for r in rows if r["ready"] == "True"),
              "failing": sum(1 for r in rows if "failing" in r["badges"]),
              "suspended": sum(1 for r in rows if "suspended" in r["badges"]),
              "awaitingApproval": sum(1 for r in rows if "awaiting approval" in r["badges"]),
              "behind": sum(1 for r in rows if r["allowed"] and r["deployed"] and r["allowed"] != r["deployed"])}
    return {"counts": counts, "rows": rows}


def _candidates(by_label: dict[tuple[str, str, str], list[Any]], by_namespace: dict[str, list[Any]],
                auto: Any) -> list[Any]:
    """The policies an automation may select: through one of its matchLabels when it has some (an
    index lookup, so 1,000 automations do not each scan every policy), else its namespace's."""
    selector = auto.spec.policy_selector
    if selector is not None and selector.match_labels:
        return by_label.get((auto.namespace, *next(iter(selector.match_labels.items()))), [])
    return by_namespace.get(auto.namespace, [])


def _row(view: dict[str, Any], cells: dict[str, Any], deployed: str) -> dict[str, Any]:
    ready, message = ready_of(view.get("status") or {})
    return {"kind": view["kind"], "namespace": view["namespace"], "name": view["name"], **cells,
            "deployed": deployed, "ready": ready, "message": message, "badges": badges(view)}


# --- one object -----------------------------------------------------------------------------------

_WEB_HOSTS = {"github.com": "{base}/commit/{sha}", "gitlab.com": "{base}/-/commit/{sha}",
              "bitbucket.org": "{base}/commits/{sha}", "codeberg.org": "{base}/commit/{sha}"}
_SCP = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")


def commit_url(git_url: str, sha: str) -> str | None:
    """The web page of `sha` when the GitRepository URL is on a known forge (GitHub, GitLab,
    Bitbucket, Codeberg; `ssh://`, `https://` and `git@host:path` forms), else None."""
    if not re.fullmatch(r"[0-9a-f]{7,64}", sha or ""):
        return None
    scp = _SCP.match(git_url) if "://" not in git_url else None
    if scp:
        host, path = scp["host"], scp["path"]
    else:
        parts = urlsplit(git_url)
        host, path = (parts.hostname or ""), parts.path
    host = host.lower()
    template = _WEB_HOSTS.get(host) or ("{base}/-/commit/{sha}" if host.startswith("gitlab.") else None)
    path = path.strip("/").removesuffix(".git")
    if template is None or not re.fullmatch(r"[\w.-]+(/[\w.-]+)+", path):
        return None
    return template.format(base=f"https://{host}/{path}", sha=sha)


def explanation(config: Config, store: Store, key: ObjectKey) -> dict[str, Any] | None:
    """For an ImagePolicy: the tags of the last scan and the verdict on each (why every other tag
    lost), from the pure policy; None for other kinds. Policies that need image metadata are
    explained without it (their verdicts say so)."""
    from tagpilot.config.flux_image import ImagePolicy, ImageRepository
    from tagpilot.engine.scan import tags_key
    from tagpilot.errors import TagpilotError
    from tagpilot.policy import SelectionFailed
    from tagpilot.policy.factory import from_flux_spec

    policy = config.get(ImagePolicy, key[1], key[2]) if key[0] == "ImagePolicy" else None
    if policy is None:
        return None
    ref = policy.spec.image_repository_ref
    repo = config.get(ImageRepository, ref.namespace or policy.namespace, ref.name)
    tags = store.get_tags(tags_key(repo)) if repo else None
    if tags is None:
        return {"tags": 0, "selected": None, "verdicts": [], "error": "the ImageRepository has not been scanned yet"}
    try:
        chosen = from_flux_spec(policy.policy_dict())
        if chosen.needs_metadata:
            return {"tags": len(tags), "selected": None, "verdicts": [],
                    "error": "this policy orders by image metadata: run `tagpilot policy test --explain`"}
        selection = chosen.select(tags, explain=True)
        selected, verdicts, error = selection.tag, selection.verdicts or [], None
    except SelectionFailed as exc:
        selected, verdicts, error = None, exc.verdicts or [], str(exc)
    except TagpilotError as exc:
        selected, verdicts, error = None, [], str(exc)
    return {"tags": len(tags), "selected": selected, "error": error,
            "verdicts": [{"tag": v.tag, "outcome": v.outcome, "detail": v.detail} for v in verdicts]}


def last_push(config: Config, store: Store, key: ObjectKey) -> dict[str, Any] | None:
    """The newest Pushed event of an updating object: commit, message, the changed lines as a diff,
    and the commit's web page when the GitRepository maps to one."""
    found = store.history([key], limit=1, reasons=("Pushed",))
    if not found:
        return None
    data = found[0]["data"]
    sha = str(data.get("commit", ""))
    diff = [{"file": c.get("file", ""), "line": c.get("line"), "old": c.get("old", ""), "new": c.get("new", "")}
            for c in data.get("changes") or []]
    return {"id": found[0]["id"], "time": found[0]["time"], "commit": sha, "branch": data.get("branch", ""),
            "message": data.get("commitMessage", ""), "files": data.get("files") or [], "diff": diff,
            "url": _commit_link(config, key, sha)}


def _commit_link(config: Config, key: ObjectKey, sha: str) -> str | None:
    obj = config.objects.get(key)
    spec = getattr(obj, "spec", None)
    source_ref = getattr(spec, "source_ref", None)
    if source_ref is not None:
        from tagpilot.config.flux_source import GitRepository

        repo = config.get(GitRepository, getattr(source_ref, "namespace", None) or key[1], source_ref.name)
        return commit_url(repo.spec.url, sha) if repo else None
    url = getattr(getattr(spec, "source", None), "repo_url", None)
    return commit_url(url, sha) if isinstance(url, str) else None


def object_detail(config: Config, store: Store, view: dict[str, Any]) -> dict[str, Any]:
    """Everything the object page shows: the view, Ready, badges, the explanation, the last push."""
    key = (view["kind"], view["namespace"], view["name"])
    ready, message = ready_of(view.get("status") or {})
    return {"object": view, "ready": ready, "message": message, "badges": badges(view),
            "explanation": explanation(config, store, key), "lastPush": last_push(config, store, key),
            "latestScan": (view.get("status") or {}).get("lastScanResult")}


# --- timelines ------------------------------------------------------------------------------------


def related_keys(config: Config, image: str) -> list[ObjectKey]:
    """The objects whose events make up an image's history: its ImageRepositories, their policies, the
    automations selecting those, and Argo Applications naming the image."""
    from tagpilot.config.flux_automation import ImageUpdateAutomation, selector_matches
    from tagpilot.config.flux_image import ImagePolicy, ImageRepository

    repos = [r for r in config.of_kind(ImageRepository) if r.spec.image == image]
    repo_keys = {(r.namespace, r.name) for r in repos}
    policies = [p for p in config.of_kind(ImagePolicy)
                if ((p.spec.image_repository_ref.namespace or p.namespace), p.spec.image_repository_ref.name)
                in repo_keys]
    keys: list[ObjectKey] = [r.key for r in repos] + [p.key for p in policies]
    for auto in config.of_kind(ImageUpdateAutomation):
        if any(p.namespace == auto.namespace and selector_matches(auto.spec.policy_selector, p.metadata.labels)
               for p in policies):
            keys.append(auto.key)
    for key, obj in config.objects.items():
        if key[0] in ("Application", "ImageUpdater") and image in str(getattr(obj, "metadata", "")):
            keys.append(key)
    return keys


def cause(event: dict[str, Any]) -> str:
    """Who or what caused an event, for the timeline's "by" column."""
    data = event.get("data") or {}
    for field in ("by", "approver", "actor", "author"):
        if data.get(field):
            return str(data[field])
    if event["reason"] in ("NewTags",):
        return "scan"
    if event["reason"] in ("LatestImageChanged",):
        return "policy"
    if event["reason"] == "Pushed":
        return f"{event['kind']} {event['name']}"
    return "tagpilot" if event["type"] == "Normal" else "failure"


def history(config: Config, store: Store, *, image: str | None = None, environment: str | None = None,
            key: ObjectKey | None = None, namespace: str | None = None, before: int = 0,
            limit: int = HISTORY_PAGE) -> dict[str, Any]:
    """A page of a timeline, newest first, and the cursor of the next page (`before`), null at the end.
    The shape of `GET /api/v1/history`."""
    keys: list[ObjectKey] | None = None
    if image:
        keys = related_keys(config, image)
    elif key:
        keys = [key]
    items = store.history(keys, before_id=before, limit=limit + 1, namespace=namespace,
                          data_equals=("environment", environment) if environment else None)
    more = len(items) > limit
    items = items[:limit]
    for item in items:
        item["by"] = cause(item)
    return {"items": items, "next": items[-1]["id"] if more and items else None}


def images(config: Config) -> list[str]:
    """Every image a repository scans (the per-image timeline's choices)."""
    from tagpilot.config.flux_image import ImageRepository

    return sorted({r.spec.image for r in config.of_kind(ImageRepository)})


def deliveries(store: Store, limit: int = 100) -> dict[str, Any]:
    """The notification outbox (argocd-notifications/Flux Alerts sends: state, attempts, last error)
    and the newest webhook deliveries tagpilot answered. The shape of `GET /api/v1/delivery-log`."""
    outbox = store.outbox()[-limit:]
    outbox.reverse()
    return {"notifications": outbox, "webhooks": store.deliveries(limit=limit)}
