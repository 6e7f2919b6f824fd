"""apply_poll on its own: restarted sessions, operator days, a bad row, set-based writes, and the page reads."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import event, select

from isp.extensions import db as _db
from isp.models import ServiceKind
from tests.sessions.conftest import sessions_of, sub_row, usage

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


def seen(name, key, uptime, b_in, b_out, kind=ServiceKind.pppoe, address="10.10.1.5"):
    from isp.services.sessions import Seen

    return Seen(kind, name, key, address=address, caller_id="02:00:00:00:00:01", uptime=uptime, bytes_in=b_in, bytes_out=b_out)


def apply(app, router_id, rows, now, baseline_only=False):
    from isp.services import sessions
    from isp.transaction import atomic

    with app.app_context():
        return atomic(lambda: sessions.apply_poll(router_id, rows, now, baseline_only))


def test_the_same_session_key_with_a_smaller_uptime_is_a_new_session_counted_from_zero(app, make_router, make_sub):
    router = make_router()
    sub_id = make_sub(router.id, "pppoe", "kim")
    apply(app, router.id, [seen("kim", "0x81000001", 600, 1000, 9000)], T0)
    apply(app, router.id, [seen("kim", "0x81000001", 660, 1500, 12000)], T0 + timedelta(seconds=60))
    assert usage(app, sub_id) == (1500, 12000)
    # The router rebooted and handed out the same session id again: its counters began at zero.
    apply(app, router.id, [seen("kim", "0x81000001", 30, 200, 700)], T0 + timedelta(seconds=120))
    assert usage(app, sub_id) == (1700, 12700)
    old, new = sessions_of(app, sub_id)
    assert old.end_reason == "restarted" and old.ended_at is not None and new.ended_at is None
    assert new.started_at == T0 + timedelta(seconds=90)
    assert sub_row(app, sub_id).period_bytes == 1700 + 12700


def test_usage_lands_on_the_operators_day_not_the_utc_day(app, make_router, make_sub):
    from isp.models import UsageDaily

    app.config["ISP_TIMEZONE"] = "Pacific/Auckland"  # UTC+13 in March
    router = make_router()
    sub_id = make_sub(router.id, "hotspot", "lee")
    late = datetime(2025, 3, 1, 11, 30, tzinfo=UTC)  # 00:30 on 2 March in Auckland
    apply(app, router.id, [seen("lee", "*1", 60, 10, 20, ServiceKind.hotspot)], late - timedelta(hours=1))
    apply(app, router.id, [seen("lee", "*1", 3660, 110, 220, ServiceKind.hotspot)], late)
    with app.app_context():
        days = dict(_db.session.execute(select(UsageDaily.day, UsageDaily.bytes_in)
                                        .where(UsageDaily.subscription_id == sub_id)).tuples().all())
    assert days == {date(2025, 3, 1): 10, date(2025, 3, 2): 100}


def test_one_subscription_that_cannot_be_written_does_not_stop_the_others(app, make_router, make_sub):
    from isp.services import job_problems

    router = make_router()
    good = make_sub(router.id, "pppoe", "good")
    bad = make_sub(router.id, "pppoe", "bad")
    counts = apply(app, router.id, [seen("good", "g1", 60, 100, 200), seen("bad", "b1", 60, 2**63, 1)], T0)
    assert counts["opened"] == 1
    assert usage(app, good) == (100, 200) and len(sessions_of(app, good)) == 1
    assert usage(app, bad) == (0, 0) and sessions_of(app, bad) == []
    with app.app_context():
        (problem,) = job_problems.recent()
    assert (problem["job"], problem["subject"]) == ("session poll", f"subscription {bad}")


def _statements(app, router_id, rows, now):
    count = {"n": 0}

    def counting(*args):
        count["n"] += 1

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", counting)
    try:
        apply(app, router_id, rows, now)
    finally:
        event.remove(engine, "before_cursor_execute", counting)
    return count["n"]


def test_a_poll_costs_the_same_few_statements_for_ten_or_two_hundred_subscribers(app, make_router, make_sub):
    costs = {}
    for n in (10, 200):
        router = make_router()
        names = [f"u{n}-{i}" for i in range(n)]
        for name in names:
            make_sub(router.id, "pppoe", name)
        opened = _statements(app, router.id, [seen(u, f"k-{u}", 60, 10, 20) for u in names], T0)
        grown = _statements(app, router.id, [seen(u, f"k-{u}", 120, 30, 50) for u in names[1:]], T0 + timedelta(seconds=60))
        costs[n] = (opened, grown)
    assert costs[10] == costs[200]
    assert max(costs[200]) <= 15


def test_poll_all_queues_one_job_per_api_router_with_subscribers(app, make_router, make_sub):
    from isp.jobs.sessions import poll_sessions_all

    busy = make_router()
    make_sub(busy.id, "pppoe", "x1")
    make_sub(busy.id, "static", "x2", static_ip="10.0.0.2")
    make_router()  # no subscribers: nothing to read
    radius = make_router(mode="radius")
    make_sub(radius.id, "pppoe", "x3")
    with app.app_context():
        assert poll_sessions_all() == 1
        assert poll_sessions_all() == 0  # still queued: not queued twice
        from isp.dispatch import queue

        (job,) = queue("low").get_jobs()
    assert (job.id, job.args) == (f"sessions-{busy.id}", (busy.id,))


def test_usage_days_are_zero_filled_oldest_first_and_recent_sessions_newest_first(app, make_router, make_sub):
    from isp.models import UsageDaily
    from isp.models.base import utcnow
    from isp.services import sessions

    router = make_router()
    sub_id = make_sub(router.id, "pppoe", "mo")
    with app.app_context():
        today = sessions.operator_day(utcnow())
        _db.session.add_all([UsageDaily(subscription_id=sub_id, day=today, bytes_in=5, bytes_out=50),
                             UsageDaily(subscription_id=sub_id, day=today - timedelta(days=2), bytes_in=1, bytes_out=2),
                             UsageDaily(subscription_id=sub_id, day=today - timedelta(days=40), bytes_in=9, bytes_out=9)])
        _db.session.commit()
        days = sessions.usage_days(sub_id, 30)
    assert len(days) == 30 and days[0][0] == today - timedelta(days=29) and days[-1] == (today, 5, 50)
    assert days[-3] == (today - timedelta(days=2), 1, 2) and sum(d[1] for d in days) == 6

    apply(app, router.id, [seen("mo", "s1", 60, 1, 1)], T0)
    apply(app, router.id, [], T0 + timedelta(minutes=5))
    apply(app, router.id, [seen("mo", "s2", 60, 1, 1)], T0 + timedelta(minutes=10))
    with app.app_context():
        keys = [s.session_key for s in sessions.recent_sessions(sub_id, 5)]
        state = sessions.live_state([sub_id, 999999])
    assert keys == ["s2", "s1"]
    assert state[sub_id].online and state[sub_id].since == T0 + timedelta(minutes=9) and 999999 not in state


def test_a_customers_services_read_their_usage_and_sessions_together(app, make_router, make_sub):
    """The customer page reads every service's chart and latest sessions at once (not a query pair per service),
    and each service still gets exactly its own newest sessions."""
    from isp.models import ServiceSession, UsageDaily
    from isp.models.base import utcnow
    from isp.services import sessions

    router = make_router()
    a, b = make_sub(router.id, "pppoe", "multi-a"), make_sub(router.id, "pppoe", "multi-b")
    with app.app_context():
        now = utcnow()
        for n in range(4):
            for sub_id, name in ((a, "multi-a"), (b, "multi-b")):
                at = now - timedelta(hours=n)
                _db.session.add(ServiceSession(subscription_id=sub_id, router_id=router.id, session_key=f"{name}-{n}",
                                               started_at=at, last_seen_at=at))
        _db.session.add(UsageDaily(subscription_id=b, day=sessions.operator_day(now), bytes_in=5, bytes_out=7))
        _db.session.commit()
        recent = sessions.recent_sessions_of([a, b], 2)
        assert [s.session_key for s in recent[a]] == ["multi-a-0", "multi-a-1"]
        assert [s.session_key for s in recent[b]] == ["multi-b-0", "multi-b-1"]
        usage = sessions.usage_days_of([a, b], 30)
        assert len(usage[a]) == len(usage[b]) == 30 and usage[b][-1][1:] == (5, 7) and usage[a][-1][1:] == (0, 0)
