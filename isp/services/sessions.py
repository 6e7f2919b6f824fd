"""Who is online, session history and daily usage of subscriptions (api mode: from the session poll).

Direction, everywhere here: `bytes_in` is what the subscriber sent (upload: the router's rx, hotspot
`bytes-in`, a queue's first figure, RADIUS Acct-Input-Octets), `bytes_out` what it received (download).

The poll (`isp.jobs.sessions`) hands `apply_poll` what one router reports; a session is matched to its
open ServiceSession row by the router's session key, and only the growth of its counters since the row
was last seen is added to the day's usage and the period, so two polls never count a byte twice and a
restarted session (a new key, or the same key with a smaller uptime or smaller counters) starts a new row
counted from zero.

The poll also enforces: a session of a subscription that may not be online (pending, terminated, or
suspended in "disable" mode) queues the subscription's state again with a kick, on `critical`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Row, Select, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import mysql, sqlite

from isp.extensions import db, redis_store
from isp.models import (
    Priority,
    Router,
    RouterMode,
    ServiceKind,
    ServicePlan,
    ServiceSession,
    Subscription,
    SubscriptionState,
    UsageDaily,
)
from isp.models.base import utcnow
from isp.services import branding, job_problems, lifecycle, provisioning, radius_sessions
from isp.services.provisioning_api import has_fup
from isp.sqlutil import chunked
from isp.units import format_bytes

log = logging.getLogger(__name__)
JOB = "session poll"
POLLED_TTL = 30 * 86400  # a router not polled for a month starts afresh (its first poll only takes baselines)
OFFLINE_CANDIDATES = (SubscriptionState.pending, SubscriptionState.suspended, SubscriptionState.terminated)
SESSIONS = ServiceSession.__table__
SUBS = Subscription.__table__
USAGE = UsageDaily.__table__


@dataclass(frozen=True)
class LiveState:
    """What the last poll saw of one subscription."""

    online: bool
    address: str = ""
    caller_id: str = ""
    since: datetime | None = None      # start of the current session
    uptime_seconds: int = 0
    polled_at: datetime | None = None  # when the router was last read


@dataclass(frozen=True)
class Seen:
    """One live session (or a static subscriber's queue) as the router reported it."""

    kind: ServiceKind
    name: str                  # the username; for a static service its IP
    key: str                   # the router's own id of the session (PPP session-id, hotspot .id, queue .id)
    address: str = ""
    caller_id: str = ""
    uptime: int | None = None  # seconds; None when the router reports none (a queue)
    bytes_in: int = 0
    bytes_out: int = 0


@dataclass
class _Change:
    """What one poll writes for one subscription."""

    sub_id: int
    updates: list[dict] = field(default_factory=list)
    inserts: list[dict] = field(default_factory=list)
    closes: list[dict] = field(default_factory=list)
    bytes_in: int = 0
    bytes_out: int = 0


def polled_key(router_id: int) -> str:
    """Redis key holding when the router's sessions were last read (epoch seconds)."""
    return f"isp:sessions:polled:{router_id}"


def last_polled(router_id: int) -> datetime | None:
    """When the session poll last read this router, if it ever did (within POLLED_TTL)."""
    value = redis_store.client.get(polled_key(router_id))
    return datetime.fromtimestamp(float(value), UTC) if value is not None else None


def mark_polled(router_id: int, at: datetime) -> None:
    """Remember a successful, committed poll of the router."""
    redis_store.client.set(polled_key(router_id), at.timestamp(), ex=POLLED_TTL)


def operator_day(at: datetime) -> date:
    """The operator's calendar day (ISP_TIMEZONE) at a UTC moment."""
    return at.astimezone(ZoneInfo(current_app.config["ISP_TIMEZONE"])).date()


# -- the poll -------------------------------------------------------------------------------------------------


def apply_poll(router_id: int, seen: list[Seen], now: datetime | None = None,
               baseline_only: bool = False) -> dict[str, int]:
    """Apply one reading of a router: open, update and close ServiceSessions, add usage, raise the FUP.

    `baseline_only` (the router's first poll): a session or queue seen for the first time records its
    counters as the starting point instead of counting them, since they may hold days of old traffic.
    Set-based: a handful of statements per router whatever its size; a subscription whose rows fail is
    recorded for Monitoring and skipped (job_problems.isolated), the rest of the router carries on.
    """
    now = now or utcnow()
    subs = _subscriptions(router_id, seen)
    open_rows = {(r.subscription_id, r.session_key): r for r in db.session.execute(
        select(ServiceSession.id, ServiceSession.subscription_id, ServiceSession.session_key,
               ServiceSession.started_at, ServiceSession.last_seen_at, ServiceSession.uptime_seconds,
               ServiceSession.bytes_in, ServiceSession.bytes_out)
        .where(ServiceSession.router_id == router_id, ServiceSession.ended_at.is_(None)))}
    changes: dict[int, _Change] = {}
    online: set[tuple[int, str]] = set()
    offline: set[SubscriptionState] | None = None  # read from Settings only when a candidate is seen
    intruders: set[int] = set()  # online while their state says they may not be
    for s in seen:
        sub_id, state = subs.get((s.kind, s.name), (None, None))
        if sub_id is None or (sub_id, s.key) in online:
            continue  # not ours (a voucher, the operator's own user), or the same session listed twice
        online.add((sub_id, s.key))
        if state in OFFLINE_CANDIDATES and s.kind != ServiceKind.static:
            offline = _must_be_offline() if offline is None else offline
            if state in offline:
                intruders.add(sub_id)
        change = changes.setdefault(sub_id, _Change(sub_id))
        _observe(change, open_rows.pop((sub_id, s.key), None), s, router_id, now, baseline_only)
    for row in open_rows.values():  # open on our books, gone from the router
        changes.setdefault(row.subscription_id, _Change(row.subscription_id)).closes.append(
            {"row_id": row.id, "ended_at": now, "end_reason": "gone"})
    day = operator_day(now)
    done = job_problems.isolated(JOB, list(changes.values()), lambda rows: _write(rows, day),
                                 lambda c: f"subscription {c.sub_id}")
    used = [c.sub_id for c in done if c.bytes_in or c.bytes_out]
    return {"online": len({sub_id for sub_id, _ in online}), "opened": sum(len(c.inserts) for c in done),
            "closed": sum(len(c.closes) for c in done), "fup": _raise_fup(used), "kicked": _enforce(intruders)}


def _subscriptions(router_id: int, seen: list[Seen]) -> dict[tuple[ServiceKind, str], tuple[int, SubscriptionState]]:
    """(kind, username) → (id, state) of the router's live subscriptions, static ones by IP instead (one query),
    and of its terminated ones among the names seen online (one query per 500 names): a session still up
    after termination must be ended, not closed on our books as gone."""
    out: dict[tuple[ServiceKind, str], tuple[int, SubscriptionState]] = {}
    for sub_id, kind, username, static_ip, state in db.session.execute(
            select(Subscription.id, Subscription.kind, Subscription.username, Subscription.static_ip, Subscription.state)
            .where(Subscription.router_id == router_id, Subscription.state != SubscriptionState.terminated)):
        if kind == ServiceKind.static:
            if static_ip:
                out[(kind, static_ip)] = (sub_id, state)
        else:
            out[(kind, username)] = (sub_id, state)
    unknown = sorted({s.name for s in seen if s.kind != ServiceKind.static and (s.kind, s.name) not in out})
    for part in chunked(unknown):  # usernames are unique per kind, terminated ones included: no ambiguity
        for sub_id, kind, username in db.session.execute(
                select(Subscription.id, Subscription.kind, Subscription.username).where(
                    Subscription.router_id == router_id, Subscription.state == SubscriptionState.terminated,
                    Subscription.kind != ServiceKind.static, Subscription.username.in_(part))):
            out.setdefault((kind, username), (sub_id, SubscriptionState.terminated))
    return out


def _must_be_offline() -> set[SubscriptionState]:
    """States whose subscribers may hold no session (suspended too, unless Settings restrict instead)."""
    states = {SubscriptionState.pending, SubscriptionState.terminated}
    if branding.get().suspend_mode != "restrict":
        states.add(SubscriptionState.suspended)
    return states


def _enforce(sub_ids: set[int]) -> int:
    """Queue, on `critical`, the state and a kick of each subscription seen online that may not be: a lost or
    failed suspension (or removal) is applied again and the session ended. The command collapses into any
    pending one of the subscription, so a poll repeated before the worker runs adds nothing."""
    subs: list[Subscription] = []
    for part in chunked(sorted(sub_ids)):
        subs += db.session.scalars(select(Subscription).where(Subscription.id.in_(part))).unique()

    def kick(rows: list[Subscription]) -> None:
        for sub in rows:
            log.info("subscription %s is online while %s: queueing its state and a kick", sub.id, sub.state.value)
            provisioning.sync(sub, Priority.critical, kick=True)

    return len(job_problems.isolated(JOB, subs, kick, lambda sub: f"subscription {sub.id}"))


def _observe(change: _Change, prev: Row | None, s: Seen, router_id: int, now: datetime, baseline_only: bool) -> None:
    """Fold one reported session into the subscription's change: a counter delta, or a new row."""
    if prev is not None:
        went_back = s.bytes_in < prev.bytes_in or s.bytes_out < prev.bytes_out
        restarted = s.uptime < prev.uptime_seconds if s.uptime is not None else went_back
        if not restarted:
            # Smaller counters in the same session (a mixed-up reading) only move the baseline.
            change.bytes_in += max(0, s.bytes_in - prev.bytes_in)
            change.bytes_out += max(0, s.bytes_out - prev.bytes_out)
            uptime = s.uptime if s.uptime is not None else int((now - prev.started_at).total_seconds())
            change.updates.append({"row_id": prev.id, "last_seen_at": now, "uptime_seconds": uptime,
                                   "bytes_in": s.bytes_in, "bytes_out": s.bytes_out, "address": s.address,
                                   "caller_id": s.caller_id})
            return
    started = now - timedelta(seconds=s.uptime) if s.uptime is not None else now
    if prev is not None:  # the same key started again (a reboot reuses ids): the old one ended before this began
        change.closes.append({"row_id": prev.id, "ended_at": max(min(started, now), prev.last_seen_at),
                              "end_reason": "restarted"})
    change.inserts.append({"subscription_id": change.sub_id, "router_id": router_id, "session_key": s.key[:64],
                           "address": s.address[:45], "caller_id": s.caller_id[:64], "started_at": started,
                           "last_seen_at": now, "ended_at": None, "end_reason": "", "uptime_seconds": s.uptime or 0,
                           "bytes_in": s.bytes_in, "bytes_out": s.bytes_out})
    if not (baseline_only and prev is None):
        change.bytes_in += s.bytes_in
        change.bytes_out += s.bytes_out


def _write(changes: list[_Change], day: date) -> None:
    """The statements of one poll, each an executemany over every subscription in `changes`."""
    changes = sorted(changes, key=lambda c: c.sub_id)  # one lock order for every writer of these rows
    closes = [c for change in changes for c in change.closes]
    updates = [u for change in changes for u in change.updates]
    inserts = [i for change in changes for i in change.inserts]
    used = [c for c in changes if c.bytes_in or c.bytes_out]
    by_id = update(SESSIONS).where(SESSIONS.c.id == bindparam("row_id"))  # the other keys are the SET
    if closes:
        db.session.execute(by_id, closes)
    if updates:
        db.session.execute(by_id, updates)
    if inserts:
        db.session.execute(insert(SESSIONS), inserts)
    if used:
        _add_usage([{"subscription_id": c.sub_id, "day": day, "bytes_in": c.bytes_in, "bytes_out": c.bytes_out}
                    for c in used])
        db.session.execute(update(SUBS).where(SUBS.c.id == bindparam("sub_id")).values(
            period_bytes=SUBS.c.period_bytes + bindparam("used")),
            [{"sub_id": c.sub_id, "used": c.bytes_in + c.bytes_out} for c in used])


def _add_usage(rows: list[dict]) -> None:
    """Add to (subscription, day) usage rows, creating them as needed: one upsert executemany."""
    dialect = db.session.get_bind(mapper=UsageDaily).dialect.name
    if dialect == "sqlite":
        stmt = sqlite.insert(USAGE)
        stmt = stmt.on_conflict_do_update(index_elements=[USAGE.c.subscription_id, USAGE.c.day], set_={
            "bytes_in": USAGE.c.bytes_in + stmt.excluded.bytes_in, "bytes_out": USAGE.c.bytes_out + stmt.excluded.bytes_out})
    elif dialect in ("mysql", "mariadb"):
        stmt = mysql.insert(USAGE)
        stmt = stmt.on_duplicate_key_update(bytes_in=USAGE.c.bytes_in + stmt.inserted.bytes_in,
                                            bytes_out=USAGE.c.bytes_out + stmt.inserted.bytes_out)
    else:
        raise NotImplementedError(f"usage upsert for {dialect}")
    db.session.execute(stmt, rows)


def _raise_fup(sub_ids: list[int]) -> int:
    """Put the subscriptions whose period usage has reached their plan's data cap on the fallback rate."""
    crossed: list[Subscription] = []
    for part in chunked(sorted(sub_ids)):
        crossed += db.session.scalars(select(Subscription).join(ServicePlan, Subscription.plan_id == ServicePlan.id).where(
            Subscription.id.in_(part), Subscription.fup_active.is_(False), ServicePlan.data_cap_bytes.is_not(None),
            ServicePlan.data_cap_bytes > 0, Subscription.period_bytes >= ServicePlan.data_cap_bytes)
            .execution_options(populate_existing=True)).unique()

    def limit(rows: list[Subscription]) -> None:
        for sub in rows:
            sub.fup_active = True
            rate = sub.plan.fup_rate_limit or "unchanged"
            lifecycle.record(sub, "usage", f"Data cap of {format_bytes(sub.plan.data_cap_bytes)} reached; "
                                           f"fair-use rate {rate} until the next period")
            db.session.flush()
            if sub.state.served and has_fup(sub.plan):  # a cap without a fallback rate is only recorded
                # A PPP or hotspot session keeps its rate until it reconnects, so it is kicked (the CPE redials,
                # the hotspot login page or its cookie logs in again); a static IP's queue changes at once.
                provisioning.sync(sub, Priority.high, kick=sub.kind != ServiceKind.static)

    return len(job_problems.isolated(JOB, crossed, limit, lambda sub: f"subscription {sub.id}"))


# -- what pages read ---------------------------------------------------------------------------------------


def live_state(sub_ids: list[int]) -> dict[int, LiveState]:
    """Live state of many subscriptions in one query (absent ids: no such subscription); radius mode from radacct."""
    radius = _radius_usernames(sub_ids)
    if radius:
        return {**_live_state([i for i in sub_ids if i not in radius]), **_radius_live(radius)}
    return _live_state(sub_ids)


# -- radius mode: sessions from radacct, usage from the rollup (isp.services.radius_sessions) -------------------

def _radius_usernames(sub_ids: list[int]) -> dict[int, str]:
    """id → username of the subscriptions among `sub_ids` on radius-mode routers (one query per 500)."""
    out: dict[int, str] = {}
    for part in chunked(sorted(set(sub_ids))):
        out.update(db.session.execute(select(Subscription.id, Subscription.username).join(
            Router, Router.id == Subscription.router_id).where(
                Subscription.id.in_(part), Router.mode == RouterMode.radius,
                Subscription.kind != ServiceKind.static))  # a static IP is the router's own queue, polled as in api mode
            .tuples().all())
    return out


def _radius_live(names: dict[int, str]) -> dict[int, LiveState]:
    """LiveState from each username's open radacct row (one query per 500 names)."""
    live = radius_sessions.open_sessions(list(names.values()))
    out = {}
    for sub_id, name in names.items():
        row = live.get(name)
        if row is None:
            out[sub_id] = LiveState(online=False)
            continue
        since = radius_sessions.to_utc(row.acctstarttime)
        out[sub_id] = LiveState(online=True, address=row.framedipaddress or "", caller_id=row.callingstationid or "",
                                since=since, uptime_seconds=max(0, int((utcnow() - since).total_seconds())) if since else 0,
                                polled_at=radius_sessions.to_utc(row.acctupdatetime or row.acctstarttime))
    return out


raise_fup = _raise_fup  # the radius rollup raises the fair-use cap as the poll does


def _live_state(sub_ids: list[int]) -> dict[int, LiveState]:
    """Live state of api-mode subscriptions from the session poll's rows."""
    found: dict[int, tuple[int, Row]] = {}
    for part in chunked(sorted(set(sub_ids))):
        rows = db.session.execute(
            select(Subscription.id, Subscription.router_id, ServiceSession.address, ServiceSession.caller_id,
                   ServiceSession.started_at, ServiceSession.uptime_seconds)
            .outerjoin(ServiceSession, and_(ServiceSession.subscription_id == Subscription.id,
                                            ServiceSession.ended_at.is_(None)))
            .where(Subscription.id.in_(part)).order_by(Subscription.id, ServiceSession.started_at))
        for row in rows:  # the latest open session wins
            if row.started_at is not None or row.id not in found:
                found[row.id] = (row.router_id, row)
    routers = sorted({router_id for router_id, _ in found.values()})
    stamps = redis_store.client.mget([polled_key(r) for r in routers]) if routers else []
    polled = {r: datetime.fromtimestamp(float(v), UTC) for r, v in zip(routers, stamps, strict=True) if v is not None}
    out = {}
    for sub_id, (router_id, row) in found.items():
        if row.started_at is None:
            out[sub_id] = LiveState(online=False, polled_at=polled.get(router_id))
        else:
            out[sub_id] = LiveState(online=True, address=row.address, caller_id=row.caller_id,
                                    since=row.started_at, uptime_seconds=row.uptime_seconds,
                                    polled_at=polled.get(router_id))
    return out


def usage_days(sub_id: int, days: int = 30) -> list[tuple[date, int, int]]:
    """(day, bytes_in, bytes_out) for the last `days` operator days, oldest first, zero-filled.

    bytes_in is the subscriber's upload, bytes_out its download.
    """
    return usage_days_of([sub_id], days)[sub_id]


def usage_days_of(sub_ids: list[int], days: int = 30) -> dict[int, list[tuple[date, int, int]]]:
    """`usage_days` of many subscriptions (a customer's services) in one query per 500."""
    today = operator_day(utcnow())
    first = today - timedelta(days=days - 1)
    stored: dict[int, dict[date, tuple[int, int]]] = {i: {} for i in sub_ids}
    for part in chunked(sorted(set(sub_ids))):
        for sub_id, day, b_in, b_out in db.session.execute(
                select(UsageDaily.subscription_id, UsageDaily.day, UsageDaily.bytes_in, UsageDaily.bytes_out).where(
                    UsageDaily.subscription_id.in_(part), UsageDaily.day >= first, UsageDaily.day <= today)):
            stored[sub_id][day] = (b_in, b_out)
    days_list = [first + timedelta(days=n) for n in range(days)]
    return {sub_id: [(day, int(got.get(day, (0, 0))[0]), int(got.get(day, (0, 0))[1])) for day in days_list]
            for sub_id, got in stored.items()}


def recent_sessions(sub_id: int, limit: int = 20) -> list:
    """The subscription's latest sessions, newest first (radius mode: its radacct rows)."""
    return recent_sessions_of([sub_id], limit)[sub_id]


def recent_sessions_of(sub_ids: list[int], limit: int = 20) -> dict[int, list]:
    """`recent_sessions` of many subscriptions: one windowed query for the api-mode ones (the newest `limit` of
    each), radacct for the radius-mode ones."""
    radius = _radius_usernames(sub_ids)
    out: dict[int, list] = {i: [] for i in sub_ids}
    if radius:
        created = dict(db.session.execute(select(Subscription.id, Subscription.created_at).where(
            Subscription.id.in_(sorted(radius)))).tuples().all())
        for sub_id, name in radius.items():
            out[sub_id] = radius_sessions.sessions_of(name, limit, since=created.get(sub_id))
    local = sorted(set(sub_ids) - set(radius))
    for part in chunked(local):
        rank = func.row_number().over(partition_by=ServiceSession.subscription_id,
                                      order_by=(ServiceSession.started_at.desc(), ServiceSession.id.desc())).label("rank")
        ranked = select(ServiceSession.id, rank).where(ServiceSession.subscription_id.in_(part)).subquery()
        rows = db.session.scalars(select(ServiceSession).join(ranked, ranked.c.id == ServiceSession.id)
                                  .where(ranked.c.rank <= limit)
                                  .order_by(ServiceSession.started_at.desc(), ServiceSession.id.desc()))
        for row in rows:
            out[row.subscription_id].append(row)
    return out


def routers_to_poll() -> Select:
    """Select of the enabled routers to poll: api-mode ones with subscriptions on them or sessions still open there,
    and radius-mode ones holding static-IP services (their queues are the router's own: only the poll counts them)."""
    live = Subscription.state != SubscriptionState.terminated
    return select(Router.id).where(Router.enabled.is_(True), or_(
        and_(Router.mode == RouterMode.api, or_(
            select(Subscription.id).where(Subscription.router_id == Router.id, live).exists(),
            select(ServiceSession.id).where(ServiceSession.router_id == Router.id, ServiceSession.ended_at.is_(None))
            .exists())),
        and_(Router.mode == RouterMode.radius, select(Subscription.id).where(
            Subscription.router_id == Router.id, Subscription.kind == ServiceKind.static, live).exists())))
