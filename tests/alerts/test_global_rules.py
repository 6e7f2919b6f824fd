"""Pipeline and business rules, evaluated by the EVALUATE_ALERTS job: dead letters, backlog, stock, RADIUS, suspensions."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import insert, update

from isp.extensions import db
from isp.models import (
    AlertSeverity,
    AlertState,
    CommandState,
    Customer,
    RouterCommand,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
    Voucher,
    VoucherState,
)
from isp.models.base import utcnow
from tests.alerts.conftest import alerts_of, evaluate

A, SEV = AlertState, AlertSeverity


def _commands(app, router_id, count, state, created_at):
    with app.app_context():
        ids = []
        for n in range(count):
            command = RouterCommand(router_id=router_id, operation="hotspot_user.ensure", idempotency_key=f"k{n}{state.value}",
                                    payload_json="{}", state=state, created_at=created_at)
            db.session.add(command)
            db.session.flush()
            ids.append(command.id)
        db.session.commit()
        return ids


def test_dead_letters_warn_then_turn_critical_then_resolve(app, make_rule, router):
    make_rule("Dead letters", warning=1, critical=3)
    now = utcnow()
    evaluate(app, None, now)
    assert alerts_of(app) == []
    ids = _commands(app, router.id, 2, CommandState.dead, now)
    evaluate(app, None, now)
    [alert] = alerts_of(app)
    assert alert.state == A.open and alert.severity == SEV.warning and alert.router_id is None
    assert alert.message.startswith("2 router commands are dead letters")
    _commands(app, router.id, 1, CommandState.dead, now)
    evaluate(app, None, now)
    assert alerts_of(app)[0].severity == SEV.critical
    with app.app_context():
        db.session.execute(update(RouterCommand).values(state=CommandState.discarded))
        db.session.commit()
    evaluate(app, None, now)
    assert alerts_of(app)[0].state == A.resolved and len(ids) == 2


def test_backlog_is_the_age_of_the_oldest_unfinished_command(app, make_rule, router):
    make_rule("Outbox backlog")  # warning 120 s, critical 600 s
    now = utcnow().replace(microsecond=0)  # MariaDB keeps whole seconds: the age must not round up by one
    _commands(app, router.id, 1, CommandState.done, now - timedelta(hours=2))  # finished: no backlog
    _commands(app, router.id, 1, CommandState.pending, now - timedelta(seconds=30))
    evaluate(app, None, now)
    assert alerts_of(app) == []
    evaluate(app, None, now + timedelta(seconds=200))
    [alert] = alerts_of(app)
    assert alert.severity == SEV.warning and alert.value == 230
    evaluate(app, None, now + timedelta(seconds=700))
    assert alerts_of(app)[0].severity == SEV.critical


def test_reseller_stock_below_n_per_reseller(app, make_rule, make_user, make_plan, generate, fund, allow, router):
    make_rule("Reseller stock low", warning=3, critical=0)  # below: at or under 3 unsold
    low, stocked = make_user("reseller"), make_user("reseller")
    make_user("reseller")  # never held vouchers: no alert
    plan = make_plan([router.id], reseller_price="1.00")
    for reseller, count in ((low, 4), (stocked, 10)):
        allow(reseller.id, plan.id)
        fund(reseller.id, "100.00")
        generate(reseller.id, plan.id, count)
    now = utcnow()
    evaluate(app, None, now)
    assert alerts_of(app) == []
    with app.app_context():  # one of low's vouchers is sold (first login)
        voucher = db.session.scalars(db.select(Voucher).where(Voucher.reseller_id == low.id)).first()
        voucher.state = VoucherState.active
        db.session.commit()
    evaluate(app, None, now)
    [alert] = alerts_of(app)
    assert alert.target == f"reseller:{low.id}" and alert.severity == SEV.warning and alert.value == 3
    assert f"reseller {low.username} has 3 unsold vouchers" in alert.message
    with app.app_context():
        db.session.execute(update(Voucher).where(Voucher.reseller_id == low.id).values(state=VoucherState.active))
        db.session.commit()
    evaluate(app, None, now)
    assert alerts_of(app)[0].severity == SEV.critical and alerts_of(app)[0].value == 0


def test_radius_failures_per_minute(app, make_rule):
    from isp.radius.models import RadPostAuth
    from isp.services.radius_sessions import to_radius

    make_rule("RADIUS login failures", for_seconds=0, warning=3, critical=10)
    now = utcnow()
    with app.app_context():
        rows = [{"username": f"u{n}", "pass": "", "reply": "Access-Reject", "authdate": to_radius(now - timedelta(seconds=s))}
                for n, s in enumerate((5, 10, 20, 30, 90, 120))]  # four within the minute
        rows.append({"username": "ok", "pass": "", "reply": "Access-Accept", "authdate": to_radius(now)})
        db.session.execute(insert(RadPostAuth.__table__), rows)
        db.session.commit()
    evaluate(app, None, now)
    [alert] = alerts_of(app)
    assert alert.value == 4 and alert.severity == SEV.warning
    evaluate(app, None, now + timedelta(seconds=45))  # two left in the minute
    assert alerts_of(app)[0].state == A.resolved


def test_suspensions_in_the_last_hour(app, make_rule, router):
    make_rule("Suspensions", warning=2, critical=5)
    now = utcnow()
    with app.app_context():
        plan = ServicePlan(name="Home", kind=ServiceKind.pppoe, profile_name="home", price=Decimal("10"), rate_limit="1M/1M")
        db.session.add(plan)
        db.session.flush()
        for n, minutes in enumerate((5, 20, 50, 90)):
            customer = Customer(account_no=f"A{n}", name=f"C{n}", phone="", email="")
            db.session.add(customer)
            db.session.flush()
            db.session.add(Subscription(customer_id=customer.id, kind=ServiceKind.pppoe, username=f"s{n}", plan_id=plan.id,
                                        router_id=router.id, state=SubscriptionState.suspended,
                                        state_changed_at=now - timedelta(minutes=minutes)))
        db.session.commit()
    evaluate(app, None, now)
    [alert] = alerts_of(app)
    assert alert.value == 3 and alert.severity == SEV.warning and "3 services suspended in the last hour" in alert.message
    evaluate(app, None, now + timedelta(minutes=15))
    assert alerts_of(app)[0].value == 2
    evaluate(app, None, now + timedelta(minutes=45))  # one left in the hour
    assert alerts_of(app)[0].state == A.resolved


def test_a_disabled_rule_raises_nothing(app, make_rule, router):
    make_rule("Dead letters", warning=1, enabled=False)
    _commands(app, router.id, 2, CommandState.dead, utcnow())
    evaluate(app, None, utcnow())
    assert alerts_of(app) == []
