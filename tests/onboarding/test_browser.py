"""In a real browser: add a router with the plain form, open its onboarding page, copy the script, screenshot it."""
from __future__ import annotations

import os

from tests.browser.conftest import ARTIFACTS, browser, live_server, log_in  # noqa: F401 (fixtures)
from tests.onboarding.conftest import HUB_PUBLIC


def test_router_added_in_the_browser_shows_script_and_copies_it(app, live_server, browser, make_user):  # noqa: F811
    from isp.extensions import db
    from isp.services import branding

    with app.app_context():
        settings = branding.get()
        settings.hub_endpoint, settings.hub_public_key = "vpn.example.net:51820", HUB_PUBLIC
        db.session.commit()
    admin = make_user("admin")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = context.new_page()
    try:
        log_in(page, live_server, admin.username)
        page.goto(live_server + "/routers/new")
        page.fill("input[name=name]", "Edge North")
        page.fill("textarea[name=addresses]", "192.168.88.1")
        page.select_option("select[name=mode]", "radius")
        page.click("button[type=submit]:has-text('Add router')")
        page.wait_for_selector("[data-test=onboarding-panel]")
        assert "10.100.0.2" in page.inner_text("[data-test=onboarding-panel]")
        page.click("[data-test=onboarding-link]")
        page.wait_for_selector("#setup-script")
        script = page.inner_text("#setup-script")
        assert "/radius add address=10.100.0.1" in script and "AllowedIPs = 10.100.0.2/32" in page.inner_text("#hub-peer")
        page.click("[data-test=copy]")
        page.wait_for_selector("[data-test=copy]:has-text('Copied')")
        assert page.evaluate("navigator.clipboard.readText()") == page.evaluate(
            "document.getElementById('setup-script').textContent")
        os.makedirs(ARTIFACTS, exist_ok=True)
        page.screenshot(path=os.path.join(ARTIFACTS, "router-onboarding.png"), full_page=True)
        with page.expect_download() as info:
            page.click("[data-test=download]")
        assert info.value.suggested_filename == "Edge-North.rsc"
    finally:
        context.close()
