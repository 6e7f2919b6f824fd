"""The demo's subscribers: about 200 customers with PPPoE, static-IP and hotspot services on the demo routers.

Everything goes through the real services (customers.create, subscriptions.create, billing.record_payment and
the billing run), so account numbers, invoices, receipts, the ledger and the router commands are the real ones.
Each customer has a story: paid up, paid ahead, a veteran of several periods, awaiting the first payment, in
grace, suspended, and one "watch" customer whose grace ends WATCH_AFTER after the seed, so an operator sees the
clock suspend it and the router kick its PPPoE session live.

Backdating, the one thing written to the models directly: the services stamp everything "now", so after a
customer is signed up, paid and given a service, its rows are moved back to its sign-up moment (customer,
timeline, payments, ledger entries, the first invoice's period, the service's period). Then the billing run is
played at every past moment a period ended or a grace ran out, oldest first, so renewals, grace and
suspensions happen through the real run at the time they would have. The 30 days of usage a served
subscriber shows on its chart are written the same way (the session poll adds today's).

Idempotent: a customer whose service username already exists is not seeded again; re-running re-arms the watch
customer (back to grace, ending WATCH_AFTER from now) through the state machine.
"""
from __future__ import annotations

import heapq
import random
from collections import Counter as Tally
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, func, insert, select, update

from isp.extensions import db
from isp.models import (
    Customer,
    CustomerEvent,
    Invoice,
    LedgerAccount,
    LedgerEntry,
    Payment,
    Router,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
    UsageDaily,
    User,
)
from isp.services import billing, branding, customers, lifecycle, periods, resellers, sessions, subscriptions
from isp.services.demo_specs import COUNT, DEMO_TAG, PLANS, WATCH_TAG, Spec, plans, specs

S = SubscriptionState
WATCH_AFTER = timedelta(seconds=150)
COMMIT_EVERY = 25
GB = 1024 ** 3
CUSTOMERS, EVENTS, PAYMENTS = Customer.__table__, CustomerEvent.__table__, Payment.__table__
ENTRIES, INVOICES, SUBS = LedgerEntry.__table__, Invoice.__table__, Subscription.__table__


def _pay(customer: Customer, amount: Decimal, spec: Spec, actor: User, tag: str) -> Payment:
    """A payment through the billing service (bank and mobile money carry a reference, cash none)."""
    method = spec.method
    reference = None if method == "cash" else f"DEMO-{spec.n:03d}-{tag}"
    return billing.record_payment(customer, amount, method, reference, "demo", actor)


