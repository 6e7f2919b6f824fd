"""A router's page in a real browser: the live traffic graph moves while the page is open; desktop and phone shots."""
from __future__ import annotations

import os
import time

import pytest

from isp.extensions import db
from isp.jobs import monitor
from tests.browser.conftest import ARTIFACTS, log_in
from tests.conftest import run_worker

pytestmark = pytest.mark.browser


def _poll(app, router_id: int) -> None:
    """One monitoring poll, as the clock's job runs it: interfaces, samples and a live point."""
    results = []
    for _ in range(3):  # a loaded machine may time a first connection out: the clock would simply poll again
        with app.app_context():
            results.append(monitor.poll_router(router_id))
            db.session.remove()
        if results[-1] == "ok":
            return
        time.sleep(0.5)
    raise AssertionError(f"the poll never succeeded: {results}")


def _live_t(page) -> float:
    value = page.locator("#router-graphs").get_attribute("data-live-t")
    return float(value) if value else 0.0


def test_the_live_traffic_graph_moves(live_server, page, browser, app, sim, make_user, make_router):
    make_user("admin", username="noc")
    router = make_router(sim.routers[0], name="gw-live")
    _poll(app, router.id)  # the router's interfaces and a first sample exist before anyone looks ...
    time.sleep(2.1)  # the simulator runs in real time here (speed 1): let its counters grow between the readings
    _poll(app, router.id)  # ... and rates, which take two readings
    log_in(page, live_server, "noc")
    page.goto(f"{live_server}/routers/{router.id}")
    picker = page.locator("[data-test=iface-picker] option")
    assert picker.count() >= 2 and "ether1" in picker.all_inner_texts()
    # The page asks live.json every 2.5 s; each ask (re)queues the live read, which a worker runs.
    seen = []
    for _ in range(8):
        run_worker(app)
        page.wait_for_timeout(1300)
        t = _live_t(page)
        if t and (not seen or t != seen[-1]):
            seen.append(t)
        if len(seen) >= 3:
            break
    assert len(seen) >= 3 and seen == sorted(seen), f"live graph did not move: {seen}"
    last = page.locator("[data-test=live-last]").inner_text()
    assert " rx " in last and " tx " in last and "bps" not in last  # "ether1: rx 1.2 Mb/s · tx … at 02:45:10"
    assert page.locator("[data-test=live-graph] canvas").count() == 1  # uPlot drew into the container
    points = int(page.locator("#router-graphs").get_attribute("data-live-points"))
    assert points >= 2
    # History: the system chart has the poll's sample; a range button refetches; no error shows.
    assert page.locator("[data-range='1h']").get_attribute("aria-pressed") == "true"  # the default: raw samples
    assert page.locator("[data-chart=system] canvas").count() == 1  # the poll's samples are drawn
    page.click("[data-range='7d']")
    page.wait_for_timeout(500)
    assert page.locator("[data-graph-error]").is_hidden()
    assert page.locator("[data-range='7d']").get_attribute("aria-pressed") == "true"
    page.click("[data-range='1h']")
    page.wait_for_timeout(500)
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, "router-monitoring-desktop.png"), full_page=True)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2)
    try:
        mobile = phone.new_page()
        log_in(mobile, live_server, "noc")
        mobile.goto(f"{live_server}/routers/{router.id}")
        run_worker(app)
        mobile.wait_for_function("() => document.querySelector('#router-graphs').dataset.liveT", timeout=10000)
        box = mobile.locator("[data-test=live-graph] canvas").bounding_box()
        assert box is not None and box["width"] <= 390  # the graph follows the phone's width, no sideways scroll
        mobile.screenshot(path=os.path.join(ARTIFACTS, "router-monitoring-phone.png"), full_page=True)
        mobile.locator("#router-graphs").screenshot(path=os.path.join(ARTIFACTS, "router-monitoring-phone-graphs.png"))
    finally:
        phone.close()
