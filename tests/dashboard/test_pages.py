"""The dashboard's pages and read API over HTTP against a real daemon (registry + git)."""

from __future__ import annotations

import html
import re

import httpx

from tests.dashboard.conftest import ADMIN, HOSTILE, VIEWER, Dashboard

AUTOMATION = "/objects/ImageUpdateAutomation/apps/fleet"
SUSPEND = "/api/v1/objects/ImageRepository/apps/app/suspend"


def test_overview_lists_each_image_target_with_its_tags(dash: Dashboard) -> None:
    page = dash.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    text = page.text
    assert dash.image in text and "apps/fleet" in text
    overview = dash.get("/api/v1/overview").json()
    row = next(r for r in overview["rows"] if r["kind"] == "ImageUpdateAutomation")
    assert (row["deployed"], row["allowed"], row["ready"]) == ("1.1.0", "1.1.0", "True")
    assert row["registry"] in ("latest", "2.0.0-rc.1", "1.1.0")  # Flux's latestTags order (reverse alphabetical)
    assert overview["counts"]["targets"] == len(overview["rows"]) >= 1
    # every card is served and says it is empty (nothing gated, pinned or promoted here); tokens never show
    for empty in ("no pending approval requests", "nothing is pinned", "no environments"):
        assert empty in text
    assert ADMIN not in text and VIEWER not in text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_policy_page_explains_why_every_other_tag_lost(dash: Dashboard) -> None:
    text = dash.get("/objects/ImagePolicy/apps/app").text
    assert 'class="selected">1.1.0<' in text
    verdicts = dash.get("/api/v1/objects/ImagePolicy/apps/app/detail").json()["explanation"]["verdicts"]
    outcomes = {v["tag"]: v["outcome"] for v in verdicts}
    assert outcomes == {"1.0.0": "lower", "1.1.0": "selected", "2.0.0-rc.1": "prerelease", "latest": "not-semver"}
    detail = next(v["detail"] for v in verdicts if v["tag"] == "latest")
    assert detail.replace("'", "&#39;") in text  # the sentence of the losing tag, escaped


def test_hostile_commit_message_is_text_on_every_page(dash: Dashboard) -> None:
    detail = dash.get(f"/api/v1{AUTOMATION}/detail").json()
    assert HOSTILE in detail["lastPush"]["message"]  # the real commit carried it
    assert detail["lastPush"]["commit"] == dash.remote.head("main")
    assert any(c["new"].endswith("1.1.0") for c in detail["lastPush"]["diff"])
    for path in (AUTOMATION, "/", "/history"):
        text = dash.get(path).text
        assert "<script>alert" not in text and "<img src=x" not in text, path
    page = dash.get(AUTOMATION).text
    assert html.escape(HOSTILE, quote=False) in page or "&lt;script&gt;alert(&#34;xss&#34;)" in page


def test_history_is_paged_newest_first_with_its_cause(dash: Dashboard) -> None:
    first = dash.get("/api/v1/history", params={"image": dash.image, "limit": 2}).json()
    assert len(first["items"]) == 2 and first["next"] == first["items"][-1]["id"]
    second = dash.get("/api/v1/history", params={"image": dash.image, "limit": 2, "before": first["next"]}).json()
    assert all(e["id"] < first["next"] for e in second["items"])
    everything = dash.get("/api/v1/history", params={"image": dash.image, "limit": 500}).json()
    reasons = [e["reason"] for e in everything["items"]]
    assert {"NewTags", "LatestImageChanged", "Pushed"} <= set(reasons)
    assert [e["id"] for e in everything["items"]] == sorted((e["id"] for e in everything["items"]), reverse=True)
    assert next(e for e in everything["items"] if e["reason"] == "NewTags")["by"] == "scan"
    assert dash.get("/api/v1/history", params={"image": "nowhere/none"}).json() == {"items": [], "next": None}
    page = dash.get("/history", params={"image": dash.image}).text
    assert "Pushed" in page and "LatestImageChanged" in page


def test_assets_and_api_reference_come_from_the_daemon(dash: Dashboard) -> None:
    docs = dash.get("/docs").text
    assert not re.search(r"https?://", re.sub(r'href="/[^"]*"', "", docs).split("<footer")[0].split("<main")[1])
    assert 'src="/static/dashboard.js"' in docs
    js = dash.get("/static/dashboard.js")
    assert js.status_code == 200 and "EventSource" in js.text
    assert "/api/v1/overview" in dash.get("/openapi.json").json()["paths"]


def test_reads_need_a_token_and_changes_need_admin(dash: Dashboard) -> None:
    daemon = dash.daemon
    assert dash.get("/api/v1/overview", token=None).status_code == 401
    redirect = dash.get("/", token=None, headers={"Accept": "text/html"}, follow_redirects=False)
    assert redirect.status_code == 303 and redirect.headers["location"] == "/login?next=/"
    assert dash.get("/healthz", token=None).status_code == 200
    assert daemon.post(SUSPEND, json={}, auth=False).status_code == 401
    viewer = daemon.post(SUSPEND, json={}, auth=False, headers={"Authorization": f"Bearer {VIEWER}"})
    assert viewer.status_code == 403 and "victor" in viewer.text and VIEWER not in viewer.text
    assert daemon.post(SUSPEND, json={}, auth=False, headers={"Authorization": "Bearer wrong-token-123456789"}
                       ).status_code == 401
    assert dash.get("/api/v1/objects/ImageRepository/apps/app", token=None).status_code == 401

    # a browser session: the cookie alone cannot change anything (CSRF), with the page's token it can
    with httpx.Client(base_url=daemon.url, timeout=10) as browser:
        bad = browser.post("/login", data={"token": "nope-nope-nope-nope"})
        assert bad.status_code == 401 and "unknown token" in bad.text
        login = browser.post("/login", data={"token": ADMIN, "next": "https://evil.example/"})
        assert login.status_code == 303 and login.headers["location"] == "/"  # no open redirect
        page = browser.get("/objects/ImageRepository/apps/app")
        csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)[1]  # type: ignore[index]
        assert "Suspend" in page.text
        assert browser.post(SUSPEND, json={}).status_code == 403
        done = browser.post(SUSPEND, json={}, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200
        assert browser.post(SUSPEND.replace("suspend", "resume"), json={}, headers={"X-CSRF-Token": csrf}
                            ).status_code == 200
    events = dash.get("/api/v1/history", params={"kind": "ImageRepository", "namespace": "apps",
                                                 "name": "app", "limit": 2}).json()["items"]
    assert [(e["reason"], e["by"]) for e in events] == [("Resumed", "alice"), ("Suspended", "alice")]
    # a viewer's page offers no buttons
    assert "Suspend</button>" not in dash.get("/objects/ImageRepository/apps/app", token=VIEWER).text
