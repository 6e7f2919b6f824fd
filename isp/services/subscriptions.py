"""Subscriptions (a customer's services): add, edit, move, reveal the password, state buttons; scoped reads."""
from __future__ import annotations

import secrets
from decimal import Decimal

from sqlalchemy import Select, false, select
from sqlalchemy.exc import IntegrityError

from isp import crypto
from isp.extensions import db
from isp.models import (
    Customer,
    CustomerStatus,
    Invoice,
    Router,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
    User,
    Voucher,
)
from isp.services import audit, billing, customers, ledger, lifecycle, periods, provisioning, validators
from isp.services.customers import may_sell
from isp.services.errors import ServiceError

S = SubscriptionState
# No look-alikes (0/O, 1/l/I): passwords are read out over the phone and typed into routers.
PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
PASSWORD_LENGTH = 12
ACTIONS = {"suspend": S.suspended, "reactivate": S.active, "terminate": S.terminated}


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    """A strong random password (about 70 bits) without look-alike characters."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))


def _password(raw: object) -> str | None:
    """A typed password (6 to 64 printable characters, no spaces), or None when left blank."""
    value = str(raw or "")
    if not value.strip():
        return None
    if not 6 <= len(value) <= 64 or any(not c.isprintable() or c.isspace() for c in value):
        raise ServiceError("A password has 6 to 64 characters, without spaces.", "password")
    return value


def _staff(user: User | None) -> bool:
    return user is not None and user.has_role("admin", "operator")


# -- scoped reads ---------------------------------------------------------------------------------------------

def scoped(stmt: Select, user: User) -> Select:
    """Limit a subscription query to what the user may see: a reseller only their own customers' services."""
    if user.has_role("reseller"):
        if not user.can_sell_services:
            return stmt.where(false())
        stmt = stmt.where(Subscription.customer_id.in_(select(Customer.id).where(Customer.reseller_id == user.id)))
    return stmt


def get(user: User, subscription_id: int) -> Subscription | None:
    """A service the user may see, else None (the view answers 404)."""
    return db.session.scalar(scoped(select(Subscription).where(Subscription.id == subscription_id), user))


FILTERS = ("q", "state", "kind", "plan_id", "router_id")


def list_query(user: User, filters: dict) -> Select:
    """Services newest first, scoped, filtered in SQL on (filter, id) indexes; username by prefix."""
    stmt = scoped(select(Subscription), user).order_by(Subscription.id.desc())
    if filters.get("state"):
        stmt = stmt.where(Subscription.state == S(filters["state"]))
    if filters.get("kind"):
        stmt = stmt.where(Subscription.kind == ServiceKind(filters["kind"]))
    for key, column in (("plan_id", Subscription.plan_id), ("router_id", Subscription.router_id)):
        if filters.get(key):
            stmt = stmt.where(column == int(filters[key]))
    q = (filters.get("q") or "").strip()[:64]
    if q:
        pattern = q.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
        stmt = stmt.where(Subscription.username.like(pattern, escape="!"))
    return stmt


def list_page(user: User, filters: dict, per_page: int) -> customers.Pagination:
    """One page of `list_query`: its ids off the index, then those rows (counted like the customer list)."""
    return customers.paginate(list_query(user, filters), Subscription.id, per_page)


# -- checks shared by create and edit ---------------------------------------------------------------------------

def _check_username(kind: ServiceKind, username: str, sub: Subscription | None, actor: User) -> None:
    """Unique across every service and router, and never a voucher code: a RADIUS user name is one namespace
    (radcheck has no kind), so a PPPoE 'john' and a hotspot 'john' would share one set of rows."""
    other = db.session.execute(select(Subscription.id, Subscription.kind, Customer.account_no)
                               .join(Customer, Customer.id == Subscription.customer_id)
                               .where(Subscription.username == username)).first()
    if other is not None and (sub is None or other[0] != sub.id):
        whose = f" by customer {other[2]}" if _staff(actor) else " by another customer"
        raise ServiceError(f"The username '{username}' is already used for a {other[1].label} service{whose}.", "username")
    if db.session.scalar(select(Voucher.id).where(Voucher.code == username)) is not None:
        raise ServiceError(f"'{username}' is a voucher code; choose another username.", "username")


