"""The billing run: renewal with and without balance, grace, suspension on time, and nothing twice."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from isp.extensions import db as _db
from isp.models import CustomerEvent, Invoice, LedgerEntry, RouterCommand, Subscription
from isp.models.base import utcnow
from isp.services import billing, branding, periods
from tests.billing.conftest import balance, entries


def _counts():
    return (_db.session.scalar(select(func.count()).select_from(Invoice)),
            _db.session.scalar(select(func.count()).select_from(LedgerEntry)),
            _db.session.scalar(select(func.count()).select_from(CustomerEvent)))


def test_renewal_with_balance_charges_extends_and_numbers_invoices_in_order(db, bill):
    now = periods.second()
    plan = bill.plan("3000.00", "day", 30)
    due = now - timedelta(minutes=5)
    first, second = bill.customer("First"), bill.customer("Second")
    bill.fund(first, "4000.00")
    bill.fund(second, "3000.00")
    a = bill.service(first, plan, period_start=due - timedelta(days=30), paid_until=due)
    b = bill.service(second, plan, period_start=due - timedelta(days=30), paid_until=due)

    assert billing.run(now) == {"renewed": 2, "grace": 0, "suspended": 0}
    db.session.commit()

    for sub_id in (a, b):
        sub = db.session.get(Subscription, sub_id)
        assert sub.state.value == "active"
        assert (sub.period_start, sub.paid_until) == (due, due + timedelta(days=30))
    invoices = list(db.session.scalars(select(Invoice).order_by(Invoice.id)))
    assert [(i.number, i.subscription_id, f"{i.amount:.2f}") for i in invoices] == [
        (f"INV-{now.year}-000001", a, "3000.00"), (f"INV-{now.year}-000002", b, "3000.00")]
    assert (invoices[0].period_start, invoices[0].period_end) == (due, due + timedelta(days=30))
    assert entries(first) == [("payment", "4000.00", "4000.00"), ("charge", "-3000.00", "1000.00")]
    assert entries(second) == [("payment", "3000.00", "3000.00"), ("charge", "-3000.00", "0.00")]
    assert (balance(first), balance(second)) == ("1000.00", "0.00")
    charge = db.session.scalar(select(LedgerEntry).where(LedgerEntry.invoice_id == invoices[0].id))
    assert charge.idem_key == f"renewal:{a}:{due.isoformat()}"

    before = _counts()
    assert billing.run(now) == {"renewed": 0, "grace": 0, "suspended": 0}  # the second run changes nothing
    db.session.commit()
    assert _counts() == before


def test_no_balance_means_grace_then_suspension_after_grace_days_with_a_critical_kick(db, bill, spy_sync):
    now = periods.second()
    branding.get().default_grace_days = 3
    db.session.commit()
    plan = bill.plan("3000.00", "month", 1)
    customer = bill.customer()
    due = now - timedelta(minutes=1)
    sub_id = bill.service(customer, plan, period_start=periods.add_months(due, -1), paid_until=due)

    assert billing.run(now) == {"renewed": 0, "grace": 1, "suspended": 0}
    db.session.commit()
    sub = db.session.get(Subscription, sub_id)
    assert sub.state.value == "grace" and sub.grace_until == due + timedelta(days=3)
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0  # grace charges nothing
    assert spy_sync.many == []  # grace is still full service: nothing changes on the router

    assert billing.run(now + timedelta(days=3) - timedelta(minutes=2)) == {"renewed": 0, "grace": 0, "suspended": 0}
    assert billing.run(now + timedelta(days=3)) == {"renewed": 0, "grace": 0, "suspended": 1}
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Subscription, sub_id).state.value == "suspended"
    assert spy_sync.many == [([sub_id], "critical", True)]
    sub = db.session.get(Subscription, sub_id)
    command = db.session.scalar(select(RouterCommand).where(RouterCommand.idempotency_key == f"service:pppoe:{sub.username}")
                                .order_by(RouterCommand.id.desc()).limit(1))
    payload = json.loads(command.payload_json)
    assert (command.priority.value, payload["kick"], payload["state"]) == ("critical", True, "disabled")
    lines = db.session.execute(select(CustomerEvent.from_state, CustomerEvent.to_state).where(
        CustomerEvent.subscription_id == sub_id).order_by(CustomerEvent.id)).all()
    assert [tuple(r) for r in lines] == [("active", "grace"), ("grace", "suspended")]
    assert entries(customer) == []


def test_plan_and_service_grace_days_override_the_settings_default(db, bill):
    now = periods.second()
    due = now - timedelta(hours=1)
    on_plan = bill.plan("10.00", "day", 1, grace_days=5)
    c = bill.customer()
    by_plan = bill.service(c, on_plan, period_start=due - timedelta(days=1), paid_until=due)
    by_service = bill.service(c, on_plan, period_start=due - timedelta(days=1), paid_until=due, grace_days=0)
    assert billing.run(now) == {"renewed": 0, "grace": 2, "suspended": 1}  # zero grace days: suspended in the same run
    db.session.commit()
    assert db.session.get(Subscription, by_plan).grace_until == due + timedelta(days=5)
    assert db.session.get(Subscription, by_service).state.value == "suspended"


def test_two_due_services_never_spend_the_same_money(db, bill):
    now = periods.second()
    plan = bill.plan("3000.00", "day", 30)
    customer = bill.customer()
    bill.fund(customer, "3500.00")
    older = bill.service(customer, plan, period_start=now - timedelta(days=31), paid_until=now - timedelta(days=1))
    newer = bill.service(customer, plan, period_start=now - timedelta(days=30), paid_until=now - timedelta(minutes=1))
    assert billing.run(now) == {"renewed": 1, "grace": 1, "suspended": 0}
    db.session.commit()
    assert db.session.get(Subscription, older).state.value == "active"
    assert db.session.get(Subscription, newer).state.value == "grace"
    assert balance(customer) == "500.00"


def test_auto_renew_off_goes_to_grace_even_with_money(db, bill):
    now = periods.second()
    plan = bill.plan("100.00", "day", 30)
    customer = bill.customer()
    bill.fund(customer, "1000.00")
    sub_id = bill.service(customer, plan, period_start=now - timedelta(days=30), paid_until=now, auto_renew=False)
    assert billing.run(now) == {"renewed": 0, "grace": 1, "suspended": 0}
    db.session.commit()
    assert db.session.get(Subscription, sub_id).state.value == "grace" and balance(customer) == "1000.00"


def test_a_service_more_than_a_period_behind_gets_one_period_from_now(db, bill):
    """The missed periods are not back-billed (like settle): one charge, the new period starts at the run."""
    now = periods.second()
    plan = bill.plan("100.00", "day", 1)
    customer = bill.customer()
    bill.fund(customer, "250.00")
    start = now - timedelta(days=3, hours=12)
    sub_id = bill.service(customer, plan, period_start=start - timedelta(days=1), paid_until=start)
    assert billing.run(now) == {"renewed": 1, "grace": 0, "suspended": 0}
    db.session.commit()
    sub = db.session.get(Subscription, sub_id)
    assert (sub.period_start, sub.paid_until, sub.state.value) == (now, now + timedelta(days=1), "active")
    assert entries(customer)[1:] == [("charge", "-100.00", "150.00")]
    invoice = db.session.scalar(select(Invoice))
    assert (invoice.period_start, invoice.period_end) == (now, now + timedelta(days=1))
    assert billing.run(now) == {"renewed": 0, "grace": 0, "suspended": 0}


def test_a_service_less_than_a_period_behind_follows_on_from_paid_until(db, bill):
    now = periods.second()
    plan = bill.plan("100.00", "day", 1)
    customer = bill.customer()
    bill.fund(customer, "250.00")
    paid_until = now - timedelta(hours=20)
    sub_id = bill.service(customer, plan, period_start=paid_until - timedelta(days=1), paid_until=paid_until)
    assert billing.run(now) == {"renewed": 1, "grace": 0, "suspended": 0}
    db.session.commit()
    sub = db.session.get(Subscription, sub_id)
    assert (sub.period_start, sub.paid_until) == (paid_until, paid_until + timedelta(days=1))


def test_an_active_service_never_billed_is_due_at_once(db, bill):
    """Safety net: active with paid_until NULL is renewed from now when the balance covers it, else goes to grace."""
    now = periods.second()
    plan = bill.plan("100.00", "day", 30, grace_days=2)
    rich, poor = bill.customer("Rich"), bill.customer("Poor")
    bill.fund(rich, "100.00")
    paid = bill.service(rich, plan, paid_until=None)
    unpaid = bill.service(poor, plan, paid_until=None)
    assert billing.run(now) == {"renewed": 1, "grace": 1, "suspended": 0}
    db.session.commit()
    sub = db.session.get(Subscription, paid)
    assert (sub.state.value, sub.period_start, sub.paid_until) == ("active", now, now + timedelta(days=30))
    assert balance(rich) == "0.00"
    sub = db.session.get(Subscription, unpaid)
    assert (sub.state.value, sub.grace_until) == ("grace", now + timedelta(days=2))
    assert billing.run(now) == {"renewed": 0, "grace": 0, "suspended": 0}


def test_a_grace_service_renews_when_money_arrived_some_other_way(db, bill):
    now = periods.second()
    plan = bill.plan("100.00", "day", 30)
    customer = bill.customer()
    paid_until = now - timedelta(days=1)
    sub_id = bill.service(customer, plan, state="grace", period_start=paid_until - timedelta(days=30), paid_until=paid_until,
                          grace_until=paid_until + timedelta(days=3))
    bill.fund(customer, "100.00", kind="adjustment")  # posted straight to the ledger: only the run notices
    assert billing.run(now) == {"renewed": 1, "grace": 0, "suspended": 0}
    db.session.commit()
    sub = db.session.get(Subscription, sub_id)
    assert (sub.state.value, sub.period_start, sub.paid_until, sub.grace_until) == (
        "active", paid_until, paid_until + timedelta(days=30), None)


def test_month_periods_clamp_the_day():
    from datetime import UTC, datetime

    jan31 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    assert periods.add_months(jan31, 1) == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert periods.add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert periods.add_months(datetime(2026, 12, 15, tzinfo=UTC), 1) == datetime(2027, 1, 15, tzinfo=UTC)
    assert periods.add_months(datetime(2026, 3, 31, tzinfo=UTC), -1) == datetime(2026, 2, 28, tzinfo=UTC)


def test_job_commits_each_chunk(app, bill, monkeypatch):
    from isp.jobs import billing as job
    from isp.services import renewal

    monkeypatch.setattr(renewal, "CHUNK", 2)
    plan = bill.plan("10.00", "day", 30)
    with app.app_context():
        due = utcnow() - timedelta(minutes=1)
    ids = []
    for _ in range(5):
        c = bill.customer()
        bill.fund(c, "10.00")
        ids.append(bill.service(c, plan, period_start=due - timedelta(days=30), paid_until=due))
    poor = [bill.service(bill.customer(), plan, period_start=due - timedelta(days=30), paid_until=due) for _ in range(3)]
    with app.app_context():
        assert job.billing_run() == {"renewed": 5, "grace": 3, "suspended": 0}
        _db.session.remove()
        states = dict(_db.session.execute(select(Subscription.id, Subscription.state)).tuples().all())
        assert {states[i].value for i in ids} == {"active"} and {states[i].value for i in poor} == {"grace"}


def test_suspension_tick_suspends_on_time_and_books_a_run_at_the_next_grace_end(app, bill):
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from isp.extensions import redis_store
    from isp.jobs import billing as job

    plan = bill.plan("10.00", "day", 30)
    with app.app_context():
        now = periods.second()
    ended = bill.service(bill.customer(), plan, state="grace", period_start=now - timedelta(days=33),
                         paid_until=now - timedelta(days=3), grace_until=now - timedelta(seconds=1))
    soon = bill.service(bill.customer(), plan, state="grace", period_start=now - timedelta(days=33),
                        paid_until=now - timedelta(days=3), grace_until=now + timedelta(seconds=6))
    with app.app_context():
        assert job.suspend_due() == 1
        _db.session.remove()
        assert _db.session.get(Subscription, ended).state.value == "suspended"
        assert _db.session.get(Subscription, soon).state.value == "grace"
        booked = ScheduledJobRegistry(queue=Queue("critical", connection=redis_store.client)).get_job_ids()
        moment = (now + timedelta(seconds=6)).strftime("%Y%m%d%H%M%S")
        assert f"suspend-at-{moment}" in booked


def test_suspension_and_payment_hand_their_messages_to_the_notification_outbox(db, bill, monkeypatch):
    from isp.models import NotificationChannel
    from isp.services import notifications

    sent = []
    monkeypatch.setattr(notifications, "notify", lambda event, customer, subscription=None, dedupe_key=None, **context:
                        sent.append((event, customer.id, subscription.id if subscription else None, dedupe_key,
                                     context.get("amount"))))
    monkeypatch.delattr(notifications, "notify_many", raising=False)  # the one-by-one path (notify_many has its own tests)
    now = periods.second()
    plan = bill.plan("10.00", "day", 30)
    customer = bill.customer()
    _first, second = (bill.service(customer, plan, state="grace", period_start=now - timedelta(days=33),
                                  paid_until=now - timedelta(days=3), grace_until=now + timedelta(hours=h)) for h in (-1, 1))
    assert billing.run(now)["suspended"] == 1
    db.session.commit()
    assert sent == []  # no channel is switched on: nothing to hand over
    db.session.add(NotificationChannel(channel="email", enabled=True))
    db.session.commit()
    later = now + timedelta(hours=2)
    assert billing.run(later)["suspended"] == 1
    db.session.commit()
    assert sent == [("suspended", customer, second, f"suspended:{second}:{later.isoformat()}", None)]
    payment = billing.record_payment(db.session.get(billing.Customer, customer), "10.00", "cash", "", "", bill.user())
    db.session.commit()
    assert sent[-1] == ("payment", customer, None, f"payment:{payment.id}", payment.amount)


def test_a_renewal_that_lifts_the_fair_use_cap_kicks_the_session(db, bill, spy_sync):
    """RouterOS applies a profile's speed when a session starts: the capped session must redial on the full speed."""
    now = periods.second()
    plan = bill.plan("100.00", "day", 30)
    customer = bill.customer()
    bill.fund(customer, "200.00")
    capped = bill.service(customer, plan, period_start=now - timedelta(days=30), paid_until=now - timedelta(minutes=1))
    plain = bill.service(customer, plan, period_start=now - timedelta(days=30), paid_until=now - timedelta(minutes=1))
    db.session.get(Subscription, capped).fup_active = True
    db.session.commit()
    assert billing.run(now)["renewed"] == 2
    db.session.commit()
    assert spy_sync.many == [([capped], "normal", True)]  # only the capped one changes on the router
    applied = db.session.scalars(select(RouterCommand).where(RouterCommand.operation == "service.apply")).all()
    assert [c.payload["kick"] for c in applied] == [True]
    assert db.session.get(Subscription, capped).fup_active is False and plain
