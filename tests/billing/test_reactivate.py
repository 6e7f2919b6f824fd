"""Reactivating by hand goes through billing: a pending or lapsed service is never made active without a paid period."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from isp.models import Invoice, Subscription
from isp.services import billing, lifecycle, periods, subscriptions
from isp.services.errors import ServiceError
from tests.billing.conftest import balance, entries


def _reactivate(db, sub_id, bill):
    subscriptions.change_state(db.session.get(Subscription, sub_id), "reactivate", bill.user(), "customer called")
    db.session.commit()
    return db.session.get(Subscription, sub_id)


def _invoices(db):
    return db.session.scalar(select(func.count()).select_from(Invoice))


def test_reactivating_a_pending_service_needs_the_money_then_charges_one_period(db, bill):
    plan = bill.plan("1000.00", "day", 30)
    customer = bill.customer()
    sub_id = bill.service(customer, plan, state="pending")
    with pytest.raises(ServiceError, match="Take a payment first: .*1,000.00 is missing"):
        _reactivate(db, sub_id, bill)
    db.session.rollback()
    assert db.session.get(Subscription, sub_id).state.value == "pending" and _invoices(db) == 0

    bill.fund(customer, "1000.00")  # straight to the ledger: nothing settled the service
    before = periods.second()
    sub = _reactivate(db, sub_id, bill)
    assert sub.state.value == "active" and sub.paid_until is not None and sub.paid_until >= before + timedelta(days=30)
    assert sub.paid_until - sub.period_start == timedelta(days=30)
    assert entries(customer)[1:] == [("charge", "-1000.00", "0.00")] and balance(customer) == "0.00"
    assert billing.run(sub.period_start)["renewed"] == 0  # paid up: nothing is due now ...
    assert billing.run(sub.paid_until)["grace"] == 1       # ... and it is billed again when the period ends


def test_a_pending_service_already_invoiced_is_not_charged_twice(db, bill):
    plan = bill.plan("1000.00", "day", 30)
    customer = bill.customer()
    sub_id = bill.service(customer, plan, state="pending")
    lifecycle.start(db.session.get(Subscription, sub_id), bill.user())  # the sign-up invoice; no money: stays pending
    db.session.commit()
    assert db.session.get(Subscription, sub_id).state.value == "pending" and balance(customer) == "-1000.00"
    with pytest.raises(ServiceError, match="1,000.00 is missing"):
        _reactivate(db, sub_id, bill)
    db.session.rollback()
    bill.fund(customer, "1000.00")
    sub = _reactivate(db, sub_id, bill)
    assert sub.state.value == "active" and sub.paid_until is not None
    assert _invoices(db) == 1 and balance(customer) == "0.00"


def test_reactivating_a_lapsed_suspended_service_needs_the_money(db, bill):
    now = periods.second()
    plan = bill.plan("1000.00", "day", 30)
    customer = bill.customer()
    sub_id = bill.service(customer, plan, state="suspended", period_start=now - timedelta(days=40),
                          paid_until=now - timedelta(days=10))
    bill.fund(customer, "400.00")
    with pytest.raises(ServiceError, match="Take a payment first: .*600.00 is missing"):
        _reactivate(db, sub_id, bill)
    db.session.rollback()
    assert db.session.get(Subscription, sub_id).state.value == "suspended" and _invoices(db) == 0
    bill.fund(customer, "600.00")
    sub = _reactivate(db, sub_id, bill)
    assert sub.state.value == "active" and sub.paid_until - sub.period_start == timedelta(days=30)
    assert sub.period_start >= now and balance(customer) == "0.00" and _invoices(db) == 1


def test_a_service_suspended_while_paid_up_comes_back_without_a_charge(db, bill):
    now = periods.second()
    plan = bill.plan("1000.00", "day", 30)
    customer = bill.customer()
    paid_until = now + timedelta(days=10)
    sub_id = bill.service(customer, plan, state="suspended", period_start=paid_until - timedelta(days=30),
                          paid_until=paid_until)
    sub = _reactivate(db, sub_id, bill)
    assert (sub.state.value, sub.paid_until) == ("active", paid_until) and _invoices(db) == 0
