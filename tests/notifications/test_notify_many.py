"""notify_many: the billing run's suspension notices (and the reminders) for many services in a few statements,
each message once however often it runs, even when a racing caller queued some of them first."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import event, select

from isp.extensions import db
from isp.models import (
    AccountKind,
    Customer,
    LedgerAccount,
    Notification,
    NotificationState,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
)
from tests.notifications.helpers import set_branding

S = NotificationState


def _services(app, router_id: int, n: int, tag: str) -> list[int]:
    """n customers with one service each; every even customer has a balance, every fifth has no phone."""
    with app.app_context():
        plan = db.session.scalar(select(ServicePlan).where(ServicePlan.name == "Home 10M"))
        if plan is None:
            plan = ServicePlan(name="Home 10M", kind=ServiceKind.pppoe, profile_name="isp-home-10m",
                               price=Decimal("2500.00"), rate_limit="10M/10M")
            db.session.add(plan)
        customers = [Customer(account_no=f"{tag}-{i:05d}", name=f"{tag} customer {i}",
                              phone="" if i % 5 == 0 else f"+2547{i:08d}") for i in range(n)]
        db.session.add_all(customers)
        db.session.flush()
        db.session.add_all([LedgerAccount(kind=AccountKind.customer, customer_id=c.id, balance=Decimal(f"-{i}.50"))
                            for i, c in enumerate(customers) if i % 2 == 0])
        subs = [Subscription(customer_id=c.id, kind=ServiceKind.pppoe, username=f"{tag}-u{i}", plan_id=plan.id,
                             router_id=router_id, state=SubscriptionState.suspended, auto_renew=True)
                for i, c in enumerate(customers)]
        db.session.add_all(subs)
        db.session.commit()
        return [s.id for s in subs]


def _notify_many(app, ids: list[int]) -> tuple[int, int]:
    """One billing-run-style call as renewal makes it; (messages queued to send, SQL statements it took)."""
    from isp.services import notifications

    count = {"n": 0}

    def counting(*args) -> None:
        count["n"] += 1

    with app.app_context():
        subs = list(db.session.scalars(select(Subscription).where(Subscription.id.in_(ids))).unique())
        event.listen(db.engine, "before_cursor_execute", counting)
        try:
            queued = notifications.notify_many("suspended", subs, dedupe_key=lambda sub: f"suspended:{sub.id}:P1")
        finally:
            event.remove(db.engine, "before_cursor_execute", counting)
        db.session.commit()
    return queued, count["n"]


def _rows(app, ids: list[int]) -> list[Notification]:
    with app.app_context():
        found = list(db.session.scalars(select(Notification).where(Notification.subscription_id.in_(ids))
                                        .order_by(Notification.id)))
        db.session.expunge_all()
        return found


def test_two_hundred_suspension_notices_cost_the_same_few_statements_as_twenty(app, channel, receiver, make_router):
    set_branding(app, business_name="Acme", currency="KES")
    channel("webhook", url=receiver.url(), secret="k")
    channel("sms", url=receiver.url("/sms") + "?to={phone}&text={message}")
    router = make_router().id
    small, large = _services(app, router, 20, "S"), _services(app, router, 200, "L")

    queued_small, cost_small = _notify_many(app, small)
    queued, cost = _notify_many(app, large)
    assert (queued_small, queued) == (20 + 16, 200 + 160)  # webhook for all, SMS for those with a phone
    assert cost == cost_small and cost <= 12

    made = _rows(app, large)
    assert len(made) == 400 and len({r.dedupe_key for r in made}) == 400
    by_key = {r.dedupe_key: r for r in made}
    first, fifth = large[2], large[5]
    sms = by_key[f"suspended:{first}:P1:sms"]
    assert sms.state == S.pending and sms.event == "suspended" and sms.recipient == "+254700000002"
    assert "Balance -KES 2.50." in by_key[f"suspended:{first}:P1:webhook"].body       # its own balance, rendered
    assert by_key[f"suspended:{fifth}:P1:sms"].state == S.skipped               # no phone: skipped, says why
    assert by_key[f"suspended:{fifth}:P1:sms"].last_error
    assert by_key[f"suspended:{large[3]}:P1:webhook"].customer_id != by_key[f"suspended:{first}:P1:webhook"].customer_id

    # The run goes again (the clock, a retry): nothing new, and no insert at all.
    again, cost_again = _notify_many(app, large)
    assert again == 0 and cost_again < cost and len(_rows(app, large)) == 400


def test_a_racing_caller_that_queued_some_first_leaves_each_message_once(app, channel, receiver, make_router,
                                                                          monkeypatch):
    from isp.services import notifications

    channel("webhook", url=receiver.url(), secret="k")
    ids = _services(app, make_router().id, 10, "R")
    assert _notify_many(app, ids[:4])[0] == 4
    # The other caller's rows were not yet visible when this one looked: the batch insert meets their keys.
    monkeypatch.setattr(notifications, "_taken", lambda keys: set())
    queued, _ = _notify_many(app, ids)
    assert queued == 6
    made = _rows(app, ids)
    assert sorted(r.subscription_id for r in made) == sorted(ids)
    assert len({r.dedupe_key for r in made}) == 10
