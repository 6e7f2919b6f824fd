"""Customers service: account numbers (concurrent sign-ups), edits on the timeline, notes, status, reseller scope."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select

from isp.extensions import db
from isp.models import AuditEntry, Customer, CustomerEvent, LedgerAccount, User
from isp.services import branding, customers
from isp.services.errors import ServiceError
from isp.transaction import atomic


def test_sign_up_gives_account_number_ledger_account_and_timeline(app, staff, db):
    actor = db.session.get(User, staff.id)
    customer = customers.create({"name": "Jane Doe", "phone": "+254 712 345 678", "email": "Jane@Example.com",
                                 "tags": "VIP, fiber"}, actor)
    db.session.commit()
    assert customer.account_no == "ISP-000001"
    assert (customer.phone, customer.email, customer.tags) == ("+254712345678", "Jane@example.com", "vip,fiber")
    account = db.session.scalar(select(LedgerAccount).where(LedgerAccount.customer_id == customer.id))
    assert account is not None and account.balance == Decimal("0.00")
    events = db.session.scalars(select(CustomerEvent).where(CustomerEvent.customer_id == customer.id)).all()
    assert [(e.kind, e.actor_id) for e in events] == [("created", staff.id)]


def test_account_prefix_and_digits_come_from_settings(app, staff, db):
    settings = branding.get()
    settings.account_prefix, settings.account_digits = "NET", 4
    db.session.commit()
    customer = customers.create({"name": "A"}, db.session.get(User, staff.id))
    assert customer.account_no == "NET0001"


def test_two_threads_signing_up_get_distinct_numbers_without_gaps(app, staff):
    with app.app_context():
        branding.get()
        db.session.commit()
    per_thread, errors = 8, []
    start = threading.Barrier(2)

    def sign_up(tag: str) -> None:
        try:
            with app.app_context():
                actor = db.session.get(User, staff.id)
                start.wait()
                for n in range(per_thread):
                    atomic(lambda n=n: customers.create({"name": f"{tag} {n}"}, actor))
                db.session.remove()
        except Exception as err:  # noqa: BLE001 - reported to the main thread
            errors.append(err)

    threads = [threading.Thread(target=sign_up, args=(t,)) for t in ("left", "right")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with app.app_context():
        numbers = sorted(db.session.scalars(select(Customer.account_no)))
    assert numbers == [f"ISP-{n:06d}" for n in range(1, 2 * per_thread + 1)]


def test_a_refused_sign_up_gives_its_number_back(app, staff, db):
    actor = db.session.get(User, staff.id)
    atomic(lambda: customers.create({"name": "First"}, actor))
    with pytest.raises(ServiceError):
        atomic(lambda: customers.create({"name": "Bad", "phone": "12"}, actor))
    second = atomic(lambda: customers.create({"name": "Second"}, actor))
    assert second.account_no == "ISP-000002"


def test_update_records_each_changed_field_as_one_line(app, staff, make_customer, db):
    c = make_customer(staff.id, name="Jane", phone="0712345678", email="")
    customer = db.session.get(Customer, c.id)
    lines = customers.update(customer, {"name": "Jane", "phone": "0799 999 999", "email": "jane@example.com",
                                        "notes": "gate code 1234", "tags": ""}, db.session.get(User, staff.id))
    db.session.commit()
    assert lines == ["phone: 0712345678 → 0799999999", "email: — → jane@example.com", "notes edited"]
    summaries = db.session.scalars(select(CustomerEvent.summary).where(
        CustomerEvent.customer_id == c.id, CustomerEvent.kind == "updated").order_by(CustomerEvent.id)).all()
    assert summaries == lines
    assert "gate code" not in " ".join(summaries)  # the notes text is not copied onto the timeline


def test_update_with_nothing_changed_records_nothing(app, staff, make_customer, db):
    c = make_customer(staff.id, name="Jane", phone="0712345678")
    customer = db.session.get(Customer, c.id)
    assert customers.update(customer, {"name": "Jane", "phone": "0712 345 678"}, db.session.get(User, staff.id)) == []


def test_notes_are_timeline_events(app, staff, make_customer, db):
    c = make_customer(staff.id)
    customer = db.session.get(Customer, c.id)
    customers.add_note(customer, "Called about speed.\nRebooted CPE.", db.session.get(User, staff.id))
    db.session.commit()
    row = db.session.scalar(select(CustomerEvent).where(CustomerEvent.kind == "note"))
    assert row.summary == "Called about speed.\nRebooted CPE." and row.actor_id == staff.id
    with pytest.raises(ServiceError, match="required"):
        customers.add_note(customer, "  ", db.session.get(User, staff.id))


def test_status_change_is_recorded_and_close_needs_no_live_services(app, staff, make_customer, make_router,
                                                                    make_service_plan, make_service, db):
    c = make_customer(staff.id)
    router = make_router()
    plan = make_service_plan([router.id])
    make_service(c.id, plan.id, staff.id)
    customer = db.session.get(Customer, c.id)
    actor = db.session.get(User, staff.id)
    customers.set_status(customer, "suspended", actor, "unpaid equipment")
    event = db.session.scalar(select(CustomerEvent).where(CustomerEvent.kind == "status"))
    assert (event.from_state, event.to_state) == ("active", "suspended") and "unpaid equipment" in event.summary
    with pytest.raises(ServiceError, match="Terminate"):
        customers.set_status(customer, "closed", actor)
    with pytest.raises(ServiceError):
        customers.set_status(customer, "gone", actor)


def test_reseller_needs_permission_and_owns_what_they_sign_up(app, make_user, make_seller, db):
    plain = make_user("reseller")
    with pytest.raises(ServiceError, match="may not"):
        customers.create({"name": "X"}, db.session.get(User, plain.id))
    seller = make_seller()
    customer = customers.create({"name": "Mine", "reseller_id": plain.id}, db.session.get(User, seller.id))
    assert customer.reseller_id == seller.id  # a reseller cannot hand a customer to someone else


def test_staff_may_assign_only_resellers_allowed_to_sell(app, staff, make_user, make_seller, db):
    seller = make_seller()
    others = (make_user("reseller").id, make_user("operator").id)
    actor = db.session.get(User, staff.id)
    assert customers.create({"name": "A", "reseller_id": seller.id}, actor).reseller_id == seller.id
    for other in others:
        with pytest.raises(ServiceError) as err:
            customers.create({"name": "B", "reseller_id": other}, actor)
        assert err.value.field == "reseller_id"


def test_scope_keeps_resellers_to_their_own_customers(app, staff, make_seller, make_customer, db):
    a, b = make_seller(), make_seller()
    mine = make_customer(a.id)
    theirs = make_customer(b.id)
    house = make_customer(staff.id)
    reseller = db.session.get(User, a.id)
    assert customers.get(reseller, mine.id) is not None
    assert customers.get(reseller, theirs.id) is None and customers.get(reseller, house.id) is None
    assert [c.id for c in customers.list_page(reseller, {}, 50).items] == [mine.id]
    assert customers.get(db.session.get(User, staff.id), theirs.id) is not None
    reseller.can_sell_services = False  # permission withdrawn: nothing is visible any more
    assert customers.get(reseller, mine.id) is None


def test_edits_are_audited_without_values(app, staff, make_customer, db):
    c = make_customer(staff.id, national_id="A1")
    customers.update(db.session.get(Customer, c.id), {"name": "Customer 1", "national_id": "ZZ-99-SECRET"},
                     db.session.get(User, staff.id))
    detail = db.session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "customer.update"))
    assert detail == "national ID" and "SECRET" not in detail
