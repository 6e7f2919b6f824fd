"""Payments: receipts, duplicate references, settling services, the whole grace → suspension → payment story."""
from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isp.models import (
    EntryKind,
    Invoice,
    LedgerAccount,
    LedgerEntry,
    Payment,
    RouterCommand,
    Subscription,
    SubscriptionState,
    User,
)
from isp.services import billing, branding, ledger, lifecycle, periods
from isp.services.errors import ServiceError
from tests.billing.conftest import balance, entries


def _sub(db, sub_id):
    db.session.expire_all()
    return db.session.get(Subscription, sub_id)


def _shift(db, sub_id, delta):
    """Move a service's dates by `delta`, as if that much time had passed the other way."""
    sub = db.session.get(Subscription, sub_id)
    for name in ("period_start", "paid_until", "grace_until"):
        if getattr(sub, name) is not None:
            setattr(sub, name, getattr(sub, name) + delta)
    db.session.commit()


def test_start_activates_when_the_balance_covers_the_first_invoice(db, bill, spy_sync):
    plan = bill.plan("3000.00", "day", 30)
    customer = bill.customer()
    bill.fund(customer, "3000.00")
    sub_id = bill.service(customer, plan, state="pending")
    sub = db.session.get(Subscription, sub_id)
    before = periods.second()
    lifecycle.start(sub, bill.user())
    db.session.commit()
    sub = _sub(db, sub_id)
    assert sub.state == SubscriptionState.active and sub.paid_until - sub.period_start == timedelta(days=30)
    assert before <= sub.period_start <= periods.second()
    assert entries(customer) == [("payment", "3000.00", "3000.00"), ("charge", "-3000.00", "0.00")]
    invoice = db.session.scalar(select(Invoice))
    assert (invoice.subscription_id, invoice.period_start, invoice.period_end) == (sub_id, sub.period_start, sub.paid_until)
    assert spy_sync.sync == [(sub_id, "active", "high", False)]
    with pytest.raises(ServiceError, match="Only a pending service"):
        lifecycle.start(sub, bill.user())


def test_start_without_money_stays_pending_and_the_payment_starts_it(db, bill, spy_sync):
    plan = bill.plan("3000.00", "day", 30)
    customer = bill.customer()
    sub_id = bill.service(customer, plan, state="pending")
    lifecycle.start(db.session.get(Subscription, sub_id), bill.user())
    db.session.commit()
    assert _sub(db, sub_id).state == SubscriptionState.pending and balance(customer) == "-3000.00"
    assert spy_sync.sync == []

    billing.record_payment(db.session.get(billing.Customer, customer), "1000.00", "cash", "", "", bill.user())
    db.session.commit()
    assert _sub(db, sub_id).state == SubscriptionState.pending  # 1,000 of 3,000: still waiting

    payment = billing.record_payment(db.session.get(billing.Customer, customer), "2000.00", "mobile", "QK7X2B9", "", bill.user())
    db.session.commit()
    sub = _sub(db, sub_id)
    assert sub.state == SubscriptionState.active and sub.paid_until - sub.period_start == timedelta(days=30)
    assert abs(sub.period_start - payment.received_at) <= timedelta(seconds=1)  # the period runs from the payment
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 1  # the first invoice, not a second one
    assert entries(customer) == [("charge", "-3000.00", "-3000.00"), ("payment", "1000.00", "-2000.00"),
                                 ("payment", "2000.00", "0.00")]
    assert [n.split("-")[-1] for n in db.session.scalars(select(Payment.number).order_by(Payment.id))] == ["000001", "000002"]


