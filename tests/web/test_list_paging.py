"""Long lists: every page newest first without gaps, a bounded count, and index-only plans on both databases."""
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import select, text

from isp.extensions import db as _db
from isp.models import Voucher


@pytest.fixture
def sixty(app, make_user, make_router, make_plan, generate):
    """60 vouchers on a RADIUS-mode router (nothing to push), 5 to a page; returns their codes, newest first."""
    app.config["PAGE_SIZE"] = 5
    admin = make_user("admin")
    router = make_router(None, mode="radius")
    plan = make_plan([router.id])
    for _ in range(3):
        generate(admin.id, plan.id, 20)
    with app.app_context():
        return list(_db.session.scalars(select(Voucher.code).order_by(Voucher.id.desc())))


def _codes_on(html):
    return re.findall(r">([A-Z0-9]{8})<", html)


def test_every_page_lists_the_next_vouchers_newest_first_and_the_count_stops_early(auth, sixty, monkeypatch):
    from isp.services import paging

    monkeypatch.setattr(paging, "COUNT_UP_TO", 20)
    auth.login_as("operator")
    seen = []
    for number in range(1, 13):
        html = auth.client.get(f"/vouchers/?page={number}").get_data(as_text=True)
        seen += [c for c in _codes_on(html) if c in sixty and c not in seen]
        if number == 1:  # 60 vouchers, counted only up to 20 (or 10 pages on): the pager says so and offers Next
            assert "more than 50 items" in html and "Next" in html
        if number == 12:
            assert "of 12 · 60 items" in html and "Next" not in html.split("pager")[-1]
    assert seen == sixty


def test_a_page_far_beyond_the_end_is_empty_not_an_error(auth, sixty):
    auth.login_as("operator")
    for number in (13, 10**6, 10**30):
        response = auth.client.get(f"/vouchers/?page={number}")
        assert response.status_code == 200
        assert not set(_codes_on(response.get_data(as_text=True))) & set(sixty)


@pytest.fixture
def populated(app, make_user, make_router, make_plan, generate):
    """3,000 vouchers in six states and 3,000 outbox rows, analysed: an empty table's plan says nothing on MariaDB."""
    from isp.models import RouterCommand, VoucherBatch
    from isp.models.base import utcnow

    admin = make_user("admin")
    router = make_router(None, mode="radius")
    plan = make_plan([router.id])
    batch_id = generate(admin.id, plan.id, 1)
    states = ["unused"] * 14 + ["active"] * 3 + ["expired", "exhausted", "disabled"]
    now = utcnow()
    with app.app_context():
        batch = _db.session.get(VoucherBatch, batch_id)
        _db.session.execute(Voucher.__table__.insert(), [
            {"batch_id": batch.id, "plan_id": plan.id, "router_id": router.id, "code": f"P{n:07d}", "password": "x",
             "state": states[n % len(states)], "validity_seconds": 3600, "price": 1, "uptime_seconds": 0, "bytes_in": 0,
             "bytes_out": 0, "state_changed_at": now, "created_at": now} for n in range(3000)])
        _db.session.execute(RouterCommand.__table__.insert(), [
            {"router_id": router.id, "operation": "hotspot_user.ensure", "idempotency_key": f"hotspot_user:P{n:07d}",
             "payload": "{}", "priority": "bulk", "state": "dead" if n % 30 == 0 else "done", "attempts": 1,
             "last_error": "", "result": "", "created_at": now, "updated_at": now} for n in range(3000)])
        _db.session.commit()
        sqlite = _db.engine.dialect.name == "sqlite"
        _db.session.execute(text("ANALYZE" if sqlite else "ANALYZE TABLE vouchers, router_commands"))
        _db.session.commit()
    return SimpleNamespace(admin=admin.id, plan=plan.id, router=router.id, batch=batch_id)


def _plan_lines(stmt):
    """The database's plan for a statement, one string per step."""
    sql = str(stmt.compile(_db.engine, compile_kwargs={"literal_binds": True}))
    if _db.engine.dialect.name == "sqlite":
        return [row[-1] for row in _db.session.execute(text("EXPLAIN QUERY PLAN " + sql))]
    return [" ".join(str(v) for v in row) for row in _db.session.execute(text("EXPLAIN " + sql))]


@pytest.mark.parametrize("filters", [
    {}, {"state": "unused"}, {"plan_id": "1"}, {"batch_id": "1"}, {"router_id": "1"}, {"reseller_id": "1"},
    {"q": "P00"}, {"state": "active", "router_id": "1"}, {"state": "unused", "plan_id": "1"},
])
def test_a_deep_voucher_page_is_read_off_an_index_without_sorting(populated, ctx, filters):
    from isp.models import User
    from isp.services import vouchers

    admin = _db.session.get(User, populated.admin)
    ids_of = {"plan_id": populated.plan, "batch_id": populated.batch, "router_id": populated.router}
    filters = {k: str(ids_of.get(k, v)) for k, v in filters.items()}
    ids = vouchers.list_query(admin, filters).with_only_columns(Voucher.id).limit(50).offset(2450)
    plan = _plan_lines(ids)
    if filters:  # a filter is looked up in an index, never by reading the whole table (SQLite's "SCAN vouchers")
        assert not any(line.startswith("SCAN vouchers") for line in plan), plan
    if filters.get("q"):  # a code prefix may sort the ids it matches, but only integers from the covering code index
        assert all("Using index" in line for line in plan if "filesort" in line), plan
        assert not any("TEMP B-TREE" in line for line in plan) or any("COVERING INDEX" in line for line in plan), plan
    else:  # the page comes straight off the (filter, id) index: no sort, no index intersection
        assert not any(word in line for line in plan for word in ("TEMP B-TREE", "filesort", "intersect")), plan


def test_recent_commands_and_dead_letters_are_read_off_an_index_without_sorting(populated, ctx):
    from isp.models import CommandState, RouterCommand

    router_id = populated.router
    for stmt in (select(RouterCommand).where(RouterCommand.router_id == router_id).order_by(RouterCommand.id.desc()).limit(20),
                 select(RouterCommand.id).where(RouterCommand.state == CommandState.dead)
                 .order_by(RouterCommand.id.desc()).limit(50).offset(950)):
        plan = _plan_lines(stmt)
        assert not any("TEMP B-TREE" in line or "filesort" in line or "SCAN router_commands" in line for line in plan), plan
