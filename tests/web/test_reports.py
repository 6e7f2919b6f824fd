"""Sales report: local-day folding, groupings, totals, reseller purchases, CSV, validation, roles."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from isp.extensions import db
from isp.models import EntryKind, HotspotPlan, LedgerEntry, User, Voucher, VoucherState
from isp.services import ledger, reports

NAIROBI = "Africa/Nairobi"  # UTC+3 all year
HX = {"HX-Request": "true"}
RANGE = {"from": "2024-03-04", "to": "2024-03-07"}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _use(app, batch_id: int, logins: list[tuple[str, str | None]]) -> None:
    """Give the batch's first vouchers a first login (UTC) and optionally another face price; states vary."""
    states = [VoucherState.active, VoucherState.expired, VoucherState.exhausted, VoucherState.deleted]
    with app.app_context():
        vouchers = db.session.scalars(select(Voucher).where(Voucher.batch_id == batch_id).order_by(Voucher.id)).all()
        for n, (voucher, (at, price)) in enumerate(zip(vouchers, logins, strict=False)):
            voucher.first_login_at, voucher.state = _utc(at), states[n % len(states)]
            if price:
                voucher.price = Decimal(price)
        db.session.commit()


@pytest.fixture
def sales(app, make_user, make_router, make_plan, generate, fund, allow):
    """Basic (10.00, router north, sold direct) and Gold (25.50, router south, sold by rita), used around 4-5 March."""
    app.config["ISP_TIMEZONE"] = NAIROBI  # the views read it per request
    admin, rita, omar = make_user("admin"), make_user("reseller", username="rita"), make_user("reseller", username="omar")
    north, south = make_router(name="north"), make_router(name="south")
    basic = make_plan([north.id], name="Basic", price="10.00", reseller_price="8.00")
    gold = make_plan([south.id], name="Gold", price="25.50", reseller_price="20.00")
    for reseller in (rita, omar):
        allow(reseller.id, gold.id)
        fund(reseller.id, "500.00")
    direct = generate(admin.id, basic.id, 6)
    resold = generate(rita.id, gold.id, 4)  # paid 80.00, moved into the range below
    generate(rita.id, gold.id, 1)           # paid 20.00 today: outside the range
    unused = generate(omar.id, gold.id, 2)  # paid 40.00 in the range, nothing used yet
    _use(app, direct, [("2024-03-03 21:00:00", None),      # Nairobi 4 Mar 00:00:00, first instant of the range
                       ("2024-03-04 20:59:59", "12.00"),   # Nairobi 4 Mar 23:59:59, sold at an older price
                       ("2024-03-04 21:30:00", None),      # UTC says 4 March, Nairobi says 5 March
                       ("2024-03-03 20:59:59", None),      # Nairobi 3 Mar 23:59:59: before the range
                       ("2024-03-07 21:00:00", None)])     # Nairobi 8 Mar 00:00: after the range
    _use(app, resold, [("2024-03-04 10:00:00", None), ("2024-03-05 12:00:00", None)])
    with app.app_context():
        for batch_id in (resold, unused):
            purchase = db.session.scalar(select(LedgerEntry).where(LedgerEntry.batch_id == batch_id))
            purchase.created_at = _utc("2024-03-04 06:00:00")
        refund = ledger.post(ledger.account_for(db.session.get(User, rita.id)), EntryKind.refund, Decimal("5.00"), "one card lost")
        refund.created_at = _utc("2024-03-06 10:00:00")
        db.session.commit()