@dataclass
class _History:
    """What the backdating moves, gathered per customer and written a few executemany statements per batch."""

    customers: list[dict] = field(default_factory=list)
    services: list[dict] = field(default_factory=list)
    payments: list[dict] = field(default_factory=list)

    def signed_up(self, customer: Customer, sub: Subscription, start: datetime, paid: bool) -> None:
        """Everything of `customer` moves to `start`; the service's first period begins there."""
        end = periods.period_end(start, sub.plan)
        # The first invoice's timeline line names its period: the dates the services wrote, and the real ones.
        first = db.session.execute(select(Invoice.period_start, Invoice.period_end)
                                   .where(Invoice.subscription_id == sub.id)).first()
        stamped = f"for {first[0]:%Y-%m-%d} to {first[1]:%Y-%m-%d}" if first else ""
        self.customers.append({"b_customer": customer.id, "b_at": start})
        self.services.append({"b_sub": sub.id, "b_start": start, "b_end": end, "b_paid": paid,
                              "b_description": billing.period_description(sub, start, end)[:255],
                              "b_pattern": f"renewal:{sub.id}:%", "b_key": f"renewal:{sub.id}:{periods.key(start)}",
                              "b_stamped": stamped, "b_dates": f"for {start:%Y-%m-%d} to {end:%Y-%m-%d}"})

    def paid_later(self, payment: Payment, at: datetime) -> None:
        """A payment made after the sign-up, at its own moment."""
        self.payments.append({"b_payment": payment.id, "b_customer": payment.customer_id, "b_at": at,
                              "b_summary": f"Payment {payment.number}:%"})

    def write(self) -> None:
        """Apply and forget what was gathered (see the module doc: the only direct model writes of the seed)."""
        account = select(LedgerAccount.id).where(LedgerAccount.customer_id == bindparam("b_customer")).scalar_subquery()
        if self.customers:
            for stmt in (update(CUSTOMERS).where(CUSTOMERS.c.id == bindparam("b_customer")).values(created_at=bindparam("b_at")),
                         update(EVENTS).where(EVENTS.c.customer_id == bindparam("b_customer")).values(at=bindparam("b_at")),
                         update(PAYMENTS).where(PAYMENTS.c.customer_id == bindparam("b_customer"))
                         .values(received_at=bindparam("b_at")),
                         update(ENTRIES).where(ENTRIES.c.account_id == account).values(created_at=bindparam("b_at"))):
                db.session.execute(stmt, self.customers)
        if self.services:
            db.session.execute(update(ENTRIES).where(ENTRIES.c.idem_key.like(bindparam("b_pattern")))
                               .values(idem_key=bindparam("b_key")), self.services)
            db.session.execute(update(INVOICES).where(INVOICES.c.subscription_id == bindparam("b_sub")).values(
                issued_at=bindparam("b_start"), period_start=bindparam("b_start"), period_end=bindparam("b_end"),
                description=bindparam("b_description")), self.services)
            db.session.execute(update(EVENTS).where(EVENTS.c.subscription_id == bindparam("b_sub"), EVENTS.c.kind == "invoice")
                               .values(summary=func.replace(EVENTS.c.summary, bindparam("b_stamped"), bindparam("b_dates"))),
                               [row for row in self.services if row["b_stamped"]])
            for paid in (True, False):
                rows = [row for row in self.services if row["b_paid"] is paid]
                values = {"created_at": bindparam("b_start"), "state_changed_at": bindparam("b_start"),
                          "period_start": bindparam("b_start")}
                if paid:
                    values.update(started_at=bindparam("b_start"), paid_until=bindparam("b_end"))
                if rows:
                    db.session.execute(update(SUBS).where(SUBS.c.id == bindparam("b_sub")).values(**values), rows)
        if self.payments:
            db.session.execute(update(PAYMENTS).where(PAYMENTS.c.id == bindparam("b_payment"))
                               .values(received_at=bindparam("b_at")), self.payments)
            db.session.execute(update(ENTRIES).where(ENTRIES.c.payment_id == bindparam("b_payment"))
                               .values(created_at=bindparam("b_at")), self.payments)
            db.session.execute(update(EVENTS).where(EVENTS.c.customer_id == bindparam("b_customer"), EVENTS.c.kind == "payment",
                                                    EVENTS.c.summary.like(bindparam("b_summary")))
                               .values(at=bindparam("b_at")), self.payments)
        self.customers, self.services, self.payments = [], [], []
        db.session.expire_all()


def _periods_until(start: datetime, plan: ServicePlan, now: datetime) -> int:
    """How many periods from `start` it takes to be paid past `now`."""
    count, end = 1, periods.period_end(start, plan)
    while end <= now:
        count, end = count + 1, periods.period_end(end, plan)
    return count


Step = tuple[datetime, str, object]  # (when, "pay" or "run", what)


def seed_one(spec: Spec, plan: ServicePlan, router: Router, actor: User, now: datetime, rng: random.Random,
             history: _History, agent: User | None = None) -> tuple[int, list[Step]]:
    """Sign up one customer, give it its service and first payment; what moves back in time goes to `history`.

    Returns the service's id and what happens to it later: a payment ("pay", (customer id, amount, tag, spec)) and the
    moments at which the billing run must be played ("run").
    """
    data = {"name": spec.name, "phone": spec.phone, "email": spec.email, "address": spec.address,
            "location": spec.location, "tags": spec.tags,
            "notes": "Demo: grace ends minutes after `make demo` starts; watch the clock suspend it and kick its session."
            if spec.story == "watch" else ""}
    if agent is not None and spec.n % 10 == 3 and spec.story != "watch":
        data["reseller_id"] = agent.id  # one in ten signed up through the agent (who sees only these)
    customer = customers.create(data, actor)
    price = Decimal(plan.price)
    service = {"plan_id": plan.id, "router_id": router.id, "username": spec.username, "static_ip": spec.static_ip or "",
               "caller_id": spec.caller_id, "password": "", "auto_renew": True}
    if spec.story in ("pending", "partial"):
        sub = subscriptions.create(customer, service, actor)
        history.signed_up(customer, sub, spec.signup, paid=False)
        if spec.story == "pending":
            return sub.id, []
        paid_at = periods.second(spec.signup + timedelta(hours=rng.uniform(2, 30)))
        return sub.id, [(paid_at, "pay", (customer.id, (price / 2).quantize(periods.CENT), "1", spec))]
    if spec.story in ("prepaid", "veteran", "watch", "grace", "suspended") or spec.n % 2 == 0:
        _pay(customer, price * (3 if spec.story == "prepaid" else 1), spec, actor, "1")
        sub = subscriptions.create(customer, service, actor)
    else:  # signed up, then paid the first invoice: the payment starts the service
        sub = subscriptions.create(customer, service, actor)
        _pay(customer, price, spec, actor, "1")
    start = spec.signup
    if spec.story == "watch":  # its period ended (grace days) ago, less WATCH_AFTER: grace runs out soon after start-up
        start = periods.add_months(now + WATCH_AFTER - timedelta(days=lifecycle.grace_days(sub)), -1)
    history.signed_up(customer, sub, start, paid=True)
    end = periods.period_end(start, plan)
    steps: list[Step] = []
    if spec.story == "veteran":  # pays the following periods up front, shortly before the first one ends
        ahead = _periods_until(start, plan, now) - 1
        steps.append((periods.second(end - timedelta(days=rng.uniform(0.2, 3))), "pay", (customer.id, price * ahead, "2", spec)))
        for _ in range(ahead):
            steps.append((end, "run", None))
            end = periods.period_end(end, plan)
    elif end <= now:  # grace and suspended (the watch customer: only its grace, not yet its suspension)
        steps += [(end, "run", None), (end + timedelta(days=lifecycle.grace_days(sub)), "run", None)]
    return sub.id, [step for step in steps if step[0] < now]


