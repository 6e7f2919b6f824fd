"""The customer list: search as you type on every indexed field, filters, id-first paging, the htmx block."""
from __future__ import annotations

from decimal import Decimal

import pytest

from isp.extensions import db
from isp.models import EntryKind, User
from isp.services import customers, ledger


@pytest.fixture
def people(app, staff, make_seller, make_router, make_service_plan, make_customer, make_service):
    """Five customers with distinct fields, services on two plans and routers, one in debt, one of a reseller."""
    r1, r2 = make_router(), make_router()
    gold, basic = make_service_plan([r1.id], price="0", name="Gold"), make_service_plan([r2.id], price="0", name="Basic")
    seller = make_seller()
    out = {
        "jane": make_customer(staff.id, name="Jane Wanjiru", phone="+254 711 000 111", email="jane@example.com"),
        "john": make_customer(staff.id, name="John Otieno", phone="0722 333 444", phone2="0733 555 666", email="jo@mail.net"),
        "acme": make_customer(staff.id, name="Acme Ltd", email="it@acme.co"),
        "mary": make_customer(seller.id, name="Mary Akinyi"),
        "pct": make_customer(staff.id, name="100% Fiber_Shop"),
    }
    make_service(out["jane"].id, gold.id, staff.id, username="jwanjiru")
    make_service(out["john"].id, basic.id, staff.id, username="otieno-home")
    with app.app_context():
        account = ledger.customer_account(out["acme"].id)
        ledger.post(account, EntryKind.adjustment, Decimal("-40.00"), "old debt", allow_overdraft=True)
        customers.set_status(db.session.get(customers.Customer, out["pct"].id), "suspended", db.session.get(User, staff.id))
        db.session.commit()
    return {**out, "gold": gold, "basic": basic, "r1": r1, "r2": r2, "seller": seller, "staff": staff}


def _names(app, user_id: int, **filters) -> list[str]:
    with app.app_context():
        page = customers.list_page(db.session.get(User, user_id), {k: str(v) for k, v in filters.items()}, 50)
        return [c.name for c in page.items]


@pytest.mark.parametrize("q,expected", [
    ("jane", ["Jane Wanjiru"]), ("JO", ["John Otieno"]), ("Acme", ["Acme Ltd"]),             # name prefix, any case
    ("+254711", ["Jane Wanjiru"]), ("0722 333", ["John Otieno"]), ("0733", ["John Otieno"]),  # phone, second phone
    ("it@acme", ["Acme Ltd"]), ("jo@", ["John Otieno"]),                                     # email
    ("jwan", ["Jane Wanjiru"]), ("otieno-h", ["John Otieno"]),                               # service username
    ("ISP-000002", ["John Otieno"]), ("2", ["John Otieno"]), ("000003", ["Acme Ltd"]), ("isp-3", ["Acme Ltd"]),  # account
    ("100%", ["100% Fiber_Shop"]), ("1_0", []), ("%", []), ("zzz", []),                     # wildcards are literal
])
def test_search_by_each_field(app, people, q, expected):
    assert _names(app, people["staff"].id, q=q) == expected


def test_filters(app, people):
    staff = people["staff"].id
    assert _names(app, staff, plan_id=people["gold"].id) == ["Jane Wanjiru"]
    assert _names(app, staff, router_id=people["r2"].id) == ["John Otieno"]
    assert _names(app, staff, debt=1) == ["Acme Ltd"]
    assert _names(app, staff, status="suspended") == ["100% Fiber_Shop"]
    assert _names(app, staff, reseller_id=people["seller"].id) == ["Mary Akinyi"]
    assert _names(app, staff, q="j", plan_id=people["basic"].id) == ["John Otieno"]
    assert _names(app, staff, q="jane", status="suspended") == []


def test_a_reseller_searches_only_their_own(app, people):
    assert _names(app, people["seller"].id) == ["Mary Akinyi"]
    assert _names(app, people["seller"].id, q="jane") == []


