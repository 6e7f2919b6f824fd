"""Many people at once: 50 simultaneous logins and 20 simultaneous batch generations, 0 errors, exact counts.

Each thread is its own browser (a test client with its own cookie jar) going through the real views,
CSRF and all; a barrier releases the posts together. On MariaDB this is where deadlocks (1213) showed.
"""
import threading
from collections import Counter

from sqlalchemy import func, select

from isp.extensions import db as _db
from tests.conftest import TEST_PASSWORD, csrf_from

LOGINS = 50
BATCHES = 20
PER_BATCH = 25


def _together(count, prepare, act):
    """Run prepare(i) in `count` threads, then act(i, prepared) in all of them at once; returns results and errors."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            prepared = prepare(i)
            barrier.wait(timeout=60)
            results[i] = act(i, prepared)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(f"{i}: {type(exc).__name__}: {exc}")
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results, errors


def test_fifty_simultaneous_logins_all_succeed_and_each_is_recorded(app, make_user):
    from isp.models import User
    from isp.models.audit import AuditEntry

    # Every login attempt is counted before it is checked (tests/security_auth/test_rate_limit.py), so 25 at once for
    # one username are 25 attempts in the window: the per-username limit is raised; this test is about the database.
    app.config["LOGIN_RATE_LIMIT"] = LOGINS
    shared = make_user("operator", username="front-desk")  # half of them log in to one account: its row is contended
    own = [make_user("operator") for _ in range(LOGINS // 2)]
    names = [shared.username] * (LOGINS - len(own)) + [u.username for u in own]

    def prepare(i):
        client = app.test_client()
        return client, csrf_from(client.get("/auth/login").get_data(as_text=True))

    def act(i, prepared):
        client, token = prepared
        response = client.post("/auth/login", data={"username": names[i], "password": TEST_PASSWORD, "csrf_token": token})
        return response.status_code, client.get("/").status_code

    results, errors = _together(LOGINS, prepare, act)
    assert errors == []
    assert Counter(results) == {(302, 200): LOGINS}  # every login answered with the redirect, every session works
    with app.app_context():
        logins = Counter(_db.session.scalars(select(AuditEntry.target).where(AuditEntry.action == "auth.login")))
        assert logins == Counter(names)
        stamped = _db.session.scalar(select(func.count()).where(User.id.in_([shared.id] + [u.id for u in own]),
                                                                User.last_login_at.is_not(None)))
        assert stamped == len(own) + 1


def test_twenty_simultaneous_batch_generations_store_every_voucher_and_push_exactly_once(
        app, make_user, make_router, make_plan, auth):
    from isp.models import RouterCommand, Voucher, VoucherBatch

    admin = make_user("admin")
    app.config["LOGIN_RATE_LIMIT"] = BATCHES  # the 20 sessions log in at once (attempts are counted before checked)
    router = make_router(None, api_port=8728)  # an API router nobody serves: the pushes stay queued, to be counted
    plan = make_plan([router.id])

    def prepare(i):
        client = app.test_client()
        token = csrf_from(client.get("/auth/login").get_data(as_text=True))
        assert client.post("/auth/login", data={"username": admin.username, "password": TEST_PASSWORD,
                                                "csrf_token": token}).status_code == 302
        return client, csrf_from(client.get("/vouchers/batches/new").get_data(as_text=True))

    def act(i, prepared):
        client, token = prepared
        response = client.post("/vouchers/batches/new", data={
            "plan_id": plan.id, "router_id": router.id, "count": PER_BATCH, "mode": "code", "prefix": "",
            "length": 8, "note": f"concurrent {i}", "csrf_token": token})
        return response.status_code

    results, errors = _together(BATCHES, prepare, act)
    assert errors == []
    assert results == [302] * BATCHES
    with app.app_context():
        batches = list(_db.session.scalars(select(VoucherBatch)))
        assert len(batches) == BATCHES and {b.note for b in batches} == {f"concurrent {i}" for i in range(BATCHES)}
        per_batch = dict(_db.session.execute(select(Voucher.batch_id, func.count()).group_by(Voucher.batch_id)).tuples().all())
        assert per_batch == {b.id: PER_BATCH for b in batches}
        users = dict(_db.session.execute(select(RouterCommand.group_key, func.count()).where(
            RouterCommand.operation == "hotspot_user.ensure").group_by(RouterCommand.group_key)).tuples().all())
        assert users == {b.group_key: PER_BATCH for b in batches}  # one push per voucher, none lost, none doubled
        profiles = _db.session.scalar(select(func.count()).where(RouterCommand.operation == "hotspot_profile.ensure"))
        assert profiles == 1  # 20 re-pushes of the plan's profile collapse into the one still queued
