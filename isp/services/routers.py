"""Router fleet management: validate, create, edit, delete, test; pool reset."""
from __future__ import annotations

import ipaddress
import re
import uuid

from sqlalchemy import func, select

from isp.crypto import decrypt_bound, encrypt_bound, endpoint_binding
from isp.extensions import db, redis_store
from isp.models import (
    CommandState,
    Priority,
    Router,
    RouterCommand,
    RouterMode,
    Subscription,
    User,
    Voucher,
    VoucherBatch,
    VoucherState,
)
from isp.routeros import status as router_status
from isp.routeros.pool import GENERATION_KEY
from isp.services import audit, onboarding, outbox
from isp.services.errors import ServiceError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}\Z")
HOST_RE = re.compile(
    r"^(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")
MAX_ADDRESSES = 5


def parse_addresses(raw: str) -> list[str]:
    """Split and validate management addresses (IPv4, IPv6 or host names), in order."""
    items = [a.strip() for a in re.split(r"[\s,]+", raw or "") if a.strip()]
    if not items:
        raise ServiceError("Give at least one management address.", field="addresses")
    if len(items) > MAX_ADDRESSES:
        raise ServiceError(f"At most {MAX_ADDRESSES} management addresses.", field="addresses")
    for item in items:
        try:
            ipaddress.ip_address(item)
        except ValueError:
            if not HOST_RE.match(item) or item.replace(".", "").isdigit():
                raise ServiceError(f"'{item}' is not an IP address or host name.", field="addresses") from None
    if len(set(items)) != len(items):
        raise ServiceError("An address is listed twice.", field="addresses")
    return items


def _validate(data: dict, router: Router | None) -> dict:
    """Check every field; returns cleaned values or raises ServiceError naming the field."""
    name = (data.get("name") or "").strip()
    if not NAME_RE.match(name):
        raise ServiceError("Name must be 1-64 letters, digits, spaces, dot, dash or underscore.", field="name")
    clash = db.session.scalar(select(Router.id).where(func.lower(Router.name) == name.lower()))
    if clash is not None and (router is None or clash != router.id):
        raise ServiceError(f"A router named '{name}' already exists.", field="name")
    port = data.get("api_port")
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ServiceError("API port must be between 1 and 65535.", field="api_port")
    radius_port = data.get("radius_incoming_port", router.radius_incoming_port if router else 3799)
    if not isinstance(radius_port, int) or not 1 <= radius_port <= 65535:
        raise ServiceError("RADIUS incoming port must be between 1 and 65535 (RouterOS: 3799).", field="radius_incoming_port")
    username = (data.get("username") or "").strip()
    if not username or len(username) > 64:
        raise ServiceError("API username is required (at most 64 characters).", field="username")
    password = data.get("password") or ""
    if router is None and not password and username.lower() == "admin":
        raise ServiceError("Choose another API username, such as isp-panel: with a blank password the panel generates "
                           "the login and the setup script creates that user ('admin' already exists on the router). "
                           "Or enter admin's password to log in as admin.", field="username")
    if len(password) > 128:
        raise ServiceError("API password is too long (128 characters at most).", field="password")
    site = (data.get("site") or "").strip()
    if len(site) > 120:
        raise ServiceError("Site is at most 120 characters.", field="site")
    max_sessions = data.get("max_sessions", 20)
    if not isinstance(max_sessions, int) or not 3 <= max_sessions <= 1000:
        raise ServiceError("Max sessions must be between 3 and 1000 (RouterOS default: 20).", field="max_sessions")
    try:
        mode = RouterMode(data.get("mode") or "api")
    except ValueError:
        raise ServiceError("Mode must be api or radius.", field="mode") from None
    values = {
        "parent_id": _parent(data.get("parent_id", router.parent_id if router else None), router),
        "name": name, "addresses": parse_addresses(data.get("addresses", "")), "api_port": port,
        "use_tls": bool(data.get("use_tls")), "verify_tls": bool(data.get("verify_tls")) and bool(data.get("use_tls")),
        "username": username, "password": password, "mode": mode, "site": site,
        "notes": (data.get("notes") or "").strip()[:5000], "enabled": bool(data.get("enabled", True)),
        "max_sessions": max_sessions, "radius_incoming_port": radius_port,
    }
    if router is not None and not password and _binding(values) != _stored_binding(router):
        where = " (the panel generated it: an admin finds it in the setup script)" if router.api_user_generated else ""
        raise ServiceError(f"Re-enter the API password{where}: changing the addresses, port, TLS or username needs it "
                           "again.", field="password")
    return values


