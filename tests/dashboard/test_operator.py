"""The operator's dashboard: fleet sorted by trouble, users online, sales and billing today, alerts, pipeline, htmx."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from isp.extensions import db
from isp.models import Voucher
from isp.services import dashboard_sales
from tests.dashboard.conftest import HX, utc

NAIROBI = "Africa/Nairobi"  # UTC+3 all year


def _fleet_rows(html: str) -> list[tuple[str, str]]:
    """(router name, state) of each fleet row, top to bottom."""
    return re.findall(r'data-test="fleet-row" data-router="([^"]+)" data-state="([^"]+)"', html)


def _card(html: str, name: str) -> str:
    """The text of one stat card."""
    block = re.search(rf'data-test="{name}">(.*?)</div>', html, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", " ", block).split())


@pytest.fixture
def fleet(app, rows):
    """A healthy router, one with an open alert, one with high CPU, one with a stale backlog, one with an open
    circuit, one not seen for ten minutes, one never contacted and a disabled one."""
    with app.app_context():
        ok = rows.router("alpha-ok")
        alerted = rows.router("bravo-alert")
        circuit = rows.router("charlie-circuit")
        stale = rows.router("delta-stale", seen_ago=600)
        hot = rows.router("echo-cpu")
        backlog = rows.router("golf-backlog")
        rows.router("hotel-new", seen_ago=None)
        rows.router("foxtrot-off", enabled=False)
        rule = rows.rule()
        rows.alert(rule, alerted, "warning")
        rows.sample(ok, hotspot=3, ppp=2)
        rows.sample(alerted, hotspot=4, ppp=1)
        rows.sample(circuit, hotspot=50, ppp=50)      # its circuit opened since: not counted as online now
        rows.sample(stale, ago=600, hotspot=70)       # too old to count
        rows.metrics(hot, cpu_load=95, hotspot_active=6)  # no sample yet: the poll's Redis copy stands in
        rows.circuit_open(circuit)
        for _ in range(3):
            rows.command(backlog, "pending", age=600)
        rows.command(ok, "pending", age=1)            # fresh: not a backlog
        rows.command(ok, "dead", age=60)
        db.session.commit()
    return app


def test_fleet_lists_down_routers_first_then_degraded_then_healthy_with_counts(client, auth, fleet):
    auth.login_as("operator")
    html = client.get("/").get_data(as_text=True)
    order = _fleet_rows(html)
    assert [state for _, state in order] == ["down"] * 3 + ["degraded"] * 3 + ["healthy"]
    assert {name for name, _ in order[:3]} == {"charlie-circuit", "delta-stale", "hotel-new"}
    # Among the degraded, the one with an open alert comes first.
    assert [name for name, _ in order[3:6]] == ["bravo-alert", "golf-backlog", "echo-cpu"]
    assert order[6] == ("alpha-ok", "healthy")
    assert "foxtrot-off" not in html.split('id="live"')[1]  # disabled routers are not in the list
    counts = dict(re.findall(r'data-count="(\w+)"[^>]*>(\d+) ', html))
    assert counts == {"down": "3", "degraded": "3", "healthy": "1"}
    assert "circuit open" in html and "not seen recently" in html and "never contacted" in html
    assert "CPU 95%" in html and "3 commands waiting" in html and "1 open alert" in html
    assert 'href="/routers/"' in html


def test_users_online_sums_hotspot_and_ppp_over_routers_that_are_up(client, auth, fleet):
    auth.login_as("admin")
    card = _card(client.get("/").get_data(as_text=True), "users-online")
    # alpha 3+2, bravo 4+1, echo 6 from Redis; the open circuit's and the stale router's last counts are left out.
    assert card == "Users online 16 13 hotspot · 3 PPP"


def test_pipeline_shows_dead_letters_backlog_and_queues(client, auth, fleet):
    auth.login_as("operator")
    html = client.get("/").get_data(as_text=True)
    assert _card(html, "dead").endswith("1")
    backlog = _card(html, "backlog")
    assert backlog.startswith("Unfinished commands 4 oldest 10m"), backlog
    assert "None" in _card(html, "workers") and 'data-test="queue-critical"' in html


def test_open_alerts_counted_by_severity_and_latest_link_to_the_alert(client, auth, app, rows):
    with app.app_context():
        router = rows.router("north")
        rule = rows.rule("Test offline")
        crit = [rows.alert(rule, router, "critical", message=f"down {i}") for i in range(2)]
        warn = rows.alert(rule, None, "warning", message="dead letters piling up")
        acked = rows.alert(rule, router, "warning", state="acknowledged")
        resolved = rows.alert(rule, router, "critical", state="resolved", message="long gone")
        db.session.commit()
    auth.login_as("operator")
    html = client.get("/").get_data(as_text=True)
    assert _card(html, "alerts-open") == "Open alerts 4 2 critical · 2 warning"
    for alert_id in (*crit, warn, acked):
        assert f'href="/alerts/{alert_id}"' in html
    assert f'href="/alerts/{resolved}"' not in html and "long gone" not in html
    assert html.count('data-test="alert" data-severity="critical"') == 2
    assert "Test offline · north" in html and "Acknowledged" in html
    assert 'href="/alerts/"' in html


def test_an_empty_install_shows_zeros_and_no_fleet(client, auth):
    auth.login_as("admin")
    html = client.get("/").get_data(as_text=True)
    assert "No routers yet." in html and "No open alerts." in html
    assert _card(html, "users-online").startswith("Users online 0")


def test_htmx_poll_gets_only_the_live_block(client, auth, fleet):
    auth.login_as("operator")
    full = client.get("/")
    assert 'hx-trigger="every 5s"' in full.get_data(as_text=True)
    response = client.get("/", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert "<html" not in html and "page-head" not in html and "hx-trigger" not in html
    assert 'data-test="users-online"' in html and len(_fleet_rows(html)) == 7


def _sell(app, plan_id: int, batch_id: int, logins: list[tuple[str, str]]) -> None:
    """Give the batch's vouchers first logins (UTC) at the given face prices."""
    with app.app_context():
        vouchers = db.session.scalars(select(Voucher).where(Voucher.batch_id == batch_id).order_by(Voucher.id)).all()
        for voucher, (at, price) in zip(vouchers, logins, strict=False):
            voucher.first_login_at, voucher.price = utc(at), Decimal(price)
        db.session.commit()