def test_grace_suspension_payment_reactivation_with_exact_ledger_figures(db, bill, spy_sync):
    branding.get().default_grace_days = 3
    db.session.commit()
    plan = bill.plan("3000.00", "day", 30)
    customer = bill.customer()
    # Signed up (back-dated) 40 days ago: the test moves the service's dates back instead of waiting for days to pass.
    signed_up = periods.second() - timedelta(days=40)
    sub_id = bill.service(customer, plan, state="pending", started_at=signed_up)
    staff = bill.user()

    # Sign-up with nothing paid: first invoice charged, pending.
    lifecycle.start(db.session.get(Subscription, sub_id), staff)
    db.session.commit()
    assert entries(customer) == [("charge", "-3000.00", "-3000.00")]
    # Paid: active for 30 days.
    billing.record_payment(db.session.get(billing.Customer, customer), "3000.00", "cash", "", "first month", staff)
    db.session.commit()
    assert _sub(db, sub_id).state == SubscriptionState.active and balance(customer) == "0.00"

    # 30 days later the balance is 0: grace, nothing charged.
    _shift(db, sub_id, -timedelta(days=30, minutes=1))
    now = periods.second()
    assert billing.run(now) == {"renewed": 0, "grace": 1, "suspended": 0}
    db.session.commit()
    sub = _sub(db, sub_id)
    assert sub.state == SubscriptionState.grace and sub.grace_until == sub.paid_until + timedelta(days=3)
    assert balance(customer) == "0.00"

    # Three days later: suspended, kicked on critical.
    _shift(db, sub_id, -timedelta(days=3))
    assert billing.run(periods.second()) == {"renewed": 0, "grace": 0, "suspended": 1}
    db.session.commit()
    assert _sub(db, sub_id).state == SubscriptionState.suspended
    assert spy_sync.many == [([sub_id], "critical", True)]

    # A payment short of the price changes nothing on the service.
    billing.record_payment(db.session.get(billing.Customer, customer), "2000.00", "bank", "FT2611001", "", staff)
    db.session.commit()
    assert _sub(db, sub_id).state == SubscriptionState.suspended and balance(customer) == "2000.00"

    # The rest arrives: a fresh period is charged from now and the service is back, on critical, kicked onto the new state.
    payment = billing.record_payment(db.session.get(billing.Customer, customer), "1000.00", "bank", "FT2611002", "", staff)
    db.session.commit()
    sub = _sub(db, sub_id)
    assert sub.state == SubscriptionState.active and abs(sub.period_start - payment.received_at) <= timedelta(seconds=1)
    assert sub.paid_until == sub.period_start + timedelta(days=30) and sub.grace_until is None
    assert spy_sync.sync[-1] == (sub_id, "active", "critical", True)
    command = db.session.scalar(select(RouterCommand).where(RouterCommand.idempotency_key == f"service:pppoe:{sub.username}")
                                .order_by(RouterCommand.id.desc()).limit(1))
    assert (command.priority.value, json.loads(command.payload_json)["state"]) == ("critical", "served")
    assert entries(customer) == [
        ("charge", "-3000.00", "-3000.00"),   # first invoice
        ("payment", "3000.00", "0.00"),       # paid: active
        ("payment", "2000.00", "2000.00"),    # suspended, not enough
        ("payment", "1000.00", "3000.00"),    # enough ...
        ("charge", "-3000.00", "0.00"),       # ... the new period is charged and the service reconnected
    ]
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 2


def test_a_grace_payment_continues_the_period_from_paid_until(db, bill):
    plan = bill.plan("500.00", "day", 30)
    customer = bill.customer()
    now = periods.second()
    paid_until = now - timedelta(days=1)
    sub_id = bill.service(customer, plan, state="grace", period_start=paid_until - timedelta(days=30), paid_until=paid_until,
                          grace_until=paid_until + timedelta(days=3))
    billing.record_payment(db.session.get(billing.Customer, customer), "500.00", "cash", None, "", bill.user())
    db.session.commit()
    sub = _sub(db, sub_id)
    assert (sub.state, sub.period_start, sub.paid_until) == (SubscriptionState.active, paid_until, paid_until + timedelta(days=30))
    assert entries(customer) == [("payment", "500.00", "500.00"), ("charge", "-500.00", "0.00")]


def test_money_goes_to_the_oldest_service_it_covers(db, bill):
    cheap, dear = bill.plan("1000.00", "day", 30), bill.plan("5000.00", "day", 30)
    customer = bill.customer()
    past = periods.second() - timedelta(days=10)
    big = bill.service(customer, dear, state="suspended", period_start=past - timedelta(days=30), paid_until=past)
    small = bill.service(customer, cheap, state="suspended", period_start=past - timedelta(days=30), paid_until=past)
    billing.record_payment(db.session.get(billing.Customer, customer), "1500.00", "cash", None, "", bill.user())
    db.session.commit()
    assert (_sub(db, big).state.value, _sub(db, small).state.value) == ("suspended", "active")
    assert balance(customer) == "500.00"


def test_a_service_suspended_by_staff_while_paid_up_stays_suspended(db, bill):
    plan = bill.plan("100.00", "day", 30)
    customer = bill.customer()
    now = periods.second()
    sub_id = bill.service(customer, plan, state="suspended", period_start=now - timedelta(days=1), paid_until=now + timedelta(days=29))
    billing.record_payment(db.session.get(billing.Customer, customer), "100.00", "cash", None, "", bill.user())
    db.session.commit()
    assert _sub(db, sub_id).state == SubscriptionState.suspended and balance(customer) == "100.00"


def test_a_duplicate_reference_is_refused_and_the_same_reference_under_another_method_is_accepted(db, bill):
    alice, bob = bill.customer("Alice"), bill.customer("Bob")
    staff = bill.user()
    first = billing.record_payment(db.session.get(billing.Customer, alice), "100.00", "bank", "FT-0001", "", staff)
    db.session.commit()
    with pytest.raises(ServiceError) as refused:
        billing.record_payment(db.session.get(billing.Customer, bob), "100.00", "bank", " FT-0001 ", "", staff)
    db.session.rollback()
    account = db.session.get(billing.Customer, alice).account_no
    assert refused.value.field == "reference"
    assert refused.value.message == f"This bank transfer reference was already recorded on receipt {first.number} for {account}."
    billing.record_payment(db.session.get(billing.Customer, bob), "100.00", "mobile", "FT-0001", "", staff)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 2
    assert (balance(alice), balance(bob)) == ("100.00", "100.00")