def _usage(subs: list[tuple[Subscription, datetime, datetime]], now: datetime, rng: random.Random) -> None:
    """Daily usage for the last 30 days each service was served (one multi-row insert); the period's share is counted."""
    rows, period_bytes = [], []
    for sub, start, until in subs:
        heavy = rng.random() < 0.2
        scale = {"Home 10M": 3, "Home 25M": 6, "Business static 50M": 12}.get(sub.plan.name, 1) * (1.8 if heavy else 1)
        first = max(start, now - timedelta(days=29))
        day, total = sessions.operator_day(first), 0
        last = sessions.operator_day(min(until, now)) - timedelta(days=1)  # today is the poll's
        while day <= last:
            down = int(rng.lognormvariate(0, 0.5) * scale * GB)
            up = int(down * rng.uniform(0.05, 0.2))
            rows.append({"subscription_id": sub.id, "day": day, "bytes_in": up, "bytes_out": down})
            if sub.period_start and day >= sessions.operator_day(sub.period_start):
                total += up + down
            day += timedelta(days=1)
        if total:
            period_bytes.append({"id": sub.id, "period_bytes": total})
    if rows:
        db.session.execute(insert(UsageDaily), rows)
    if period_bytes:
        db.session.execute(update(Subscription), period_bytes)


# -- the whole seed -----------------------------------------------------------------------------------------


def seed(actor: User, routers: list[Router], now: datetime | None = None, commit: object = None,
         count: int = COUNT, agent: User | None = None) -> dict:
    """Seed the demo subscribers (once) and re-arm the watch customer; returns the facts the banner prints.

    `agent`: a reseller (allowed to sell services from now on) who owns one customer in ten. `commit` is called every
    COMMIT_EVERY customers (the command passes db.session.commit) so a 200-customer seed
    stays a few seconds on SQLite; without it everything stays in the caller's transaction.
    """
    now = periods.second(now)
    routers = sorted(routers, key=lambda r: r.id)
    if not routers or count < 1:
        return {}
    # Held for the seed's duration: the session's identity map keeps rows only while something refers to them, and
    # the services read the settings row several times per customer (otherwise one SELECT each time).
    settings = branding.get()  # noqa: F841
    by_name = plans([r.id for r in routers], actor)
    if agent is not None:
        resellers.set_can_sell_services(agent, True, actor)
    all_specs = specs(now, len(routers), count)
    kinds = {name: ServiceKind(kind) for name, kind, *_ in PLANS}
    taken = set(db.session.execute(select(Subscription.kind, Subscription.username).where(
        Subscription.username.in_([s.username for s in all_specs]))).tuples())
    rng = random.Random(now.timestamp())
    history = _History()
    made: list[tuple[Spec, int]] = []
    # Played in time order: sign-ups, later payments and the billing run at every moment something fell due, so
    # account, invoice and receipt numbers follow the dates, and renewals, grace and suspensions happen at their time.
    todo = [(spec.signup, n, "signup", spec) for n, spec in enumerate(all_specs)
            if (kinds[spec.plan], spec.username) not in taken]
    heapq.heapify(todo)
    seq = len(todo)
    while todo:
        at, _, what, arg = heapq.heappop(todo)
        if what == "run":
            history.write()
            billing.run(at)
        elif what == "pay":
            customer_id, amount, tag, spec = arg
            history.paid_later(_pay(db.session.get(Customer, customer_id), amount, spec, actor, tag), at)
        else:
            sub_id, later = seed_one(arg, by_name[arg.plan], routers[arg.router], actor, now, rng, history, agent)
            made.append((arg, sub_id))
            for when, kind, what in later:
                heapq.heappush(todo, (when, seq, kind, what))
                seq += 1
            if commit is not None and len(made) % COMMIT_EVERY == 0:
                history.write()
                commit()
    history.write()
    if made:
        served = _served_spans([sub_id for _, sub_id in made], now)
        _usage(served, now, rng)
    watch = _rearm(now, [s for s, _ in made])
    billing.run(now)
    db.session.flush()
    if commit is not None:
        commit()
    return {"created": len(made), **facts(), **({"watch": watch} if watch else {})}