def _check_static_ip(router: Router, address: str | None, sub: Subscription | None, actor: User) -> None:
    """A static IP is held by one service per router."""
    if address is None:
        return
    other = db.session.execute(select(Subscription.id, Subscription.username, Customer.account_no)
                               .join(Customer, Customer.id == Subscription.customer_id)
                               .where(Subscription.router_id == router.id, Subscription.static_ip == address)).first()
    if other is not None and (sub is None or other[0] != sub.id):
        whose = f" by {other[2]} ({other[1]})" if _staff(actor) else " by another customer"
        raise ServiceError(f"{address} is already used on {router.name}{whose}.", "static_ip")


def _router(plan: ServicePlan, raw: object) -> Router:
    """The router the service goes on: one of the plan's routers (the only one if none is chosen)."""
    if not plan.routers:
        raise ServiceError(f"Plan '{plan.name}' is not sold on any router yet.", "router_id")
    try:
        router_id = int(raw) if raw not in (None, "", 0, "0") else None
    except (TypeError, ValueError):
        router_id = None
    if router_id is None:
        if len(plan.routers) == 1:
            return plan.routers[0]
        raise ServiceError(f"Plan '{plan.name}' is sold on several routers; choose one.", "router_id")
    router = next((r for r in plan.routers if r.id == router_id), None)
    if router is None:
        raise ServiceError(f"Plan '{plan.name}' is not sold on that router; choose one of: "
                           + ", ".join(r.name for r in plan.routers) + ".", "router_id")
    return router


def _static_ip(kind: ServiceKind, raw: object) -> str | None:
    """Required for static plans, optional for PPPoE (its remote address), not used by hotspot."""
    if kind == ServiceKind.hotspot:
        if str(raw or "").strip():
            raise ServiceError("Hotspot services take their address from the router's pool; leave it blank.", "static_ip")
        return None
    return validators.ipv4(raw, "static_ip", required=kind == ServiceKind.static)


def _grace(raw: object, actor: User, current: int | None = None) -> int | None:
    """Grace days typed by staff (blank: the plan's). A reseller may not set them (free service): refused."""
    if not _staff(actor):
        blank = raw is None or str(raw).strip() == ""
        if not blank and str(raw).strip() != str(current):
            raise ServiceError("Only staff may set a service's grace days.", "grace_days")
        return current
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = -1
    if not 0 <= value <= 365:
        raise ServiceError("Grace days must be a whole number from 0 to 365 (blank: the plan's).", "grace_days")
    return value


