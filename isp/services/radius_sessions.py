"""Sessions of radius-mode routers, from FreeRADIUS's `radacct` and `radpostauth`.

- Online now: open `radacct` rows (acctstoptime IS NULL), paged by radacctid off the stock `acctstoptime`
  (or `username`) index, mapped per page to subscriptions and vouchers by username and to routers by
  nasipaddress = the router's tunnel address.
- Usage per day: `rollup` reads `radacct` incrementally (rows past a radacctid cursor, and the sessions it
  still tracks as open, by primary key: never a scan) and adds each session's counter growth to UsageDaily
  (subscriptions) or VoucherUsageDaily. FreeRADIUS's stock queries store `Gigawords << 32 | Octets`, so the
  counters are 64-bit; a NAS that sends no Gigawords wraps at 2^32, which the delta detects.
- Failures: `radpostauth` keeps no reason for a reject, so one is derived from our own records at the time.
- Cleanup: an open row with no interim update for 3 × its interval is closed ("Stale-Session"), and rows
  opened before their NAS's last Accounting-On/Off (`nasreload`) are closed ("NAS-Reboot"), so stale rows
  never hold a user out through Simultaneous-Use.

Times in radacct/radpostauth are naive, in the RADIUS database's zone (config RADIUS_TIMEZONE, default UTC).
Direction: bytes_in = Acct-Input-Octets = what the subscriber sent (upload), as in isp.services.sessions.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Row, and_, bindparam, delete, exists, false, func, insert, or_, select, update
from sqlalchemy.dialects import mysql, sqlite

from isp import crypto
from isp.extensions import db
from isp.models import (
    Customer,
    CustomerEvent,
    RadiusRollupCursor,
    RadiusSessionCounter,
    Router,
    RouterMode,
    ServicePlan,
    Subscription,
    SubscriptionState,
    UsageDaily,
    User,
    Voucher,
    VoucherState,
    VoucherUsageDaily,
)
from isp.models.base import utcnow
from isp.radius import binds, server_zone
from isp.radius.models import NasReload, RadAcct, RadGroupReply, RadPostAuth, RadUserGroup
from isp.services import paging
from isp.sqlutil import chunked

CURSOR = "radacct"
GAP = 1000            # ids behind the cursor read again: InnoDB may commit a lower id after a higher one
BATCH = 20_000        # radacct rows read past the cursor per rollup pass
WRAP = 2 ** 32        # a 32-bit octet counter without Gigawords wraps here
DEFAULT_INTERVAL = 300  # seconds, when a row has no acctinterval yet (the plans' Acct-Interim-Interval)
STALE_FACTOR = 3
MIN_INTERVAL = 60
REJECT = "Access-Reject"
STALE = "Stale-Session"
FAILURE_WINDOW = 100_000  # the latest radpostauth rows the failures list looks through
ACCT = RadAcct.__table__
COUNTERS = RadiusSessionCounter.__table__


# -- time ------------------------------------------------------------------------------------------------------

def _zone() -> ZoneInfo:
    return server_zone()


def to_utc(value: datetime | None) -> datetime | None:
    """A naive radacct/radpostauth time (the RADIUS database's zone) as aware UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_zone())
    return value.astimezone(UTC)


def to_radius(value: datetime) -> datetime:
    """An aware time as the naive value radacct would hold."""
    return value.astimezone(_zone()).replace(tzinfo=None)


def operator_day(at: datetime) -> date:
    """The operator's calendar day (ISP_TIMEZONE) at a UTC moment."""
    return at.astimezone(ZoneInfo(current_app.config["ISP_TIMEZONE"])).date()


# -- who is who --------------------------------------------------------------------------------------------------

def routers_by_nas() -> dict[str, tuple[int, str]]:
    """nasipaddress → (router id, name) of the radius-mode routers (a small table)."""
    return {addr: (rid, name) for rid, name, addr in db.session.execute(
        select(Router.id, Router.name, Router.tunnel_address).where(Router.tunnel_address.is_not(None))) if addr}


def owners(usernames: list[str]) -> tuple[dict[str, Row], dict[str, Row]]:
    """username → subscription row (id, customer, state…) and username → voucher row, one query each per 500 names."""
    subs: dict[str, Row] = {}
    vouchers: dict[str, Row] = {}
    names = sorted({n for n in usernames if n})
    for part in chunked(names):
        for row in db.session.execute(
                select(Subscription.id, Subscription.username, Subscription.customer_id, Subscription.state,
                       Subscription.state_changed_at, Subscription.paid_until, Subscription.grace_until,
                       Subscription.password_encrypted, Subscription.plan_id, Customer.name.label("customer_name"),
                       Customer.account_no, Customer.reseller_id)
                .join(Customer, Customer.id == Subscription.customer_id)
                .where(Subscription.username.in_(part)).order_by(Subscription.id)):
            subs.setdefault(row.username, row)
        for row in db.session.execute(
                select(Voucher.id, Voucher.code, Voucher.password, Voucher.state, Voucher.expires_at,
                       Voucher.state_changed_at, Voucher.reseller_id, Voucher.batch_id)
                .where(Voucher.code.in_(part))):
            vouchers[row.code] = row
    return subs, vouchers



# -- online now ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OnlineRow:
    """One open radacct session as the online page shows it."""

    radacctid: int
    username: str
    router_name: str
    nas: str
    address: str
    mac: str
    started_at: datetime | None
    updated_at: datetime | None
    uptime_seconds: int
    bytes_in: int
    bytes_out: int
    subscription_id: int | None = None
    customer_id: int | None = None
    customer_name: str = ""
    account_no: str = ""
    voucher_id: int | None = None
    batch_id: int | None = None


FILTERS = ("q", "router_id")


def _reseller_scope(user: User) -> object | None:
    """The reseller's usernames as a subquery radacct can be filtered by, when both live behind one connection
    (SQLite same file, MariaDB same server); None for staff or when the radius database is elsewhere."""
    if not user.has_role("reseller") or binds.mode() == binds.TWO_PHASE:
        return None
    subs = select(Subscription.username).join(Customer, Customer.id == Subscription.customer_id).where(
        Customer.reseller_id == user.id if user.can_sell_services else false())
    return subs.union_all(select(Voucher.code).where(Voucher.reseller_id == user.id))


def _reseller_names(user: User) -> list[str] | None:
    """The usernames of a reseller's customers' services and vouchers seen online by the last rollup; None for staff."""
    if not user.has_role("reseller"):
        return None
    open_rows = select(RadiusSessionCounter.username).where(RadiusSessionCounter.open.is_(True))
    subs = open_rows.join(Subscription, Subscription.id == RadiusSessionCounter.subscription_id).join(
        Customer, Customer.id == Subscription.customer_id).where(
        Customer.reseller_id == user.id if user.can_sell_services else false())
    vouchers = open_rows.join(Voucher, Voucher.id == RadiusSessionCounter.voucher_id).where(Voucher.reseller_id == user.id)
    return sorted(set(db.session.scalars(subs)) | set(db.session.scalars(vouchers)))


def online_query(user: User, filters: dict) -> object:
    """Select of the open radacct rows the user may see, newest first, filtered in SQL.

    Staff read every open row. A reseller's rows are those of their own usernames (customers' services and
    vouchers): a semi-join when both databases sit behind one connection; with the radius database on another
    server, the usernames the last rollup saw open (a session younger than the rollup's period shows next run).
    Either way the open rows (who is online) bound the work, not radacct's history.
    """
    stmt = select(RadAcct).where(RadAcct.acctstoptime.is_(None))
    scope = _reseller_scope(user)
    names = _reseller_names(user) if scope is None else None
    if scope is not None:
        stmt = stmt.where(RadAcct.username.in_(scope))
    elif names is not None:
        stmt = stmt.where(RadAcct.username.in_(names) if names else false())
    q = (filters.get("q") or "").strip()
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(RadAcct.username.like(escaped + "%", escape="\\"))
    if filters.get("router_id"):
        address = db.session.scalar(select(Router.tunnel_address).where(Router.id == int(filters["router_id"])))
        stmt = stmt.where(RadAcct.nasipaddress == address if address else false())
    return stmt.order_by(RadAcct.radacctid.desc())


def online_page(user: User, filters: dict, per_page: int) -> paging.IdPagination:
    """A page of online sessions (ids off the index, then 50 rows by key), items as OnlineRow."""
    page = paging.paginate(online_query(user, filters), RadAcct.radacctid, per_page)
    page.items = decorate(page.items)
    return page


def decorate(rows: list[RadAcct]) -> list[OnlineRow]:
    """Map radacct rows to their subscription or voucher and router (one query each for the page)."""
    subs, vouchers = owners([r.username for r in rows])
    routers = routers_by_nas()
    now = utcnow()
    out = []
    for r in rows:
        sub, voucher = subs.get(r.username), vouchers.get(r.username)
        started = to_utc(r.acctstarttime)
        out.append(OnlineRow(
            radacctid=r.radacctid, username=r.username, router_name=routers.get(r.nasipaddress, (None, ""))[1],
            nas=r.nasipaddress, address=r.framedipaddress or "", mac=r.callingstationid or "", started_at=started,
            updated_at=to_utc(r.acctupdatetime),
            uptime_seconds=max(0, int((now - started).total_seconds())) if started else int(r.acctsessiontime or 0),
            bytes_in=int(r.acctinputoctets or 0), bytes_out=int(r.acctoutputoctets or 0),
            subscription_id=sub.id if sub else None, customer_id=sub.customer_id if sub else None,
            customer_name=sub.customer_name if sub else "", account_no=sub.account_no if sub else "",
            voucher_id=voucher.id if voucher and not sub else None, batch_id=voucher.batch_id if voucher and not sub else None))
    return out


def filter_choices() -> dict:
    """The radius-mode routers for the router filter."""
    return {"routers": db.session.execute(select(Router.id, Router.name).where(Router.mode == RouterMode.radius)
                                          .order_by(Router.name)).all()}


# -- sessions of one subscription or voucher ----------------------------------------------------------------

@dataclass(frozen=True)
class PastSession:
    """One radacct session in the shape the customer page's session table reads."""

    started_at: datetime | None
    ended_at: datetime | None
    end_reason: str
    address: str
    caller_id: str
    uptime_seconds: int
    bytes_in: int
    bytes_out: int


def _past(r: RadAcct) -> PastSession:
    return PastSession(started_at=to_utc(r.acctstarttime), ended_at=to_utc(r.acctstoptime),
                       end_reason=r.acctterminatecause or "", address=r.framedipaddress or "",
                       caller_id=r.callingstationid or "", uptime_seconds=int(r.acctsessiontime or 0),
                       bytes_in=int(r.acctinputoctets or 0), bytes_out=int(r.acctoutputoctets or 0))


def sessions_of(username: str, limit: int = 20, offset: int = 0, since: datetime | None = None) -> list[PastSession]:
    """A username's latest radacct sessions, newest first (the stock username index, in radacctid order).

    `since` (the owner's creation, aware UTC): a username freed by a rename or a deletion and taken again later
    must not show its new owner the previous one's sessions (their MACs and addresses).
    """
    stmt = select(RadAcct).where(RadAcct.username == username)
    if since is not None:
        stmt = stmt.where(RadAcct.acctstarttime >= to_radius(since if since.tzinfo else since.replace(tzinfo=UTC)))
    return [_past(r) for r in db.session.scalars(stmt.order_by(RadAcct.radacctid.desc()).limit(limit).offset(offset))]


def open_sessions(usernames: list[str]) -> dict[str, RadAcct]:
    """username → its latest open radacct row, for many names (one query per 500)."""
    out: dict[str, RadAcct] = {}
    for part in chunked(sorted(set(usernames))):
        for r in db.session.scalars(select(RadAcct).where(RadAcct.username.in_(part), RadAcct.acctstoptime.is_(None))
                                    .order_by(RadAcct.radacctid)):
            out[r.username] = r
    return out


def voucher_usage_days(voucher_id: int, days: int = 30) -> list[tuple[date, int, int, int]]:
    """(day, bytes_in, bytes_out, seconds) of a voucher for the last `days` operator days, zero-filled (the rollup)."""
    today = operator_day(utcnow())
    first = today - timedelta(days=days - 1)
    stored = {row.day: row for row in db.session.execute(
        select(VoucherUsageDaily.day, VoucherUsageDaily.bytes_in, VoucherUsageDaily.bytes_out, VoucherUsageDaily.seconds)
        .where(VoucherUsageDaily.voucher_id == voucher_id, VoucherUsageDaily.day >= first))}
    out = []
    for n in range(days):
        day = first + timedelta(days=n)
        row = stored.get(day)
        out.append((day, int(row.bytes_in), int(row.bytes_out), int(row.seconds)) if row else (day, 0, 0, 0))
    return out


# -- the rollup -----------------------------------------------------------------------------------------------

def _delta(prev: int, cur: int) -> int:
    """Growth of a cumulative counter. A drop is a 32-bit wrap (a NAS sending no Gigawords) only from the top half of
    the 32-bit range to its bottom half; any other drop is a reset (a reused session id, a reordered interim) and
    counts what the new reading holds, never the ~4 GiB a wrong wrap would add."""
    if cur >= prev:
        return cur - prev
    if WRAP // 2 <= prev < WRAP and cur < WRAP // 2:
        return cur + WRAP - prev
    return cur


def _upsert(table: object, keys: list[str], rows: list[dict], fields: list[str]) -> None:
    """Add `fields` into existing (keys) rows or insert them: one executemany."""
    if not rows:
        return
    dialect = db.session.get_bind(clause=table.select()).dialect.name
    if dialect == "sqlite":
        stmt = sqlite.insert(table)
        stmt = stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys],
                                          set_={f: table.c[f] + stmt.excluded[f] for f in fields})
    else:
        stmt = mysql.insert(table)
        stmt = stmt.on_duplicate_key_update(**{f: table.c[f] + stmt.inserted[f] for f in fields})
    db.session.execute(stmt, rows)


