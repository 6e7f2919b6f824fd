"""Vouchers on radius-mode routers: their FreeRADIUS rows, first login from `radacct`, and the kicks.

Nothing is pushed to such a router: a batch's rows are written in the batch's own unit of work (both databases
commit together), first login is read from `radacct` incrementally (a radacctid cursor in Redis; losing it only
costs one re-read of the unused vouchers' rows), and a voucher that must stop (expired, used up, disabled,
deleted) loses its rows and gets a Disconnect on `critical` when it is online.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from isp.extensions import db, redis_store
from isp.models import HotspotPlan, Priority, Router, RouterMode, Voucher, VoucherBatch, VoucherState
from isp.models.base import utcnow
from isp.radius import voucher_writers, writers
from isp.radius.models import RadAcct
from isp.services import radius_commands, radius_sessions
from isp.sqlutil import chunked

log = logging.getLogger(__name__)
CURSOR_KEY = "isp:voucher-radius:radacctid"
ONLINE_KEY = "isp:voucher-radius:online"  # voucher codes with an open radacct row at the last usage read
ONLINE_TTL = 3600
WINDOW = 200     # ids re-read behind the cursor: accounting rows may commit out of id order
LIVE = (VoucherState.unused, VoucherState.active)
READ_LIMIT = 5000  # radacct rows per run; the next run carries on from the cursor


def is_radius(voucher: Voucher) -> bool:
    """True when the voucher's router asks FreeRADIUS (its rows live in the RADIUS tables)."""
    return voucher.router.mode == RouterMode.radius


def taken_by(vouchers_taken: Callable[[list[str]], set[str]]) -> Callable[[list[str]], set[str]]:
    """Codes already used by a voucher, or by any RADIUS user (a subscriber's login): a code must not share its
    radcheck rows with someone else's."""
    def taken(candidates: list[str]) -> set[str]:
        return vouchers_taken(candidates) | voucher_writers.usernames_taken(candidates)

    return taken


def plan_changed(plan: HotspotPlan) -> int:
    """A voucher plan edited: rewrite its group; a new speed reaches the vouchers online now as a CoA (or a
    Disconnect, Settings `radius_plan_change_action`) on `high`. Returns the commands queued."""
    from isp.services import provisioning_radius  # the Settings choice lives with the subscription back end

    rate = voucher_writers.write_plan_group(plan)
    if rate is None:
        return 0
    live = dict(db.session.execute(select(Voucher.code, Voucher.router_id).join(Router, Router.id == Voucher.router_id)
                                   .where(Voucher.plan_id == plan.id, Voucher.state == VoucherState.active,
                                          Router.mode == RouterMode.radius)).tuples().all())
    by_router: dict[int, list[str]] = {}
    for code in writers.online(live):
        by_router.setdefault(live[code], []).append(code)
    queued = 0
    for router_id, codes in sorted(by_router.items()):
        router = db.session.get(Router, router_id)
        if not rate or provisioning_radius.plan_change_action() == "disconnect":  # "": the limit was lifted
            queued += radius_commands.queue_disconnects(router, codes, Priority.high)
        else:
            queued += radius_commands.queue_coas(router, {c: {"Mikrotik-Rate-Limit": rate} for c in codes}, Priority.high)
    return queued


def write_batch(batch: VoucherBatch, logins: list[tuple[str, str]]) -> int:
    """The plan's group and every new voucher's rows, in the batch's unit of work; returns how many users."""
    voucher_writers.write_plan_group(batch.plan)
    return voucher_writers.add_batch(batch, logins)


def retire(vouchers: list[Voucher]) -> int:
    """Take the vouchers' rows out and queue a Disconnect (on `critical`) for those online now; returns how many.

    Online means an open radacct row (one query per 500 codes): a batch of 10,000 deleted unused vouchers
    queues nothing, a mass expiry goes in as chunk jobs.
    """
    if not vouchers:
        return 0
    voucher_writers.remove(v.code for v in vouchers)
    online = set(writers.online(v.code for v in vouchers))
    by_router: dict[int, tuple[Router, list[str]]] = {}
    for voucher in vouchers:
        if voucher.code in online:
            by_router.setdefault(voucher.router_id, (voucher.router, []))[1].append(voucher.code)
    return sum(radius_commands.queue_disconnects(router, codes, Priority.critical) for router, codes in by_router.values())


