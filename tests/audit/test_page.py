"""The audit page: admins only, filters that return exactly the right rows, local-time dates, CSV, history links."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest

from isp.extensions import db as _db
from isp.models import AuditEntry, Router, User
from isp.services import audit, routers
from tests.audit.conftest import entries

NAIROBI = "Africa/Nairobi"  # UTC+3 all year: a late-evening UTC moment is the next local day


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-entry="(\d+)"', html)]


def _add(app, at: datetime, action: str, actor_id: int | None = None, target: str = "", target_type: str = "",
         target_id: int | None = None, via: str = "web", changes: str = "", detail: str = "") -> int:
    with app.app_context():
        entry = AuditEntry(at=at, action=action, actor_id=actor_id, target=target, target_type=target_type,
                           target_id=target_id, via=via, changes=changes, detail=detail, ip="198.51.100.4")
        _db.session.add(entry)
        _db.session.commit()
        return entry.id


@pytest.fixture
def root(make_user):
    """The admin who reads the log."""
    return make_user("admin", "root")


@pytest.fixture
def log(app, make_user, root):
    """Alice and Bob's entries and a job's, at known moments (the page reads them in Nairobi time)."""
    app.config["ISP_TIMEZONE"] = NAIROBI
    alice, bob = make_user("operator", "alice"), make_user("operator", "bob")
    with app.app_context():  # the users' own creation rows are not part of these tests
        _db.session.query(AuditEntry).delete()
        _db.session.commit()
    ids = {
        "late_mar1": _add(app, datetime(2026, 3, 1, 20, 30, tzinfo=UTC), "router.create", alice.id, "core-a", "routers", 7),
        "early_mar2": _add(app, datetime(2026, 3, 1, 21, 30, tzinfo=UTC), "router.update", alice.id, "core-a", "routers", 7),
        "bob_plan": _add(app, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "plan.update", bob.id, "Daily", "hotspot_plans", 3),
        "bob_other_router": _add(app, datetime(2026, 3, 2, 10, 0, tzinfo=UTC), "router.update", bob.id, "edge-b", "routers", 8),
        "job": _add(app, datetime(2026, 3, 3, 0, 5, tzinfo=UTC), "subscriptions.suspended", None, "12 services", via="job"),
        "cli": _add(app, datetime(2026, 3, 3, 1, 0, tzinfo=UTC), "user.create", None, "root2", "users", 99, via="cli"),
    }
    return ids


def _get(client, **args) -> str:
    response = client.get("/audit/", query_string=args)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_filters_return_exactly_the_right_rows_newest_first(app, client, auth, log):
    auth.login("root")
    everything = _ids(_get(client))
    assert everything == sorted(everything, reverse=True) and set(log.values()) <= set(everything)
    assert _ids(_get(client, actor="ALICE")) == [log["early_mar2"], log["late_mar1"]]
    assert _ids(_get(client, actor="(system)")) == [log["cli"], log["job"]]
    assert _ids(_get(client, actor="nobody-by-that-name")) == []
    assert _ids(_get(client, action="router.*")) == [log["bob_other_router"], log["early_mar2"], log["late_mar1"]]
    assert _ids(_get(client, action="router.update")) == [log["bob_other_router"], log["early_mar2"]]
    assert _ids(_get(client, action="router.")) == []  # exact unless it ends in .*
    assert _ids(_get(client, target_type="routers", target_id="7")) == [log["early_mar2"], log["late_mar1"]]
    assert _ids(_get(client, via="cli")) == [log["cli"]]
    assert _ids(_get(client, q="edge")) == [log["bob_other_router"]]
    assert _ids(_get(client, actor="bob", action="router.*")) == [log["bob_other_router"]]


def test_dates_are_the_operators_local_days(app, client, auth, log):
    auth.login("root")
    # 20:30 UTC on 1 March is 23:30 in Nairobi; 21:30 UTC is 00:30 on 2 March there.
    assert _ids(_get(client, date_from="2026-03-01", date_to="2026-03-01")) == [log["late_mar1"]]
    assert _ids(_get(client, date_from="2026-03-02", date_to="2026-03-02")) == [
        log["bob_other_router"], log["bob_plan"], log["early_mar2"]]
    html = _get(client, date_from="2026-03-02", date_to="2026-03-02", actor="alice")
    assert "2026-03-02 00:30:00" in html  # shown in local time too


def test_bad_filter_values_are_dropped_not_a_500(app, client, auth, log):
    auth.login("root")
    for args in ({"date_from": "2026-02-31"}, {"date_to": "0001-01-01"}, {"target_id": "x1"}, {"via": "mail"},
                 {"target_id": "9" * 40}, {"action": "%"}, {"q": "100%_\\"}):
        response = client.get("/audit/", query_string=args)
        assert response.status_code == 200, args


def test_a_row_reads_as_who_did_what_to_which_object(app, client, auth, make_user, make_router):
    made = make_router(name="core-x", site="north")
    admin = make_user("admin", "root")
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.9"}):
        router = _db.session.get(Router, made.id)
        routers.update_router(router, {"name": "core-x", "addresses": "127.0.0.1", "api_port": router.api_port,
                                       "username": router.username, "password": "Fresh-Router-Pw-1", "mode": "api",
                                       "site": "south", "enabled": True, "max_sessions": 20},
                              _db.session.get(User, admin.id))
        _db.session.commit()
    auth.login("root")
    html = _get(client, action="router.update")
    assert "root" in html and "203.0.113.9" in html and "router.update" in html
    assert f'href="/routers/{made.id}"' in html
    assert re.search(r"<strong>site</strong>: north → south", html)
    assert re.search(r"<strong>password</strong>: .*•••••• → ••••••", html)
    assert "Fresh-Router-Pw-1" not in html


def test_htmx_gets_the_results_only_and_pages_are_cut_in_sql(app, client, auth, log):
    auth.login("root")
    app.config["PAGE_SIZE"] = 2
    fragment = client.get("/audit/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and len(_ids(fragment)) == 2
    second = _ids(_get(client, page=2))
    assert len(second) == 2 and set(second).isdisjoint(_ids(fragment))


def test_the_csv_holds_the_filtered_rows_with_formulas_neutralised_and_no_secret(app, client, auth, log, root):
    admin = root
    auth.login("root")
    changes = audit.diff({"password_encrypted": None, "name": "a"},
                         {"password_encrypted": "Top-Secret-42", "name": "=cmd|' /C calc'!A0"})
    _add(app, datetime(2026, 3, 4, 8, 0, tzinfo=UTC), "router.update", admin.id, "=cmd", "routers", 7,
         changes=json.dumps(changes), detail="@SUM(1+1)")
    response = client.get("/audit/audit.csv", query_string={"action": "router.*", "target_id": "7",
                                                            "target_type": "routers"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    body = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [int(r["id"]) for r in rows] == [max(int(r["id"]) for r in rows), log["early_mar2"], log["late_mar1"]]
    newest = rows[0]
    assert newest["target"] == "'=cmd" and newest["detail"] == "'@SUM(1+1)"
    assert newest["actor"] == admin.username and newest["when"] == "2026-03-04 11:00:00"  # Nairobi
    assert "password: — → ••••••" in newest["changes"] and "Top-Secret-42" not in body
    assert rows[1]["actor"] == "alice"


@pytest.mark.parametrize("role", ["operator", "reseller"])
def test_only_admins_see_the_log(app, client, auth, log, role):
    auth.login_as(role)
    # The house rule (role_required): 403 to htmx and JSON, a redirect with a message for a page; never the rows.
    for url in ("/audit/", "/audit/audit.csv"):
        assert client.get(url, headers={"HX-Request": "true"}).status_code == 403
        assert client.get(url, headers={"Accept": "application/json"}).status_code == 403
        page = client.get(url)
        assert page.status_code == 302 and "/audit" not in page.headers["Location"]
        assert "core-a" not in page.get_data(as_text=True)


def test_the_history_link_on_a_router_page_lists_that_router_only(app, client, auth, make_router, make_user):
    one, two = make_router(name="hist-one"), make_router(name="hist-two")
    admin = make_user("admin", "boss")
    with app.app_context():
        actor = _db.session.get(User, admin.id)
        for made, site in ((one, "a"), (two, "b"), (one, "c")):
            router = _db.session.get(Router, made.id)
            routers.update_router(router, {"name": router.name, "addresses": "127.0.0.1", "api_port": router.api_port,
                                           "username": router.username, "mode": "api", "site": site, "enabled": True,
                                           "max_sessions": 20}, actor)
            _db.session.commit()
    auth.login("boss")
    page = client.get(f"/routers/{one.id}").get_data(as_text=True)
    match = re.search(r'href="([^"]+)" data-test="history"', page)
    assert match, "no History link on the router page"
    history = _get(client, **dict(p.split("=") for p in match.group(1).split("?")[1].replace("&amp;", "&").split("&")))
    mine = [e.id for e in entries(app) if e.target_type == "routers" and e.target_id == one.id]
    assert sorted(_ids(history)) == sorted(mine) and len(mine) >= 3  # created, onboarded, edited twice
    assert "hist-two" not in history


def test_staff_who_cannot_open_the_log_see_no_history_link(app, client, auth, make_router):
    made = make_router(name="quiet")
    auth.login_as("operator")
    page = client.get(f"/routers/{made.id}").get_data(as_text=True)
    assert 'data-test="history"' not in page


def test_every_detail_page_links_its_own_history(app, client, auth, make_user, make_router, make_plan, generate):
    from isp.services import alert_rules, customers, service_plans, subscriptions

    admin = auth.login_as("admin")
    reseller = make_user("reseller", "shop")
    router = make_router(name="pages")
    plan = make_plan([router.id])
    batch = generate(admin.id, plan.id, 2)
    with app.app_context():
        actor = _db.session.get(User, admin.id)
        service_plan = service_plans.create_plan({"name": "Fibre", "kind": "pppoe", "price": "0", "period_unit": "month",
                                                  "period_count": "1", "rate_limit": "5M/10M", "shared_users": "1",
                                                  "active": True, "router_ids": [router.id]}, actor)
        customer = customers.create({"name": "Ann", "phone": "+254700000009"}, actor)
        sub = subscriptions.create(customer, {"plan_id": service_plan.id, "username": "ann"}, actor)
        _db.session.commit()
        rule_id = alert_rules.save_rule(actor, None, "offline", {"name": "Down", "seconds": "60", "severity": "critical",
                                                                 "channels": [], "enabled": True}).id
        _db.session.commit()
        ids = {"service_plans": service_plan.id, "customers": customer.id, "subscriptions": sub.id}
    pages = {f"/routers/{router.id}": ("routers", router.id), f"/plans/{plan.id}/edit": ("hotspot_plans", plan.id),
             f"/customers/plans/{ids['service_plans']}/edit": ("service_plans", ids["service_plans"]),
             f"/customers/{ids['customers']}": ("customers", ids["customers"]),
             f"/customers/services/{ids['subscriptions']}/edit": ("subscriptions", ids["subscriptions"]),
             f"/vouchers/batches/{batch}": ("voucher_batches", batch), f"/resellers/{reseller.id}": ("users", reseller.id),
             f"/alerts/rules/{rule_id}/edit": ("alert_rules", rule_id),
             f"/settings/users/{reseller.id}": ("users", reseller.id)}
    for url, (kind, object_id) in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert f'href="/audit/?target_type={kind}&amp;target_id={object_id}" data-test="history"' in html, url