def _cursor() -> RadiusRollupCursor:
    cursor = db.session.scalar(select(RadiusRollupCursor).where(RadiusRollupCursor.name == CURSOR).with_for_update())
    if cursor is None:
        cursor = RadiusRollupCursor(name=CURSOR, last_radacctid=0)
        db.session.add(cursor)
        db.session.flush()
    return cursor


ACCT_COLUMNS = (RadAcct.radacctid, RadAcct.username, RadAcct.acctstarttime, RadAcct.acctupdatetime,
                RadAcct.acctstoptime, RadAcct.acctsessiontime, RadAcct.acctinputoctets, RadAcct.acctoutputoctets)


def rollup(now: datetime | None = None, batch: int = BATCH) -> dict[str, int]:
    """One incremental pass over radacct: count the growth of every new or tracked-open session once.

    Reads rows past the cursor (minus GAP, for late commits) and the tracked open sessions by primary key;
    writes the new counters, the usage per day, the subscriptions' period bytes and moves the cursor, all in
    the caller's transaction (so a failed pass counts nothing and the next one starts from the same place).
    Returns counts, `more` = 1 when the batch was full (call again).
    """
    now = now or utcnow()
    cursor = _cursor()
    start = max(0, cursor.last_radacctid - GAP)
    fresh = db.session.execute(select(*ACCT_COLUMNS).where(RadAcct.radacctid > start)
                               .order_by(RadAcct.radacctid).limit(batch)).all()
    fresh_ids = [r.radacctid for r in fresh]
    known: dict[int, object] = {}
    for part in chunked(fresh_ids):
        known.update({c.radacctid: c for c in db.session.execute(select(COUNTERS).where(COUNTERS.c.radacctid.in_(part)))})
    tracked = {c.radacctid: c for c in db.session.execute(select(COUNTERS).where(COUNTERS.c.open.is_(True)))}
    rows = {r.radacctid: r for r in fresh if r.radacctid not in known}
    missing = [i for i in tracked if i not in rows]
    for part in chunked(sorted(missing)):
        rows.update({r.radacctid: r for r in db.session.execute(select(*ACCT_COLUMNS).where(RadAcct.radacctid.in_(part)))})
    subs, vouchers = owners([r.username for r in rows.values() if r.radacctid not in tracked])
    inserts, updates = [], []
    sub_usage: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    voucher_usage: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0, 0])
    for rid, r in sorted(rows.items()):
        prev = tracked.get(rid)
        b_in, b_out, secs = int(r.acctinputoctets or 0), int(r.acctoutputoctets or 0), int(r.acctsessiontime or 0)
        closed = r.acctstoptime is not None
        if prev is None:
            sub, voucher = subs.get(r.username), vouchers.get(r.username)
            sub_id = sub.id if sub else None
            voucher_id = voucher.id if voucher and not sub else None
            d_in, d_out, d_secs = b_in, b_out, secs
            inserts.append({"radacctid": rid, "subscription_id": sub_id, "voucher_id": voucher_id,
                            "username": r.username[:64], "open": not closed and (sub_id or voucher_id) is not None,
                            "bytes_in": b_in, "bytes_out": b_out, "seconds": secs, "seen_at": now})
        else:
            sub_id, voucher_id = prev.subscription_id, prev.voucher_id
            d_in, d_out, d_secs = _delta(prev.bytes_in, b_in), _delta(prev.bytes_out, b_out), max(0, secs - prev.seconds)
            updates.append({"rid": rid, "open": not closed, "bytes_in": b_in, "bytes_out": b_out, "seconds": secs,
                            "seen_at": now})
        if not (d_in or d_out or d_secs) or (sub_id is None and voucher_id is None):
            continue
        day = operator_day(to_utc(r.acctstoptime or r.acctupdatetime or r.acctstarttime) or now)
        if sub_id is not None:
            acc = sub_usage[(sub_id, day)]
            acc[0] += d_in
            acc[1] += d_out
        else:
            acc = voucher_usage[(voucher_id, day)]
            acc[0] += d_in
            acc[1] += d_out
            acc[2] += d_secs
    gone = [{"rid": i, "open": False, "seen_at": now} for i in missing if i not in rows]  # deleted from radacct
    if inserts:
        db.session.execute(insert(COUNTERS), inserts)
    by_id = update(COUNTERS).where(COUNTERS.c.radacctid == bindparam("rid"))
    if updates:
        db.session.execute(by_id, updates)
    if gone:
        db.session.execute(by_id, gone)
    _upsert(UsageDaily.__table__, ["subscription_id", "day"],
            [{"subscription_id": s, "day": d, "bytes_in": v[0], "bytes_out": v[1]}
             for (s, d), v in sorted(sub_usage.items()) if v[0] or v[1]], ["bytes_in", "bytes_out"])
    _upsert(VoucherUsageDaily.__table__, ["voucher_id", "day"],
            [{"voucher_id": s, "day": d, "bytes_in": v[0], "bytes_out": v[1], "seconds": v[2]}
             for (s, d), v in sorted(voucher_usage.items())], ["bytes_in", "bytes_out", "seconds"])
    period: dict[int, int] = defaultdict(int)
    for (sub_id, _day), (b_in, b_out) in sub_usage.items():
        period[sub_id] += b_in + b_out
    grown = [{"sid": s, "used": used} for s, used in sorted(period.items()) if used]
    if grown:
        subs_table = Subscription.__table__
        db.session.execute(update(subs_table).where(subs_table.c.id == bindparam("sid")).values(
            period_bytes=subs_table.c.period_bytes + bindparam("used")), grown)
    if fresh_ids:
        cursor.last_radacctid = max(cursor.last_radacctid, fresh_ids[-1])
        cursor.updated_at = now
    db.session.execute(delete(COUNTERS).where(COUNTERS.c.open.is_(False),
                                              COUNTERS.c.radacctid < cursor.last_radacctid - GAP))
    db.session.flush()
    return {"read": len(rows), "new": len(inserts), "open": sum(1 for u in updates if u["open"]) +
            sum(1 for i in inserts if i["open"]), "subscriptions": len(grown), "more": int(len(fresh) >= batch),
            "used_subscriptions": [g["sid"] for g in grown]}


