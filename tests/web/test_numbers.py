"""Numbers where they enter: huge ids, page numbers, durations, sizes, money and lengths are refused clearly, never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import HotspotPlan, Voucher
from tests.web.test_roles import _APP, _samples, _url

GET_RULES = sorted((r for r in _APP.url_map.iter_rules() if r.endpoint != "static" and "GET" in r.methods),
                   key=lambda r: r.rule)
HUGE = [str(2**31), str(2**63), "9" * 40]


@pytest.mark.parametrize("rule", GET_RULES, ids=lambda r: r.rule)
def test_every_get_route_survives_huge_ids_and_page_numbers(app, client, auth, make_user, make_router, rule):
    samples = _samples(app, make_user, make_router)
    auth.login_as("admin")
    urls = []
    for huge in HUGE:
        if rule.arguments:  # each id in the path out of range: the converter does not match, so 404
            urls.append((_url(rule, {name: huge for name in samples}), 404))
        query = f"?page={huge}&plan_id={huge}&router_id={huge}&batch_id={huge}&reseller_id={huge}&per_page={huge}"
        urls.append((_url(rule, samples) + query, None))
    urls.append((_url(rule, samples) + "?page=%C2%B2&plan_id=%C2%B2", None))  # a superscript two is no digit
    for url, expected in urls:
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code < 500, (url, response.status_code)
            response.get_data()  # a streamed body (the CSV export) must not fail half way either
            response.close()
            if expected is not None:
                assert response.status_code == expected, url


def test_plan_form_bounds_durations_sizes_money_and_lengths(client, auth, make_router):
    from tests.web.test_plans import _form

    auth.login_as("operator")
    token = auth.token()
    cases = {
        "validity": ("999999999w", "is too long: at most 3650 days"),
        "time_quota": ("9" * 5000 + "d", "is not a duration"),
        "data_quota": ("99999999T", "is too large"),
        "rate_limit": ("1M/2M " * 2000, "at most 120 characters"),
        "price": ("1e9", "is not an amount"),
        "reseller_price": ("5_000", "is not an amount"),
        "shared_users": ("99999999999999999999", "between 1 and 100"),
        "name": ("x" * 65, "at most 64 characters"),
    }
    for field, (value, message) in cases.items():
        response = client.post("/plans/new", data={**_form(), field: value, "csrf_token": token})
        html = response.get_data(as_text=True)
        assert response.status_code == 422 and message in html, (field, response.status_code)
    arabic = client.post("/plans/new", data={**_form(), "price": "\u0661\u0662", "csrf_token": token})
    assert arabic.status_code == 422 and "is not an amount" in arabic.get_data(as_text=True)
    with client.application.app_context():
        assert _db.session.scalar(select(HotspotPlan.id)) is None
    ok = client.post("/plans/new", data={**_form(price="1,250.50", reseller_price="1000"), "csrf_token": token})
    assert ok.status_code == 302
    with client.application.app_context():
        plan = _db.session.scalar(select(HotspotPlan))
        assert (str(plan.price), str(plan.reseller_price)) == ("1250.50", "1000.00")


@pytest.mark.parametrize("amount,message", [("1e9", "is not an amount"), ("5_000", "is not an amount"),
                                            ("\u0665", "is not an amount"), ("12.345", "at most two decimals"),
                                            ("99999999999", "is too large"), ("-5", "cannot be negative")])
def test_ledger_entry_refuses_loose_amounts_with_422(app, client, auth, make_user, amount, message):
    reseller = make_user("reseller")
    auth.login_as("admin")
    response = client.post(f"/resellers/{reseller.id}/entries",
                           data={"kind": "topup", "amount": amount, "memo": "", "csrf_token": auth.token()})
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_extend_is_bounded_so_a_voucher_can_never_overflow(app, client, auth, make_user, make_router, make_plan, generate):
    admin = make_user("admin")
    batch = generate(admin.id, make_plan([make_router().id], validity="3000d").id, 1)
    with app.app_context():
        voucher_id = _db.session.scalar(select(Voucher.id).where(Voucher.batch_id == batch))
    auth.login(admin.username)
    token = auth.token()
    for extend, message in (("999999999w", "is too long"), ("9" * 40 + "d", "is not a duration"),
                            ("1000d", "validity can be at most 3650 days")):
        page = client.post("/vouchers/bulk", data={"action": "extend", "extend": extend, "ids": [voucher_id, "9" * 30],
                                                   "csrf_token": token, "back": "/vouchers/"}, follow_redirects=True)
        assert page.status_code == 200 and message in page.get_data(as_text=True), extend
    with app.app_context():
        assert _db.session.get(Voucher, voucher_id).validity_seconds == 3000 * 86400


def test_text_longer_than_its_column_is_refused_not_cut(app, client, auth, make_router, make_plan):
    router = make_router()
    plan = make_plan([router.id])
    auth.login_as("admin")
    token = auth.token()
    batch = client.post("/vouchers/batches/new", data={"plan_id": plan.id, "router_id": 0, "count": 1, "mode": "code",
                                                       "length": 8, "note": "n" * 201, "csrf_token": token})
    assert batch.status_code == 422 and "A note is at most 200 characters." in batch.get_data(as_text=True)
    edit = client.post(f"/routers/{router.id}/edit", data={"csrf_token": token, "name": router.name, "addresses": "127.0.0.1",
                                                           "api_port": "1", "username": "admin", "mode": "api",
                                                           "site": "s" * 121, "max_sessions": "20"})
    assert edit.status_code == 422 and "Site is at most 120 characters." in edit.get_data(as_text=True)
