"""Resellers: accounts, the plans they may sell, and money on their ledger."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import delete, func, insert, select

from isp.extensions import db
from isp.models import EntryKind, HotspotPlan, LedgerAccount, LedgerEntry, Role, User, reseller_plans
from isp.services import audit, ledger, users
from isp.services.errors import ServiceError

# What an admin may post by hand; purchases are posted only by voucher generation.
MANUAL_KINDS = {"topup": EntryKind.topup, "refund": EntryKind.refund, "adjustment": EntryKind.adjustment}


def create_reseller(username: str, password: str, full_name: str, plan_ids: list[int], actor: User | None,
                    can_sell_services: bool = False) -> User:
    """A reseller login with its ledger account, allowed plans and whether they may sell services."""
    user = users.create_user(username, password, Role.reseller, full_name, actor)
    ledger.account_for(user)
    set_plans(user, plan_ids, actor)
    set_can_sell_services(user, can_sell_services, actor)
    return user


def set_can_sell_services(user: User, allowed: bool, actor: User | None) -> bool:
    """Let a reseller sign up customers and take payments for their own customers (or stop them); audited."""
    if not user.has_role("reseller"):
        raise ServiceError("Only resellers sell services on the operator's behalf.", field="can_sell_services")
    if user.can_sell_services == bool(allowed):
        return False
    user.can_sell_services = bool(allowed)
    audit.record(actor, "reseller.can_sell_services", user.username, "on" if allowed else "off", obj=user,
                 changes={"can_sell_services": [not allowed, bool(allowed)]})
    db.session.flush()
    return True


def set_plans(user: User, plan_ids: list[int], actor: User | None) -> set[int]:
    """Replace the plans a reseller may sell; returns their ids."""
    if not user.has_role("reseller"):
        raise ServiceError("Only resellers have allowed plans.")
    wanted = set(int(p) for p in plan_ids)
    had = allowed_plan_ids(user.id)
    known = set(db.session.scalars(select(HotspotPlan.id).where(HotspotPlan.id.in_(wanted)))) if wanted else set()
    if known != wanted:
        raise ServiceError("A chosen plan no longer exists.", field="plan_ids")
    db.session.execute(delete(reseller_plans).where(reseller_plans.c.user_id == user.id))
    if wanted:
        db.session.execute(insert(reseller_plans), [{"user_id": user.id, "plan_id": p} for p in sorted(wanted)])
    if had != wanted:
        names = dict(db.session.execute(select(HotspotPlan.id, HotspotPlan.name).where(
            HotspotPlan.id.in_(had | wanted))).tuples().all()) if had | wanted else {}
        audit.record(actor, "reseller.plans", user.username, f"{len(wanted)} plans allowed", obj=user,
                     changes={"plans": [sorted(names[p] for p in had if p in names), sorted(names[p] for p in wanted)]})
    return wanted


def allowed_plan_ids(user_id: int) -> set[int]:
    """Ids of the plans a reseller may sell."""
    return set(db.session.scalars(select(reseller_plans.c.plan_id).where(reseller_plans.c.user_id == user_id)))


def allowed_plans(user_id: int) -> list[HotspotPlan]:
    """The plans a reseller may sell, by name (active or not: the account page shows both)."""
    return list(db.session.scalars(select(HotspotPlan).join(reseller_plans, reseller_plans.c.plan_id == HotspotPlan.id)
                                   .where(reseller_plans.c.user_id == user_id).order_by(HotspotPlan.name)))


def post_manual(user: User, kind: str, raw_amount: str, memo: str, actor: User) -> LedgerEntry:
    """A top-up, refund or adjustment by an admin (an adjustment may be negative, never below zero)."""
    if kind not in MANUAL_KINDS:
        raise ServiceError("Choose top-up, refund or adjustment.", field="kind")
    amount = ledger.parse_money(raw_amount, allow_negative=kind == "adjustment")
    memo = (memo or "").strip()
    if kind == "adjustment" and not memo:
        raise ServiceError("Say why in the memo: adjustments must be explained.", field="memo")
    entry = ledger.post(ledger.account_for(user), MANUAL_KINDS[kind], amount, memo, actor)
    audit.record(actor, f"ledger.{kind}", user.username, f"{amount:.2f}: {memo}"[:500], obj=user,
                 changes={"balance": [str(entry.balance_after - amount), str(entry.balance_after)]})
    return entry


def balances_by_user(user_ids: list[int]) -> dict[int, Decimal]:
    """Balances of many resellers in one grouped query (zero for those without entries)."""
    found = {}
    if user_ids:
        found = dict(db.session.execute(
            select(LedgerAccount.user_id, func.sum(LedgerEntry.amount))
            .join(LedgerEntry, LedgerEntry.account_id == LedgerAccount.id)
            .where(LedgerAccount.user_id.in_(user_ids)).group_by(LedgerAccount.user_id)).tuples().all())
    return {uid: Decimal(found.get(uid) or 0).quantize(ledger.CENT) for uid in user_ids}


def list_query(q: str = ""):
    """Resellers by username (paginated by the caller; balances come from balances_by_user)."""
    stmt = select(User).where(User.role == Role.reseller).order_by(User.username)
    if q:
        stmt = stmt.where(User.username.ilike(f"%{q}%") | User.full_name.ilike(f"%{q}%"))
    return stmt


def get_reseller(user_id: int) -> User | None:
    """A reseller by id, or None."""
    return db.session.scalar(select(User).where(User.id == user_id, User.role == Role.reseller))
