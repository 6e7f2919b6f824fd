"""The real run: one transaction, set-based, exact balances and states; a failure anywhere rolls everything back."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from isp import crypto
from isp.extensions import db as _db
from isp.models import (
    AuditEntry,
    Counter,
    Customer,
    CustomerEvent,
    CustomerStatus,
    EntryKind,
    LedgerAccount,
    LedgerEntry,
    Priority,
    ServiceKind,
    Subscription,
    SubscriptionState,
    User,
)
from isp.services import importer
from isp.services.errors import ServiceError
from isp.services.import_checks import Options
from isp.services.importer import ImportRefused
from isp.transaction import atomic
from tests.imports.conftest import csv_bytes

FUTURE = (date.today() + timedelta(days=60)).isoformat()
PAST = (date.today() - timedelta(days=10)).isoformat()


def _file():
    return csv_bytes(
        f"ISP-000010,Jane Doe,+254712345678,,jane@example.com,Plot 1,ID-1,,VIP fiber,gate 4,active,25.00,pppoe,jane,pw-jane,home 10m,CORE-1,,aa-bb-cc-dd-ee-ff,{FUTURE},yes",
        f"ISP-000010,,,,,,,,,,,,static,jane-office,,Office 20M,core-1,10.0.0.5,,{FUTURE},no",
        f",Bob,0722000111,,,,,,,,,,hotspot,bob,pw-bob,Hotspot Day,core-1,,,{PAST} 18:00,",
        f",Cat,0733000111,,,,,,,,suspended,,pppoe,cat,pw-cat,Edge Only,edge-2,,,{PAST},",
        ",Dan,0744000111,,,,,,,,,-12.50,,,,,,,,,",
        ",Eve,0755000111,,,,,,,,,,pppoe,eve,pw-eve,Home 10M,edge-2,,,,",
    )


@pytest.fixture
def synced(monkeypatch):
    calls = []
    monkeypatch.setattr(importer.provisioning, "sync_many", lambda ids, priority=Priority.critical, kick=False: calls.append((ids, priority)) or len(ids))
    return calls


def test_a_clean_file_imports_every_customer_and_service_in_one_go(app, world, make_user, synced):
    admin = make_user("admin")
    with app.app_context():
        actor = _db.session.get(User, admin.id)
        report = atomic(lambda: importer.run(_file(), Options(), actor, "move.csv"))
        assert (report.customer_count, report.service_count) == (5, 5)

        customers = {c.name: c for c in _db.session.scalars(select(Customer))}
        assert sorted(customers) == ["Bob", "Cat", "Dan", "Eve", "Jane Doe"]
        # A free account number in the sequence's own format is kept; the others follow it, in file order.
        assert [customers[n].account_no for n in ("Jane Doe", "Bob", "Cat", "Dan", "Eve")] == [
            "ISP-000010", "ISP-000011", "ISP-000012", "ISP-000013", "ISP-000014"]
        assert _db.session.get(Counter, "customer").value == 14
        jane = customers["Jane Doe"]
        assert (jane.tags, jane.notes, jane.national_id, jane.created_by_id) == ("vip,fiber", "gate 4", "ID-1", admin.id)
        assert customers["Cat"].status == CustomerStatus.suspended

        balances = dict(_db.session.execute(select(LedgerAccount.customer_id, LedgerAccount.balance)).tuples().all())
        assert balances == {jane.id: Decimal("25.00"), customers["Dan"].id: Decimal("-12.50"), customers["Bob"].id: 0,
                            customers["Cat"].id: 0, customers["Eve"].id: 0}
        entries = _db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.amount)).all()
        assert [(e.kind, e.amount, e.balance_after, e.memo, e.idem_key) for e in entries] == [
            (EntryKind.adjustment, Decimal("-12.50"), Decimal("-12.50"), "import opening balance", f"import-opening:{customers['Dan'].id}"),
            (EntryKind.adjustment, Decimal("25.00"), Decimal("25.00"), "import opening balance", f"import-opening:{jane.id}")]

        subs = {s.username: s for s in _db.session.scalars(select(Subscription))}
        assert {u: s.state for u, s in subs.items()} == {
            "jane": SubscriptionState.active, "jane-office": SubscriptionState.active,
            "bob": SubscriptionState.active,  # past paid_until: the billing run decides (renew, grace, suspend)
            "cat": SubscriptionState.suspended, "eve": SubscriptionState.pending}
        jane_sub = subs["jane"]
        assert crypto.decrypt(jane_sub.password_encrypted) == "pw-jane" and "pw-jane" not in jane_sub.password_encrypted
        assert (jane_sub.caller_id, jane_sub.auto_renew, subs["jane-office"].auto_renew) == ("AA:BB:CC:DD:EE:FF", True, False)
        assert subs["jane-office"].static_ip == "10.0.0.5" and subs["jane-office"].password_encrypted == ""
        assert jane_sub.customer_id == subs["jane-office"].customer_id == jane.id
        # Operator's zone is UTC here: a bare date is paid through that whole day.
        end = datetime.combine(date.fromisoformat(FUTURE) + timedelta(days=1), datetime.min.time(), UTC)
        assert jane_sub.paid_until == end and jane_sub.period_start.month == (end.month - 2) % 12 + 1
        bob = subs["bob"]
        assert bob.paid_until == datetime.combine(date.fromisoformat(PAST), datetime.min.time(), UTC) + timedelta(hours=18)
        assert bob.period_start == bob.paid_until - timedelta(days=1)
        assert (subs["eve"].paid_until, subs["eve"].period_start, subs["eve"].started_at) == (None, None, None)

        events = _db.session.scalars(select(CustomerEvent).order_by(CustomerEvent.customer_id)).all()
        assert [e.kind for e in events] == ["import"] * 5 and all(e.actor_id == admin.id for e in events)
        assert events[0].summary == "Imported from move.csv, lines 2, 3 (2 services)."
        audit_entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "customers.import"))
        assert audit_entry.actor_id == admin.id and "5 customers, 5 services (3 active, 1 pending, 1 suspended)" in audit_entry.detail
        assert "pw-" not in audit_entry.detail

    # Active and suspended services are queued to their routers, once, at normal priority.
    assert len(synced) == 1
    ids, priority = synced[0]
    assert priority == Priority.normal
    assert sorted(ids) == sorted(s.id for s in subs.values() if s.state != SubscriptionState.pending)


def test_the_same_file_again_is_refused_line_by_line(app, world, synced):
    with app.app_context():
        atomic(lambda: importer.run(_file(), Options(), None, "a.csv"))
        report = importer.check(_file(), Options())
        assert {(p.line, p.column) for p in report.problems} == {(n, "username") for n in range(2, 8) if n != 6} | {(3, "static_ip")}
        assert [n.line for n in report.notices] == [2]  # ISP-000010 is taken: a new number would be allocated


def test_a_username_taken_between_the_dry_run_and_the_run_refuses_all_of_it(app, world, counts, synced):
    with app.app_context():
        assert importer.check(_file(), Options()).ok
        other = Customer(account_no="X-1", name="Somebody")
        _db.session.add(other)
        _db.session.flush()
        _db.session.add(Subscription(customer_id=other.id, kind=ServiceKind.hotspot, username="bob",
                                     plan_id=world.plans["Hotspot Day"], router_id=world.core.id))
        _db.session.commit()
    before = counts()
    with app.app_context():
        with pytest.raises(ImportRefused) as err:
            atomic(lambda: importer.run(_file(), Options(), None, "a.csv"))
        assert [(p.line, p.column) for p in err.value.report.problems] == [(4, "username")]
    assert counts() == before and not synced


def test_a_failure_in_the_middle_of_the_run_rolls_back_everything(app, world, counts, synced, monkeypatch):
    """A concurrent writer takes a username after the checks: the services insert fails and nothing stays."""
    before = counts()
    real_encrypt = crypto.encrypt
    state = {"raced": False}

    def racing_encrypt(secret):
        if not state["raced"]:
            state["raced"] = True
            customer_id = _db.session.scalar(select(Customer.id).where(Customer.name == "Bob"))  # already inserted
            _db.session.execute(Subscription.__table__.insert().values(
                customer_id=customer_id, kind="pppoe", username="eve", password_encrypted="", plan_id=world.plans["Home 10M"],
                router_id=world.edge.id, caller_id="", state="pending", auto_renew=True, period_bytes=0, fup_active=False,
                state_changed_at=datetime.now(UTC), created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
        return real_encrypt(secret)

    monkeypatch.setattr(importer.crypto, "encrypt", racing_encrypt)
    with app.app_context():
        with pytest.raises(ServiceError) as err:
            atomic(lambda: importer.run(_file(), Options(), None, "a.csv"))
        assert "Nothing was imported" in err.value.message
    assert state["raced"] and counts() == before and not synced
