"""Writing one poll: a router sample, interface samples, interface rows, link transitions and the log tail.

A handful of statements per poll whatever the number of interfaces: one SELECT of the router's interfaces,
one INSERT of new ones (rare), one UPDATE ... CASE for all of them, one multi-row INSERT per sample table
and one for the log lines. The previous counters live in Redis (one JSON value per router); when it is
lost, the next poll simply has no rate.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, case, exists, insert, literal, select, update

from isp.extensions import db, redis_store
from isp.models.base import UTCDateTime
from isp.models.monitoring import InterfaceSample, RouterInterface, RouterLogEntry, RouterSample
from isp.services import metrics_store
from isp.services.monitor_poll import LOG_FIRST, Reading, log_id, rates

PREV_TTL = 3600


def prev_key(router_id: int) -> str:
    return f"isp:mon:prev:{router_id}"


def previous(router_id: int) -> dict | None:
    """The previous poll's counters and log cursor (None when never polled or Redis lost it)."""
    raw = redis_store.client.get(prev_key(router_id))
    return json.loads(raw) if raw else None


def log_after(prev: dict | None) -> str | None:
    """The log id to read after (None: read the whole log)."""
    return (prev or {}).get("log") or None


def ignore_duplicates(stmt: Insert) -> Insert:
    """INSERT that skips rows whose primary key exists (a poll repeated within the same second, a rollup run twice)."""
    return stmt.prefix_with("OR IGNORE", dialect="sqlite").prefix_with("IGNORE", dialect="mysql")


def ingest(router_id: int, reading: Reading, now: float, prev: dict | None) -> dict:
    """Write what a poll read (flush only); returns {"rates": {name: (rx, tx) | None}, "rebooted", "log": lines stored,
    "publish": call after the commit to update the Redis side (previous counters, live point)}."""
    ts = int(now)
    at = datetime.fromtimestamp(now, UTC)
    by_name = rates(prev, reading, now)
    rebooted = bool(prev) and reading.uptime < int(prev.get("uptime", 0))
    ids, downs = _interfaces(router_id, reading, by_name, at)
    session = db.session
    session.execute(ignore_duplicates(insert(RouterSample.__table__)), [{
        "router_id": router_id, "ts": ts, "cpu": reading.cpu, "memory": reading.memory,
        "temperature": reading.health.get("temperature"), "voltage": reading.health.get("voltage"),
        "ppp_active": reading.ppp_active, "hotspot_active": reading.hotspot_active,
        "queue_rx_bps": reading.queue_rx_bps, "queue_tx_bps": reading.queue_tx_bps}])
    samples = [{"interface_id": ids[name], "ts": ts, "rx_bps": rate[0], "tx_bps": rate[1]}
               for name, rate in by_name.items() if rate is not None and name in ids]
    if samples:
        session.execute(ignore_duplicates(insert(InterfaceSample.__table__)), samples)
    cursor, logged = _log(router_id, reading, prev, rebooted, at)
    state = {"ts": now, "uptime": reading.uptime, "log": cursor,
             "ifaces": {i["name"]: [i["rx"], i["tx"]] for i in reading.interfaces}}

    def publish() -> None:
        """The Redis side, once the rows are committed: a rolled-back poll leaves the previous counters and cursor."""
        pipe = redis_store.client.pipeline(transaction=False)
        pipe.set(prev_key(router_id), json.dumps(state), ex=PREV_TTL)
        metrics_store.add_live_point(pipe, router_id, now, {n: r for n, r in by_name.items() if r is not None}, "poll")
        pipe.execute()

    if downs:  # now, so the alert engine's flap count that follows includes them (a rolled-back poll may count one twice)
        pipe = redis_store.client.pipeline(transaction=False)
        metrics_store.add_link_downs(pipe, [ids[name] for name in downs if name in ids], now)
        pipe.execute()

    return {"rates": by_name, "rebooted": rebooted, "log": logged, "publish": publish}


