"""Pure parts of the dashboard and its authentication: commit links, the token Secret, roles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request  # module level: FastAPI resolves the handlers' annotations here

from tagpilot.config.loader import load_config
from tagpilot.dashboard.data import commit_url
from tagpilot.errors import ConfigError
from tagpilot.server.auth import parse_auth_secret, required_role

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://github.com/acme/fleet.git", f"https://github.com/acme/fleet/commit/{SHA}"),
    ("ssh://git@github.com/acme/fleet", f"https://github.com/acme/fleet/commit/{SHA}"),
    ("git@gitlab.com:group/sub/fleet.git", f"https://gitlab.com/group/sub/fleet/-/commit/{SHA}"),
    ("https://gitlab.example.org/a/b", f"https://gitlab.example.org/a/b/-/commit/{SHA}"),
    ("file:///tmp/fleet.git", None),
    ("https://git.internal/a/b", None),
    ("https://github.com/acme/fleet\"><script>", None),
])
def test_commit_links_only_for_known_forges(url: str, expected: str | None) -> None:
    assert commit_url(url, SHA) == expected


def test_commit_link_refuses_a_non_hex_commit() -> None:
    assert commit_url("https://github.com/a/b", "javascript:alert(1)") is None


def _config(tmp_path, string_data: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "c.yaml"
    path.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: t, namespace: ns}\n"
                    f"stringData: {string_data}\n")
    return load_config([path])


def test_token_secret_roles_and_refusals(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tokens = parse_auth_secret(_config(tmp_path, '{alice: "approver:abcdefghijklmnop"}'), "ns/t")
    assert tokens["abcdefghijklmnop"].name == "alice" and tokens["abcdefghijklmnop"].may("viewer")
    assert not tokens["abcdefghijklmnop"].may("admin")
    for data, needle in (('{bob: "root:abcdefghijklmnop"}', "'bob'"), ('{bob: "admin:short"}', "shorter"),
                         ('{a: "admin:abcdefghijklmnop", b: "viewer:abcdefghijklmnop"}', "same token")):
        with pytest.raises(ConfigError, match=needle) as caught:
            parse_auth_secret(_config(tmp_path, data), "ns/t")
        assert "abcdefghijklmnop" not in str(caught.value)  # never the token itself
    with pytest.raises(ConfigError, match="not in the configuration"):
        parse_auth_secret(_config(tmp_path, "{}"), "ns/other")


def test_roles_per_route() -> None:
    assert required_role("POST", "/api/v1/objects/ImagePolicy/a/b/suspend", False) == "admin"
    assert required_role("POST", "/api/v1/approvals/7/approve", False) == "approver"
    assert required_role("GET", "/api/v1/overview", False) is None
    assert required_role("GET", "/api/v1/overview", True) == "viewer"
    assert required_role("POST", "/hook/abc", True) is None
    assert required_role("GET", "/healthz", True) is None


def test_run_refuses_a_missing_auth_secret_and_keeps_no_lock(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.registry import free_port
    from tests.integration.cli import run_tagpilot

    config = tmp_path / "c.yaml"
    config.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: t, namespace: ns}\n"
                      "stringData: {alice: 'admin:abcdefghijklmnopq'}\n")
    args = ("run", "-f", config, "--state", tmp_path / "state", "--listen", f"127.0.0.1:{free_port()}")
    result = run_tagpilot(*args, "--auth-secret", "ns/tokens", timeout=30)
    assert result.code == 2
    assert "Secret ns/tokens is not in the configuration" in result.stderr
    assert "abcdefghijklmnopq" not in result.stderr + result.stdout
    assert not (tmp_path / "state" / "daemon.json").exists()


def test_overview_template_escapes_every_field() -> None:
    """Object names are DNS-1123 checked at load, but nothing on a page relies on that."""
    from tagpilot.dashboard.pages import TEMPLATES

    evil = '"><script>alert(1)</script>'
    row = {key: evil for key in ("kind", "namespace", "name", "image", "policy", "policyRule", "allowed",
                                 "registry", "deployed", "ready", "message", "lastChange")}
    row["badges"] = [evil]
    page = TEMPLATES.get_template("overview.html").render(
        data={"counts": {k: 0 for k in ("targets", "ready", "behind", "failing", "suspended", "awaitingApproval")},
              "rows": [row]},
        cards=[], deliveries={"notifications": [{"service": evil, "recipient": evil, "state": evil, "trigger": evil,
                                                 "attempts": 1, "last_error": evil}], "webhooks": []},
        user=None, csrf="", version="t", path="/", may=lambda _role: False)
    assert "<script>alert" not in page and '&#34;&gt;' in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 12


def test_history_pages_by_environment_and_deliveries_list_the_outbox(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tagpilot.config.loader import Config
    from tagpilot.dashboard import data
    from tagpilot.store import Store

    with Store.open(tmp_path / "state") as store:
        for n in range(5):
            store.add_event("Promotion", "apps", "web", "Normal", "Promoted", f"step {n}",
                            {"environment": "prod" if n % 2 else "test", "by": "alice"})
        store.outbox_add("ImagePolicy", "apps", "app", "on-pushed", "slack", "#ops", "k1", {"text": "x"}, 1.0)
        first = data.history(Config(), store, environment="prod", limit=1)
        assert [e["message"] for e in first["items"]] == ["step 3"] and first["items"][0]["by"] == "alice"
        rest = data.history(Config(), store, environment="prod", before=first["next"], limit=5)
        assert [e["message"] for e in rest["items"]] == ["step 1"] and rest["next"] is None
        log = data.deliveries(store)
        sends = [(n["service"], n["recipient"], n["state"]) for n in log["notifications"]]
        assert sends == [("slack", "#ops", "pending")]


async def test_a_card_lists_its_route_when_served_and_offers_its_buttons() -> None:
    """The wiring other features rely on: add GET /api/v1/approvals and the card shows its rows."""
    from tagpilot.dashboard.cards import CARDS
    from tagpilot.dashboard.pages import _card

    app = FastAPI()

    @app.get("/api/v1/approvals")
    async def approvals():  # type: ignore[no-untyped-def]
        return [{"id": "7/x", "object": "ImageUpdateAutomation/apps/fleet", "state": "pending"},
                {"id": "8", "object": "ImageUpdateAutomation/apps/fleet", "state": "approved"}]

    @app.get("/cards")
    async def cards(request: Request):  # type: ignore[no-untyped-def]
        out = []
        for card in CARDS:
            shown = await _card(request, card)
            out.append({"title": card.title, "rows": None if shown["rows"] is None else
                        [[path for _action, path in r["actions"]] for r in shown["rows"]]})
        return out

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        shown = {c["title"]: c["rows"] for c in (await client.get("/cards")).json()}
    assert shown["Approvals"] == [["/api/v1/approvals/7%2Fx/approve", "/api/v1/approvals/7%2Fx/reject"], []]
    assert shown["Pins"] is None and shown["Environments"] is None  # "no data yet"


def test_environments_are_listed_upstream_first_with_what_comes_next() -> None:
    from tagpilot.server.environments_routes import environments

    def view(name: str, source: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        return {"kind": "Promotion", "namespace": "d", "name": name, "spec": {"source": source}, "status": status}

    rows = environments([
        view("prod", {"kind": "Promotion", "name": "test"}, {"hold": {"tag": "1.0.0"}}),
        view("test", {"kind": "Promotion", "name": "dev"},
             {"lastPromoted": {"name": "r/test", "tag": "1.1.0", "digest": "sha256:a", "at": "t1"},
              "candidate": {"tag": "1.2.0", "digest": "sha256:b"}}),
        view("dev", {"imagePolicyRef": {"name": "app"}}, {}),
    ])
    assert [(r["name"], r["from"], r["tag"], r["next"]) for r in rows] == [
        ("Promotion/d/dev", "ImagePolicy/d/app", "", "-"),
        ("Promotion/d/test", "Promotion/d/dev", "1.1.0", "1.2.0 waiting"),
        ("Promotion/d/prod", "Promotion/d/test", "", "held at 1.0.0 (tagpilot unpin)")]


def test_badges_name_pins_holds_and_waiting_approvals() -> None:
    from tagpilot.dashboard.data import badges

    waiting = {"conditions": [{"type": "Ready", "status": "False", "reason": "AwaitingApproval"}]}
    assert badges({"status": waiting}) == ["awaiting approval"]
    pinned = {"conditions": [{"type": "Ready", "status": "True"}], "pins": [{"policy": "a:b", "tag": "1"}]}
    assert badges({"status": pinned, "suspended": True}) == ["suspended", "pinned"]
    assert badges({"status": {"hold": {"tag": "1.0.0"}}}) == ["pinned"]
    assert badges({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Failed"}]}}) == ["failing"]
