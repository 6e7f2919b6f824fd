"""The radacct rollup: interim updates are cumulative, Gigawords carry the high bits, a re-run counts nothing twice."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from isp.extensions import db
from isp.models import RadiusRollupCursor, Subscription, UsageDaily, VoucherUsageDaily
from isp.services import radius_sessions
from isp.transaction import atomic
from tests.radius_sessions.conftest import gigawords, interim, naive

NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)


def _rollup(app) -> dict:
    with app.app_context():
        return atomic(radius_sessions.rollup)


def _usage(app, sub_id: int) -> dict:
    with app.app_context():
        return {row.day: (row.bytes_in, row.bytes_out) for row in db.session.scalars(
            select(UsageDaily).where(UsageDaily.subscription_id == sub_id))}


def test_interim_updates_add_only_their_growth_and_gigawords_count(app, make_sub, acct):
    sub = make_sub("alice")
    rid = acct("alice", acctstarttime=naive(NOON), acctupdatetime=naive(NOON))
    _rollup(app)
    assert _usage(app, sub.id) == {}  # a Start carries no traffic

    interim(app, rid, acctupdatetime=naive(NOON + timedelta(minutes=5)), acctinputoctets=1_000, acctoutputoctets=5_000)
    _rollup(app)
    assert _usage(app, sub.id) == {NOON.date(): (1_000, 5_000)}

    # 4 GiB and more downloaded: the NAS sends Acct-Output-Gigawords, FreeRADIUS stores Gigawords << 32 | Octets.
    interim(app, rid, acctupdatetime=naive(NOON + timedelta(minutes=10)), acctinputoctets=3_000,
            acctoutputoctets=gigawords(1, 7_000))
    _rollup(app)
    assert _usage(app, sub.id) == {NOON.date(): (3_000, gigawords(1, 7_000))}

    interim(app, rid, acctstoptime=naive(NOON + timedelta(minutes=12)), acctinputoctets=3_500,
            acctoutputoctets=gigawords(2, 0), acctterminatecause="User-Request")
    _rollup(app)
    assert _usage(app, sub.id) == {NOON.date(): (3_500, gigawords(2, 0))}
    with app.app_context():
        assert db.session.get(Subscription, sub.id).period_bytes == 3_500 + gigawords(2, 0)


def test_a_32_bit_counter_that_wraps_without_gigawords_is_counted_across_the_wrap(app, make_sub, acct):
    sub = make_sub("bob")
    rid = acct("bob", acctstarttime=naive(NOON), acctupdatetime=naive(NOON), acctoutputoctets=4_294_967_000)
    _rollup(app)
    interim(app, rid, acctupdatetime=naive(NOON + timedelta(minutes=5)), acctoutputoctets=500)
    _rollup(app)
    assert _usage(app, sub.id) == {NOON.date(): (0, 4_294_967_000 + 796)}


def test_a_counter_that_drops_without_wrapping_is_a_reset_not_4_gib(app, make_sub, acct):
    """A reused session id or a reordered interim makes a 64-bit counter go down a little: that is a reset (the new
    reading counts), not a 32-bit wrap, which would credit ~4 GiB nobody used and trip the fair-use cap."""
    sub = make_sub("dora")
    rid = acct("dora", acctstarttime=naive(NOON), acctupdatetime=naive(NOON), acctoutputoctets=500_000_000)
    _rollup(app)
    interim(app, rid, acctupdatetime=naive(NOON + timedelta(minutes=5)), acctoutputoctets=499_000_000)
    _rollup(app)
    assert _usage(app, sub.id) == {NOON.date(): (0, 500_000_000 + 499_000_000)}


def test_a_second_run_and_a_rewound_cursor_count_nothing_twice(app, make_sub, acct):
    sub = make_sub("carol")
    done = acct("carol", acctstarttime=naive(NOON), acctupdatetime=naive(NOON), acctstoptime=naive(NOON + timedelta(hours=1)),
                acctinputoctets=100, acctoutputoctets=200)
    live = acct("carol", acctstarttime=naive(NOON), acctupdatetime=naive(NOON), acctinputoctets=10, acctoutputoctets=20)
    _rollup(app)
    first = _usage(app, sub.id)
    assert first == {NOON.date(): (110, 220)}
    _rollup(app)
    with app.app_context():  # as if the cursor had been lost: the window is read again
        db.session.execute(update(RadiusRollupCursor).values(last_radacctid=0))
        db.session.commit()
    _rollup(app)
    assert _usage(app, sub.id) == first
    assert done < live


def test_a_row_committed_behind_the_cursor_is_still_counted(app, make_sub, acct):
    sub = make_sub("dave")
    acct("dave", radacctid=50, acctstarttime=naive(NOON), acctupdatetime=naive(NOON), acctinputoctets=1, acctoutputoctets=2)
    _rollup(app)
    # InnoDB hands out id 40 to a transaction that commits after id 50's: it lands behind the cursor.
    acct("dave", radacctid=40, acctstarttime=naive(NOON), acctupdatetime=naive(NOON), acctinputoctets=10, acctoutputoctets=20)
    _rollup(app)
    assert _usage(app, sub.id) == {NOON.date(): (11, 22)}


def test_voucher_usage_counts_bytes_and_seconds_per_day(app, make_voucher, acct):
    voucher_id = make_voucher("V1234567")
    rid = acct("V1234567", acctstarttime=naive(NOON), acctupdatetime=naive(NOON), acctsessiontime=0)
    _rollup(app)
    interim(app, rid, acctupdatetime=naive(NOON + timedelta(minutes=5)), acctsessiontime=300, acctinputoctets=40,
            acctoutputoctets=gigawords(1, 1))
    _rollup(app)
    with app.app_context():
        row = db.session.get(VoucherUsageDaily, (voucher_id, NOON.date()))
        assert (row.bytes_in, row.bytes_out, row.seconds) == (40, gigawords(1, 1), 300)


def test_sessions_of_someone_else_count_for_nobody(app, make_sub, acct):
    sub = make_sub("erin")
    acct("stranger", acctstarttime=naive(NOON), acctupdatetime=naive(NOON), acctinputoctets=999, acctoutputoctets=999)
    counts = _rollup(app)
    assert counts["new"] == 1
    assert _usage(app, sub.id) == {}
