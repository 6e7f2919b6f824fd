"""Reminders before expiry: the operator's calendar days ahead (Settings' reminder days), each queued once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from isp.extensions import db
from isp.models import AccountKind, LedgerAccount, SubscriptionState
from isp.models.base import utcnow
from isp.transaction import atomic
from tests.notifications.helpers import rows, send, set_branding

NAIROBI = ZoneInfo("Africa/Nairobi")  # UTC+3: an operator's day starts at 21:00 UTC the evening before


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=NAIROBI).astimezone(UTC)


def _queue(app, now: datetime) -> int:
    from isp.services import notifications

    with app.app_context():
        return atomic(lambda: notifications.queue_reminders(now))


def test_reminders_go_out_three_and_one_operator_days_ahead_once_each(app, channel, receiver, make_customer,
                                                                       make_subscription):
    app.config["ISP_TIMEZONE"] = "Africa/Nairobi"
    set_branding(app, reminder_days="3,1", business_name="Acme", currency="KES")
    channel("webhook", url=receiver.url(), secret="k")
    customer_id = make_customer()
    with app.app_context():
        db.session.add(LedgerAccount(kind=AccountKind.customer, customer_id=customer_id, balance=Decimal("300.00")))
        db.session.commit()
    three = make_subscription(customer_id, paid_until=_local(2030, 1, 13, 0, 30))   # still the 12th in UTC
    one = make_subscription(customer_id, paid_until=_local(2030, 1, 11, 23, 30))
    make_subscription(customer_id, paid_until=_local(2030, 1, 12, 12, 0))           # two days: no reminder day
    five = make_subscription(customer_id, paid_until=_local(2030, 1, 15, 12, 0))    # five days
    make_subscription(customer_id, paid_until=_local(2030, 1, 13, 12, 0), auto_renew=False)
    make_subscription(customer_id, paid_until=_local(2030, 1, 11, 10, 0), state=SubscriptionState.suspended)
    now = _local(2030, 1, 10, 12, 0)

    assert _queue(app, now) == 2
    queued = {r.subscription_id: r for r in rows(app)}
    assert set(queued) == {three, one}
    assert queued[three].dedupe_key == f"reminder:{three}:2030-01-13:3:webhook"
    assert queued[three].body == ("Acme: user1 is paid until 2030-01-13 00:30 (3 d). Renewal KES 2,500.00, "
                                  "balance KES 300.00. Acc T-000001")
    assert queued[one].dedupe_key == f"reminder:{one}:2030-01-11:1:webhook" and "(1 d)" in queued[one].body

    assert _queue(app, now) == 0                        # the clock runs every 5 minutes: still one each
    assert _queue(app, now + timedelta(hours=8)) == 0   # later the same day
    assert len(rows(app)) == 2
    # Two days on, the first service is one day away (its second reminder) and the five-day one three days.
    assert _queue(app, _local(2030, 1, 12, 8, 0)) == 2
    assert _queue(app, _local(2030, 1, 12, 20, 0)) == 0
    assert sorted(r.dedupe_key for r in rows(app) if r.subscription_id == three) == [
        f"reminder:{three}:2030-01-13:1:webhook", f"reminder:{three}:2030-01-13:3:webhook"]
    assert [r.dedupe_key for r in rows(app) if r.subscription_id == five] == [f"reminder:{five}:2030-01-15:3:webhook"]
    send(app)
    assert len(receiver.requests) == 4


def test_the_clock_job_queues_todays_reminders(app, channel, receiver, make_customer, make_subscription):
    from isp.jobs.notifications import queue_reminders

    set_branding(app, reminder_days="1")
    channel("webhook", url=receiver.url(), secret="k")
    sub = make_subscription(make_customer(), paid_until=utcnow() + timedelta(days=1))
    with app.app_context():
        assert queue_reminders() == 1
        assert queue_reminders() == 0
    [reminder] = rows(app)
    assert reminder.subscription_id == sub and reminder.event == "reminder"


def test_no_enabled_channel_means_no_reminder_rows(app, make_customer, make_subscription):
    make_subscription(make_customer(), paid_until=utcnow() + timedelta(days=3))
    assert _queue(app, utcnow()) == 0
    assert rows(app) == []


def test_reminder_days_setting_is_read_leniently(app):
    from isp.services.notifications import reminder_days

    assert reminder_days("3,1") == [3, 1]
    assert reminder_days(" 1 ; 7,, x, 3, 3, 400") == [7, 3, 1]
    assert reminder_days("") == []
