"""Generate a batch in the browser, watch the push progress reach 100 %, open the print page."""
from __future__ import annotations

import os
import re

import pytest

from tests.browser.conftest import ARTIFACTS, log_in
from tests.conftest import run_worker

pytestmark = pytest.mark.browser


def test_generate_watch_progress_and_print(live_server, page, app, sim, make_user, make_router, make_plan):
    make_user("admin", username="boss")
    router = make_router(sim.routers[0])
    make_plan([router.id], name="Browser pass", price="1.50", reseller_price="1.50")
    log_in(page, live_server, "boss")
    page.click("nav >> text=Vouchers")
    page.click("text=Generate vouchers")
    page.fill("input[name=count]", "400")
    page.fill("input[name=prefix]", "BR")
    page.click("[data-test=generate]")
    page.wait_for_url(re.compile(r".*/vouchers/batches/\d+$"))
    assert "400 vouchers created" in page.locator(".toast").first.inner_text()
    assert page.locator("[data-test=percent]").inner_text() == "0%"
    run_worker(app)  # the workers push while the page keeps polling
    page.wait_for_function("() => document.querySelector('[data-test=percent]').innerText === '100%'", timeout=30000)
    assert page.locator("[data-test=pushed]").inner_text() == "400"
    # The voucher table reloads itself when the push finishes: no "pending" left on screen.
    page.wait_for_function("() => document.querySelectorAll('#results [data-sync=synced]').length > 0", timeout=10000)
    assert page.locator("#results [data-sync=pending]").count() == 0
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "batch-progress.png"), full_page=True)
    page.click("[data-test=print]")
    page.wait_for_url(re.compile(r".*/print.*"))
    content = page.content()
    assert "Browser pass" in content and content.count("BR") >= 400
    page.screenshot(path=os.path.join(ARTIFACTS, "batch-print.png"))
