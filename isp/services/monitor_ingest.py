"""Writing a batch of polls: router samples, interface samples, interface rows, link transitions and log tails.

A handful of statements per batch whatever the number of routers and interfaces: one SELECT of the batch's
interfaces, one INSERT of new ones (rare), one UPDATE ... CASE for all of them, one multi-row INSERT per sample
table and one for the log lines. The previous counters live in Redis (one JSON value per router, read for the
whole batch in one MGET); when one is lost, that router's next poll simply has no rate.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Insert, case, insert, literal, literal_column, select, update

from isp.extensions import db, redis_store
from isp.models.base import UTCDateTime
from isp.models.monitoring import InterfaceSample, RouterInterface, RouterLogEntry, RouterSample
from isp.services import metrics_store
from isp.services.monitor_poll import LOG_FIRST, Reading, log_id, rates

PREV_TTL = 3600


@dataclass
class Polled:
    """One router's successful read in a batch, and what writing it found."""

    router_id: int
    reading: Reading
    now: float                      # epoch seconds of the read (rates, sample ts)
    prev: dict | None
    rates: dict = field(default_factory=dict)
    rebooted: bool = False
    logged: int = 0
    state: dict = field(default_factory=dict)


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


def previous_many(router_ids: list[int]) -> dict[int, dict | None]:
    """previous() of many routers in one Redis round trip."""
    if not router_ids:
        return {}
    values = redis_store.client.mget([prev_key(i) for i in router_ids])
    return {i: json.loads(raw) if raw else None for i, raw in zip(router_ids, values, strict=True)}


def ingest(router_id: int, reading: Reading, now: float, prev: dict | None) -> dict:
    """One router's poll written as a batch of one (see ingest_many); returns {"rates", "rebooted", "log", "publish"}."""
    polled = Polled(router_id, reading, now, prev)
    publish = ingest_many([polled], datetime.fromtimestamp(now, UTC))
    return {"rates": polled.rates, "rebooted": polled.rebooted, "log": polled.logged, "publish": publish}


def ingest_many(batch: list[Polled], at: datetime) -> Callable[..., None]:
    """Write a batch of polls (flush only); fills each Polled's rates/rebooted/logged and returns `publish`, to call
    after the commit for the Redis side (previous counters and log cursors, live points).

    Link downs go to Redis right away, so the alert evaluation that follows counts them (a rolled-back poll may
    count one twice)."""
    if not batch:
        return lambda pipe=None: None
    for p in batch:
        p.rates = rates(p.prev, p.reading, p.now)
        p.rebooted = bool(p.prev) and p.reading.uptime < int(p.prev.get("uptime", 0))
    ids, downs = _interfaces(batch, at)
    session = db.session
    session.execute(ignore_duplicates(insert(RouterSample.__table__)), [{
        "router_id": p.router_id, "ts": int(p.now), "cpu": p.reading.cpu, "memory": p.reading.memory,
        "temperature": p.reading.health.get("temperature"), "voltage": p.reading.health.get("voltage"),
        "ppp_active": p.reading.ppp_active, "hotspot_active": p.reading.hotspot_active,
        "queue_rx_bps": p.reading.queue_rx_bps, "queue_tx_bps": p.reading.queue_tx_bps} for p in batch])
    samples = [{"interface_id": ids[(p.router_id, name)], "ts": int(p.now), "rx_bps": rate[0], "tx_bps": rate[1]}
               for p in batch for name, rate in p.rates.items() if rate is not None and (p.router_id, name) in ids]
    if samples:
        session.execute(ignore_duplicates(insert(InterfaceSample.__table__)), samples)
    cursors = _logs(batch, at)
    for p in batch:
        p.state = {"ts": p.now, "uptime": p.reading.uptime, "log": cursors[p.router_id],
                   "ifaces": {i["name"]: [i["rx"], i["tx"]] for i in p.reading.interfaces}}
    if downs:
        pipe = redis_store.client.pipeline(transaction=False)
        for p in batch:
            if p.router_id in downs:
                metrics_store.add_link_downs(pipe, downs[p.router_id], p.now)
        pipe.execute()

    def publish(pipe: Any = None) -> None:
        """The Redis side, once the rows are committed: a rolled-back poll leaves the previous counters and cursor.
        Queued on `pipe` when given (the caller executes it), else sent at once."""
        own = pipe is None
        pipe = redis_store.client.pipeline(transaction=False) if own else pipe
        for p in batch:
            pipe.set(prev_key(p.router_id), json.dumps(p.state), ex=PREV_TTL)
            metrics_store.add_live_point(pipe, p.router_id, p.now, {n: r for n, r in p.rates.items() if r is not None},
                                         "poll")
        if own:
            pipe.execute()

    return publish


