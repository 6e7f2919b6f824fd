"""Cursor pagination: a walk visits every row exactly once, newest first, with the next page in body and Link."""
from __future__ import annotations

from sqlalchemy import select

from isp.extensions import db as _db
from tests.api.conftest import assert_problem


def _walk(api, path: str) -> tuple[list[int], int]:
    ids, pages, url = [], 0, path
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        ids += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor:
            link = response.headers["Link"]
            assert f"cursor={cursor}" in link and 'rel="next"' in link
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}cursor={cursor}"
        else:
            assert "Link" not in response.headers
            url = None
    return ids, pages


def test_walk_visits_every_voucher_once(app, api_as, make_user, make_router, make_plan, generate):
    from isp.models import Voucher

    router = make_router()
    plan = make_plan([router.id])
    admin = make_user("admin")
    generate(admin.id, plan.id, 23)
    api = api_as("admin", "read")
    ids, pages = _walk(api, "/vouchers?limit=5")
    with app.app_context():
        expected = list(_db.session.scalars(select(Voucher.id).order_by(Voucher.id.desc())))
    assert ids == expected and len(ids) == 23 and pages == 5


def test_filters_apply_before_paging(api_as, shop):
    api = api_as("admin", "read")
    ids, pages = _walk(api, f"/vouchers?limit=2&batch_id={shop.batch_staff}")
    assert len(ids) == 4 and len(set(ids)) == 4 and pages == 2


def test_batches_and_plans_page_too(api_as, shop):
    api = api_as("admin", "read")
    ids, _ = _walk(api, "/batches?limit=1")
    assert ids == sorted({shop.batch_a, shop.batch_b, shop.batch_staff}, reverse=True)
    ids, _ = _walk(api, "/plans?limit=1")
    assert ids == sorted({shop.plan.id, shop.other_plan.id}, reverse=True)


def test_limit_is_bounded(api_as):
    api = api_as("admin", "read")
    body = assert_problem(api.get("/vouchers?limit=201"), 422)
    assert "limit" in body["errors"]
    assert api.get("/vouchers?limit=200").status_code == 200


def test_a_huge_cursor_is_harmless(api_as, shop):
    api = api_as("admin", "read")
    response = api.get("/vouchers?cursor=9999999999999999999")
    assert response.status_code == 200 and len(response.get_json()["items"]) == 9


def _statements(app, api, path: str) -> int:
    """SQL statements one request runs."""
    from sqlalchemy import event

    count = {"n": 0}

    def before(*_args):
        count["n"] += 1

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        assert api.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return count["n"]


def test_list_queries_do_not_grow_with_the_page(app, api_as, shop):
    api = api_as("admin", "read")
    api.get("/vouchers")  # the token's last use is written once a minute: leave that out of the counts
    for path in ("/vouchers", "/batches", "/plans"):
        small, large = _statements(app, api, f"{path}?limit=1"), _statements(app, api, f"{path}?limit=200")
        assert small == large, (path, small, large)