# -- cleanup ---------------------------------------------------------------------------------------------------

def interval_default() -> int:
    """The interim interval assumed for a row that has none yet (config RADIUS_INTERIM_INTERVAL, default 300 s)."""
    return int(current_app.config.get("RADIUS_INTERIM_INTERVAL") or DEFAULT_INTERVAL)


def close_stale(now: datetime | None = None) -> int:
    """Close open rows with no update for 3 × their interval; their stop time is the last update they sent, and
    acctupdatetime the moment we closed them (the end of the Simultaneous-Use slot they held).

    Reads the open rows' times off the acctstoptime index (a bounded set: who is online), then one UPDATE per
    500 ids that re-checks acctstoptime IS NULL, so a Stop that raced in wins.
    """
    now = now or utcnow()
    floor = to_radius(now - timedelta(seconds=STALE_FACTOR * MIN_INTERVAL))
    last = func.coalesce(RadAcct.acctupdatetime, RadAcct.acctstarttime)
    candidates = db.session.execute(select(RadAcct.radacctid, RadAcct.username, last, RadAcct.acctinterval).where(
        RadAcct.acctstoptime.is_(None), last < floor)).all()
    planned = _planned_intervals(sorted({c.username for c in candidates if not c.acctinterval}))
    default = interval_default()
    stale = []
    for rid, username, seen, interval in candidates:
        every = interval if interval and interval >= MIN_INTERVAL else planned.get(username, default)
        if seen is None or to_utc(seen) < now - timedelta(seconds=STALE_FACTOR * every):
            stale.append(rid)
    closed_at = to_radius(now)
    for part in chunked(stale):
        # MariaDB assigns left to right, reading values already set: the stop time is taken before acctupdatetime
        # becomes the moment we closed the row (until then the row held a Simultaneous-Use slot).
        db.session.execute(update(ACCT).where(ACCT.c.radacctid.in_(part), ACCT.c.acctstoptime.is_(None)).ordered_values(
            (ACCT.c.acctstoptime, func.coalesce(ACCT.c.acctupdatetime, ACCT.c.acctstarttime)),
            (ACCT.c.acctupdatetime, closed_at), (ACCT.c.acctterminatecause, STALE)),
            execution_options={"synchronize_session": False})
    return len(stale)


