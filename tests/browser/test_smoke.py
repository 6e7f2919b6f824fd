"""Log in, see the dashboard, use htmx search, log out, in a real browser."""
from __future__ import annotations

import os

import pytest

from tests.browser.conftest import ARTIFACTS, log_in
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


def test_login_dashboard_logout(live_server, page, make_user):
    make_user("admin", username="boss", full_name="Big Boss")
    page.goto(live_server + "/")
    assert page.url.startswith(live_server + "/auth/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server + "/")
    assert page.locator("h1").inner_text().strip() == "Dashboard"
    assert page.locator(".who").inner_text().startswith("Big Boss")
    assert page.locator("nav .nav-link", has_text="Settings").count() == 1
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "dashboard-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(400)  # let the drawer finish sliding away
    assert not page.locator(".sidebar").is_visible() or page.locator(".sidebar").bounding_box()["x"] < 0
    page.screenshot(path=os.path.join(ARTIFACTS, "dashboard-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click("[data-test=logout]")
    page.wait_for_url(live_server + "/auth/login")
    assert "You have been logged out." in page.content()
    page.goto(live_server + "/")
    assert page.url.startswith(live_server + "/auth/login")


def test_wrong_password_shows_message(live_server, page, make_user):
    make_user("operator", username="clerk")
    page.goto(live_server + "/auth/login")
    page.fill("input[name=username]", "clerk")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator(".alert-error").inner_text() == "Invalid username or password."


def test_user_search_updates_results_without_reload(live_server, page, make_user):
    make_user("admin", username="boss")
    for name in ("alpha", "beta", "gamma"):
        make_user("reseller", username=name)
    log_in(page, live_server, "boss")
    page.click("nav >> text=Users")
    page.wait_for_url(live_server + "/settings/users/")
    page.evaluate("window.__marker = 1")  # survives only if the page is not reloaded
    page.fill("input[name=q]", "gam")
    page.wait_for_function("() => !document.querySelector('#results').innerText.includes('alpha')")
    assert "gamma" in page.locator("#results").inner_text()
    assert page.evaluate("window.__marker") == 1
    assert "q=gam" in page.url
