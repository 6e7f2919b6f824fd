"""An admin creates an API token on /account/tokens, copies it from the page, and reads /api/v1/vouchers with it."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from tests.browser.conftest import ARTIFACTS, log_in

pytestmark = pytest.mark.browser


def _get(url: str, token: str | None) -> tuple[int, str, dict]:
    """GET over real HTTP, as curl would."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.headers.get_content_type(), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_content_type(), json.loads(err.read())


def test_create_a_token_copy_it_and_call_the_api(live_server, page, make_user):
    make_user("admin", username="tokenboss")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    log_in(page, live_server, "tokenboss")
    page.goto(live_server + "/account/tokens/")
    assert page.locator("[data-test=tokens]").count() == 0  # no token yet
    page.fill("input[name=name]", "curl from my laptop")
    page.check("input[name=scopes][value=vouchers]")
    page.select_option("select[name=expires]", "30")
    page.click("[data-test=create-token]")
    page.wait_for_selector("[data-test=raw-token]")
    shown = page.locator("[data-test=raw-token]").inner_text().strip()
    assert shown.startswith("isp_") and len(shown) > 40
    assert f'Authorization: Bearer {shown}' in page.locator("[data-test=curl]").inner_text()
    page.click("[data-test=copy-token]")
    page.wait_for_selector("[data-test=copy-token][data-copied]")
    copied = page.evaluate("navigator.clipboard.readText()").strip() \
        if page.get_attribute("[data-test=copy-token]", "data-copied") == "yes" else shown
    assert copied == shown
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "api-token-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(600)  # the sidebar slides away into its drawer
    page.screenshot(path=os.path.join(ARTIFACTS, "api-token-phone.png"), full_page=True)
    # Nothing of the page runs off a phone's screen: the token and the command wrap.
    assert page.evaluate("document.documentElement.scrollWidth") <= 391

    status, kind, body = _get(live_server + "/api/v1/vouchers", copied)
    assert status == 200 and kind == "application/json" and body["items"] == []
    status, kind, body = _get(live_server + "/api/v1/vouchers", None)
    assert status == 401 and kind == "application/problem+json"

    # Back on the list, the token is shown by its prefix only, with its last use.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click("[data-test=done]")  # a boosted link: htmx would snapshot the page into its history cache...
    page.wait_for_selector("[data-test=tokens]")
    stored = page.evaluate("JSON.stringify([window.sessionStorage, window.localStorage])")
    assert shown not in stored  # ...but hx-history="false" keeps it out
    row = page.locator("[data-test=tokens] tbody tr").first
    assert "curl from my laptop" in row.inner_text() and shown[:12] in row.inner_text()
    assert shown not in page.content()
    assert "127.0.0.1" in row.inner_text()  # last used from
    page.on("dialog", lambda dialog: dialog.accept())
    row.locator("[data-test=revoke]").click()
    page.wait_for_selector("[data-state=revoked]")
    status, _, _ = _get(live_server + "/api/v1/vouchers", copied)
    assert status == 401


def test_an_admin_revokes_every_token_of_a_user_who_left(app, live_server, page, make_user):
    from isp.extensions import db
    from isp.models import User
    from isp.services import api_tokens

    make_user("admin", username="chiefadmin")
    leaver = make_user("operator", username="leaver")
    with app.app_context():
        owner = db.session.get(User, leaver.id)
        raws = [api_tokens.create(owner, name, {"read"}, None)[1] for name in ("router sync", "sms gateway")]
        db.session.commit()
    assert [_get(live_server + "/api/v1/vouchers", raw)[0] for raw in raws] == [200, 200]
    log_in(page, live_server, "chiefadmin")
    page.goto(live_server + "/account/tokens/")
    page.select_option("select[name=user]", label="leaver")  # the filter swaps the list in (htmx)
    page.wait_for_selector("[data-test=revoke-all]")
    assert page.locator("[data-test=revoke-all]").inner_text().strip() == "Revoke all of leaver's tokens"
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "tokens-revoke-all-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(600)
    page.screenshot(path=os.path.join(ARTIFACTS, "tokens-revoke-all-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("[data-test=revoke-all]")
    page.wait_for_selector("text=2 tokens of leaver revoked")
    assert page.locator("[data-test=tokens] [data-state=revoked]").count() == 2
    assert [_get(live_server + "/api/v1/vouchers", raw)[0] for raw in raws] == [401, 401]
