"""Voucher jobs: read usage from routers (first login, quotas) and expire vouchers on time."""
from __future__ import annotations

import logging

from sqlalchemy import select

from isp.extensions import db, redis_store
from isp import dispatch
from isp.models import Router, RouterMode, Voucher, VoucherState
from isp.routeros.batch import query_words
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import voucher_lifecycle
from isp.units import router_duration

log = logging.getLogger(__name__)
USAGE_FIELDS = "name,uptime,bytes-in,bytes-out"
ACTIVE_FIELDS = "user,uptime,bytes-in,bytes-out"


def expire_vouchers() -> int:
    """Expire what is due and queue the kicks on `critical` (SQL only; scheduled every few seconds)."""
    count = voucher_lifecycle.expire_due()
    db.session.commit()
    if count:
        log.info("expired %s vouchers", count)
    return count


FULL_SCAN_EVERY = 6  # polls; in between, only online users and active vouchers are read


def poll_usage_all() -> int:
    """Queue a usage read for every enabled API-mode router that has live vouchers (one job per router at a time).

    Most polls read the active sessions plus the users of active vouchers; every FULL_SCAN_EVERY-th poll
    reads every hotspot user, catching a voucher whose whole first session fell between two polls.
    """
    ids = db.session.scalars(select(Router.id).where(
        Router.enabled.is_(True), Router.mode == RouterMode.api,
        select(Voucher.id).where(Voucher.router_id == Router.id, Voucher.state.in_(voucher_lifecycle.LIVE)).exists()))

    def args_of(router_id: int) -> tuple[int, bool]:
        return router_id, redis_store.client.incr(f"isp:voucher-usage:polls:{router_id}") % FULL_SCAN_EVERY == 1

    return dispatch.enqueue_once(dispatch.SYNC_USAGE, {f"voucher-usage-{i}": args_of(i) for i in ids})


def read_usage(api, names: list[str] | None = None) -> dict[str, dict]:  # noqa: ANN001
    """Per hotspot user: uptime and bytes so far (closed sessions plus the live one), and whether online.

    With `names`, only those users and the ones online now are read (by name queries, 100 at a time);
    without, every user is.
    """
    active = list(api.rawCmd("/ip/hotspot/active/print", f"=.proplist={ACTIVE_FIELDS}"))
    usage: dict[str, dict] = {}
    if names is None:
        queries = [[]]
    else:
        wanted = sorted(set(names) | {str(row.get("user", "")) for row in active})
        queries = [query_words("name", wanted[i:i + 100]) for i in range(0, len(wanted), 100)]
    for words in queries:
        for row in api.rawCmd("/ip/hotspot/user/print", f"=.proplist={USAGE_FIELDS}", *words):
            usage[str(row.get("name", ""))] = {"uptime": router_duration(str(row.get("uptime", ""))),
                                               "bytes_in": int(row.get("bytes-in") or 0),
                                               "bytes_out": int(row.get("bytes-out") or 0), "online": False}
    for row in active:
        user = usage.get(str(row.get("user", "")))
        if user is None:
            continue
        user["uptime"] += router_duration(str(row.get("uptime", "")))
        user["bytes_in"] += int(row.get("bytes-in") or 0)
        user["bytes_out"] += int(row.get("bytes-out") or 0)
        user["online"] = True
    return usage


def sync_usage(router_id: int, full: bool = True) -> str:
    """Read hotspot users and sessions through the pool and apply them to the vouchers."""
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled:
        return "skipped"
    names = None if full else list(db.session.scalars(select(Voucher.code).where(
        Voucher.router_id == router.id, Voucher.state == VoucherState.active)))
    try:
        usage = guarded(router, lambda api: read_usage(api, names), count=2)
    except RouterUnavailable as exc:
        return exc.message
    counts = voucher_lifecycle.apply_usage(router.id, {k: v for k, v in usage.items() if v["uptime"] or v["online"]})
    db.session.commit()
    return "activated {activated}, exhausted {exhausted}, updated {updated}".format(**counts)