def _flush_unique() -> None:
    """Flush; a concurrent service taking the same username or IP meanwhile becomes a clear refusal."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as err:
        field = "static_ip" if "static_ip" in str(err.orig) else "username"
        what = "static IP on this router" if field == "static_ip" else "username"
        raise ServiceError(f"That {what} was just taken by another service; choose another.", field) from None


# -- writing --------------------------------------------------------------------------------------------------

def create(customer: Customer, data: dict, actor: User) -> Subscription:
    """Add a service (pending) to a customer, then start it (first invoice; active once paid)."""
    if not may_sell(actor):
        raise ServiceError("Your account may not sell services.")
    if customer.status == CustomerStatus.closed:
        raise ServiceError("This account is closed; reopen it before adding a service.")
    raw_plan = str(data.get("plan_id") or "").strip()
    digits = raw_plan.isascii() and raw_plan.isdigit() and len(raw_plan) < 10
    plan = db.session.get(ServicePlan, int(raw_plan)) if digits else None
    if plan is None or not plan.active:
        raise ServiceError("Choose an active service plan.", "plan_id")
    kind = plan.kind
    username = validators.username(data.get("username"))
    _check_username(kind, username, None, actor)
    router = _router(plan, data.get("router_id"))
    static_ip = _static_ip(kind, data.get("static_ip"))
    _check_static_ip(router, static_ip, None, actor)
    password = _password(data.get("password")) or generate_password()
    sub = Subscription(customer_id=customer.id, kind=kind, username=username, password_encrypted=crypto.encrypt(password),
                       plan_id=plan.id, router_id=router.id, static_ip=static_ip,
                       caller_id=validators.mac(data.get("caller_id"), "caller_id"),
                       grace_days=_grace(data.get("grace_days"), actor),
                       auto_renew=bool(data.get("auto_renew", True)), state=S.pending)
    db.session.add(sub)
    _flush_unique()
    address = f", IP {static_ip}" if static_ip else ""
    lifecycle.record(sub, "service", f"{kind.label} service '{username}' added on {router.name}, plan {plan.name}{address}.",
                     actor)
    audit.record(actor, "subscription.create", f"subscription:{sub.id}", f"{kind.value}:{username} on {router.name}", obj=sub,
                 changes=audit.diff({}, _audited(sub)))
    lifecycle.start(sub, actor)
    db.session.flush()
    return sub


def edit(sub: Subscription, data: dict, actor: User) -> list[str]:
    """Change login, password, router, static IP, caller-id lock, grace days or auto-renew; returns the timeline lines.

    A new router, username or static IP takes the service off where it was (one removal) before it is placed
    again (one sync), so nothing is left behind on either router.
    """
    if sub.state == S.terminated:
        raise ServiceError("A terminated service cannot be edited.")
    old_router, old_username, old_ip, old_caller = sub.router, sub.username, sub.static_ip, sub.caller_id
    before = _audited(sub)
    username = validators.username(data.get("username", sub.username))
    if username != old_username:
        _check_username(sub.kind, username, sub, actor)
    router = _router(sub.plan, data.get("router_id", sub.router_id))
    static_ip = _static_ip(sub.kind, data.get("static_ip", sub.static_ip))
    _check_static_ip(router, static_ip, sub, actor)
    caller_id = validators.mac(data.get("caller_id", sub.caller_id), "caller_id")
    password = _password(data.get("password"))
    grace = _grace(data.get("grace_days", sub.grace_days), actor, sub.grace_days)
    auto_renew = bool(data.get("auto_renew", sub.auto_renew))

    lines = []
    for label, old, new in (("username", old_username, username), ("router", old_router.name, router.name),
                            ("static IP", old_ip, static_ip), ("caller-id lock", sub.caller_id, caller_id),
                            ("grace days", sub.grace_days, grace), ("auto-renew", sub.auto_renew, auto_renew)):
        if old != new:
            lines.append(f"{label}: {'—' if old in (None, '') else old} → {'—' if new in (None, '') else new}")
    if password is not None:
        lines.append("password changed")
        sub.password_encrypted = crypto.encrypt(password)
    sub.username, sub.router_id, sub.router, sub.static_ip = username, router.id, router, static_ip
    sub.caller_id, sub.grace_days, sub.auto_renew = caller_id, grace, auto_renew
    _flush_unique()
    moved = router.id != old_router.id or username != old_username or static_ip != old_ip
    if moved:
        provisioning.unplace(old_router, sub.kind, old_username, old_ip)
    relogin = password is not None or caller_id != old_caller
    if moved or relogin:
        # A live session outlasts a new password or caller-id lock: kick it so it must log in again under them.
        provisioning.sync(sub, kick=relogin and sub.kind in (ServiceKind.pppoe, ServiceKind.hotspot))
    for line in lines:
        lifecycle.record(sub, "service", f"{sub.kind.label} '{sub.username}': {line}", actor)
    if lines:
        changes = audit.changed(before, sub)
        if password is not None:  # sealed with a fresh nonce each time: what counts is that one was typed
            changes["password_encrypted"] = [audit.MASK, audit.MASK]
        else:
            changes.pop("password_encrypted", None)
        audit.record(actor, "subscription.edit", f"subscription:{sub.id}", "; ".join(line.split(":")[0] for line in lines),
                     obj=sub, changes=changes)
    db.session.flush()
    return lines


def reveal_password(sub: Subscription, actor: User) -> str:
    """The service's password in clear for staff; the viewing is audited (never the secret)."""
    if not _staff(actor):
        raise ServiceError("Only staff may see service passwords.")
    password = crypto.decrypt(sub.password_encrypted)
    audit.record(actor, "subscription.reveal_password", f"subscription:{sub.id}", f"{sub.kind.value}:{sub.username}",
                 obj=sub)
    lifecycle.record(sub, "service", f"Password of '{sub.username}' shown to {actor.username}.", actor)
    return password


