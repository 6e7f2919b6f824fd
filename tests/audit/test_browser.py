"""In a real browser: the audit page filters as you type (htmx, under the strict CSP) and History leads to one object."""
from __future__ import annotations

import os

from playwright.sync_api import expect

from isp.extensions import db as _db
from isp.models import Router, User
from isp.services import routers
from tests.browser.conftest import browser, live_server, log_in, page  # noqa: F401 - fixtures shared with tests/browser


def _edit(app, router_id: int, admin_id: int, site: str) -> None:
    with app.app_context():
        router = _db.session.get(Router, router_id)
        routers.update_router(router, {"name": router.name, "addresses": "127.0.0.1", "api_port": router.api_port,
                                       "username": router.username, "mode": "api", "site": site, "enabled": True,
                                       "max_sessions": 20}, _db.session.get(User, admin_id))
        _db.session.commit()


def test_typing_a_user_filters_the_log_and_history_shows_one_router(app, live_server, page, make_user,  # noqa: F811
                                                                    make_router):
    admin, other = make_user("admin", "chief"), make_user("admin", "deputy")
    one, two = make_router(name="b-one"), make_router(name="b-two")
    _edit(app, one.id, admin.id, "north")
    _edit(app, two.id, other.id, "south")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    log_in(page, live_server, "chief")

    page.goto(live_server + "/audit/")
    assert page.locator("tr[data-entry]").count() >= 6
    page.fill("input[name=actor]", "deputy")
    expect(page.locator("tr[data-entry]")).to_have_count(1)  # a locator wait: the CSP forbids evaluated strings
    row = page.locator("tr[data-entry]")
    assert "router.update" in row.inner_text() and "b-two" in row.inner_text() and "site: — → south" in row.inner_text()
    assert "actor=deputy" in page.url  # hx-push-url: the filtered view is a link
    if os.environ.get("AUDIT_SCREENSHOT"):
        page.screenshot(path=os.environ["AUDIT_SCREENSHOT"], full_page=True)

    page.goto(f"{live_server}/routers/{one.id}")
    page.click("a[data-test=history]")
    page.wait_for_url(f"**/audit/?target_type=routers&target_id={one.id}")
    text = page.locator("table[data-test=audit]").inner_text()
    assert "b-one" in text and "b-two" not in text
    assert not [e for e in errors if "Content Security Policy" in e], errors
