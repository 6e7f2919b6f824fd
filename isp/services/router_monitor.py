"""What the router page's monitoring section reads and does: graph windows, interfaces, log tail, sessions, kicks
and interface disable/enable. Reads come from SQL and Redis (metrics_store); actions queue outbox commands."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select

from isp.extensions import db
from isp.models import CommandState, Priority, Router, RouterCommand, RouterMode, ServiceSession, Subscription, User, Voucher
from isp.models.base import utcnow
from isp.models.monitoring import RouterInterface, RouterLogEntry
from isp.radius.models import RadAcct
from isp.services import audit, list_filters, metrics_store, outbox, radius_commands, radius_sessions, subscriptions
from isp.services.errors import ServiceError
from isp.services.onboarding import WG_INTERFACE

RANGES = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "1y": 365 * 86400}
MIN_SPAN = 60                  # a zoom narrower than one minute shows nothing useful
MAX_SPAN = 366 * 86400         # hourly rollups are kept a year
SESSION_LIMIT = 200            # a router page lists this many sessions; the Online page pages through the rest
SET_INTERFACE = "interface.set"


def window(args: dict, now: int | None = None) -> tuple[int, int]:
    """(start, end) epoch seconds from `range` (1h, 24h, 7d, 30d, 1y) or explicit `start`/`end`; ServiceError if bad."""
    now = int(now if now is not None else utcnow().timestamp())
    if args.get("start") or args.get("end"):
        try:
            start, end = int(args.get("start", "")), int(args.get("end") or now)
        except ValueError:
            raise ServiceError("start and end must be whole epoch seconds (UTC).", field="start") from None
        if not 0 <= start <= now:  # also keeps every bound a small int for the database
            raise ServiceError("start must be a moment in the past (epoch seconds, UTC).", field="start")
        end = min(end, now + 60)  # no future beyond a minute
        if end <= start:
            raise ServiceError("end must come after start.", field="end")
        if end - start < MIN_SPAN:
            raise ServiceError(f"Zoom in to {MIN_SPAN} s at most: the window is {end - start} s.", field="start")
        if end - start > MAX_SPAN:
            raise ServiceError("The window is longer than a year: history is kept one year.", field="start")
        return start, end
    name = args.get("range") or "1h"
    if name not in RANGES:
        raise ServiceError(f"Unknown range {name!r}: use one of {', '.join(RANGES)}.", field="range")
    return now - RANGES[name], now


def series_of(router: Router, series: str) -> str:
    """The series name checked against this router: "system" or "iface:<id of one of its interfaces>"."""
    if series == "system":
        return series
    kind, _, ident = (series or "").partition(":")
    if kind != "iface" or not ident.isdigit():
        raise ServiceError("series must be 'system' or 'iface:<interface id>'.", field="series")
    owner = db.session.scalar(select(RouterInterface.router_id).where(RouterInterface.id == int(ident)))
    if owner != router.id:
        raise ServiceError("No such interface on this router.", field="series")
    return series


def graph(router: Router, series: str, args: dict, now: int | None = None) -> dict:
    """Compact chart columns for a series over the window the arguments ask for."""
    start, end = window(args, now)
    data = metrics_store.graph(router.id, series_of(router, series), start, end, now=now)
    return {"series": series, "start": start, "end": end, **data}


def live(router: Router) -> dict:
    """The last minute of interface rates; marks the router watched so its live read keeps running."""
    metrics_store.watch(router.id)
    return metrics_store.live(router.id)


# -- interfaces -------------------------------------------------------------------------------------------------


def interfaces(router_id: int) -> list[RouterInterface]:
    """The interfaces the poll sees on the router now, by name."""
    return list(db.session.scalars(select(RouterInterface).where(
        RouterInterface.router_id == router_id, RouterInterface.present.is_(True)).order_by(RouterInterface.name)))


def status(iface: RouterInterface) -> str:
    """disabled, running or down, as the page shows it."""
    return "disabled" if iface.disabled else "running" if iface.running else "down"


def pending_changes(router_id: int) -> dict[str, bool]:
    """interface name -> the disabled state an unfinished command is setting (one query)."""
    rows = db.session.scalars(select(RouterCommand).where(
        RouterCommand.router_id == router_id, RouterCommand.operation == SET_INTERFACE,
        RouterCommand.state.in_(CommandState.unfinished())))
    return {row.payload["name"]: bool(row.payload["disabled"]) for row in rows}


def management_interface(router: Router, iface: RouterInterface) -> bool:
    """True when the panel reaches the router through this interface (its WireGuard tunnel), as far as we can tell."""
    return iface.name == WG_INTERFACE or (iface.type == "wg" and bool(router.tunnel_address))


def set_interface(router: Router, iface_id: int, disabled: bool, actor: User) -> RouterCommand:
    """Queue disabling or enabling one interface (on `high`, collapsing with a pending change of it), audited."""
    iface = db.session.get(RouterInterface, iface_id)
    if iface is None or iface.router_id != router.id:
        raise ServiceError("No such interface on this router.")
    if disabled and management_interface(router, iface):
        raise ServiceError(f"{iface.name} is the tunnel the panel reaches {router.name} through: disabling it would cut "
                           "the panel off (re-enable it only from Winbox). Refused.")
    if not router.enabled:
        raise ServiceError(f"'{router.name}' is disabled: workers would not run the change.")
    command = outbox.queue_command(router, SET_INTERFACE, f"interface:{iface.name}",
                                   {"name": iface.name, "disabled": disabled}, Priority.high)
    audit.record(actor, "interface.disable" if disabled else "interface.enable", f"router:{router.id}",
                 f"{router.name} {iface.name}", obj=router, changes={f"{iface.name} disabled": [not disabled, disabled]})
    db.session.flush()
    return command


# -- the router's log -------------------------------------------------------------------------------------------


def log_query(router_id: int, q: str = "", topic: str = ""):
    """The router's log lines, newest first, filtered in SQL by message text and topic (case-insensitive)."""
    stmt = select(RouterLogEntry).where(RouterLogEntry.router_id == router_id)
    if q.strip():
        stmt = stmt.where(func.lower(RouterLogEntry.message).like(list_filters.contains(q.strip().lower()), escape="\\"))
    if topic.strip():
        stmt = stmt.where(func.lower(RouterLogEntry.topics).like(list_filters.contains(topic.strip().lower()), escape="\\"))
    return stmt.order_by(RouterLogEntry.id.desc())