def change_state(sub: Subscription, action: str, actor: User, reason: str) -> SubscriptionState:
    """Suspend, reactivate or terminate a service by hand, with the reason on the timeline."""
    if not _staff(actor):
        raise ServiceError("Only staff may suspend, reactivate or terminate services.")
    if action not in ACTIONS:
        raise ServiceError("Choose suspend, reactivate or terminate.", "action")
    reason = validators.text(reason, "reason", 200, required=True, label="A reason")
    before = _audited(sub)
    if action == "reactivate" and _needs_billing(sub):
        _reactivate_billed(sub, actor, f"Reactivate by hand: {reason}")
    else:
        lifecycle.transition(sub, ACTIONS[action], actor, f"{action.capitalize()} by hand: {reason}")
    audit.record(actor, f"subscription.{action}", f"subscription:{sub.id}", reason, obj=sub,
                 changes=audit.changed(before, sub))
    return sub.state


def _needs_billing(sub: Subscription) -> bool:
    """True when a reactivation must open a paid period: pending, or suspended with no paid time left."""
    if sub.state == S.pending:
        return True
    return sub.state == S.suspended and (sub.paid_until is None or sub.paid_until <= periods.second())


def _reactivate_billed(sub: Subscription, actor: User, reason: str) -> None:
    """Bring a pending or lapsed suspended service back the way a payment would: a charged, paid period from now.

    The period is charged unless already invoiced (a pending service's first invoice); the balance must cover it,
    otherwise the reactivation is refused with what is missing (take a payment or adjust first: the money then
    reactivates the service by itself, isp.services.billing.settle).
    """
    account = ledger.customer_account(sub.customer_id)
    ledger.lock(account)
    now = periods.second()
    balance = billing.balance_of(sub.customer_id)
    invoiced = sub.state == S.pending and db.session.scalar(
        select(Invoice.id).where(Invoice.subscription_id == sub.id).limit(1)) is not None
    # A pending service's invoice is already in the balance; otherwise the period is still to be charged.
    missing = -balance if invoiced else Decimal(sub.plan.price).quantize(periods.CENT) - balance
    if missing > 0:
        raise ServiceError(f"Take a payment first: {billing.money(missing)} is missing.", "action")
    if not invoiced:
        billing.charge_period(sub, now, actor)
    billing.activate(sub, now, actor, reason)


def kick(sub: Subscription, actor: User) -> None:
    """Disconnect the service's live sessions now (on `critical`); it may dial in again if it is served."""
    if not _staff(actor):
        raise ServiceError("Only staff may disconnect sessions.")
    provisioning.kick(sub)
    lifecycle.record(sub, "service", f"Sessions of '{sub.username}' disconnected.", actor)
    audit.record(actor, "subscription.kick", f"subscription:{sub.id}", f"{sub.kind.value}:{sub.username}", obj=sub)
    db.session.flush()


def _audited(sub: Subscription) -> dict[str, object]:
    """A service's fields as the audit log compares them (the password sealed, never shown)."""
    return audit.state(sub, exclude=("state_changed_at", "fup_active", "period_bytes", "last_radacctid"))


def password_is_set(sub: Subscription) -> bool:
    """True when a password is stored (the page says so without showing it)."""
    return bool(sub.password_encrypted)