def test_the_unique_constraint_catches_a_race_with_the_same_message(db, bill, monkeypatch):
    alice, bob = bill.customer("Alice"), bill.customer("Bob")
    staff = bill.user()
    first = billing.record_payment(db.session.get(billing.Customer, alice), "100.00", "mobile", "QK1", "", staff)
    db.session.commit()
    # The other desk's payment committed after our check: the check sees nothing, the constraint refuses.
    monkeypatch.setattr(billing, "check_reference", lambda method, reference: reference.strip())
    with pytest.raises(ServiceError, match=f"already recorded on receipt {first.number}"):
        billing.record_payment(db.session.get(billing.Customer, bob), "100.00", "mobile", "QK1", "", staff)
    db.session.rollback()
    assert balance(bob) == "0.00" and db.session.scalar(select(func.count()).select_from(Payment)) == 1


@pytest.mark.parametrize("method", ["bank", "mobile"])
def test_bank_and_mobile_payments_need_a_reference(db, bill, method):
    customer = bill.customer()
    with pytest.raises(ServiceError, match="needs its reference"):
        billing.record_payment(db.session.get(billing.Customer, customer), "10.00", method, "  ", "", bill.user())


@pytest.mark.parametrize("amount,message", [("0", "must not be zero"), ("-5", "cannot be negative"), ("1.234", "at most two decimals"),
                                            ("ten", "is not an amount")])
def test_bad_amounts_are_refused(db, bill, amount, message):
    customer = bill.customer()
    with pytest.raises(ServiceError, match=message):
        billing.record_payment(db.session.get(billing.Customer, customer), amount, "cash", "", "", bill.user())


def test_an_agent_payment_debits_the_wallet_less_the_commission(db, bill, make_user):
    branding.get().agent_commission_percent = Decimal("10.00")
    db.session.commit()
    agent = bill.agent()
    customer = bill.customer(reseller_id=agent.id)
    wallet = ledger.account_for(db.session.get(User, agent.id))
    ledger.post(wallet, EntryKind.topup, Decimal("950.00"), "top-up")
    db.session.commit()
    payment = billing.record_payment(db.session.get(billing.Customer, customer), "1000.00", "cash", "", "", db.session.get(User, agent.id))
    db.session.commit()
    assert entries(customer) == [("payment", "1000.00", "1000.00")]
    rows = db.session.execute(select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.balance_after, LedgerEntry.payment_id)
                              .where(LedgerEntry.account_id == wallet.id).order_by(LedgerEntry.id)).all()
    assert [(k.value, f"{a:.2f}", f"{b:.2f}", p) for k, a, b, p in rows] == [
        ("topup", "950.00", "950.00", None), ("commission", "100.00", "1050.00", payment.id),
        ("purchase", "-1000.00", "50.00", payment.id)]
    assert payment.taken_by_id == agent.id

    with pytest.raises(ServiceError, match=r"Your wallet holds 50\.00; this payment needs 90\.00 from it"):
        billing.record_payment(db.session.get(billing.Customer, customer), "100.00", "cash", "", "", db.session.get(User, agent.id))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1 and balance(customer) == "1000.00"
    assert db.session.scalar(select(LedgerAccount.balance).where(LedgerAccount.id == wallet.id)) == Decimal("50.00")


def test_an_agent_cannot_take_money_for_someone_elses_customer(db, bill, make_user):
    agent = bill.agent()
    other = bill.customer()
    with pytest.raises(ServiceError, match="may not take payments"):
        billing.record_payment(db.session.get(billing.Customer, other), "10.00", "cash", "", "", db.session.get(User, agent.id))
    idle = make_user("reseller")
    own = bill.customer(reseller_id=idle.id)
    with pytest.raises(ServiceError, match="may not take payments"):
        billing.record_payment(db.session.get(billing.Customer, own), "10.00", "cash", "", "", db.session.get(User, idle.id))


def test_a_payment_that_renews_a_capped_grace_service_kicks_the_session(db, bill, spy_sync):
    from isp.models import Customer, RouterCommand

    now = periods.second()
    plan = bill.plan("100.00", "day", 30)
    customer = bill.customer()
    sub_id = bill.service(customer, plan, state="grace", period_start=now - timedelta(days=31),
                          paid_until=now - timedelta(days=1), grace_until=now + timedelta(days=2))
    db.session.get(Subscription, sub_id).fup_active = True
    db.session.commit()
    billing.record_payment(db.session.get(Customer, customer), "100.00", "cash", "", "", bill.user())
    db.session.commit()
    assert spy_sync.sync == [(sub_id, "active", "high", True)]
    applied = db.session.scalars(select(RouterCommand).where(RouterCommand.operation == "service.apply")).all()
    assert [c.payload["kick"] for c in applied] == [True]
    assert db.session.get(Subscription, sub_id).fup_active is False
