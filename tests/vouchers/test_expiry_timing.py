"""Expiry on time: the 5-second tick also books a run at each moment a voucher expires before the next tick."""
from datetime import timedelta

from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from isp.extensions import db as _db
from isp.jobs.vouchers import expire_vouchers
from isp.models import Voucher, VoucherState
from isp.models.base import utcnow
from isp.units import router_duration


def test_a_voucher_expiring_before_the_next_tick_gets_its_own_run(app, make_user, make_router, make_plan, generate):
    admin = make_user("admin")
    router = make_router()
    plan = make_plan([router.id])
    generate(admin.id, plan.id, 3, router_id=router.id)
    with app.app_context():
        soon, later, far = _db.session.scalars(select(Voucher).order_by(Voucher.id)).all()
        now = utcnow()
        for voucher, seconds in ((soon, 3.2), (later, 3.7), (far, 600)):
            voucher.state, voucher.first_login_at = VoucherState.active, now
            voucher.expires_at = now + timedelta(seconds=seconds)
        _db.session.commit()
        assert expire_vouchers() == 0
        registry = ScheduledJobRegistry(queue=Queue("critical", connection=app.config["REDIS_CLIENT"]))
        booked = registry.get_job_ids()
    # Both near expiries fall in the same second or the next one: at most two runs, none for the far one.
    assert 1 <= len(booked) <= 2 and all(job_id.startswith("expire-at-") for job_id in booked)
    moments = sorted(registry.get_scheduled_time(job_id).replace(tzinfo=None) for job_id in booked)
    naive = now.replace(tzinfo=None)
    assert naive + timedelta(seconds=3) <= moments[0] and moments[-1] <= naive + timedelta(seconds=5)


def test_router_durations_count_a_started_second():
    assert router_duration("887ms") == 1  # a first session under a second still counts as a login
    assert router_duration("1m5s200ms") == 66
    assert router_duration("5s") == 5 and router_duration("") == 0 and router_duration("garbage") == 0
