"""Plan changes with proration, credit notes, adjustments and refunds: exact figures and signs."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isp.models import Customer, Invoice, InvoiceKind, RouterCommand, ServicePlan, Subscription
from isp.services import adjustments, billing, periods, proration
from isp.services.errors import ServiceError
from tests.billing.conftest import balance, entries


def _active_with_invoice(db, bill, price="3000.00", days_in=10, days=30):
    """An active 30-day service `days_in` days into a period it was invoiced for (the customer paid exactly)."""
    plan = bill.plan(price, "day", days)
    customer = bill.customer()
    start = periods.second() - timedelta(days=days_in)
    bill.fund(customer, price)
    sub_id = bill.service(customer, plan, state="pending", started_at=start)
    from isp.services import lifecycle

    lifecycle.start(db.session.get(Subscription, sub_id), bill.user())
    db.session.commit()
    return customer, sub_id


def test_proration_figures_credit_the_unused_part_and_charge_the_new_plan_for_the_rest(db, bill, spy_sync):
    customer, sub_id = _active_with_invoice(db, bill)
    bigger = db.session.get(ServicePlan, bill.plan("4500.00", "day", 30, name="Faster"))
    sub = db.session.get(Subscription, sub_id)
    at = sub.period_start + timedelta(days=10)
    quote = billing.change_plan_quote(sub, bigger, at)
    assert (quote.credit, quote.charge, quote.net, quote.days_left) == (Decimal("2000.00"), Decimal("3000.00"),
                                                                       Decimal("1000.00"), "20 of 30 days")
    assert quote.balance_after == Decimal("-1000.00")

    billing.change_plan(sub, bigger, bill.user(), at)
    db.session.commit()
    db.session.expire_all()
    sub = db.session.get(Subscription, sub_id)
    assert sub.plan_id == bigger.id and sub.paid_until == at + timedelta(days=20)  # the period does not move
    first, note, invoice = db.session.scalars(select(Invoice).order_by(Invoice.id)).all()
    assert (note.kind, note.corrects_id, f"{note.amount:.2f}") == (InvoiceKind.credit_note, first.id, "2000.00")
    assert (invoice.kind, f"{invoice.amount:.2f}", invoice.period_start, invoice.period_end) == (
        InvoiceKind.invoice, "3000.00", at, sub.paid_until)
    assert entries(customer) == [("payment", "3000.00", "3000.00"), ("charge", "-3000.00", "0.00"),
                                 ("credit", "2000.00", "2000.00"), ("charge", "-3000.00", "-1000.00")]
    assert spy_sync.sync[-1] == (sub_id, "active", "high", True)  # the new profile, and the session redials onto it
    applied = db.session.scalars(select(RouterCommand).where(RouterCommand.operation == "service.apply")
                                 .order_by(RouterCommand.id.desc())).first()
    assert applied.payload["kick"] is True

    # A second change later in the period credits what the last invoice charged for the days still ahead.
    smaller = db.session.get(ServicePlan, bill.plan("1500.00", "day", 30, name="Basic"))
    second = billing.change_plan_quote(sub, smaller, at + timedelta(days=10))
    assert (second.credit, second.charge) == (Decimal("1500.00"), Decimal("500.00"))  # 3000 × 10/20, 1500 × 10/30


def test_a_plan_change_in_the_second_the_period_began_is_made(db, bill):
    customer, sub_id = _active_with_invoice(db, bill, days_in=0)
    bigger = db.session.get(ServicePlan, bill.plan("4500.00", "day", 30, name="Faster"))
    sub = db.session.get(Subscription, sub_id)
    at = sub.period_start
    quote = billing.change_plan(sub, bigger, bill.user(), at)
    db.session.commit()
    assert quote.at == at + timedelta(seconds=1) and (quote.credit, quote.charge) == (Decimal("3000.00"), Decimal("4500.00"))
    assert db.session.get(Subscription, sub_id).plan_id == bigger.id
    assert balance(customer) == "-1500.00"


def test_proration_rounds_half_up_to_the_cent():
    assert periods.prorate(Decimal("1000.00"), timedelta(days=1), timedelta(days=3)) == Decimal("333.33")
    assert periods.prorate(Decimal("1000.00"), timedelta(days=2), timedelta(days=3)) == Decimal("666.67")
    assert periods.prorate(Decimal("0.01"), timedelta(seconds=1), timedelta(seconds=2)) == Decimal("0.01")  # 0.005 → 0.01
    assert periods.prorate(Decimal("100.00"), timedelta(0), timedelta(days=30)) == Decimal("0.00")


def test_a_stale_quote_is_refused_and_a_repeated_change_does_nothing(db, bill):
    customer, sub_id = _active_with_invoice(db, bill)
    faster = db.session.get(ServicePlan, bill.plan("4500.00", "day", 30, name="Faster"))
    sub = db.session.get(Subscription, sub_id)
    with pytest.raises(ServiceError, match="out of date"):
        billing.change_plan(sub, faster, bill.user(), periods.second() - timedelta(hours=1))
    billing.change_plan(sub, faster, bill.user())
    db.session.commit()
    with pytest.raises(ServiceError, match="already on Faster"):
        billing.change_plan(db.session.get(Subscription, sub_id), faster, bill.user())
    assert db.session.scalar(select(func.count()).select_from(Invoice)) == 3


def test_a_plan_of_another_kind_or_not_sold_on_the_router_is_refused(db, bill):
    customer, sub_id = _active_with_invoice(db, bill)
    hotspot = db.session.get(ServicePlan, bill.plan("100.00", kind="hotspot"))
    with pytest.raises(ServiceError, match="is not an active PPPoE plan"):
        billing.change_plan_quote(db.session.get(Subscription, sub_id), hotspot)
    assert proration.plans_for(db.session.get(Subscription, sub_id)) == []


def test_only_staff_change_plans(db, bill):
    agent = bill.agent()
    customer, sub_id = _active_with_invoice(db, bill)
    faster = db.session.get(ServicePlan, bill.plan("4500.00", name="Faster"))
    with pytest.raises(ServiceError, match="Only staff"):
        billing.change_plan(db.session.get(Subscription, sub_id), faster, bill.user(agent.id))


def test_a_pending_service_gets_its_whole_first_invoice_back(db, bill):
    plan = bill.plan("3000.00")
    customer = bill.customer()
    sub_id = bill.service(customer, plan, state="pending")
    from isp.services import lifecycle

    lifecycle.start(db.session.get(Subscription, sub_id), bill.user())
    db.session.commit()
    cheaper = db.session.get(ServicePlan, bill.plan("1000.00", name="Lite"))
    quote = billing.change_plan(db.session.get(Subscription, sub_id), cheaper, bill.user())
    db.session.commit()
    assert (quote.credit, quote.charge) == (Decimal("3000.00"), Decimal("1000.00"))
    assert balance(customer) == "-1000.00"
    billing.record_payment(db.session.get(Customer, customer), "1000.00", "cash", "", "", bill.user())
    db.session.commit()
    assert db.session.get(Subscription, sub_id).state.value == "active"  # the new invoice is what it waited for


def test_credit_note_corrects_an_invoice_which_itself_never_changes(db, bill):
    customer, sub_id = _active_with_invoice(db, bill, price="1200.00")
    invoice = db.session.scalar(select(Invoice))
    number, amount = invoice.number, invoice.amount
    with pytest.raises(ServiceError, match="Give a reason"):
        adjustments.credit_note(invoice, "200.00", "  ", bill.user())
    note = adjustments.credit_note(invoice, "200.00", "Outage 3 days", bill.user())
    db.session.commit()
    with pytest.raises(ServiceError, match=r"At most 1,000\.00 of invoice"):
        adjustments.credit_note(invoice, "1000.01", "too much", bill.user())
    db.session.rollback()
    rest = adjustments.credit_note(invoice, "", "Cancelled", bill.user(), at=periods.second() + timedelta(seconds=1))
    db.session.commit()
    assert (f"{note.amount:.2f}", f"{rest.amount:.2f}", note.corrects_id, note.kind) == ("200.00", "1000.00", invoice.id,
                                                                                          InvoiceKind.credit_note)
    with pytest.raises(ServiceError, match="already fully credited"):
        adjustments.credit_note(invoice, "", "again", bill.user())
    db.session.rollback()
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert (invoice.number, invoice.amount) == (number, amount)
    assert entries(customer)[-2:] == [("credit", "200.00", "200.00"), ("credit", "1000.00", "1200.00")]


def test_adjustments_take_either_sign_with_a_reason_and_refunds_pay_credit_back(db, bill):
    customer_id = bill.customer()
    customer = db.session.get(Customer, customer_id)
    staff = bill.user()
    adjustments.adjust(customer, "-150.00", "Router damaged by customer", staff)
    adjustments.adjust(customer, "500.00", "Goodwill", staff)
    db.session.commit()
    with pytest.raises(ServiceError, match="cannot be more than that"):
        adjustments.refund(customer, "350.01", "cash", "Moving away", staff)
    db.session.rollback()
    with pytest.raises(ServiceError, match="Give a reason"):
        adjustments.refund(customer, "10.00", "cash", "", staff)
    db.session.rollback()
    adjustments.refund(customer, "350.00", "mobile", "Moving away", staff)
    db.session.commit()
    assert entries(customer_id) == [("adjustment", "-150.00", "-150.00"), ("adjustment", "500.00", "350.00"),
                                    ("refund", "-350.00", "0.00")]
    agent = bill.agent()
    with pytest.raises(ServiceError, match="Only staff"):
        adjustments.adjust(customer, "10.00", "mine", bill.user(agent.id))
