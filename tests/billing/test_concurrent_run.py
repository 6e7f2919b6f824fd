"""The billing run executed twice at once, by two processes against the same database: each period billed once."""
from __future__ import annotations

import multiprocessing
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from isp.models import (
    Customer,
    EntryKind,
    Invoice,
    LedgerAccount,
    LedgerEntry,
    PeriodUnit,
    Router,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
)
from isp.services import ledger, numbering, periods
from tests.billing.workers import run_billing

RICH, DOUBLE, POOR, EXPIRED = 60, 20, 30, 10


def _world(db, router_id, now):
    """RICH customers who can renew, DOUBLE with two due services and money for one, POOR with none, EXPIRED in grace."""
    plan = ServicePlan(name="Concurrent", kind=ServiceKind.pppoe, profile_name="isp-concurrent", price=Decimal("1500.00"),
                       period_unit=PeriodUnit.month, period_count=1, active=True)
    plan.routers = [db.session.get(Router, router_id)]
    db.session.add(plan)
    due = now - timedelta(minutes=3)
    numbers = iter(numbering.account_numbers(RICH + DOUBLE + POOR + EXPIRED))
    made = {"rich": [], "double": [], "poor": [], "expired": []}
    for group, count in (("rich", RICH), ("double", DOUBLE), ("poor", POOR), ("expired", EXPIRED)):
        for i in range(count):
            customer = Customer(account_no=next(numbers), name=f"{group} {i}")
            db.session.add(customer)
            db.session.flush()
            services = 2 if group == "double" else 1
            for s in range(services):
                state = SubscriptionState.grace if group == "expired" else SubscriptionState.active
                sub = Subscription(customer_id=customer.id, kind=ServiceKind.pppoe, username=f"{group}-{i}-{s}", plan=plan,
                                   router_id=router_id, state=state, period_start=periods.add_months(due, -1),
                                   paid_until=due - timedelta(seconds=s),
                                   grace_until=due if group == "expired" else None)
                db.session.add(sub)
            if group in ("rich", "double"):
                ledger.post(ledger.customer_account(customer.id), EntryKind.payment, Decimal("2000.00"), "cash")
            made[group].append(customer.id)
    db.session.commit()
    return made


def test_billing_run_in_two_processes_at_once_bills_each_period_once(app, db, bill):
    now = periods.second()
    made = _world(db, bill.router_id, now)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(2), spawn.Queue()
    workers = [spawn.Process(target=run_billing, args=(url, now.isoformat(), 16, barrier, results)) for _ in range(2)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=180) for _ in workers]
    for worker in workers:
        worker.join(60)
    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    totals = {key: sum(counts[key] for _, counts in outcomes) for key in ("renewed", "grace", "suspended")}
    assert totals == {"renewed": RICH + DOUBLE, "grace": POOR + DOUBLE, "suspended": EXPIRED}

    db.session.expire_all()
    invoices = list(db.session.scalars(select(Invoice).order_by(Invoice.id)))
    assert len(invoices) == RICH + DOUBLE
    assert len({i.subscription_id for i in invoices}) == RICH + DOUBLE  # one invoice per renewed service
    assert sorted(int(i.number.rsplit("-", 1)[1]) for i in invoices) == list(range(1, RICH + DOUBLE + 1))  # no gap
    charges = db.session.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.charge))
    assert charges == RICH + DOUBLE
    balances = dict(db.session.execute(select(LedgerAccount.customer_id, LedgerAccount.balance)).tuples().all())
    assert {f"{balances[c]:.2f}" for c in made["rich"] + made["double"]} == {"500.00"}
    sums = dict(db.session.execute(select(LedgerEntry.account_id, func.sum(LedgerEntry.amount))
                                   .group_by(LedgerEntry.account_id)).tuples().all())
    cached = dict(db.session.execute(select(LedgerAccount.id, LedgerAccount.balance)).tuples().all())
    assert {k: f"{v:.2f}" for k, v in sums.items()} == {k: f"{v:.2f}" for k, v in cached.items()}
    states = db.session.execute(select(Subscription.state, func.count()).group_by(Subscription.state)).tuples().all()
    assert {s.value: n for s, n in states} == {"active": RICH + DOUBLE, "grace": POOR + DOUBLE, "suspended": EXPIRED}
