"""Voucher jobs: read usage from routers (first login, quotas) and expire vouchers on time."""
from __future__ import annotations

import logging

from librouteros.api import Api
from sqlalchemy import select

from isp import dispatch
from isp.extensions import db, redis_store
from isp.models import Router, RouterMode, Voucher
from isp.models.base import utcnow
from isp.routeros.batch import query_words
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import voucher_lifecycle, vouchers_radius
from isp.sqlutil import chunked
from isp.transaction import atomic
from isp.units import router_duration

log = logging.getLogger(__name__)
USAGE_FIELDS = "name,uptime,bytes-in,bytes-out"
ACTIVE_FIELDS = "user,uptime,bytes-in,bytes-out"


EXPIRY_LOOKAHEAD = 6.0  # seconds: a little more than the clock's 5-second tick, so no expiry falls between two looks


def expire_vouchers() -> int:
    """Expire what is due and queue the kicks on `critical` (SQL only; the clock runs it every 5 s).

    It also books an extra run at each moment a voucher expires before the next tick, so a voucher
    is retired within about a second of its expiry, not up to a tick later.
    """
    count = atomic(voucher_lifecycle.expire_due)
    if count:
        log.info("expired %s vouchers", count)
    now = utcnow()
    for moment in voucher_lifecycle.expiring_within(EXPIRY_LOOKAHEAD, now):
        dispatch.Enqueue(dispatch.EXPIRE_VOUCHERS, (), f"expire-at-{moment:%Y%m%d%H%M%S}", "critical",
                         max((moment - now).total_seconds(), 0.01)).send()
    return count


SWEEP_EVERY = 6  # polls; one in six also reads every user with some uptime (a first session between two polls)
ONLINE_TTL = 3600  # seconds the last poll's online set is kept (a router not polled for an hour starts afresh)
NAMES_PER_QUERY = 100


def online_key(router_id: int) -> str:
    """Redis set of the users online at the router's last poll."""
    return f"isp:voucher-usage:online:{router_id}"


def poll_usage_all() -> int:
    """Queue a usage read for every enabled API-mode router that has live vouchers (one job per router at a time).

    A poll costs what is active on the router: its sessions, the users online now or at the last poll
    (just gone offline: their final counters), and every SWEEP_EVERY-th poll the users with some uptime,
    which catches a voucher whose whole first session fell between two polls. Never every stored user.
    """
    ids = db.session.scalars(select(Router.id).where(
        Router.enabled.is_(True), Router.mode == RouterMode.api,
        select(Voucher.id).where(Voucher.router_id == Router.id, Voucher.state.in_(voucher_lifecycle.LIVE)).exists()))

    ids = list(ids)
    read_radius_logins()
    pipe = redis_store.client.pipeline(transaction=False)  # one round trip for the whole fleet's poll counters
    for router_id in ids:
        pipe.incr(f"isp:voucher-usage:polls:{router_id}")
    polls = pipe.execute()
    return dispatch.enqueue_once(dispatch.SYNC_USAGE, {
        f"voucher-usage-{i}": (i, n % SWEEP_EVERY == 1) for i, n in zip(ids, polls, strict=True)})


def read_radius_logins() -> int:
    """Radius-mode routers: first logins from radacct since the last read (SQL only, both databases in one commit).

    The cursor moves only once the activations are committed; a failure is logged and the next tick reads again.
    A fleet without radius-mode routers never touches the RADIUS database.
    """
    if db.session.scalar(select(Router.id).where(Router.mode == RouterMode.radius).limit(1)) is None:
        return 0
    try:
        activated, cursor = atomic(lambda: vouchers_radius.read_first_logins(vouchers_radius.load_cursor()))
    except Exception:
        log.exception("reading first logins from radacct failed; the next poll reads them again")
        return 0
    vouchers_radius.save_cursor(cursor)
    if activated:
        log.info("%s radius vouchers logged in for the first time", activated)
    try:  # usage and quotas: our own enforcement beside FreeRADIUS's (Max-All-Session, a per-session Total-Limit)
        counts, online = atomic(lambda: vouchers_radius.apply_usage(vouchers_radius.load_online()))
    except Exception:
        log.exception("reading voucher usage from radacct failed; the next poll reads it again")
        return activated
    vouchers_radius.save_online(online)
    if counts["exhausted"]:
        log.info("%s radius vouchers used up their quota", counts["exhausted"])
    return activated


def _user_row(row: dict) -> dict:
    return {"uptime": router_duration(str(row.get("uptime", ""))), "bytes_in": int(row.get("bytes-in") or 0),
            "bytes_out": int(row.get("bytes-out") or 0), "online": False}


def read_usage(api: Api, names: list[str] | None = None, used: bool = False) -> dict[str, dict]:
    """Per hotspot user: uptime and bytes so far (closed sessions plus the live one), and whether online.

    With `names`, only those users and the ones online now are read (by name, NAMES_PER_QUERY at a time),
    plus, with `used`, every user with some uptime; without `names`, every user is (for tools, not polls).
    """
    active = list(api.rawCmd("/ip/hotspot/active/print", f"=.proplist={ACTIVE_FIELDS}"))
    usage: dict[str, dict] = {}
    if names is None:
        queries = [[]]
    else:
        wanted = sorted(set(names) | {str(row.get("user", "")) for row in active})
        queries = [query_words("name", part) for part in chunked(wanted, NAMES_PER_QUERY)]
        if used:
            queries.append(["?>uptime=0s"])  # RouterOS compares durations; "0s" is a never-used user
    for words in queries:
        for row in api.rawCmd("/ip/hotspot/user/print", f"=.proplist={USAGE_FIELDS}", *words):
            usage[str(row.get("name", ""))] = _user_row(row)
    for row in active:
        user = usage.get(str(row.get("user", "")))
        if user is None:
            continue
        user["uptime"] += router_duration(str(row.get("uptime", "")))
        user["bytes_in"] += int(row.get("bytes-in") or 0)
        user["bytes_out"] += int(row.get("bytes-out") or 0)
        user["online"] = True
    return usage


def sync_usage(router_id: int, sweep: bool = False) -> str:
    """Read the router's active sessions (and the users behind them) through the pool and apply them to the vouchers."""
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled:
        return "skipped"
    client, key = redis_store.client, online_key(router.id)
    before = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in client.smembers(key))
    try:
        usage = guarded(router, lambda api: read_usage(api, before, used=sweep), count=2)
    except RouterUnavailable as exc:
        return exc.message
    seen = {k: v for k, v in usage.items() if v["uptime"] or v["online"]}
    counts = atomic(lambda: voucher_lifecycle.apply_usage(router.id, seen))
    # Remembered only once the usage is committed: if this job dies first, the next poll reads the same users again.
    online = [name for name, seen in usage.items() if seen["online"]]
    pipe = client.pipeline()
    pipe.delete(key)
    if online:
        pipe.sadd(key, *online)
        pipe.expire(key, ONLINE_TTL)
    pipe.execute()
    return "activated {activated}, exhausted {exhausted}, updated {updated}".format(**counts)
