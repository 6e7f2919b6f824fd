"""The operator's path in a real browser: the simulator's CPU goes high, the poll raises the alert, the dashboard
shows it, and an operator acknowledges it with a note from the alert's page. Desktop and phone shots of the dashboard."""
from __future__ import annotations

import os

import pytest

from tests.alerts.conftest import _no_seeded_rules, make_rule  # noqa: F401 (fixtures; the first empties the seeded rules)
from tests.browser.conftest import ARTIFACTS, log_in
from tests.monitoring.conftest import T0, box, poll, quiet_sim  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser


def test_a_cpu_alert_from_the_simulator_shows_on_the_dashboard_and_an_operator_acknowledges_it(
        live_server, page, browser, app, box, make_rule, make_user):  # noqa: F811 (fixtures imported above)
    make_user("operator", username="ops")
    make_rule("CPU load")  # the default rule: warning 70, critical 90, for its delay
    log_in(page, live_server, "ops")
    assert page.locator("[data-test=alert]").count() == 0  # nothing wrong yet

    box.sim.hold(cpu_load=96)  # the router's CPU goes high ...
    assert poll(app, box.id, T0) == "ok"  # ... the poll sees it: pending for the rule's delay (30 s)
    for seconds in range(10, 40, 10):  # polled every 10 s, still high: past the delay the alert opens
        box.fleet.advance(10)
        assert poll(app, box.id, T0 + seconds) == "ok"

    page.goto(live_server + "/")
    alert = page.locator("[data-test=alert]")
    assert alert.count() == 1 and alert.get_attribute("data-severity") == "critical"
    assert "CPU load" in alert.inner_text() and "router-1" in alert.inner_text()
    assert "1" in page.locator("[data-test=alerts-open] .stat-value").inner_text()
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "dashboard-alert-desktop.png"), full_page=True)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
    try:
        mobile = phone.new_page()
        log_in(mobile, live_server, "ops")
        assert mobile.locator("[data-test=alert]").count() == 1
        width = mobile.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the dashboard scrolls sideways on a phone ({width} px)"
        mobile.screenshot(path=os.path.join(ARTIFACTS, "dashboard-alert-phone.png"), full_page=True)
    finally:
        phone.close()

    alert.locator("a").first.click()  # to the alert's page
    page.wait_for_selector("[data-test=ack-form]")
    page.fill("[data-test=ack-form] textarea, [data-test=ack-form] input[name=note]", "on it: <b>fan</b> replaced")
    page.click("[data-test=ack-form] button[type=submit]")
    page.wait_for_selector("[data-test=acked]")
    assert "ops" in page.locator("[data-test=acked]").inner_text()
    assert page.locator("[data-test=ack-note]").inner_text() == "on it: <b>fan</b> replaced"  # shown as text
    assert page.locator("[data-test=ack-form]").count() == 0  # acknowledged once

    page.goto(live_server + "/alerts/?tab=acknowledged")
    assert "CPU load" in page.locator("main").inner_text()
