"""Monitoring reads for pages and the alert engine, and the Redis side of the poll (live points, link downs).

Contract used by others (no router I/O anywhere here):
- `graph(router_id, series, start, end, now=None) -> dict`: compact columns for a chart. `series` is "system" (cpu,
  memory, temperature, voltage, ppp_active, hotspot_active) or "iface:<interface id>" (rx, tx bits per second). It
  picks the resolution by range (raw, 60 s or 3600 s rollups, grouped further in SQL into coarser buckets when
  needed) so at most 1,000 points come back: {"step": 60, "source": "minute", "t": [epoch seconds...], "cpu": [...],
  ...}; aggregated columns also have "<name>_min" and "<name>_max" where stored. Missing buckets are absent (the
  chart draws a gap where t jumps by more than step). Unknown series or another router's interface: empty columns.
- `live(router_id, now=None) -> dict`: the last minute from Redis, poll and live samples merged and sorted:
  {"t": [...], "ifaces": {name: {"rx": [...], "tx": [...]}}} (None where a point lacks that interface).
- `watch(router_id) -> int`: mark a router as watched by a page (Redis key, WATCH_TTL) and queue its live read
  (MONITOR_LIVE) unless already queued; call it on every refresh of a live view.
- `watched(router_id) -> bool`.
- `link_downs_since(interface_ids, since_ts) -> {interface_id: count}`: link downs seen by the poll (kept 24 h).
- `interfaces(router_id) -> list[dict]`: the router's present interfaces with status and latest rates.
- `latest(router_id) -> dict | None`: the last poll's figures (Redis; see isp.routeros.status.store_metrics).
- `storage_bytes() -> int` and `storage_by_table() -> dict`: bytes the monitoring tables use.
"""
from __future__ import annotations

import json
import time

from redis.client import Pipeline
from sqlalchemy import select

from isp import dispatch
from isp.extensions import db, redis_store
from isp.models.monitoring import RouterInterface
from isp.routeros import status
from isp.services.monitor_graph import graph, storage_by_table, storage_bytes

__all__ = ["graph", "storage_bytes", "storage_by_table", "live", "watch", "watched", "link_downs_since",
           "interfaces", "latest", "add_live_point", "add_link_downs"]

LIVE_WINDOW = 60           # seconds of points kept for live views
WATCH_TTL = 15             # a page that stops refreshing stops the live reads this long after
LINK_DOWN_WINDOW = 86400   # link-down timestamps kept per interface


def live_key(router_id: int) -> str:
    return f"isp:mon:live:{router_id}"


def watch_key(router_id: int) -> str:
    return f"isp:mon:watch:{router_id}"


def link_down_key(interface_id: int) -> str:
    return f"isp:mon:linkdown:{interface_id}"


def live_job_id(router_id: int) -> str:
    return f"live-{router_id}"


def add_live_point(pipe: Pipeline, router_id: int, ts: float, rates: dict[str, tuple[int, int]], source: str) -> None:
    """Queue on a Redis pipeline: one point of per-interface rates, trimmed to the last minute."""
    if not rates:
        return
    key = live_key(router_id)
    point = json.dumps({"t": round(ts, 3), "s": source, "i": {n: [int(r[0]), int(r[1])] for n, r in rates.items()}},
                       sort_keys=True)
    pipe.zadd(key, {point: ts})
    pipe.zremrangebyscore(key, "-inf", f"({ts - LIVE_WINDOW}")
    pipe.expire(key, LIVE_WINDOW * 2)


def add_link_downs(pipe: Pipeline, interface_ids: list[int], ts: float) -> None:
    """Queue on a Redis pipeline: a link-down timestamp per interface, trimmed to LINK_DOWN_WINDOW."""
    for interface_id in interface_ids:
        key = link_down_key(interface_id)
        pipe.zadd(key, {f"{ts:.3f}": ts})
        pipe.zremrangebyscore(key, "-inf", f"({ts - LINK_DOWN_WINDOW}")
        pipe.expire(key, LINK_DOWN_WINDOW + 3600)


def link_downs_since(interface_ids: list[int], since_ts: float) -> dict[int, int]:
    """How many link downs each interface had since `since_ts` (epoch seconds), in one Redis round trip."""
    ids = list(interface_ids)
    if not ids:
        return {}
    pipe = redis_store.client.pipeline(transaction=False)
    for interface_id in ids:
        pipe.zcount(link_down_key(interface_id), since_ts, "+inf")
    return {interface_id: int(n) for interface_id, n in zip(ids, pipe.execute(), strict=True)}


def live(router_id: int, now: float | None = None) -> dict:
    """The last minute of interface rates for a live graph: poll and live samples merged, oldest first."""
    now = time.time() if now is None else now
    raw = redis_store.client.zrangebyscore(live_key(router_id), now - LIVE_WINDOW, "+inf")
    points = sorted((json.loads(p) for p in raw), key=lambda p: p["t"])
    names = sorted({name for p in points for name in p["i"]})
    out: dict = {"t": [p["t"] for p in points], "ifaces": {}}
    for name in names:
        values = [p["i"].get(name) for p in points]
        out["ifaces"][name] = {"rx": [v[0] if v else None for v in values], "tx": [v[1] if v else None for v in values]}
    return out


def watch(router_id: int) -> int:
    """A page shows this router live: keep its live reads going a little longer; returns jobs queued (0 or 1)."""
    redis_store.client.set(watch_key(router_id), "1", ex=WATCH_TTL)
    return dispatch.enqueue_once(dispatch.MONITOR_LIVE, {live_job_id(router_id): (router_id,)})


def watched(router_id: int) -> bool:
    """True while a page has asked for this router's live traffic in the last WATCH_TTL seconds."""
    return bool(redis_store.client.exists(watch_key(router_id)))


def interfaces(router_id: int) -> list[dict]:
    """The router's present interfaces, by name, with status, latest rates and link downs counted by the poll."""
    rows = db.session.scalars(select(RouterInterface).where(RouterInterface.router_id == router_id,
                                                            RouterInterface.present.is_(True))
                              .order_by(RouterInterface.name))
    return [{"id": r.id, "name": r.name, "type": r.type, "comment": r.comment, "running": r.running,
             "disabled": r.disabled, "rx_bps": r.rx_bps, "tx_bps": r.tx_bps, "link_downs": r.link_downs,
             "last_change_at": r.last_change_at, "seen_at": r.seen_at} for r in rows]


def latest(router_id: int) -> dict | None:
    """The last poll's figures (cpu_load, memory, temperature, voltage, ppp_active, hotspot_active, ...), or None."""
    return status.latest_metrics(router_id)