def test_list_page_shows_columns_and_answers_htmx_with_the_block(app, client, auth, people):
    auth.login(people["staff"].username)
    page = client.get("/customers/?q=john").get_data(as_text=True)
    assert "<html" in page and "John Otieno" in page and "Jane Wanjiru" not in page
    assert "ISP-000002" in page and "0722333444" in page and "1 active" in page
    block = client.get("/customers/?q=acme", headers={"HX-Request": "true"})
    text = block.get_data(as_text=True)
    assert "HX-Request" in block.headers["Vary"] and "<html" not in text and "Acme Ltd" in text
    assert "-40.00" in text  # the balance column
    assert "No customer matches" in client.get("/customers/?q=nobody").get_data(as_text=True)


def test_bad_filter_values_are_ignored_not_errors(app, client, auth, people):
    auth.login(people["staff"].username)
    for query in ("plan_id=abc", "router_id=99999999999", "status=weird", "page=-3", "page=999999999999", "debt=maybe"):
        assert client.get(f"/customers/?{query}").status_code == 200


def test_paging_is_newest_first_fifty_a_page(app, staff, make_customer):
    with app.app_context():
        actor = db.session.get(User, staff.id)
        for n in range(55):
            customers.create({"name": f"Bulk {n:02d}"}, actor)
        db.session.commit()
    with app.test_request_context("/customers/?page=2"):
        second = customers.list_page(db.session.get(User, staff.id), {}, 50)
        assert [c.name for c in second.items] == [f"Bulk {n:02d}" for n in range(4, -1, -1)]
        assert second.total == 55 and second.pages == 2
    with app.test_request_context("/customers/"):
        first = customers.list_page(db.session.get(User, staff.id), {"q": "bulk"}, 50)
        assert len(first.items) == 50 and first.items[0].name == "Bulk 54"


def test_a_capped_search_keeps_exactly_the_newest_matches(app, staff, make_customer, make_service, make_router,
                                                          make_service_plan):
    """Each part of the search keeps only its newest `cap` ids: the union's newest `cap` are still exact, a customer
    matching in two columns (name and a service username) appears once, and older matches are not lost before it."""
    plan = make_service_plan([make_router().id], price="0", name="Cap")
    made = [make_customer(staff.id, name=f"Kip {n}") for n in range(4)]
    make_service(made[0].id, plan.id, staff.id, username="kip-oldest")  # the oldest also matches by username
    make_service(made[3].id, plan.id, staff.id, username="kip-newest")  # the newest matches in two columns
    with app.app_context():
        user = db.session.get(User, staff.id)
        everything = list(db.session.scalars(customers.list_query(user, {"q": "kip"})))
        for cap in (1, 2, 3, 5):
            assert list(db.session.scalars(customers.list_query(user, {"q": "kip"}, cap=cap)))[:cap] == everything[:cap]
    assert everything == [c.id for c in reversed(made)]


def test_a_plain_search_pages_deep_and_counts_up_to_the_limit(app, staff, make_customer, make_service, make_router,
                                                              make_service_plan, monkeypatch):
    """A plain search pages the newest matches of every column (page 2 continues page 1, a customer matching in two
    columns appears once) and counts them once each; past the count's limit the pager says "more than"."""
    plan = make_service_plan([make_router().id], price="0", name="Deep")
    made = [make_customer(staff.id, name=f"Wambui {n:02d}", email=f"w{n}@example.net") for n in range(7)]
    for n in (0, 3, 6):  # matches by name and by service username: still one row, one count
        make_service(made[n].id, plan.id, staff.id, username=f"wambui-{n}")
    make_service(made[0].id, plan.id, staff.id, username="wambui-0b")  # two services of one customer: still once
    other = make_customer(staff.id, name="Otieno", email="wambui@example.net")  # matches by email only
    newest_first = [other.id] + [c.id for c in reversed(made)]
    monkeypatch.setattr(customers.Pagination, "COUNT_UP_TO", 5)
    for page, expected in ((1, newest_first[:3]), (2, newest_first[3:6]), (3, newest_first[6:])):
        with app.test_request_context(f"/customers/?page={page}"):
            got = customers.list_page(db.session.get(User, staff.id), {"q": "wambui"}, 3)
            assert [c.id for c in got.items] == expected
            assert got.total == 8 and got.more_than is None  # page 1..3 count to 5 or ten pages on: exact here
    monkeypatch.setattr(customers.Pagination, "count_limit", classmethod(lambda cls, page, per_page: 5))
    with app.test_request_context("/customers/"):
        got = customers.list_page(db.session.get(User, staff.id), {"q": "wambui"}, 3)
        assert [c.id for c in got.items] == newest_first[:3] and got.more_than == 5
    with app.app_context():
        assert [customers.search_count("wambui", n) for n in (3, 6, 8, 9, 100)] == [3, 6, 8, 8, 8]
        assert [customers.search_count("wambui-", n) for n in (3, 4, 100)] == [3, 3, 3]
        assert customers.search_count("w0@", 100) == 1 and customers.search_count("zzz", 100) == 0


