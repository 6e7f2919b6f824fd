"""Keyset paging of the customer list: Next/Previous seek from a boundary id (?after= / ?before=), under every filter."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, text, update

from isp.extensions import db
from isp.models import Customer, CustomerEvent, CustomerStatus, LedgerAccount, User
from isp.services import customers

PAGE = 3
ROW = re.compile(r'<td data-label="Account" class="nowrap"><a href="/customers/(\d+)"')
LINK = re.compile(r'<a class="btn btn-ghost btn-sm" rel="(next|prev)" href="([^"]+)"')


@pytest.fixture
def crowd(app, staff, make_seller, make_router, make_service_plan, make_customer, make_service, monkeypatch):
    """Fourteen customers (three pages of three and more under most filters): statuses, two plans on two routers,
    some in debt, some of a reseller, names sharing a prefix."""
    monkeypatch.setitem(app.config, "PAGE_SIZE", PAGE)
    r1, r2 = make_router(), make_router()
    gold, basic = make_service_plan([r1.id, r2.id], price="0", name="Gold"), make_service_plan([r2.id], price="0", name="Basic")
    seller = make_seller()
    made = []
    for n in range(14):
        owner = seller.id if n % 4 == 0 else staff.id
        made.append(make_customer(owner, name=f"{'Kamau' if n % 3 else 'Wekesa'} {n:02d}"))
        if n % 5 != 4:
            plan, router = (gold, r1) if n % 2 else (basic, r2)
            if plan is gold and n % 3 == 0:
                router = r2
            make_service(made[-1].id, plan.id, staff.id, username=f"svc{n:02d}", router_id=router.id)
    with app.app_context():
        ids = [c.id for c in made]
        db.session.execute(update(Customer).where(Customer.id.in_(ids[1::3])).values(status=CustomerStatus.suspended))
        db.session.execute(update(LedgerAccount).where(LedgerAccount.customer_id.in_(ids[::3] + [ids[1], ids[5]])).values(balance=-5))
        db.session.commit()
    return {"ids": ids, "gold": gold.id, "basic": basic.id, "r1": r1.id, "r2": r2.id, "seller": seller}


def _page(client, url: str) -> tuple[list[int], dict[str, str], str]:
    """(customer ids shown, {"next"/"prev": href}, the htmx block's text) of one list URL."""
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200, url
    html = response.get_data(as_text=True)
    return [int(i) for i in ROW.findall(html)], {rel: href.replace("&amp;", "&") for rel, href in LINK.findall(html)}, html


def _walk(client, url: str) -> tuple[list[int], list[int]]:
    """Every id met following Next from `url` to the end, then every id met following Previous back to page 1."""
    forward, backward, pages = [], [], []
    ids, links, _ = _page(client, url)
    while True:
        forward += ids
        pages.append(ids)
        if "next" not in links:
            break
        assert "after=" in links["next"] and "page=" not in url.split("?")[0]
        ids, links, _ = _page(client, links["next"])
    backward += ids
    while "prev" in links:
        assert "before=" in links["prev"]
        ids, links, _ = _page(client, links["prev"])
        backward = ids + backward
    return forward, backward


def _expected(app, user_id: int, filters: dict) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(customers.list_query(db.session.get(User, user_id), filters)))


FILTERS = ("", "status=suspended", "status=active", "plan_id={gold}", "plan_id={basic}", "router_id={r2}",
           "router_id={r1}", "debt=1", "q=kamau", "q=wekesa", "q=kamau&status=active", "plan_id={gold}&debt=1",
           "router_id={r2}&debt=1&status=active", "reseller_id={seller_id}", "q=svc")


@pytest.mark.parametrize("query", FILTERS)
def test_next_and_previous_visit_every_customer_once_under_each_filter(app, client, auth, staff, crowd, query):
    query = query.format(seller_id=crowd["seller"].id, **crowd)
    filters = dict(pair.split("=") for pair in query.split("&") if pair)
    expected = _expected(app, staff.id, filters)
    assert expected == sorted(expected, reverse=True) and len(expected) >= 2, expected
    auth.login(staff.username)
    forward, backward = _walk(client, f"/customers/?{query}")
    assert forward == expected and backward == expected


def test_the_pager_says_where_it_is_and_keeps_the_filters(app, client, auth, staff, crowd):
    auth.login(staff.username)
    ids, links, html = _page(client, "/customers/?status=active")
    assert "Page 1 · 1–3 of " in html and "prev" not in links and "status=active" in links["next"]
    ids2, links2, html2 = _page(client, links["next"])
    assert "Page 2 · 4–6 of " in html2 and "status=active" in links2["prev"] and "page=3" in links2["next"]
    assert not set(ids) & set(ids2)
    total = len(_expected(app, staff.id, {"status": "active"}))
    assert f"of {total} items" in html2
    # htmx swaps the results in place and pushes the URL, so Back and a reload land on the same page.
    nav = html2.split('data-test="pager"')[1].split("</nav>")[0]
    assert nav.count('hx-target="#results"') == 2 and nav.count('hx-push-url="true"') == 2 and "hx-get=" in nav
    full = client.get(links2["next"]).get_data(as_text=True)  # the pushed URL loaded without htmx: the whole page
    assert "<html" in full and "Page 3 · 7–9 of " in full and 'name="q"' in full