def _planned_intervals(usernames: list[str]) -> dict[str, int]:
    """username → the Acct-Interim-Interval its groups reply (the plan's), for rows that sent no interim yet."""
    out: dict[str, int] = {}
    for part in chunked(usernames):
        for name, value in db.session.execute(
                select(RadUserGroup.username, RadGroupReply.value).join(
                    RadGroupReply, RadGroupReply.groupname == RadUserGroup.groupname).where(
                    RadUserGroup.username.in_(part), RadGroupReply.attribute == "Acct-Interim-Interval")
                .order_by(RadUserGroup.username, RadUserGroup.priority)):
            if name not in out and str(value).strip().isdigit() and int(value) >= MIN_INTERVAL:
                out[name] = int(value)
    return out


def close_reloaded() -> int:
    """Close open rows that started before their NAS's last Accounting-On/Off (nasreload), stopped at the reload."""
    reload = NasReload.__table__
    matches = and_(reload.c.nasipaddress == ACCT.c.nasipaddress, ACCT.c.acctstarttime <= reload.c.reloadtime)
    result = db.session.execute(update(ACCT).where(ACCT.c.acctstoptime.is_(None), exists().where(matches)).values(
        acctstoptime=select(reload.c.reloadtime).where(reload.c.nasipaddress == ACCT.c.nasipaddress).scalar_subquery(),
        acctterminatecause="NAS-Reboot"), execution_options={"synchronize_session": False})
    return result.rowcount or 0