def _served_spans(sub_ids: list[int], now: datetime) -> list[tuple[Subscription, datetime, datetime]]:
    """Each new service that was ever served, with when its service began and ended (now if it still runs)."""
    out = []
    for sub in db.session.scalars(select(Subscription).where(Subscription.id.in_(sub_ids))):
        if sub.started_at is None:
            continue
        until = sub.state_changed_at if sub.state == S.suspended else now
        out.append((sub, sub.started_at, until))
    return out


def _rearm(now: datetime, new: list[Spec]) -> dict | None:
    """The watch customer's service back in grace, ending WATCH_AFTER from now (through the state machine)."""
    sub = db.session.scalar(select(Subscription).join(Customer, Customer.id == Subscription.customer_id).where(
        Customer.tags.like(f"%{WATCH_TAG}%"), Subscription.state != S.terminated).order_by(Subscription.id))
    if sub is None:
        return None
    fresh = any(s.story == "watch" for s in new)
    if not fresh:
        if sub.state == S.suspended:
            lifecycle.transition(sub, S.active, None, "Demo restarted: back in service for the live suspension")
        if sub.state == S.grace:
            lifecycle.transition(sub, S.active, None, "Demo restarted: grace starts again")
        paid_until = now + WATCH_AFTER - timedelta(days=lifecycle.grace_days(sub))
        # Backdating (see the module doc): its period ended long enough ago for grace to run out soon.
        sub.period_start, sub.paid_until = periods.add_months(paid_until, -1), paid_until
        db.session.flush()
        lifecycle.transition(sub, S.grace, None, "Demo restarted: period ended without payment; grace begins")
    billing.run(now)  # the fresh one goes to grace here
    db.session.refresh(sub)
    return {"account_no": sub.customer.account_no, "name": sub.customer.name, "username": sub.username,
            "router": sub.router.name, "grace_until": sub.grace_until, "customer_id": sub.customer_id}


def facts() -> dict:
    """Demo customers and their services by state and kind."""
    tagged = select(Customer.id).where(Customer.tags.like(f"%{DEMO_TAG}%"))
    states = Tally({state.value: n for state, n in db.session.execute(
        select(Subscription.state, func.count()).where(Subscription.customer_id.in_(tagged)).group_by(Subscription.state))})
    kinds = Tally({kind.value: n for kind, n in db.session.execute(
        select(Subscription.kind, func.count()).where(Subscription.customer_id.in_(tagged)).group_by(Subscription.kind))})
    debt = db.session.scalar(select(func.count()).select_from(LedgerAccount).where(
        LedgerAccount.customer_id.in_(tagged), LedgerAccount.balance < 0)) or 0
    customers_count = db.session.scalar(select(func.count()).select_from(tagged.subquery())) or 0
    payments = db.session.scalar(select(func.count()).select_from(Payment).where(Payment.customer_id.in_(tagged))) or 0
    return {"customers": customers_count, "states": dict(states), "kinds": dict(kinds), "in_debt": debt,
            "payments": payments}


def dial_list(router_names: list[str]) -> list[tuple[str, str, str, str]]:
    """(router name, "ppp" or "hotspot", username, caller-id lock) of every PPPoE and hotspot service on those routers.

    The demo's simulated CPEs dial with these accounts (suspended ones are refused by their disabled secret).
    """
    rows = db.session.execute(select(Router.name, Subscription.kind, Subscription.username, Subscription.caller_id)
                              .join(Router, Router.id == Subscription.router_id)
                              .where(Router.name.in_(router_names), Subscription.state != S.terminated,
                                     Subscription.kind.in_((ServiceKind.pppoe, ServiceKind.hotspot)))
                              .order_by(Subscription.id))
    return [(name, "ppp" if kind == ServiceKind.pppoe else "hotspot", username, caller_id or "")
            for name, kind, username, caller_id in rows]
