"""Hotspot plans: validate, save, and keep each router's user profile in step."""
from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import func, select

from isp.extensions import db
from isp.models import HotspotPlan, Priority, Router, RouterMode, ServicePlan, User
from isp.services import audit, outbox, vouchers_radius
from isp.services.errors import ServiceError
from isp.services.ledger import parse_money
from isp.units import UnitError, check_rate_limit, parse_bytes, parse_duration

NAME_RE = re.compile(r"^[^\x00-\x1f]{1,64}\Z")


def _profile_name(name: str) -> str:
    """A RouterOS-safe, unique profile name derived from the plan name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "plan"
    candidate, n = f"isp-{slug}", 1
    # Service plans' profiles (isp-svc-…) share the router's profile menus: a name must be free in both.
    while (db.session.scalar(select(HotspotPlan.id).where(HotspotPlan.profile_name == candidate)) is not None
           or db.session.scalar(select(ServicePlan.id).where(ServicePlan.profile_name == candidate)) is not None):
        n += 1
        candidate = f"isp-{slug}-{n}"
    return candidate


def _unit(parse: Callable[[str | None], int | str], raw: str | None, field: str, optional: bool = False) -> int | str | None:
    if optional and not (raw or "").strip():
        return None
    try:
        return parse(raw)
    except UnitError as err:
        raise ServiceError(str(err), field=field) from None


def validate(data: dict, plan: HotspotPlan | None) -> dict:
    """Clean and check every field; raises ServiceError naming the field."""
    name = (data.get("name") or "").strip()
    if not NAME_RE.match(name):
        raise ServiceError("Name is required (at most 64 characters).", field="name")
    clash = db.session.scalar(select(HotspotPlan.id).where(func.lower(HotspotPlan.name) == name.lower()))
    if clash is not None and (plan is None or clash != plan.id):
        raise ServiceError(f"A plan named '{name}' already exists.", field="name")
    price = parse_money(data.get("price"), "price", allow_zero=True)
    reseller_price = parse_money(data.get("reseller_price") if str(data.get("reseller_price") or "").strip() else price,
                                 "reseller_price", allow_zero=True)
    if reseller_price > price:
        raise ServiceError("The reseller price cannot be above the price.", field="reseller_price")
    shared = data.get("shared_users")
    if not isinstance(shared, int) or not 1 <= shared <= 100:
        raise ServiceError("Shared users must be between 1 and 100.", field="shared_users")
    router_ids = [int(r) for r in data.get("router_ids") or []]
    routers = list(db.session.scalars(select(Router).where(Router.id.in_(router_ids)))) if router_ids else []
    if len(routers) != len(set(router_ids)):
        raise ServiceError("A chosen router no longer exists.", field="router_ids")
    return {
        "name": name, "price": price, "reseller_price": reseller_price,
        "validity_seconds": _unit(parse_duration, data.get("validity"), "validity"),
        "time_quota_seconds": _unit(parse_duration, data.get("time_quota"), "time_quota", optional=True),
        "data_quota_bytes": _unit(parse_bytes, data.get("data_quota"), "data_quota", optional=True),
        "rate_limit": _unit(check_rate_limit, data.get("rate_limit"), "rate_limit"),
        "shared_users": shared, "active": bool(data.get("active", True)), "routers": routers,
    }


def push_profile(plan: HotspotPlan, routers: list[Router] | None = None) -> int:
    """Queue an idempotent profile ensure on each API-mode router of the plan (radius-mode ones: its group's rows)."""
    queued = 0
    targets = routers if routers is not None else plan.routers
    if any(router.mode == RouterMode.radius for router in targets):
        vouchers_radius.plan_changed(plan)  # speed and sharing live in the plan's group: one rewrite, CoA to who is online
    for router in targets:
        if router.mode != RouterMode.api:
            continue
        outbox.queue_command(router, "hotspot_profile.ensure", f"hotspot_profile:{plan.profile_name}",
                             {"attrs": plan.profile_attrs()}, Priority.high)
        queued += 1
    return queued


def create_plan(data: dict, actor: User | None = None) -> HotspotPlan:
    """Add a plan and push its profile to its routers."""
    values = validate(data, None)
    plan = HotspotPlan(profile_name=_profile_name(values["name"]), **values)
    db.session.add(plan)
    db.session.flush()
    push_profile(plan)
    audit.record(actor, "plan.create", plan.name, obj=plan, changes=audit.diff({}, audit.state(plan, "routers")))
    return plan


def update_plan(plan: HotspotPlan, data: dict, actor: User | None = None) -> HotspotPlan:
    """Edit a plan; its profile is re-pushed to every router it is sold on."""
    values = validate(data, plan)
    before = audit.state(plan, "routers")
    for key, value in values.items():
        setattr(plan, key, value)
    db.session.flush()
    push_profile(plan)
    audit.record(actor, "plan.update", plan.name, obj=plan, changes=audit.changed(before, plan))
    return plan


def list_query(q: str = "", active: str = ""):
    """Plans filtered in SQL by name and active flag."""
    stmt = select(HotspotPlan).order_by(HotspotPlan.name)
    if q:
        stmt = stmt.where(HotspotPlan.name.ilike(f"%{q}%"))
    if active in ("yes", "no"):
        stmt = stmt.where(HotspotPlan.active.is_(active == "yes"))
    return stmt


def by_name() -> list[HotspotPlan]:
    """Every plan by name, for pickers and filters (a small table)."""
    return list(db.session.scalars(list_query()))


def sellable(actor: User) -> list[HotspotPlan]:
    """Active plans the actor may generate vouchers of (a reseller: only the plans allowed to them)."""
    from isp.models import reseller_plans

    stmt = select(HotspotPlan).where(HotspotPlan.active.is_(True)).order_by(HotspotPlan.name)
    if actor.has_role("reseller"):
        stmt = stmt.join(reseller_plans, reseller_plans.c.plan_id == HotspotPlan.id).where(reseller_plans.c.user_id == actor.id)
    return list(db.session.scalars(stmt))