def cleanup(now: datetime | None = None) -> dict[str, int]:
    """Stale sessions and sessions ended by a NAS reload, closed in the caller's transaction."""
    return {"stale": close_stale(now), "reloaded": close_reloaded()}


# -- authentication failures ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Failure:
    """One Access-Reject with the reason our records give for it."""

    id: int
    username: str
    at: datetime | None
    reason: str
    subscription_id: int | None = None
    customer_id: int | None = None
    voucher_id: int | None = None


def failures_query() -> object:
    """Select of the rejects among the last FAILURE_WINDOW authentications, newest first.

    The stock radpostauth has no index on reply or authdate: the window on the primary key bounds what a page
    (and its count) reads whatever the table's size.
    """
    last = db.session.scalar(select(func.max(RadPostAuth.id))) or 0
    return select(RadPostAuth).where(RadPostAuth.id > last - FAILURE_WINDOW, RadPostAuth.reply == REJECT).order_by(
        RadPostAuth.id.desc())


def failures_page(per_page: int) -> paging.IdPagination:
    """A page of the latest authentication failures, items as Failure with a derived reason."""
    page = paging.paginate(failures_query(), RadPostAuth.id, per_page)
    page.items = explain(page.items)
    return page


def _timelines(subs: list, earliest: datetime, latest: datetime) -> dict[int, list[tuple[datetime, int, str]]]:
    """(at, id, to_state) of the state changes up to `latest` of the subscriptions whose state changed after
    `earliest` (the only ones `_state_at` must look back for), oldest first: one query per 500."""
    ids = sorted(s.id for s in subs if s.state_changed_at is not None and s.state_changed_at > earliest)
    out: dict[int, list[tuple[datetime, int, str]]] = {i: [] for i in ids}
    for part in chunked(ids):
        for sub_id, at, event_id, to_state in db.session.execute(
                select(CustomerEvent.subscription_id, CustomerEvent.at, CustomerEvent.id, CustomerEvent.to_state).where(
                    CustomerEvent.subscription_id.in_(part), CustomerEvent.to_state != "", CustomerEvent.at <= latest)
                .order_by(CustomerEvent.at, CustomerEvent.id)):
            out[sub_id].append((at, event_id, to_state))
    return out