def _rows(html: str, section: str = "tbody") -> list[list[str]]:
    """The text of each cell of the report table's body (or foot)."""
    part = re.search(rf"<{section}>(.*?)</{section}>", html, re.S).group(1)
    return [[" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", part, re.S)]


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_day_grouping_folds_utc_logins_into_operator_local_days_with_empty_days_and_totals(client, auth, sales):
    auth.login_as("admin")
    response = client.get("/reports/", query_string={**RANGE, "group": "day"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Africa/Nairobi" in html
    assert _rows(html) == [["Mon 2024-03-04", "3", "47.50", "57%"], ["Tue 2024-03-05", "2", "35.50", "43%"],
                           ["Wed 2024-03-06", "0", "0.00", "0%"], ["Thu 2024-03-07", "0", "0.00", "0%"]]
    assert _rows(html, "tfoot") == [["Total", "5", "83.00", ""]]
    assert re.search(r'data-test="total-revenue">\s*83.00<', html)


def test_plan_router_and_reseller_groupings(client, auth, sales):
    auth.login_as("operator")
    by_plan = _rows(client.get("/reports/", query_string={**RANGE, "group": "plan"}).get_data(as_text=True))
    assert by_plan == [["Gold", "2", "51.00", "61%"], ["Basic", "3", "32.00", "39%"]]
    by_router = _rows(client.get("/reports/", query_string={**RANGE, "group": "router"}).get_data(as_text=True))
    assert [row[:3] for row in by_router] == [["south", "2", "51.00"], ["north", "3", "32.00"]]
    html = client.get("/reports/", query_string={**RANGE, "group": "reseller"}).get_data(as_text=True)
    # rita paid 80.00 in the range and got 5.00 back; her 20.00 purchase of today is outside it.
    assert _rows(html) == [["rita", "2", "51.00", "61%", "75.00"], ["Direct sales", "3", "32.00", "39%", "—"],
                           ["omar", "0", "0.00", "0%", "40.00"]]
    assert _rows(html, "tfoot") == [["Total", "5", "83.00", "", "115.00"]]


def test_csv_export_has_the_same_figures_with_two_decimals(client, auth, sales):
    auth.login_as("admin")
    response = client.get("/reports/sales.csv", query_string={**RANGE, "group": "reseller"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="sales-by-reseller-2024-03-04-to-2024-03-07.csv"'
    assert _csv(response) == [["Reseller", "Activations", "Revenue", "Reseller purchases"],
                              ["rita", "2", "51.00", "75.00"], ["Direct sales", "3", "32.00", ""],
                              ["omar", "0", "0.00", "40.00"], ["Total", "5", "83.00", "115.00"]]
    days = _csv(client.get("/reports/sales.csv", query_string={**RANGE, "group": "day"}))
    assert days == [["Day", "Activations", "Revenue"], ["2024-03-04", "3", "47.50"], ["2024-03-05", "2", "35.50"],
                    ["2024-03-06", "0", "0.00"], ["2024-03-07", "0", "0.00"], ["Total", "5", "83.00"]]


def test_csv_export_neutralises_a_label_that_would_run_as_a_formula(app, client, auth, sales):
    with app.app_context():
        db.session.execute(update(HotspotPlan).where(HotspotPlan.name == "Gold").values(name="=HYPERLINK(\"http://x\")"))
        db.session.execute(update(HotspotPlan).where(HotspotPlan.name == "Basic").values(name="@SUM(A1)"))
        db.session.commit()
    auth.login_as("admin")
    rows = _csv(client.get("/reports/sales.csv", query_string={**RANGE, "group": "plan"}))
    assert rows[1:] == [["'=HYPERLINK(\"http://x\")", "2", "51.00"], ["'@SUM(A1)", "3", "32.00"], ["Total", "5", "83.00"]]


def test_the_page_links_the_csv_of_the_range_shown(client, auth, sales):
    auth.login_as("admin")
    html = client.get("/reports/", query_string={**RANGE, "group": "plan"}).get_data(as_text=True)
    link = re.search(r'href="([^"]+)"[^>]*data-test="csv"', html).group(1).replace("&amp;", "&")
    assert _csv(client.get(link))[1:] == [["Gold", "2", "51.00"], ["Basic", "3", "32.00"], ["Total", "5", "83.00"]]


def test_filter_form_updates_only_the_results_block_for_htmx(client, auth, sales):
    auth.login_as("admin")
    page = client.get("/reports/", query_string=RANGE).get_data(as_text=True)
    assert 'hx-get="/reports/"' in page and 'hx-target="#results"' in page and 'hx-push-url="true"' in page
    assert 'value="2024-03-04"' in page and 'value="2024-03-07"' in page
    response = client.get("/reports/", query_string={**RANGE, "group": "plan"}, headers=HX)
    fragment = response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]
    assert "<html" not in fragment and "<form" not in fragment and "Gold" in fragment


def test_default_range_is_the_last_30_days_in_the_operator_timezone(app, client, auth):
    app.config["ISP_TIMEZONE"] = NAIROBI
    auth.login_as("admin")
    today = datetime.now(ZoneInfo(NAIROBI)).date()
    html = client.get("/reports/").get_data(as_text=True)
    assert f'value="{(today - timedelta(days=29)).isoformat()}"' in html and f'value="{today.isoformat()}"' in html
    assert "· 30 days" in html and "No voucher was first used" in html


@pytest.mark.parametrize("args, message", [
    ({"from": "2024-03-07", "to": "2024-03-04"}, "&#39;From&#39; (2024-03-07) must be on or before &#39;To&#39; (2024-03-04)."),
    ({"from": "2023-01-01", "to": "2024-01-02"}, "The range covers 367 days; choose at most 366."),
    ({"from": "2024-02-30", "to": "2024-03-04"}, "From: enter a date as YYYY-MM-DD."),
    ({"from": "2024-03-01", "to": "soon"}, "To: enter a date as YYYY-MM-DD."),
    ({"from": "1999-12-31", "to": "2000-01-02"}, "Dates must fall between 2000-01-01 and 2099-12-31."),
    ({"group": "colour"}, "Group by day, plan, reseller or router."),
])
def test_invalid_filters_are_explained(client, auth, args, message):
    auth.login_as("operator")
    for headers in ({}, HX):
        response = client.get("/reports/", query_string=args, headers=headers)
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    export = client.get("/reports/sales.csv", query_string=args)
    assert export.status_code == 400 and message.replace("&#39;", "'") in export.get_data(as_text=True)


def test_a_full_year_including_a_leap_day_is_allowed(client, auth):
    auth.login_as("admin")
    response = client.get("/reports/", query_string={"from": "2024-01-01", "to": "2024-12-31"})
    assert response.status_code == 200 and "366 days" in response.get_data(as_text=True)


def test_staff_only(client, auth):
    auth.login_as("reseller")
    page = client.get("/reports/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/")
    assert client.get("/reports/", headers=HX).status_code == 403
    export = client.get("/reports/sales.csv")
    assert export.status_code == 302 and export.mimetype != "text/csv"
    auth.logout()
    auth.login_as("operator")
    assert client.get("/reports/").status_code == 200
    assert client.get("/reports/sales.csv").status_code == 200


def test_local_days_are_exact_across_dst_and_half_hour_offsets(app, make_user, make_router, make_plan, generate, ctx):
    admin, router = make_user("admin"), make_router()
    batch = generate(admin.id, make_plan([router.id], price="1.00", reseller_price="1.00").id, 8)
    _use(app, batch, [("2024-03-30 22:59:59", None),   # Berlin 30 Mar 23:59:59 CET
                      ("2024-03-30 23:00:00", None),   # Berlin 31 Mar 00:00 CET
                      ("2024-03-31 21:59:59", None),   # Berlin 31 Mar 23:59:59 CEST (the clocks went forward)
                      ("2024-03-31 22:00:00", None),   # Berlin 1 Apr 00:00 CEST
                      ("2024-10-26 22:30:00", None),   # Berlin 27 Oct 00:30 CEST, the 25-hour day
                      ("2024-10-27 22:59:59", None),   # Berlin 27 Oct 23:59:59 CET
                      ("2024-03-31 18:29:59", None),   # Kolkata 31 Mar 23:59:59 (UTC+5:30)
                      ("2024-03-31 18:30:00", None)])  # Kolkata 1 Apr 00:00

    def days(start: date, end: date, tz: str) -> dict[str, int]:
        report = reports.sales(start, end, "day", tz)
        return {row.label: row.activations for row in report.rows if row.activations}

    assert days(date(2024, 3, 30), date(2024, 4, 1), "Europe/Berlin") == {"2024-03-30": 1, "2024-03-31": 4, "2024-04-01": 1}
    assert days(date(2024, 10, 1), date(2024, 10, 31), "Europe/Berlin") == {"2024-10-27": 2}
    # India is UTC+5:30: an hourly UTC bucket would put 18:00-19:00 UTC on the wrong day half the time.
    assert days(date(2024, 3, 30), date(2024, 4, 1), "Asia/Kolkata") == {"2024-03-31": 3, "2024-04-01": 3}
    assert days(date(2024, 10, 27), date(2024, 10, 28), "Asia/Kolkata") == {"2024-10-27": 1, "2024-10-28": 1}
    assert reports.sales(date(2024, 3, 30), date(2024, 4, 1), "day", "Asia/Kolkata").revenue == Decimal("6.00")