def test_a_page_number_alone_still_jumps_to_that_page(app, client, auth, staff, crowd):
    auth.login(staff.username)
    expected = _expected(app, staff.id, {"debt": "1"})
    ids, links, html = _page(client, "/customers/?debt=1&page=2")
    assert ids == expected[PAGE:2 * PAGE] and "Page 2" in html
    assert _page(client, links["next"])[0] == expected[2 * PAGE:3 * PAGE]  # and Next goes on from there by keyset


def test_a_reseller_walks_only_their_own_customers(app, client, auth, staff, crowd):
    seller = crowd["seller"]
    own = _expected(app, seller.id, {})
    assert own and len(own) < len(crowd["ids"])
    auth.login(seller.username)
    forward, backward = _walk(client, "/customers/")
    assert forward == own and backward == own
    # A boundary from someone else's customers still shows only the reseller's own.
    others = sorted(set(crowd["ids"]) - set(own), reverse=True)
    for boundary in (f"after={others[0]}", f"before={others[-1]}", f"after={others[-1]}"):
        ids, _, _ = _page(client, f"/customers/?{boundary}&page=2")
        assert set(ids) <= set(own) and ids


def test_rows_inserted_or_gone_between_pages_neither_repeat_nor_skip_others(app, client, auth, staff, crowd,
                                                                            make_customer):
    auth.login(staff.username)
    before = _expected(app, staff.id, {"status": "active"})
    first, links, _ = _page(client, "/customers/?status=active")
    assert first == before[:PAGE]
    # Meanwhile: a new customer signs up (newest, would be page 1 now), one on page 2 is suspended (leaves the
    # filter) and the boundary row itself is deleted outright.
    newcomer = make_customer(staff.id, name="Late Arrival")
    gone_from_filter = before[PAGE + 1]
    with app.app_context():
        db.session.execute(update(Customer).where(Customer.id == gone_from_filter).values(status=CustomerStatus.suspended))
        boundary = first[-1]
        db.session.execute(delete(CustomerEvent).where(CustomerEvent.customer_id == boundary))
        db.session.execute(delete(LedgerAccount).where(LedgerAccount.customer_id == boundary))
        db.session.execute(text("DELETE FROM subscriptions WHERE customer_id = :c"), {"c": boundary})
        db.session.execute(delete(Customer).where(Customer.id == boundary))
        db.session.commit()
    seen = list(first)
    while "next" in links:
        ids, links, _ = _page(client, links["next"])
        seen += ids
    assert newcomer.id not in seen and gone_from_filter not in seen
    assert seen == [i for i in before if i != gone_from_filter]  # every other one once, in order
    # Back up from the last page: the newcomer shows up on page 1 again, nobody twice.
    while "prev" in links:
        ids, links, html = _page(client, links["prev"])
    assert ids[0] == newcomer.id and "Page 1" in html


@pytest.mark.parametrize("value", ["abc", "-5", "0", "1e3", "99999999999999999999", "2147483648", "%00", "12abc"])
def test_bad_boundaries_give_page_one_not_an_error(app, client, auth, staff, crowd, value):
    auth.login(staff.username)
    newest = _expected(app, staff.id, {})[:PAGE]
    for arg in ("after", "before"):
        for suffix in ("", "&page=7", "&status=active&page=-2"):
            response = client.get(f"/customers/?{arg}={value}{suffix}")
            assert response.status_code == 200, (arg, value, suffix)
            html = response.get_data(as_text=True)
            if "status=active" not in suffix:
                assert [int(i) for i in ROW.findall(html)] == newest and "Page 1 ·" in html


def test_a_boundary_past_either_end_is_page_one(app, client, auth, staff, crowd):
    auth.login(staff.username)
    newest = _expected(app, staff.id, {})[:PAGE]
    for query in ("after=1", "after=2147483647&page=9", f"before={max(crowd['ids'])}&page=3"):
        ids, links, html = _page(client, f"/customers/?{query}")
        assert ids == newest and "Page 1 ·" in html and "prev" not in links, query


def test_a_deep_keyset_page_seeks_on_an_index(app, staff, crowd):
    """The boundary is a range on the (filter, id) index the page walks: no sort, no table scan, at any depth."""
    with app.app_context():
        user = db.session.get(User, staff.id)
        for filters, index in (({"status": "active"}, "ix_customers_status_id"), ({}, None),
                               ({"debt": "1"}, "ix_ledger_accounts_customer_balance")):
            for bound in ({"after": crowd["ids"][7]}, {"before": crowd["ids"][3]}):
                stmt = customers.list_query(user, filters, cap=PAGE + 1, **bound).limit(PAGE + 1)
                sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
                if db.engine.dialect.name == "sqlite":
                    plan = " / ".join(row[-1] for row in db.session.execute(text("EXPLAIN QUERY PLAN " + sql)))
                    assert plan.startswith("SEARCH") and "TEMP B-TREE" not in plan, (filters, bound, plan)
                    assert index is None or index in plan, plan
                else:
                    plan = [dict(row._mapping) for row in db.session.execute(text("EXPLAIN " + sql))]
                    assert plan[0]["type"] in ("range", "ref", "eq_ref", "const", "index"), plan
                    if not filters.get("debt"):
                        # (In debt: at a few rows MariaDB picks any of the ledger indexes by statistics, as
                        # test_the_in_debt_list_reads_only_an_index says; SQLite's walk is asserted above.)
                        assert "filesort" not in (plan[0]["Extra"] or ""), plan
