"""Voucher pages: generate, live progress, filters and search, bulk actions, CSV, history."""
import csv
import io

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import Voucher, VoucherState
from tests.conftest import run_worker


def test_generate_in_the_browser_flow_and_progress_reaches_100(app, client, auth, sim, make_router, make_plan):
    router = make_router(sim.routers[0])
    plan = make_plan([router.id], name="Hour pass")
    auth.login_as("operator")
    form = client.get("/vouchers/batches/new").get_data(as_text=True)
    assert "Hour pass" in form
    bad = client.post("/vouchers/batches/new", data={"plan_id": plan.id, "router_id": 0, "count": 20000, "mode": "code",
                                                     "length": 8, "csrf_token": auth.token()})
    assert bad.status_code == 422 and "from 1 to 10,000" in bad.get_data(as_text=True)
    response = client.post("/vouchers/batches/new", data={"plan_id": plan.id, "router_id": 0, "count": 300, "mode": "code",
                                                          "prefix": "hp", "length": 6, "note": "shop", "csrf_token": auth.token()})
    assert response.status_code == 302
    batch_url = response.headers["Location"]
    widget = client.get(batch_url + "/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in widget and "0%" in widget and "300</span> pending" in widget
    run_worker(app)
    widget = client.get(batch_url + "/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "100%" in widget and "300</span> pushed" in widget and "every 2s" not in widget  # polling stops
    page = client.get(batch_url).get_data(as_text=True)
    assert page.count('data-sync="synced"') == min(300, app.config["PAGE_SIZE"])
    assert len([r for r in sim.routers[0].state.rows("/ip/hotspot/user") if r["name"].startswith("HP")]) == 300


def test_search_finds_codes_whatever_the_typed_prefix_ends_in(app, client, auth, make_router, make_plan, generate,
                                                              make_user):
    """A prefix ending in Z or 9 (the bound one past it is '[' or ':', which MariaDB's collation sorts first)."""
    admin = make_user("admin")
    plan = make_plan([make_router().id], name="Alpha")
    batch = generate(admin.id, plan.id, 3, prefix="QQ")
    codes = ["ZZ9Z4KQ7", "AB9C9D2E", "XQ7PLMN3"]
    with app.app_context():
        for voucher, code in zip(_db.session.scalars(select(Voucher).where(Voucher.batch_id == batch).order_by(Voucher.id)),
                                 codes, strict=True):
            voucher.code = code
        _db.session.commit()
    auth.login(admin.username)
    for typed, found in (("zz9z", "ZZ9Z4KQ7"), ("ZZ9", "ZZ9Z4KQ7"), ("ab9", "AB9C9D2E"), ("AB9C9", "AB9C9D2E"),
                         ("xq7plmn3", "XQ7PLMN3")):
        html = client.get(f"/vouchers/?q={typed}", headers={"HX-Request": "true"}).get_data(as_text=True)
        assert found in html and [c for c in codes if c in html] == [found], typed


def test_list_filters_search_and_export(app, client, auth, make_router, make_plan, generate, make_user):
    admin = make_user("admin")
    router = make_router()
    p1, p2 = make_plan([router.id], name="Alpha"), make_plan([router.id], name="Beta")
    b1 = generate(admin.id, p1.id, 3, prefix="AA")
    generate(admin.id, p2.id, 2, prefix="BB")
    with app.app_context():
        code = _db.session.scalar(select(Voucher.code).where(Voucher.batch_id == b1).order_by(Voucher.id))
        _db.session.scalar(select(Voucher).where(Voucher.code == code)).state = VoucherState.active
        _db.session.commit()
    auth.login(admin.username)
    search = client.get(f"/vouchers/?q={code[:5].lower()}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert code in search and "<html" not in search  # only the results block
    assert client.get("/vouchers/?state=active").get_data(as_text=True).count("<code>AA") == 1
    beta = client.get(f"/vouchers/?plan_id={p2.id}").get_data(as_text=True)
    assert beta.count("<code>BB") == 2 and "<code>AA" not in beta
    assert client.get("/vouchers/?plan_id=abc&state=bogus").status_code == 200  # bad filters are ignored
    exported = client.get(f"/vouchers/export.csv?batch_id={b1}")
    assert exported.headers["Content-Disposition"] == f'attachment; filename="vouchers-batch-{b1}.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert len(rows) == 3 and {r["plan"] for r in rows} == {"Alpha"} and rows[0]["price"] == "10.00"


def test_bulk_extend_delete_and_history(app, client, auth, make_router, make_plan, generate, make_user, fund, allow):
    admin = make_user("admin")
    plan = make_plan([make_router().id], validity="1h", reseller_price="2.00")
    reseller = make_user("reseller")
    allow(reseller.id, plan.id)
    fund(reseller.id, "10.00")
    batch = generate(reseller.id, plan.id, 3)  # balance 4.00 afterwards
    with app.app_context():
        ids = list(_db.session.scalars(select(Voucher.id).where(Voucher.batch_id == batch).order_by(Voucher.id)))
    auth.login(admin.username)
    token = auth.token()
    bad = client.post("/vouchers/bulk", data={"action": "extend", "extend": "soon", "ids": ids[:1], "csrf_token": token,
                                              "back": "/vouchers/"}, follow_redirects=True)
    assert "is not a duration" in bad.get_data(as_text=True)
    client.post("/vouchers/bulk", data={"action": "extend", "extend": "1d", "ids": ids[:1], "csrf_token": token})
    client.post("/vouchers/bulk", data={"action": "delete", "ids": ids[1:], "csrf_token": token})
    detail = client.get(f"/vouchers/{ids[1]}").get_data(as_text=True)
    assert "unused → deleted" in detail
    assert "1d1h" in client.get(f"/vouchers/{ids[0]}").get_data(as_text=True)  # validity 1h + 1d
    # Deleting unused reseller stock refunds what the reseller paid.
    assert "8.00" in client.get(f"/resellers/{reseller.id}").get_data(as_text=True)
    auth.logout()
    auth.login(reseller.username)
    refused = client.post("/vouchers/bulk", data={"action": "delete", "ids": ids[:1], "csrf_token": auth.token()}, follow_redirects=True)
    assert "Your role may not delete vouchers." in refused.get_data(as_text=True)
    with app.app_context():
        assert _db.session.get(Voucher, ids[0]).state == VoucherState.unused


def test_the_progress_url_opened_without_htmx_shows_the_batch_page(client, auth, make_router, make_plan, generate, make_user):
    admin = make_user("admin")
    batch = generate(admin.id, make_plan([make_router().id]).id, 2)
    auth.login(admin.username)
    for headers in ({}, {"HX-Request": "true", "HX-Boosted": "true"}):
        response = client.get(f"/vouchers/batches/{batch}/progress", headers=headers)
        assert response.status_code == 302 and response.headers["Location"] == f"/vouchers/batches/{batch}"
    page = client.get(f"/vouchers/batches/{batch}/progress", follow_redirects=True)
    assert page.status_code == 200 and f"Batch #{batch}" in page.get_data(as_text=True)
    widget = client.get(f"/vouchers/batches/{batch}/progress", headers={"HX-Request": "true"})
    assert widget.status_code == 200 and "<html" not in widget.get_data(as_text=True)