def test_a_plain_search_on_the_web_page_says_more_than_past_the_limit(app, client, auth, staff, make_customer,
                                                                      monkeypatch):
    for n in range(4):
        make_customer(staff.id, name=f"Njeri {n}")
    monkeypatch.setattr(customers.Pagination, "count_limit", classmethod(lambda cls, page, per_page: 2))
    monkeypatch.setitem(app.config, "PAGE_SIZE", 1)
    auth.login(staff.username)
    text = client.get("/customers/?q=njeri", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Njeri 3" in text and "Njeri 2" not in text and "more than 2 items" in text
    second = client.get("/customers/?q=njeri&page=2", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Njeri 2" in second and "Njeri 3" not in second


def test_every_part_of_a_search_reads_only_an_index(app, people):
    """Each column's prefix search is a range on its own index that holds the customer id (no table rows read):
    on SQLite the NOCASE indexes (the service username's was lost once by a table rebuild), on MariaDB the
    column indexes, (username, customer_id) for services."""
    from sqlalchemy import text

    with app.app_context():
        for q in ("jwan", "+2547", "ISP-000002"):
            for part in customers._search_parts(q):
                sql = str(part.compile(db.engine, compile_kwargs={"literal_binds": True}))
                if db.engine.dialect.name == "sqlite":
                    plan = [row[-1] for row in db.session.execute(text("EXPLAIN QUERY PLAN " + sql))]
                    assert len(plan) == 1 and plan[0].startswith("SEARCH") and "COVERING INDEX" in plan[0], (sql, plan)
                else:
                    plan = [dict(row._mapping) for row in db.session.execute(text("EXPLAIN " + sql))]
                    assert len(plan) == 1 and "Using index" in (plan[0]["Extra"] or ""), (sql, plan)


def test_the_in_debt_list_reads_only_an_index(app, people):
    """'In debt' pages the accounts below zero newest customer first off (customer_id, balance): no account rows."""
    from sqlalchemy import text

    assert _names(app, people["staff"].id, debt=1) == ["Acme Ltd"]
    with app.app_context():
        ids = customers.list_query(db.session.get(User, people["staff"].id), {"debt": "1"}).limit(50).offset(50)
        sql = str(ids.compile(db.engine, compile_kwargs={"literal_binds": True}))
        if db.engine.dialect.name == "sqlite":
            plan = [row[-1] for row in db.session.execute(text("EXPLAIN QUERY PLAN " + sql))]
            assert plan == ["SEARCH ledger_accounts USING COVERING INDEX ix_ledger_accounts_customer_balance "
                            "(customer_id>?)"], plan
        else:
            # MariaDB's optimizer chooses among the ledger indexes by statistics, which a table of three rows does not
            # settle (runs have shown each of them); what holds at any size is that no account row is scanned without
            # an index. The covering walk is asserted on SQLite above, and P4 times MariaDB at 100,000 customers.
            plan = [dict(row._mapping) for row in db.session.execute(text("EXPLAIN " + sql))]
            assert len(plan) == 1 and plan[0]["table"] == "ledger_accounts", plan
            assert plan[0]["key"] in {"ix_ledger_accounts_customer_balance", "uq_ledger_accounts_customer_id",
                                      "ix_ledger_accounts_balance_customer"}, plan
            assert plan[0]["type"] != "ALL", plan
