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
    assert f"polls enabled routers every {entry['interval']} s" in html  # 10 s today
    assert "every minute" not in html
    # Change the schedule and the page follows: the text is derived, not written twice.
    slower = tuple({**e, "interval": 120} if e is entry else e for e in schedule.SCHEDULE)
    monkeypatch.setattr(schedule, "SCHEDULE", slower)
    assert "polls enabled routers every 2 min" in client.get(f"/routers/{router.id}").get_data(as_text=True)