def restore(vouchers: list[Voucher]) -> None:
    """Write the vouchers' rows again with what they are owed now (enabled, or revived by an extension)."""
    if vouchers:
        voucher_writers.rewrite(vouchers)


def extend(vouchers: list[Voucher]) -> None:
    """Live vouchers given more validity: FreeRADIUS's `Expiration` moves with their new expiry."""
    voucher_writers.set_expiration({v.code: v.expires_at for v in vouchers if v.expires_at is not None})


def in_radius(batch: VoucherBatch) -> dict:
    """What FreeRADIUS holds of a batch, for its page: live vouchers and how many of them can log in."""
    codes = list(db.session.scalars(select(Voucher.code).where(
        Voucher.batch_id == batch.id, Voucher.state.in_([VoucherState.unused, VoucherState.active]))))
    present = voucher_writers.present(codes)
    return {"radius": True, "total": len(codes), "pushed": present, "failed": 0, "pending": 0, "retrying": 0,
            "missing": len(codes) - present, "percent": 100, "finished": True}


def sync_states(vouchers: list[Voucher]) -> dict[int, tuple[str, str]]:
    """Per voucher on a radius-mode router: whether FreeRADIUS holds it ("in RADIUS"), one query per 500 codes."""
    held = voucher_writers.present_codes(v.code for v in vouchers)
    out = {}
    for voucher in vouchers:
        if voucher.code in held:
            out[voucher.id] = ("in RADIUS", "")
        elif voucher.state in LIVE:
            out[voucher.id] = ("not in RADIUS", "FreeRADIUS has no password row for this voucher: it cannot log in")
        else:
            out[voucher.id] = ("removed", "")
    return out


# -- first login from radacct ------------------------------------------------------------------------------------


def _as_utc(moment: datetime | None, session_seconds: int | None, now: datetime) -> datetime:
    """An accounting start (naive, in the RADIUS database's zone) as aware UTC, never in the future."""
    if moment is None:
        return now - timedelta(seconds=session_seconds or 0)
    return min(radius_sessions.to_utc(moment), now)


def _unused_codes() -> list[str]:
    return list(db.session.scalars(select(Voucher.code).join(Router, Router.id == Voucher.router_id).where(
        Router.mode == RouterMode.radius, Voucher.state == VoucherState.unused)))


def _starts(cursor: int | None) -> tuple[dict[str, datetime], int]:
    """Earliest accounting start per user name seen since the cursor, and the new cursor.

    Without a cursor (Redis lost it), the unused radius vouchers' own rows are read by name instead.
    """
    now = utcnow()
    columns = (RadAcct.radacctid, RadAcct.username, RadAcct.acctstarttime, RadAcct.acctsessiontime)
    if cursor is not None and (db.session.scalar(select(func.max(RadAcct.radacctid))) or 0) < cursor - WINDOW:
        cursor = None  # radacct was emptied or restored from an older copy: ids start again below the cursor
    if cursor is None:
        rows = []
        for part in chunked(_unused_codes()):
            rows += db.session.execute(select(*columns).where(RadAcct.username.in_(part))).all()
        top = db.session.scalar(select(func.max(RadAcct.radacctid))) or 0
    else:
        rows = db.session.execute(select(*columns).where(RadAcct.radacctid > max(0, cursor - WINDOW))
                                  .order_by(RadAcct.radacctid).limit(READ_LIMIT)).all()
        top = max([cursor, *(r.radacctid for r in rows)])
    starts: dict[str, datetime] = {}
    for row in rows:
        start = _as_utc(row.acctstarttime, row.acctsessiontime, now)
        if row.username not in starts or start < starts[row.username]:
            starts[row.username] = start
    return starts, top