def _state_at(sub: object, at: datetime, timelines: dict[int, list[tuple[datetime, int, str]]]) -> SubscriptionState:
    """The subscription's state at `at`: its current one unless it changed since, then the timeline's."""
    if sub.state_changed_at is None or at is None or sub.state_changed_at <= at:
        return sub.state
    changes = timelines.get(sub.id, [])
    before = [to_state for when, _id, to_state in changes if when <= at]
    try:
        return SubscriptionState(before[-1]) if before else SubscriptionState.pending
    except ValueError:
        return sub.state


def _online_at(usernames: list[str], earliest: datetime) -> dict[str, list[tuple[datetime, datetime | None]]]:
    """username → (start, end) of its sessions that held a Simultaneous-Use slot at or after `earliest` (username index).

    A row our cleanup closed as stale is stopped at its last update, yet it counted as open until the cleanup ran:
    that moment, kept in its acctupdatetime, is its end here.
    """
    out: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    floor = to_radius(earliest - timedelta(days=1))  # a stale row stopped up to a day before it was closed
    for part in chunked(sorted(set(usernames))):
        for name, start, stop, cause, updated in db.session.execute(
                select(RadAcct.username, RadAcct.acctstarttime, RadAcct.acctstoptime, RadAcct.acctterminatecause,
                       RadAcct.acctupdatetime).where(
                    RadAcct.username.in_(part), or_(RadAcct.acctstoptime.is_(None), RadAcct.acctstoptime >= floor))):
            if start is None:
                continue
            end = to_utc(stop)
            if end is not None and cause == STALE and updated is not None:
                end = max(end, to_utc(updated))
            out[name].append((to_utc(start), end))
    return out


