"""An admin turns on two-factor login by typing the key into an 'app' (pyotp), logs out, and logs in with a code."""
from __future__ import annotations

import os
import time

import pyotp
import pytest

from tests.browser.conftest import ARTIFACTS, log_in
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


def _shot(page, name: str) -> None:
    """Desktop and phone screenshots of the current page."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}-desktop.png"), full_page=True, caret="initial")  # hiding the caret injects a <style> the CSP blocks
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}-phone.png"), full_page=True, caret="initial")  # hiding the caret injects a <style> the CSP blocks
    page.set_viewport_size({"width": 1280, "height": 800})


def test_admin_enrols_two_factor_logs_out_and_logs_in_with_a_code(live_server, page, make_user):
    make_user("admin", username="boss", full_name="Big Boss")
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(page.url + " " + msg.text) if msg.type == "error" else None)
    log_in(page, live_server, "boss")

    page.click("nav >> text=Security")
    page.wait_for_url(live_server + "/account/")
    assert page.locator('[data-test="2fa-status"]').inner_text() == "Off"
    page.click("[data-test=start-2fa]")
    page.wait_for_url(live_server + "/account/two-factor/setup")
    assert page.locator("[data-test=qr] svg").is_visible()
    secret = page.locator("[data-test=totp-secret]").inner_text().strip()
    _shot(page, "two-factor-setup")

    totp = pyotp.TOTP(secret)  # the "phone": the key typed in by hand
    page.fill("input[name=code]", totp.now())
    page.click("[data-test=enrol-form] button[type=submit]")
    codes = page.locator("[data-test=recovery-codes] li")
    codes.first.wait_for()
    assert codes.count() == 10
    _shot(page, "two-factor-recovery-codes")
    page.click("[data-test=codes-done]")
    page.wait_for_url(live_server + "/account/")
    assert page.locator('[data-test="2fa-status"]').inner_text() == "On"
    assert page.locator("[data-test=this-session]").count() == 1
    _shot(page, "account-security")

    page.click("[data-test=logout]")
    page.wait_for_url(live_server + "/auth/login")
    page.fill("input[name=username]", "boss")
    page.fill("input[name=password]", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server + "/auth/two-factor")
    _shot(page, "two-factor-login")
    page.fill("input[name=code]", "000000" if totp.now() != "000000" else "111111")
    page.click("[data-test=two-factor-form] button[type=submit]")
    assert "tries left" in page.locator(".field .error").inner_text()
    page.fill("input[name=code]", totp.at(time.time() + 30))  # the next code: the one just used is spent
    page.click("[data-test=two-factor-form] button[type=submit]")
    page.wait_for_url(live_server + "/")
    assert page.locator(".who").inner_text().startswith("Big Boss")
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors
