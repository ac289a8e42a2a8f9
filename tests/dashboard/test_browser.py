"""The dashboard in Debian's Chromium (Playwright): rows render, a live update arrives without a
reload, the Suspend button works for an admin session and is absent for a viewer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.dashboard.conftest import ADMIN, VIEWER, Dashboard
from tests.fixtures.pusher import push_tags


def login(browser: Any, dash: Dashboard, token: str, target: str = "/") -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{dash.daemon.url}/login?next={target}")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{dash.daemon.url}{target}")
    return page


def test_overview_renders_rows(browser: Any, dash: Dashboard, shots: Path) -> None:
    page = login(browser, dash, VIEWER)
    row = page.locator("#overview tr.row", has_text="apps/fleet")
    assert row.count() == 1
    assert "1.1.0" in row.inner_text()
    page.get_by_label("Search").fill("no-such-thing")
    assert page.locator("#overview tr.row:visible").count() == 0  # the filter works client-side
    page.get_by_label("Search").fill("")
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the table scrolls, nothing overlaps
    page.screenshot(path=str(shots / "overview-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # the page itself never scrolls sideways
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{dash.daemon.url}/objects/ImagePolicy/apps/app")
    assert page.locator("table.verdicts tr.v-prerelease").count() == 1
    page.screenshot(path=str(shots / "policy.png"), full_page=True)
    page.goto(f"{dash.daemon.url}/history?image={dash.image}")
    page.screenshot(path=str(shots / "history.png"), full_page=True)
    page.goto(f"{dash.daemon.url}/docs")  # the API reference, drawn by the package's script from /openapi.json
    page.locator("#apidocs summary", has_text="/api/v1/overview").wait_for(timeout=10_000)
    assert page.locator("#apidocs summary").count() >= 15
    page.screenshot(path=str(shots / "api-docs.png"), full_page=True)
    page.close()


def test_a_new_event_appears_without_reload(browser: Any, dash: Dashboard, shots: Path) -> None:
    page = login(browser, dash, VIEWER)
    page.wait_for_function("document.getElementById('live-state').dataset.state === 'live'")
    page.evaluate("window.__notReloaded = true")
    push_tags(dash.registry, dash.repo, ["1.2.0"])
    response = dash.daemon.post("/api/v1/objects/ImageRepository/apps/app/reconcile", json={},
                                headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 202
    row = page.locator("#overview tr.row", has_text="apps/fleet")
    row.locator("td.tag.allowed", has_text="1.2.0").wait_for(timeout=20_000)  # the policy's event
    dash.daemon.wait(lambda: "1.2.0" in dash.remote.read_file("deploy/app.yaml", "main"), what="push of 1.2.0")
    row.locator("td.tag.deployed", has_text="1.2.0").wait_for(timeout=20_000)  # the Pushed event
    assert page.evaluate("window.__notReloaded") is True  # updated in place, not by a reload
    page.screenshot(path=str(shots / "overview-live.png"), full_page=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{dash.daemon.url}/objects/ImageUpdateAutomation/apps/fleet")
    assert "<script>alert" in page.locator("pre.commit-message").inner_text()  # shown as text...
    page.wait_for_timeout(300)
    assert dialogs == []  # ...and never run
    page.screenshot(path=str(shots / "automation.png"), full_page=True)
    page.close()


def test_suspend_button_works_with_auth(browser: Any, dash: Dashboard, shots: Path) -> None:
    target = "/objects/ImageRepository/apps/app"
    viewer = login(browser, dash, VIEWER, target)
    assert viewer.get_by_role("button", name="Suspend").count() == 0
    viewer.close()
    page = login(browser, dash, ADMIN, target)
    page.get_by_role("button", name="Suspend").click()
    page.get_by_text("Suspend: done").wait_for(timeout=10_000)
    assert dash.get("/api/v1/objects/ImageRepository/apps/app").json()["suspended"] is True
    page.get_by_role("button", name="Resume").wait_for(timeout=10_000)  # the live region re-rendered
    page.screenshot(path=str(shots / "repository-suspended.png"), full_page=True)
    page.get_by_role("button", name="Resume").click()
    page.get_by_role("button", name="Suspend").wait_for(timeout=10_000)
    assert dash.get("/api/v1/objects/ImageRepository/apps/app").json()["suspended"] is False
    page.close()