# -- sessions ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    """One user online on the router, as the page lists it."""

    username: str
    kind: str          # pppoe, hotspot, voucher or "" when unknown
    address: str
    caller_id: str
    since: datetime | None
    bytes_in: int
    bytes_out: int


def sessions(router: Router) -> tuple[list[SessionRow], int]:
    """(the first SESSION_LIMIT users online, how many in all): api mode from the session poll, radius from radacct."""
    if router.mode == RouterMode.radius:
        return _radius_sessions(router)
    where = and_(ServiceSession.router_id == router.id, ServiceSession.ended_at.is_(None))
    total = db.session.scalar(select(func.count()).select_from(ServiceSession).where(where)) or 0
    rows = db.session.execute(select(ServiceSession, Subscription.username, Subscription.kind).join(
        Subscription, Subscription.id == ServiceSession.subscription_id).where(where)
        .order_by(ServiceSession.started_at.desc()).limit(SESSION_LIMIT)).all()
    return [SessionRow(name, kind.value, s.address, s.caller_id, s.started_at, s.bytes_in, s.bytes_out)
            for s, name, kind in rows], total


def _radius_sessions(router: Router) -> tuple[list[SessionRow], int]:
    if not router.tunnel_address:
        return [], 0
    where = and_(RadAcct.acctstoptime.is_(None), RadAcct.nasipaddress == router.tunnel_address)
    total = db.session.scalar(select(func.count()).select_from(RadAcct).where(where)) or 0
    rows = list(db.session.scalars(select(RadAcct).where(where).order_by(RadAcct.radacctid.desc()).limit(SESSION_LIMIT)))
    names = [r.username for r in rows]
    vouchers = set(db.session.scalars(select(Voucher.code).where(Voucher.code.in_(names)))) if names else set()
    kinds = dict(db.session.execute(select(Subscription.username, Subscription.kind).where(
        Subscription.username.in_(names))).tuples().all()) if names else {}
    return [SessionRow(r.username, "voucher" if r.username in vouchers else kinds[r.username].value
                       if r.username in kinds else "", r.framedipaddress or "", r.callingstationid or "",
                       radius_sessions.to_utc(r.acctstarttime), int(r.acctinputoctets or 0), int(r.acctoutputoctets or 0))
            for r in rows], total


def kick(router: Router, username: str, actor: User) -> str:
    """Disconnect a user online on this router, on `critical` through the outbox; returns what was kicked."""
    sub = db.session.scalar(select(Subscription).where(Subscription.router_id == router.id,
                                                       Subscription.username == username))
    if sub is not None:
        subscriptions.kick(sub, actor)  # the service's own path: lifecycle note, audit, api kick or RADIUS Disconnect
        return f"service {username}"
    voucher = db.session.scalar(select(Voucher).where(Voucher.router_id == router.id, Voucher.code == username))
    if voucher is None:
        raise ServiceError(f"No service or voucher '{username}' on {router.name}.")
    if router.mode == RouterMode.radius:
        radius_commands.queue_disconnects(router, [username], Priority.critical)
    else:
        outbox.queue_command(router, "hotspot_active.kick", f"kick:voucher:{username}", {"name": username},
                             Priority.critical)
    audit.record(actor, "voucher.kick", f"voucher:{voucher.id}", f"{router.name} {username}", obj=voucher)
    db.session.flush()
    return f"voucher {username}"