def _interfaces(router_id: int, reading: Reading, by_name: dict, at: datetime) -> tuple[dict[str, int], list[str]]:
    """Insert new interfaces, update the rest in one statement, mark vanished ones; returns (ids, names gone down)."""
    session = db.session
    cols = (RouterInterface.id, RouterInterface.name, RouterInterface.running, RouterInterface.present,
            RouterInterface.disabled, RouterInterface.type, RouterInterface.comment)
    known = {row.name: row for row in session.execute(select(*cols).where(RouterInterface.router_id == router_id))}
    fresh = [i for i in reading.interfaces if i["name"] not in known]
    if fresh:
        session.execute(insert(RouterInterface.__table__), [
            {"router_id": router_id, "name": i["name"], "type": i["type"], "comment": i["comment"],
             "running": i["running"], "disabled": i["disabled"], "seen_at": at, "last_change_at": at,
             "present": True, "link_downs": 0, "rx_bps": 0, "tx_bps": 0} for i in fresh])
        names = [i["name"] for i in fresh]
        known.update({row.name: row for row in session.execute(
            select(*cols).where(RouterInterface.router_id == router_id, RouterInterface.name.in_(names)))})
    ids = {name: row.id for name, row in known.items()}
    current = {i["name"]: i for i in reading.interfaces}
    new = {i["name"] for i in fresh}
    changed = [n for n, i in current.items() if n not in new and known[n].running != i["running"]]
    # A link that stopped running counts as a link down unless it was disabled (that is an action, not a fault).
    downs = [n for n in changed if not current[n]["running"] and not current[n]["disabled"]]
    if current:
        def by_id(values: dict, column: Any) -> Any:
            return case(values, value=RouterInterface.id, else_=column) if values else column

        rates = {ids[n]: r for n, r in by_name.items() if r is not None and n in ids}
        values = {
            RouterInterface.rx_bps: by_id({i: r[0] for i, r in rates.items()}, RouterInterface.rx_bps),
            RouterInterface.tx_bps: by_id({i: r[1] for i, r in rates.items()}, RouterInterface.tx_bps),
            RouterInterface.seen_at: at, RouterInterface.present: True,
        }
        # Attributes are written only where they changed: the usual poll's statement carries just the rates.
        for key in ("running", "disabled", "type", "comment"):
            diff = {ids[n]: i[key] for n, i in current.items() if getattr(known[n], key) != i[key]}
            if diff:
                column = getattr(RouterInterface, key)
                values[column] = by_id(diff, column)
        if downs:
            values[RouterInterface.link_downs] = RouterInterface.link_downs + case(
                {ids[n]: 1 for n in downs}, value=RouterInterface.id, else_=0)
        if changed:
            values[RouterInterface.last_change_at] = case({ids[n]: literal(at, UTCDateTime()) for n in changed},
                                                          value=RouterInterface.id,
                                                          else_=RouterInterface.last_change_at)
        session.execute(update(RouterInterface).where(RouterInterface.id.in_([ids[n] for n in current]))
                        .values(values).execution_options(synchronize_session=False))
    gone = [row.id for name, row in known.items() if row.present and name not in current]
    if gone:
        session.execute(update(RouterInterface).where(RouterInterface.id.in_(gone))
                        .values(present=False, running=False).execution_options(synchronize_session=False))
    return ids, downs


def _log(router_id: int, reading: Reading, prev: dict | None, rebooted: bool, at: datetime) -> tuple[str, int]:
    """Store the new log lines; returns (cursor for the next poll, lines stored)."""
    if reading.log is None:
        return (prev or {}).get("log", ""), 0
    lines = sorted(reading.log, key=lambda r: log_id(r["id"]))
    if rebooted:
        return "", 0  # ids restarted: the next poll reads the log since boot from the start
    if prev is None:
        had = db.session.scalar(select(exists().where(RouterLogEntry.router_id == router_id)))
        # Redis lost the cursor: skip what was logged meanwhile rather than store it twice.
        keep = [] if had else lines[-LOG_FIRST:]
    else:
        keep = lines
    if keep:
        db.session.execute(insert(RouterLogEntry.__table__), [
            {"router_id": router_id, "at": at, "router_time": r["time"], "topics": r["topics"], "message": r["message"]}
            for r in keep])
    cursor = lines[-1]["id"] if lines else (prev or {}).get("log", "")
    return cursor, len(keep)