def _interfaces(batch: list[Polled], at: datetime) -> tuple[dict[tuple[int, str], int], dict[int, list[int]]]:
    """Insert new interfaces, update the batch's in one statement, mark vanished ones.

    Returns ({(router id, name): interface id}, {router id: ids of interfaces gone down})."""
    session = db.session
    router_ids = [p.router_id for p in batch]
    cols = (RouterInterface.id, RouterInterface.router_id, RouterInterface.name, RouterInterface.running,
            RouterInterface.present, RouterInterface.disabled, RouterInterface.type, RouterInterface.comment)
    known = {(row.router_id, row.name): row for row in session.execute(
        select(*cols).where(RouterInterface.router_id.in_(router_ids)))}
    fresh = [(p.router_id, i) for p in batch for i in p.reading.interfaces if (p.router_id, i["name"]) not in known]
    if fresh:
        session.execute(insert(RouterInterface.__table__), [
            {"router_id": r, "name": i["name"], "type": i["type"], "comment": i["comment"],
             "running": i["running"], "disabled": i["disabled"], "seen_at": at,
             # last_change_at: when running last changed, or first seen running; None = never seen running
             # (an unplugged port from the first poll on is not "down": see alert_checks.interface_down).
             "last_change_at": at if i["running"] else None,
             "present": True, "link_downs": 0, "rx_bps": 0, "tx_bps": 0} for r, i in fresh])
        known.update({(row.router_id, row.name): row for row in session.execute(
            select(*cols).where(RouterInterface.router_id.in_(sorted({r for r, _ in fresh}))))})
    ids = {key: row.id for key, row in known.items()}
    current = {(p.router_id, i["name"]): i for p in batch for i in p.reading.interfaces}
    new = {(r, i["name"]) for r, i in fresh}
    changed = [k for k, i in current.items() if k not in new and known[k].running != i["running"]]
    # A link that stopped running counts as a link down unless it was disabled (that is an action, not a fault).
    downs = [k for k in changed if not current[k]["running"] and not current[k]["disabled"]]
    if current:
        def by_id(values: dict, column: Any) -> Any:
            return case(values, value=RouterInterface.id, else_=column) if values else column

        rated = {ids[(p.router_id, n)]: r for p in batch for n, r in p.rates.items()
                 if r is not None and (p.router_id, n) in ids}
        values = {
            RouterInterface.rx_bps: _int_case({i: r[0] for i, r in rated.items()}, "rx_bps"),
            RouterInterface.tx_bps: _int_case({i: r[1] for i, r in rated.items()}, "tx_bps"),
            RouterInterface.seen_at: at, RouterInterface.present: True,
        }
        # Attributes are written only where they changed: the usual poll's statement carries just the rates.
        for key in ("running", "disabled", "type", "comment"):
            diff = {ids[k]: i[key] for k, i in current.items() if getattr(known[k], key) != i[key]}
            if diff:
                column = getattr(RouterInterface, key)
                values[column] = by_id(diff, column)
        if downs:
            values[RouterInterface.link_downs] = RouterInterface.link_downs + case(
                {ids[k]: 1 for k in downs}, value=RouterInterface.id, else_=0)
        if changed:
            values[RouterInterface.last_change_at] = case({ids[k]: literal(at, UTCDateTime()) for k in changed},
                                                          value=RouterInterface.id,
                                                          else_=RouterInterface.last_change_at)
        session.execute(update(RouterInterface).where(RouterInterface.id.in_([ids[k] for k in current]))
                        .values(values).execution_options(synchronize_session=False))
    gone = [row.id for key, row in known.items() if row.present and key not in current]
    if gone:
        session.execute(update(RouterInterface).where(RouterInterface.id.in_(gone))
                        .values(present=False, running=False).execution_options(synchronize_session=False))
    by_router: dict[int, list[int]] = {}
    for router_id, name in downs:
        by_router.setdefault(router_id, []).append(ids[(router_id, name)])
    return ids, by_router


def _int_case(values: dict[int, int], column: str) -> Any:
    """`CASE router_interfaces.id WHEN <id> THEN <rate> ... ELSE <column> END` for the batch's rates.

    Every poll writes hundreds of these pairs; building them as bound literals costs more CPU than the statement.
    Ids and rates are ints (forced here), so they are rendered inline safely; the column name is ours."""
    table = RouterInterface.__tablename__
    if not values:
        return getattr(RouterInterface, column)
    whens = " ".join(f"WHEN {int(i)} THEN {int(v)}" for i, v in values.items())
    return literal_column(f"CASE {table}.id {whens} ELSE {table}.{column} END", BigInteger())


def _logs(batch: list[Polled], at: datetime) -> dict[int, str]:
    """Store the batch's new log lines (one INSERT); returns {router id: cursor for the next poll}."""
    cursors: dict[int, str] = {}
    rows: list[dict] = []
    unknown = [p.router_id for p in batch if p.prev is None and p.reading.log]
    # Redis lost the cursor of a router that already has log rows: skip what was logged meanwhile, not store it twice.
    had = set(db.session.scalars(select(RouterLogEntry.router_id).where(RouterLogEntry.router_id.in_(unknown))
                                 .group_by(RouterLogEntry.router_id))) if unknown else set()
    for p in batch:
        before = (p.prev or {}).get("log", "")
        if p.reading.log is None:
            cursors[p.router_id] = before
            continue
        lines = sorted(p.reading.log, key=lambda r: log_id(r["id"]))
        if p.rebooted:
            cursors[p.router_id] = ""  # ids restarted: the next poll reads the log since boot from the start
            continue
        keep = ([] if p.router_id in had else lines[-LOG_FIRST:]) if p.prev is None else lines
        rows += [{"router_id": p.router_id, "at": at, "router_time": r["time"], "topics": r["topics"],
                  "message": r["message"]} for r in keep]
        p.logged = len(keep)
        cursors[p.router_id] = lines[-1]["id"] if lines else before
    if rows:
        db.session.execute(insert(RouterLogEntry.__table__), rows)
    return cursors