def read_first_logins(cursor: int | None) -> tuple[int, int]:
    """Activate unused radius vouchers that have logged in: first login, expiry, `Expiration` in radcheck.

    Returns (vouchers activated, new cursor); the caller commits, then stores the cursor.
    """
    from isp.services import voucher_lifecycle  # it imports this module's callers

    starts, top = _starts(cursor)
    found: list[Voucher] = []
    for part in chunked(sorted(starts)):
        found += db.session.scalars(select(Voucher).join(Router, Router.id == Voucher.router_id).where(
            Voucher.code.in_(part), Voucher.state == VoucherState.unused, Router.mode == RouterMode.radius))
    for voucher in found:
        voucher.first_login_at = starts[voucher.code]
        voucher.expires_at = voucher_writers.expiry_moment(voucher.first_login_at, voucher.validity_seconds)
    db.session.flush()
    voucher_lifecycle.transition(found, VoucherState.active, "first login seen in RADIUS accounting")
    voucher_writers.set_expiration({v.code: v.expires_at for v in found})
    return len(found), top


def load_cursor() -> int | None:
    """The radacctid read up to, or None when Redis lost it."""
    value = redis_store.client.get(CURSOR_KEY)
    return int(value) if value is not None else None


def save_cursor(value: int) -> None:
    """Remember how far radacct was read (after the activations are committed)."""
    redis_store.client.set(CURSOR_KEY, int(value))


# -- usage and quotas from radacct ------------------------------------------------------------------------------


def _live_radius(codes: list[str]) -> dict[str, int]:
    """code -> router id of the live vouchers among `codes` on radius-mode routers (one query per 500)."""
    found: dict[str, int] = {}
    for part in chunked(sorted(set(codes))):
        found.update(db.session.execute(
            select(Voucher.code, Voucher.router_id).join(Router, Router.id == Voucher.router_id).where(
                Voucher.code.in_(part), Voucher.state.in_(LIVE), Router.mode == RouterMode.radius)).tuples().all())
    return found


def read_usage(previously_online: set[str]) -> tuple[dict[int, dict[str, dict]], set[str]]:
    """Per radius router, what radacct says each live voucher used (all its sessions summed) and whether it is online.

    Costs what is active: the open rows' names, plus the names online at the last read (their final counters),
    then one grouped sum per 500 of those. The stock queries store Gigawords << 32 | Octets, so sums are whole.
    Returns ({router id: {code: usage}}, the codes online now).
    """
    open_names = set(db.session.scalars(select(RadAcct.username).where(RadAcct.acctstoptime.is_(None)).distinct()))
    routers = _live_radius(sorted(open_names | previously_online))
    usage: dict[int, dict[str, dict]] = {}
    for part in chunked(sorted(routers)):
        rows = db.session.execute(select(
            RadAcct.username, func.coalesce(func.sum(RadAcct.acctsessiontime), 0),
            func.coalesce(func.sum(RadAcct.acctinputoctets), 0), func.coalesce(func.sum(RadAcct.acctoutputoctets), 0))
            .where(RadAcct.username.in_(part)).group_by(RadAcct.username))
        for code, seconds, bytes_in, bytes_out in rows:
            # radacct's input is what the router received from the client: the customer's upload.
            usage.setdefault(routers[code], {})[code] = {"uptime": int(seconds), "bytes_in": int(bytes_in),
                                                        "bytes_out": int(bytes_out), "online": code in open_names}
    return usage, {code for code in routers if code in open_names}


def apply_usage(previously_online: set[str]) -> tuple[dict[str, int], set[str]]:
    """Record radacct usage on the vouchers; one over its time or data quota is exhausted (rows out, Disconnect)."""
    from isp.services import voucher_lifecycle

    usage, online = read_usage(previously_online)
    totals = {"activated": 0, "exhausted": 0, "updated": 0}
    for router_id, seen in sorted(usage.items()):
        for key, value in voucher_lifecycle.apply_usage(router_id, seen).items():
            totals[key] += value
    return totals, online


def load_online() -> set[str]:
    """The voucher codes online at the last usage read."""
    return {m.decode() if isinstance(m, bytes) else str(m) for m in redis_store.client.smembers(ONLINE_KEY)}


def save_online(codes: set[str]) -> None:
    """Remember who is online now (after the usage is committed)."""
    pipe = redis_store.client.pipeline()
    pipe.delete(ONLINE_KEY)
    if codes:
        pipe.sadd(ONLINE_KEY, *sorted(codes))
        pipe.expire(ONLINE_KEY, ONLINE_TTL)
    pipe.execute()