def _parent(value: object, router: Router | None) -> int | None:
    """The parent router id (alert dependency): blank/0 for none; it must exist, not be the router, nor make a loop."""
    if value in (None, "", 0, "0"):
        return None
    try:
        parent_id = int(value)
    except (TypeError, ValueError):
        raise ServiceError("Choose the parent router from the list.", field="parent_id") from None
    parents = dict(db.session.execute(select(Router.id, Router.parent_id)).tuples().all())  # one query; fleets are small
    if parent_id not in parents:
        raise ServiceError("That parent router does not exist (deleted meanwhile?).", field="parent_id")
    if router is not None and parent_id == router.id:
        raise ServiceError("A router cannot be its own parent.", field="parent_id")
    seen, step = set(), parent_id
    while step is not None and step not in seen:  # walk up from the new parent: meeting this router is a loop
        if router is not None and step == router.id:
            raise ServiceError("That parent depends on this router already (directly or through others): "
                               "a loop would suppress both routers' alerts for ever.", field="parent_id")
        seen.add(step)
        step = parents.get(step)
    return parent_id


def _binding(values: dict) -> dict:
    """Where the router's password may be sent, from cleaned form values."""
    return endpoint_binding(values["addresses"], values["api_port"], values["username"], values["use_tls"], values["verify_tls"])


def _stored_binding(router: Router) -> dict:
    """Where the stored password may be sent (a legacy token: where the router pointed when it was saved)."""
    try:
        bound = decrypt_bound(router.password_encrypted)[1]
    except ValueError:
        bound = None  # unreadable: the worker reports it; a new password is the only fix anyway
    return bound or router.endpoint


def _apply(router: Router, values: dict) -> None:
    binding = _binding(values)
    password = values.pop("password")
    if not password:  # unchanged binding (validated): re-seal the kept password, migrating a legacy token
        try:
            password = decrypt_bound(router.password_encrypted)[0]
        except ValueError:
            password = None  # unreadable: keep the token so the worker keeps saying so
    addresses = values.pop("addresses")
    for field, value in values.items():
        setattr(router, field, value)
    router.addresses = addresses
    if password is not None:
        router.password_encrypted = encrypt_bound(password, binding)


def create_router(data: dict, actor: User | None = None) -> Router:
    """Register and onboard a router: tunnel address, WireGuard keys, RADIUS secret, `nas` row in radius mode.

    A blank password makes the panel generate the API login (the setup script creates that user, and the
    tunnel address comes first); a typed one is kept, with the management addresses as given.
    """
    values = _validate(data, None)
    generate = not values["password"]
    router = Router(password_encrypted="")
    _apply(router, values)
    # Recorded first: it is the unit's first write (on SQLite that begins the transaction before onboarding's SAVEPOINT,
    # which would otherwise commit on release); the router's id and fields are filled in once it has them.
    entry = audit.record(actor, "router.create", values["name"])
    onboarding.onboard(router, actor, generate_login=generate, username=values["username"] if generate else None)
    db.session.flush()
    audit.complete(entry, router, audit.diff({}, _audited(router)))
    return router


def update_router(router: Router, data: dict, actor: User | None = None) -> Router:
    """Edit a router; a blank password keeps the stored one unless where it is sent changes.

    The `nas` row follows: renamed with the router, added when it turns to radius mode, removed when it leaves it;
    a mode change also hands the router's subscribers to the other back end (provisioning.mode_changed).
    """
    from isp.services import provisioning  # it reaches routers' subscribers; imported late to keep imports acyclic

    values = _validate(data, router)
    typed_password = bool(values["password"])
    before = _audited(router)
    previous = router.mode
    if values["mode"] != previous:
        _check_no_live_vouchers(router, values["mode"])
    _apply(router, values)
    db.session.flush()
    onboarding.sync_nas(router, may_exist=previous == RouterMode.radius)
    if previous != router.mode:  # the subscribers move to the other back end in this same unit of work
        provisioning.mode_changed(router, previous)
    changes = audit.diff(before, _audited(router))
    if not typed_password:  # the kept password is re-sealed (a new ciphertext), not changed
        changes.pop("password_encrypted", None)
    audit.record(actor, "router.update", router.name, obj=router, changes=changes)
    return router


def _audited(router: Router) -> dict[str, object]:
    """The router's fields as the audit log compares them (secrets sealed, never shown)."""
    return audit.state(router, exclude=("identity", "version", "board", "last_seen_at", "last_error"))