def _shared_users(plan_ids: list[int]) -> dict[int, int]:
    return dict(db.session.execute(select(ServicePlan.id, ServicePlan.shared_users).where(ServicePlan.id.in_(plan_ids)))
                .tuples().all()) if plan_ids else {}


def explain(rows: list[RadPostAuth]) -> list[Failure]:
    """A plain-words reason per reject, from our state at the time (radpostauth stores none)."""
    subs, vouchers = owners([r.username for r in rows])
    times = [to_utc(r.authdate) for r in rows if r.authdate is not None]
    sessions = _online_at([r.username for r in rows], min(times)) if times else {}
    limits = _shared_users(sorted({s.plan_id for s in subs.values()}))
    timelines = _timelines(list(subs.values()), min(times), max(times)) if times else {}
    out = []
    for r in rows:
        at = to_utc(r.authdate)
        sub, voucher = subs.get(r.username), vouchers.get(r.username)
        # Online at that moment: started before it and not yet stopped (a row stopped later was still open).
        # DATETIME keeps whole seconds: a row stopped within the second of the attempt may still have held its slot.
        online = sum(1 for start, stop in sessions.get(r.username, [])
                     if at and start <= at and (stop is None or stop + timedelta(seconds=1) > at))
        if sub is not None:
            state = _state_at(sub, at, timelines)
            expiry = sub.grace_until or sub.paid_until
            if state == SubscriptionState.suspended:
                reason = "account suspended"
            elif state == SubscriptionState.terminated:
                reason = "service terminated"
            elif state == SubscriptionState.pending:
                reason = "service not active yet (pending)"
            elif expiry is not None and at is not None and expiry <= at:
                reason = "expired"
            elif online >= max(1, limits.get(sub.plan_id, 1)):
                reason = "already online (Simultaneous-Use)"
            elif r.pass_ and _decrypt(sub.password_encrypted) not in (None, r.pass_):
                reason = "wrong password"
            else:
                reason = "wrong password or a caller-id (MAC) lock"
            out.append(Failure(r.id, r.username, at, reason, subscription_id=sub.id, customer_id=sub.customer_id))
        elif voucher is not None:
            if voucher.state == VoucherState.disabled and voucher.state_changed_at and at and voucher.state_changed_at <= at:
                reason = "voucher disabled"
            elif voucher.state == VoucherState.exhausted:
                reason = "voucher quota used up"
            elif voucher.expires_at is not None and at is not None and voucher.expires_at <= at:
                reason = "expired"
            elif online >= 1:
                reason = "already online (Simultaneous-Use)"
            elif r.pass_ and r.pass_ != voucher.password:
                reason = "wrong password"
            else:
                reason = "refused (no reason in our records)"
            out.append(Failure(r.id, r.username, at, reason, voucher_id=voucher.id))
        else:
            out.append(Failure(r.id, r.username, at, "unknown user"))
    return out


def _decrypt(token: str) -> str | None:
    try:
        return crypto.decrypt(token) if token else None
    except Exception:  # noqa: BLE001 (a key rotated away: the password cannot be compared)
        return None
