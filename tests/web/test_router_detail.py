"""The router page in plain words: a router never contacted says so; the poll interval comes from the schedule."""
from __future__ import annotations

import re

from isp.extensions import db
from isp.jobs import schedule
from isp.models import Router


def _facts(html: str) -> str:
    return re.search(r'data-test="router-facts">([^<]*)<', html).group(1)


def test_a_router_never_contacted_says_so(app, client, auth, make_router):
    fresh = make_router(name="new-gw")
    known = make_router(name="old-gw")
    with app.app_context():
        row = db.session.get(Router, known.id)
        row.identity, row.version, row.board = "Old GW", "7.16.2", "hEX S"
        db.session.commit()
    auth.login_as("operator")
    fresh_html = client.get(f"/routers/{fresh.id}").get_data(as_text=True)
    assert _facts(fresh_html).startswith("Not contacted yet")
    assert "Identity unknown" not in fresh_html and "RouterOS ?" not in fresh_html
    assert _facts(client.get(f"/routers/{known.id}").get_data(as_text=True)) == "Old GW · RouterOS 7.16.2 · hEX S"


def test_the_poll_interval_shown_is_the_schedules(app, client, auth, make_router, monkeypatch):
    router = make_router()
    auth.login_as("operator")
    entry = next(e for e in schedule.SCHEDULE if e["func"].endswith(".monitor.poll_all"))
    html = client.get(f"/routers/{router.id}").get_data(as_text=True)
    seconds = entry["interval"] if "interval" in entry else app.config[entry["interval_config"]]
    assert f"polls enabled routers every {seconds} s" in html  # MONITOR_INTERVAL: 10 s by default
    assert "every minute" not in html
    # Change the schedule and the page follows: the text is derived, not written twice.
    slower = tuple({**{k: v for k, v in e.items() if k != "interval_config"}, "interval": 120} if e is entry else e
                   for e in schedule.SCHEDULE)
    monkeypatch.setattr(schedule, "SCHEDULE", slower)
    assert "polls enabled routers every 2 min" in client.get(f"/routers/{router.id}").get_data(as_text=True)


def test_the_monitoring_section_lists_interfaces_with_status_and_loads_graphs_locally(app, client, auth, make_router):
    from isp.models.monitoring import RouterInterface

    router = make_router()
    with app.app_context():
        db.session.add_all([RouterInterface(router_id=router.id, name="ether1", running=True, rx_bps=2_500_000, tx_bps=900),
                            RouterInterface(router_id=router.id, name="ether2", running=False, link_downs=7),
                            RouterInterface(router_id=router.id, name="ether3", disabled=True, running=False),
                            RouterInterface(router_id=router.id, name="gone", present=False)])
        db.session.commit()
    auth.login_as("operator")
    html = client.get(f"/routers/{router.id}").get_data(as_text=True)
    rows = dict(re.findall(r'data-iface="([^"]+)">(.*?)</tr>', html, re.S))
    assert sorted(rows) == ["ether1", "ether2", "ether3"]  # an interface the router no longer lists is not shown
    assert ">running<" in rows["ether1"] and "2.5 Mbit/s" in rows["ether1"] and "900 bit/s" in rows["ether1"]
    assert ">down<" in rows["ether2"] and ">7<" in rows["ether2"] and "Disable" in rows["ether2"]
    assert ">disabled<" in rows["ether3"] and "Enable" in rows["ether3"]
    assert f'data-live-url="/routers/{router.id}/live.json"' in html
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert "/static/vendor/uPlot-1.6.32.iife.min.js" in scripts and "/static/js/graphs.js" in scripts
    assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))]  # no CDN
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script: a strict CSP can come