@pytest.fixture
def sold(app, make_user, make_router, make_plan, generate):
    """Vouchers first used around local midnight of 6 March 2024 in Nairobi (21:00 UTC the day before)."""
    admin = make_user("admin")
    plan = make_plan([make_router().id], name="Day", price="10.00")
    batch = generate(admin.id, plan.id, 6)
    _sell(app, plan.id, batch, [
        ("2024-03-05 21:00:00", "10.00"),   # Nairobi 6 Mar 00:00:00: today's first instant
        ("2024-03-05 22:10:00", "12.50"),   # today
        ("2024-03-05 20:59:59", "7.00"),    # Nairobi 5 Mar 23:59:59: this month, not today (UTC says the same day)
        ("2024-02-29 21:00:00", "3.00"),    # Nairobi 1 Mar 00:00: this month's first instant
        ("2024-02-29 20:59:59", "99.00"),   # Nairobi 29 Feb: last month
        ("2024-03-06 21:00:00", "99.00"),   # Nairobi 7 Mar: tomorrow
    ])
    return app


def test_sales_today_and_this_month_follow_the_operators_midnight(sold):
    with sold.app_context():
        win = dashboard_sales.window(utc("2024-03-05 21:30:00"), NAIROBI)   # 00:30 on 6 March in Nairobi
        sales = dashboard_sales.voucher_sales(win)
        assert (sales.today, sales.today_revenue) == (2, Decimal("22.50"))
        assert (sales.month, sales.month_revenue) == (4, Decimal("32.50"))
        # Half an hour earlier it is still 5 March there: the two midnight sales are tomorrow's.
        before = dashboard_sales.voucher_sales(dashboard_sales.window(utc("2024-03-05 20:30:00"), NAIROBI))
        assert (before.today, before.today_revenue, before.month, before.month_revenue) == (1, Decimal("7.00"), 2, Decimal("10.00"))
        # In UTC the same instant is 5 March: a different day and a different month's start.
        utc_view = dashboard_sales.voucher_sales(dashboard_sales.window(utc("2024-03-05 21:30:00"), "UTC"))
        assert (utc_view.today, utc_view.today_revenue) == (3, Decimal("29.50"))


def test_the_page_shows_todays_and_this_months_sales(client, auth, app, make_user, make_router, make_plan, generate):
    app.config["ISP_TIMEZONE"] = NAIROBI
    admin = make_user("admin")
    plan = make_plan([make_router().id], name="Day", price="10.00")
    batch = generate(admin.id, plan.id, 3)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    _sell(app, plan.id, batch, [(now, "10.00"), (now, "15.25")])
    auth.login_as("operator")
    html = client.get("/").get_data(as_text=True)
    assert _card(html, "sales-today") == "Sold today 25.25 2 vouchers"
    assert _card(html, "sales-month") == "This month 25.25 2 vouchers"


def test_subscriptions_due_and_suspended_today_in_the_operators_day(app, bill):
    from isp.models import Subscription

    plan, customer = bill.plan(), bill.customer()
    due = [utc("2024-03-05 21:00:00"), utc("2024-03-06 20:59:59")]          # Nairobi 6 Mar, first and last second
    not_due = [utc("2024-03-05 20:59:59"), utc("2024-03-06 21:00:00")]      # 5 and 7 March there
    for paid_until in due + not_due:
        bill.service(customer, plan, paid_until=paid_until)
    bill.service(customer, plan, state="grace", paid_until=due[0])            # already in grace: not "due"
    suspended = [bill.service(customer, plan, state="suspended") for _ in range(3)]
    with app.app_context():
        for sub_id, at in zip(suspended, ["2024-03-05 21:00:00", "2024-03-05 23:00:00", "2024-03-05 20:59:59"], strict=True):
            db.session.get(Subscription, sub_id).state_changed_at = utc(at)
        db.session.commit()
        win = dashboard_sales.window(utc("2024-03-05 21:30:00"), NAIROBI)
        assert dashboard_sales.billing_today(win) == {"due": 2, "suspended": 2}


def test_admins_also_see_recent_activity_but_not_in_the_polled_block(client, auth, fleet):
    auth.login_as("admin")
    with fleet.app_context():
        from isp.services import audit
        audit.record(None, "router.create", "zulu")
        db.session.commit()
    html = client.get("/").get_data(as_text=True)
    assert "Recent activity" in html and "zulu" in html
    assert "Recent activity" not in client.get("/", headers=HX).get_data(as_text=True)
