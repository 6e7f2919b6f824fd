"""Service plans (monthly or every-N-days subscriptions): validate, save, push the profile to each router."""
from __future__ import annotations

import re

from sqlalchemy import Select, func, select

from isp.extensions import db
from isp.models import HotspotPlan, PeriodUnit, Router, ServiceKind, ServicePlan, Subscription, SubscriptionState, User
from isp.services import audit, provisioning, validators
from isp.services.errors import ServiceError
from isp.services.ledger import parse_money
from isp.units import UnitError, check_rate_limit, parse_bytes

# Service plans' router names start here, so they can never take a voucher plan's `isp-<slug>` profile.
PROFILE_PREFIX = "isp-svc-"
MAX_PERIOD = {PeriodUnit.month: 24, PeriodUnit.day: 366}


def _profile_name(name: str) -> str:
    """A RouterOS-safe profile name, unique among service and voucher plans, fixed at creation."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "plan"
    candidate, n = f"{PROFILE_PREFIX}{slug}", 1
    while (db.session.scalar(select(ServicePlan.id).where(ServicePlan.profile_name == candidate)) is not None
           or db.session.scalar(select(HotspotPlan.id).where(HotspotPlan.profile_name == candidate)) is not None):
        n += 1
        candidate = f"{PROFILE_PREFIX}{slug}-{n}"
    return candidate


def _rate(raw: object, field: str) -> str:
    try:
        return check_rate_limit(str(raw or ""))
    except UnitError as err:
        raise ServiceError(str(err), field) from None


def _whole(raw: object, field: str, low: int, high: int, label: str, optional: bool = False) -> int | None:
    """A whole number within [low, high]; None when blank and optional."""
    if optional and (raw is None or str(raw).strip() == ""):
        return None
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise ServiceError(f"{label} must be a whole number from {low} to {high}.", field) from None
    if not low <= value <= high:
        raise ServiceError(f"{label} must be from {low} to {high}.", field)
    return value


def subscriptions_using(plan: ServicePlan) -> int:
    """How many services (any state) are on this plan."""
    return db.session.scalar(select(func.count()).select_from(Subscription).where(Subscription.plan_id == plan.id)) or 0


def validate(data: dict, plan: ServicePlan | None) -> dict:
    """Clean and check every field; raises ServiceError naming the field."""
    name = validators.text(data.get("name"), "name", 64, required=True, label="Name")
    clash = db.session.scalar(select(ServicePlan.id).where(func.lower(ServicePlan.name) == name.lower()))
    if clash is not None and (plan is None or clash != plan.id):
        raise ServiceError(f"A service plan named '{name}' already exists.", "name")
    try:
        kind = ServiceKind(str(data.get("kind") or ""))
    except ValueError:
        raise ServiceError("Choose PPPoE, hotspot or static IP.", "kind") from None
    if plan is not None and kind != plan.kind and subscriptions_using(plan):
        raise ServiceError(f"Services already use this plan as {plan.kind.label}; the kind cannot change. "
                           "Make a new plan instead.", "kind")
    try:
        unit = PeriodUnit(str(data.get("period_unit") or "month"))
    except ValueError:
        raise ServiceError("The period is counted in months or days.", "period_unit") from None
    count = _whole(data.get("period_count", 1), "period_count", 1, MAX_PERIOD[unit], f"The number of {unit.value}s")
    cap_raw = str(data.get("data_cap") or "").strip()
    try:
        cap = parse_bytes(cap_raw) if cap_raw else None
    except UnitError as err:
        raise ServiceError(str(err), "data_cap") from None
    fup = _rate(data.get("fup_rate_limit"), "fup_rate_limit")
    if cap and not fup:
        raise ServiceError("Give the speed after the data cap (e.g. 512k/1M).", "fup_rate_limit")
    router_ids = sorted({int(r) for r in data.get("router_ids") or []})
    routers = list(db.session.scalars(select(Router).where(Router.id.in_(router_ids)))) if router_ids else []
    if len(routers) != len(router_ids):
        raise ServiceError("A chosen router no longer exists.", "router_ids")
    if plan is not None:
        _check_dropped_routers(plan, set(router_ids))
    return {
        "name": name, "kind": kind, "price": parse_money(data.get("price"), "price", allow_zero=True),
        "period_unit": unit, "period_count": count, "rate_limit": _rate(data.get("rate_limit"), "rate_limit"),
        "data_cap_bytes": cap, "fup_rate_limit": fup if cap else "",
        "shared_users": _whole(data.get("shared_users", 1), "shared_users", 1, 100, "Shared users"),
        "address_pool": validators.router_name(data.get("address_pool"), "address_pool", "Address pool"),
        "grace_days": _whole(data.get("grace_days"), "grace_days", 0, 365, "Grace days", optional=True),
        "active": bool(data.get("active", True)), "routers": routers,
    }


def _check_dropped_routers(plan: ServicePlan, keep: set[int]) -> None:
    """A router may leave the plan only when no live service of the plan is on it."""
    dropped = [r for r in plan.routers if r.id not in keep]
    for router in dropped:
        used = db.session.scalar(select(func.count()).select_from(Subscription).where(
            Subscription.plan_id == plan.id, Subscription.router_id == router.id,
            Subscription.state != SubscriptionState.terminated))
        if used:
            raise ServiceError(f"{used} service(s) of this plan are on {router.name}; move them before removing "
                               "the router from the plan.", "router_ids")


def create_plan(data: dict, actor: User | None = None) -> ServicePlan:
    """Add a plan and push its profile to each of its routers (one command per router)."""
    values = validate(data, None)
    plan = ServicePlan(profile_name=_profile_name(values["name"]), **values)
    db.session.add(plan)
    db.session.flush()
    provisioning.push_plan(plan)
    audit.record(actor, "service_plan.create", plan.name, obj=plan, changes=audit.diff({}, audit.state(plan, "routers")))
    return plan


def update_plan(plan: ServicePlan, data: dict, actor: User | None = None) -> ServicePlan:
    """Edit a plan; its profile (the router-side name never changes) is re-pushed to every router it is sold on.

    On radius-mode routers that is the plan's FreeRADIUS groups rewritten in this transaction (no subscriber's
    rows: they name the group, which keeps the profile's name) and a CoA or Disconnect, per Settings, queued on
    `high` for its subscribers online now (isp/services/provisioning_radius.py).
    """
    values = validate(data, plan)
    before = audit.state(plan, "routers")
    for key, value in values.items():
        setattr(plan, key, value)
    db.session.flush()
    provisioning.push_plan(plan)
    audit.record(actor, "service_plan.update", plan.name, obj=plan, changes=audit.changed(before, plan))
    return plan


def list_query(q: str = "", kind: str = "", active: str = "") -> Select:
    """Plans by name, filtered in SQL."""
    stmt = select(ServicePlan).order_by(ServicePlan.name)
    if q:
        stmt = stmt.where(ServicePlan.name.ilike(f"%{q.strip()[:64]}%"))
    if kind in {k.value for k in ServiceKind}:
        stmt = stmt.where(ServicePlan.kind == ServiceKind(kind))
    if active in ("yes", "no"):
        stmt = stmt.where(ServicePlan.active.is_(active == "yes"))
    return stmt


def by_name() -> list[ServicePlan]:
    """Every plan by name, for pickers and filters (a small table)."""
    return list(db.session.scalars(list_query()))


def sellable() -> list[ServicePlan]:
    """Active plans that are sold on at least one router."""
    return [p for p in db.session.scalars(list_query(active="yes")) if p.routers]


def usage_counts(plan_ids: list[int]) -> dict[int, int]:
    """Live (not terminated) services per plan, in one grouped query."""
    if not plan_ids:
        return {}
    rows = db.session.execute(select(Subscription.plan_id, func.count()).where(
        Subscription.plan_id.in_(plan_ids), Subscription.state != SubscriptionState.terminated).group_by(Subscription.plan_id))
    return dict(rows.tuples().all())


def period_label(plan: ServicePlan) -> str:
    """'month', '3 months', '30 days'."""
    unit = plan.period_unit.value
    return unit if plan.period_count == 1 else f"{plan.period_count} {unit}s"
