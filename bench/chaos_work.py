"""The chaos bench's world and its daily work: routers, plans, customers; batches, payments, suspensions, plan edits.

Every action runs in its own unit of work, as a view would (one commit); a refusal (a business error, or the
database gone for a moment) rolls back and is counted as refused, never as done: only committed work must
survive the faults.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from decimal import Decimal

ADMIN_PASSWORD = "chaos-admin-password-1"


@dataclass
class World:
    """Ids of what the bench made, and counts of what it did."""

    admin_id: int = 0
    reseller_id: int = 0
    api_routers: list[int] = field(default_factory=list)
    radius_router: int | None = None
    sims: dict[int, str] = field(default_factory=dict)             # router id -> simulator router name
    hotspot_plans: dict[int, int] = field(default_factory=dict)   # router id -> hotspot plan id
    radius_plan: int | None = None
    service_plans: dict[int, int] = field(default_factory=dict)   # router id -> PPPoE plan id
    customers: list[int] = field(default_factory=list)
    subscriptions: list[int] = field(default_factory=list)
    done: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, book: dict[str, int], action: str) -> None:
        book[action] = book.get(action, 0) + 1


def setup(app, fleet, radius_sim=None, customers: int = 12) -> World:
    """Staff, a funded reseller, one hotspot and one PPPoE plan per API router, a radius router, customers with services."""
    from _harness import PASSWORD

    from isp.extensions import db
    from isp.models import EntryKind, Role, reseller_plans
    from isp.services import customers as customer_svc
    from isp.services import ledger, plans, routers, service_plans, subscriptions, users

    world = World()
    with app.app_context():
        admin = users.create_user("chaos-admin", ADMIN_PASSWORD, Role.admin)
        reseller = users.create_user("chaos-reseller", ADMIN_PASSWORD, Role.reseller)
        db.session.flush()
        reseller.can_sell_services = True
        world.admin_id, world.reseller_id = admin.id, reseller.id
        for sim in fleet.routers:
            mode = "radius" if sim is radius_sim else "api"
            router = routers.create_router({"name": sim.name, "addresses": "127.0.0.1", "api_port": sim.port,
                                            "username": "admin", "password": PASSWORD, "mode": mode, "enabled": True,
                                            "max_sessions": 20})
            db.session.flush()
            world.sims[router.id] = sim.name
            if mode == "radius":
                world.radius_router = router.id
            else:
                world.api_routers.append(router.id)
        db.session.commit()
        for router_id in [*world.api_routers, *([world.radius_router] if world.radius_router else [])]:
            plan = plans.create_plan({"name": f"Day {router_id}", "price": "1.00", "reseller_price": "0.80",
                                      "validity": "1d", "time_quota": "", "data_quota": "", "rate_limit": "2M/4M",
                                      "shared_users": 1, "active": True, "router_ids": [router_id]}, admin)
            db.session.flush()
            db.session.execute(reseller_plans.insert().values(user_id=reseller.id, plan_id=plan.id))
            if router_id == world.radius_router:
                world.radius_plan = plan.id
            else:
                world.hotspot_plans[router_id] = plan.id
                splan = service_plans.create_plan({"name": f"Home {router_id}", "kind": "pppoe", "price": "30.00",
                                                   "period_unit": "month", "period_count": 1, "rate_limit": "10M/10M",
                                                   "shared_users": 1, "address_pool": "", "router_ids": [router_id]},
                                                  admin)
                db.session.flush()
                world.service_plans[router_id] = splan.id
        ledger.post(ledger.account_for(reseller), EntryKind.topup, Decimal("100000.00"), "chaos float", admin)
        db.session.commit()
        for n in range(customers):
            customer = customer_svc.create({"name": f"Chaos Customer {n}", "phone": f"0711{n:06d}"}, admin)
            router_id = world.api_routers[n % len(world.api_routers)]
            sub = subscriptions.create(customer, {"plan_id": str(world.service_plans[router_id]),
                                                  "username": f"chaos{n}", "router_id": str(router_id)}, admin)
            db.session.commit()
            world.customers.append(customer.id)
            world.subscriptions.append(sub.id)
    return world


def _unit(app, world: World, action: str, work) -> bool:
    """Run one action as a view does: commit once, or roll back and count the refusal."""
    from isp.extensions import db
    from isp.services.errors import ServiceError

    with app.app_context():
        try:
            work()
            db.session.commit()
        except ServiceError:
            db.session.rollback()
            world.count(world.refused, action)
            return False
        except Exception as exc:  # noqa: BLE001 (a fault may surface as any driver error; the bench carries on)
            db.session.rollback()
            world.count(world.refused, action)
            if len(world.errors) < 20:
                world.errors.append(f"{action}: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
            return False
        finally:
            db.session.remove()
    world.count(world.done, action)
    return True


def voucher_batch(app, world: World, rng: random.Random, router_id: int | None = None, radius: bool = False) -> bool:
    """An admin or the reseller generates a batch (the reseller pays for it in the same unit)."""
    from isp.extensions import db
    from isp.models import User
    from isp.services import vouchers

    router_id = router_id or rng.choice(world.api_routers)
    plan_id = world.radius_plan if radius else world.hotspot_plans[router_id]
    router_id = world.radius_router if radius else router_id
    who = rng.choice([world.admin_id, world.reseller_id])
    count = rng.randint(20, 150) if not radius else rng.randint(5, 20)
    return _unit(app, world, "radius batch" if radius else "voucher batch",
                 lambda: vouchers.generate(db.session.get(User, who), plan_id, count, router_id=router_id, length=8))


def payment(app, world: World, rng: random.Random) -> bool:
    """A customer pays at the desk (cash or mobile money with a unique reference)."""
    from isp.extensions import db
    from isp.models import Customer, User
    from isp.services import billing

    customer_id = rng.choice(world.customers)
    amount = rng.choice(["30.00", "15.00", "45.00", "60.00"])
    reference = f"CH{time.time_ns() % 10**12}{rng.randint(0, 999):03d}"
    return _unit(app, world, "payment", lambda: billing.record_payment(
        db.session.get(Customer, customer_id), amount, "mobile", reference, "chaos", db.session.get(User, world.admin_id)))


def suspension(app, world: World, rng: random.Random) -> bool:
    """Staff suspend a service, or reactivate a suspended one."""
    from isp.extensions import db
    from isp.models import Subscription, SubscriptionState, User
    from isp.services import subscriptions

    sub_id = rng.choice(world.subscriptions)

    def work():
        sub = db.session.get(Subscription, sub_id)
        action = "reactivate" if sub.state == SubscriptionState.suspended else "suspend"
        subscriptions.change_state(sub, action, db.session.get(User, world.admin_id), "chaos bench")

    return _unit(app, world, "suspension", work)


def plan_edit(app, world: World, rng: random.Random) -> bool:
    """A hotspot plan's speed changes (its profile is pushed to the router)."""
    from isp.extensions import db
    from isp.models import HotspotPlan, User
    from isp.services import plans

    router_id = rng.choice(world.api_routers)
    plan_id = world.hotspot_plans[router_id]
    speed = rng.choice(["2M/4M", "3M/6M", "5M/10M", "1M/2M"])

    def work():
        plan = db.session.get(HotspotPlan, plan_id)
        plans.update_plan(plan, {"name": plan.name, "price": str(plan.price), "reseller_price": str(plan.reseller_price),
                                 "validity": "1d", "time_quota": "", "data_quota": "", "rate_limit": speed,
                                 "shared_users": 1, "active": True, "router_ids": [router_id]},
                          db.session.get(User, world.admin_id))

    return _unit(app, world, "plan edit", work)


def radius_batch(app, world: World, rng: random.Random) -> bool:
    """A small batch on the radius-mode router: its FreeRADIUS rows are written in the same unit."""
    return voucher_batch(app, world, rng, radius=True) if world.radius_plan else False


ACTIONS = ((voucher_batch, 4), (payment, 4), (suspension, 2), (plan_edit, 1), (radius_batch, 1))


def some_work(app, world: World, rng: random.Random) -> None:
    """One action, chosen by weight."""
    action = rng.choices([a for a, _ in ACTIONS], weights=[w for _, w in ACTIONS])[0]
    action(app, world, rng)