def _check_no_live_vouchers(router: Router, mode: RouterMode) -> None:
    """A voucher lives where it was made: a hotspot user on the router (api) or FreeRADIUS rows (radius), and
    RouterOS asks RADIUS only for names it does not hold itself. Switching with live vouchers would leave them
    logging in where the panel no longer looks (never activated, expired or disabled), so it is refused."""
    live = [state for state in VoucherState if state.live]
    count = db.session.scalar(select(func.count()).select_from(Voucher).where(
        Voucher.router_id == router.id, Voucher.state.in_(live))) or 0
    if count:
        raise ServiceError(f"{router.name} still has {count:,} live voucher{'s' if count != 1 else ''} "
                           f"({router.mode.value} mode). Switch it to {mode.value} once they have expired, or "
                           "delete them first: vouchers stay where they were made.", field="mode")


def dependents(router: Router) -> dict[str, int]:
    """What still needs this router: unfinished commands (and, later, subscribers)."""
    unfinished = db.session.scalar(select(func.count()).where(
        RouterCommand.router_id == router.id, RouterCommand.state.in_(CommandState.unfinished()))) or 0
    return {"unfinished commands": unfinished}


def _kept_records(router: Router) -> dict[str, int]:
    """Records that name the router and must outlive it (services and vouchers are kept for the books): while any
    exists the row cannot go, whoever asks."""
    return {"services": db.session.scalar(select(func.count()).select_from(Subscription).where(
                Subscription.router_id == router.id)) or 0,
            "voucher batches": db.session.scalar(select(func.count()).select_from(VoucherBatch).where(
                VoucherBatch.router_id == router.id)) or 0}


def delete_router(router: Router, actor: User | None = None, force: bool = False) -> None:
    """Delete a router; refused while something depends on it unless an admin forces it, and always while services
    or vouchers were made on it (disable it instead: it keeps its records and its tunnel address)."""
    kept = {k: v for k, v in _kept_records(router).items() if v}
    if kept:
        detail = ", ".join(f"{v:,} {k}" for k, v in kept.items())
        raise ServiceError(f"'{router.name}' has {detail} made on it, kept for the books. Move the services to another "
                           "router, or disable this router instead of deleting it.")
    blockers = {k: v for k, v in dependents(router).items() if v}
    if blockers and not (force and actor is not None and actor.has_role("admin")):
        detail = ", ".join(f"{v} {k}" for k, v in blockers.items())
        raise ServiceError(f"'{router.name}' still has {detail}. Wait for them to finish, or ask an admin to force the delete.")
    audit.record(actor, "router.delete", router.name, "forced" if blockers else "", obj=router,
                 changes=audit.diff(_audited(router), {}))
    onboarding.forget(router)  # the nas row; the tunnel address is freed with the row itself
    db.session.delete(router)
    db.session.flush()


def request_test(router: Router, actor: User | None = None) -> RouterCommand:
    """Queue a high-priority connection test; the page polls the command for its result."""
    if not router.enabled:
        raise ServiceError(f"'{router.name}' is disabled. Enable it before testing the connection.")
    command = outbox.queue_command(router, "router.test", f"test:{uuid.uuid4().hex}", {}, Priority.high)
    audit.record(actor, "router.test", router.name, "connection test queued", obj=router)
    return command


def list_query(q: str = "", site: str = "", status: str = ""):
    """Routers filtered by name/identity search, site and enabled state."""
    stmt = select(Router).order_by(Router.name)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(func.lower(Router.name).like(like) | func.lower(Router.identity).like(like))
    if site:
        stmt = stmt.where(Router.site == site)
    if status == "enabled":
        stmt = stmt.where(Router.enabled.is_(True))
    elif status == "disabled":
        stmt = stmt.where(Router.enabled.is_(False))
    return stmt


def by_name() -> list[Router]:
    """Every router by name, for pickers and filters (a small table)."""
    return list(db.session.scalars(list_query()))


def sites() -> list[str]:
    """Distinct non-empty sites, for the filter."""
    return list(db.session.scalars(select(Router.site).where(Router.site != "").distinct().order_by(Router.site)))


def recent_commands(router_id: int, limit: int = 20) -> list[RouterCommand]:
    """The router's latest outbox rows, newest first (one query)."""
    return list(db.session.scalars(
        select(RouterCommand).where(RouterCommand.router_id == router_id).order_by(RouterCommand.id.desc()).limit(limit)))


def reset_pool(actor: User | None = None) -> int:
    """Ask every worker to drop its connections, and close every breaker; returns the new generation."""
    generation = int(redis_store.client.incr(GENERATION_KEY))
    router_status.reset_circuits(list(db.session.scalars(select(Router.id))))
    audit.record(actor, "pool.reset", "", f"generation={generation}")
    return generation
