"""Billing fixtures: service plans, customers and services built directly as rows, money posted through the services."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from isp.extensions import db as _db


@pytest.fixture
def spy_sync(monkeypatch):
    """Record every provisioning.sync / sync_many call (and still run them): what the router is told, and how urgently."""
    from isp.services import provisioning

    calls = SimpleNamespace(sync=[], many=[])
    real_sync, real_many = provisioning.sync, provisioning.sync_many

    def sync(sub, priority=None, kick=False):
        calls.sync.append((sub.id, sub.state.value, priority.value if priority else None, kick))
        return real_sync(sub, priority, kick) if priority else real_sync(sub, kick=kick)

    def sync_many(ids, priority=None, kick=False):
        calls.many.append((sorted(ids), priority.value if priority else None, kick))
        return real_many(ids, priority, kick) if priority else real_many(ids, kick=kick)

    monkeypatch.setattr(provisioning, "sync", sync)
    monkeypatch.setattr(provisioning, "sync_many", sync_many)
    return calls


@pytest.fixture
def bill(app, make_router, make_user):
    """Factories for billing tests; each commits and returns ids (use inside `ctx`/`db` or not)."""
    from isp.models import Customer, EntryKind, PeriodUnit, ServiceKind, ServicePlan, Subscription, SubscriptionState, User
    from isp.services import ledger, numbering

    router = make_router()
    staff = make_user("operator")
    counter = {"n": 0}

    def plan(price="3000.00", unit="day", count=30, grace_days=None, kind="pppoe", name=None):
        counter["n"] += 1
        with app.app_context():
            row = ServicePlan(name=name or f"Home {counter['n']}", kind=ServiceKind(kind), profile_name=f"isp-home-{counter['n']}",
                              price=Decimal(price), period_unit=PeriodUnit(unit), period_count=count, rate_limit="10M/10M",
                              grace_days=grace_days, active=True)
            from isp.models import Router
            row.routers = [_db.session.get(Router, router.id)]
            _db.session.add(row)
            _db.session.commit()
            return row.id

    def customer(name="Alice Wanjiru", reseller_id=None, notes="", phone="0700000001"):
        with app.app_context():
            row = Customer(account_no=numbering.account_numbers()[0], name=name, notes=notes, phone=phone,
                           reseller_id=reseller_id, created_by_id=staff.id)
            _db.session.add(row)
            _db.session.commit()
            return row.id

    def service(customer_id, plan_id, state="active", period_start=None, paid_until=None, auto_renew=True,
                grace_until=None, grace_days=None, started_at=None):
        counter["n"] += 1
        with app.app_context():
            row = Subscription(customer_id=customer_id, kind=_db.session.get(ServicePlan, plan_id).kind,
                               username=f"user{counter['n']}", plan_id=plan_id, router_id=router.id,
                               state=SubscriptionState(state), period_start=period_start, paid_until=paid_until,
                               auto_renew=auto_renew, grace_until=grace_until, grace_days=grace_days, started_at=started_at)
            _db.session.add(row)
            _db.session.commit()
            return row.id

    def fund(customer_id, amount, kind="payment", memo="test money"):
        with app.app_context():
            ledger.post(ledger.customer_account(customer_id), EntryKind(kind), Decimal(amount), memo, allow_overdraft=True)
            _db.session.commit()

    def agent(can_sell=True):
        """A reseller allowed (or not) to sell services."""
        made = make_user("reseller")
        with app.app_context():
            _db.session.get(User, made.id).can_sell_services = can_sell
            _db.session.commit()
        return made

    def user(user_id=None):
        return _db.session.get(User, user_id or staff.id)

    return SimpleNamespace(plan=plan, customer=customer, service=service, fund=fund, user=user, agent=agent, staff=staff,
                           router_id=router.id, days=lambda n: timedelta(days=n))


def entries(customer_id):
    """(kind, amount, balance_after) of a customer's ledger entries, oldest first, as strings."""
    from sqlalchemy import select

    from isp.models import LedgerAccount, LedgerEntry

    rows = _db.session.execute(select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.balance_after)
                               .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
                               .where(LedgerAccount.customer_id == customer_id).order_by(LedgerEntry.id))
    return [(k.value, f"{a:.2f}", f"{b:.2f}") for k, a, b in rows]


def balance(customer_id):
    """The cached balance and the sum of entries, which must always agree."""
    from sqlalchemy import func, select

    from isp.models import LedgerAccount, LedgerEntry

    cached = _db.session.scalar(select(LedgerAccount.balance).where(LedgerAccount.customer_id == customer_id))
    summed = _db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).join(
        LedgerAccount, LedgerAccount.id == LedgerEntry.account_id).where(LedgerAccount.customer_id == customer_id))
    assert Decimal(cached or 0) == Decimal(summed or 0), (cached, summed)
    return f"{Decimal(cached or 0):.2f}"
