"""The subscription state machine: pending → active → grace → suspended → terminated.

Every transition is recorded on the customer's timeline (time, actor or the system, reason) and tells the
provisioning back end what the router must now hold. Suspension (and a return from it) runs on `critical`
and kicks the live sessions in the same router command.
"""
from __future__ import annotations

from datetime import timedelta

from isp.extensions import db
from isp.models import CustomerEvent, Priority, Subscription, SubscriptionState, User
from isp.models.base import utcnow
from isp.services import provisioning
from isp.services.errors import ServiceError

S = SubscriptionState
ALLOWED: dict[SubscriptionState, frozenset[SubscriptionState]] = {
    S.pending: frozenset({S.active, S.terminated}),
    S.active: frozenset({S.grace, S.suspended, S.terminated}),
    S.grace: frozenset({S.active, S.suspended, S.terminated}),
    S.suspended: frozenset({S.active, S.terminated}),
    S.terminated: frozenset(),
}


def grace_days(sub: Subscription) -> int:
    """The service's own grace days, else its plan's, else the Settings default."""
    if sub.grace_days is not None:
        return sub.grace_days
    if sub.plan.grace_days is not None:
        return sub.plan.grace_days
    from isp.services import branding

    return branding.get().default_grace_days


def record(sub: Subscription, kind: str, summary: str, actor: User | None = None, from_state: str = "",
           to_state: str = "") -> CustomerEvent:
    """Add a line to the customer's timeline about this subscription."""
    event = CustomerEvent(customer_id=sub.customer_id, subscription_id=sub.id, kind=kind, summary=summary,
                          actor_id=actor.id if actor else None, from_state=from_state, to_state=to_state)
    db.session.add(event)
    return event


def transition(sub: Subscription, to: SubscriptionState, actor: User | None, reason: str, kick: bool = False) -> None:
    """Move `sub` to state `to`, record why, and queue the router change (flushes, never commits).

    Live sessions are kicked on a suspension and a return from one, and whenever `kick` asks (a profile change
    that a session only picks up when it dials in again).
    """
    before = sub.state
    if to == before:
        return
    if to not in ALLOWED[before]:
        raise ServiceError(f"A {before.value} service cannot become {to.value}.", field="state")
    now = utcnow()
    sub.state = to
    sub.state_changed_at = now
    if to == S.active and sub.started_at is None:
        sub.started_at = now
    if to == S.grace:
        sub.grace_until = (sub.paid_until or now) + timedelta(days=grace_days(sub))
    elif to == S.active:
        sub.grace_until = None
    record(sub, "state", reason, actor, before.value, to.value)
    db.session.flush()
    urgent = to == S.suspended or before == S.suspended
    provisioning.sync(sub, Priority.critical if urgent else Priority.high, kick=kick or urgent)


def start(sub: Subscription, actor: User | None) -> None:
    """A new (pending) service: invoice and charge its first period, and activate it if the balance covers it.

    The period starts at `sub.started_at` (an imported or back-dated start) or now. With the balance >= 0 after
    the charge the service is active until the period's end; otherwise it stays pending and the payment that
    covers the invoice starts it (isp.services.billing.settle). Idempotent: the charge is keyed on the period.
    """
    from isp.services import billing, periods

    if sub.state != S.pending:
        raise ServiceError(f"Only a pending service can be started; this one is {sub.state.value}.", field="state")
    begin = periods.second(sub.started_at or utcnow())
    invoice = billing.charge_period(sub, begin, actor)
    sub.period_start = begin
    if billing.balance_of(sub.customer_id) >= 0:
        sub.started_at = sub.started_at or begin
        sub.paid_until = periods.period_end(begin, sub.plan)
        transition(sub, S.active, actor, "Service started" + (f": invoice {invoice.number} paid from the balance"
                                                             if invoice else ""))
    elif invoice is not None:
        record(sub, "state", f"Awaiting payment of invoice {invoice.number}: the service starts when it is paid", actor,
               S.pending.value, S.pending.value)
        db.session.flush()
