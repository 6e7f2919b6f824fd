"""Rollups (raw -> 1 minute -> 1 hour, avg/min/max) and retention, set-based and in bounded steps.

Each step is one bounded unit of work the job commits on its own: `rollup_step(now)` rolls at most CHUNK seconds
of completed buckets (INSERT ... SELECT ... GROUP BY bucket) and moves its cursor in monitor_cursors;
`retention_step(now)` deletes at most DELETE_CHUNK rows per table past its retention. Safe to run twice or
twice at once: the cursor row is locked for the step (FOR UPDATE on MariaDB, SQLite serialises writers), and
the inserts skip buckets already present (the primary key would refuse them otherwise).
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import case, delete, func, insert, literal, literal_column, select

from isp import dispatch
from isp.extensions import db
from isp.models.monitoring import InterfaceRollup, InterfaceSample, MonitorCursor, RouterLogEntry, RouterRollup, RouterSample
from isp.services.monitor_ingest import ignore_duplicates

CHUNK = {60: 3600, 3600: 86400}    # seconds of buckets rolled per step
DELETE_CHUNK = 20000               # rows per table per retention step


def lag() -> int:
    """How long after a minute ends before it counts as complete. A sample's ts is its read time, but a batch commits
    after its last router answers, up to the batch job's timeout later: a minute rolled before that commit would miss
    the batch's late samples for good (the rollup never revisits a bucket)."""
    return max(2 * int(current_app.config["MONITOR_INTERVAL"]), dispatch.POLL_BATCH.timeout) + 10


def _bucket(column: Any, step: int) -> Any:
    return column - column % literal_column(str(step))


def _cursor(name: str, default: int) -> int:
    """The cursor's value, its row locked for this transaction (created at `default` if missing)."""
    locked = select(MonitorCursor.ts).where(MonitorCursor.name == name).with_for_update()
    value = db.session.scalar(locked)
    if value is None:  # first run: create it (a concurrent first run's row wins; both then wait on the lock)
        db.session.execute(ignore_duplicates(insert(MonitorCursor.__table__)), [{"name": name, "ts": default}])
        value = db.session.scalar(locked)
    return int(value)


def _set_cursor(name: str, ts: int) -> None:
    db.session.execute(MonitorCursor.__table__.update().where(MonitorCursor.name == name).values(ts=ts))


def _raw_to_minute(lo: int, hi: int) -> None:
    b = _bucket(RouterSample.ts, 60)
    s = RouterSample
    router = select(s.router_id, literal(60), b, func.count(), func.avg(s.cpu), func.min(s.cpu), func.max(s.cpu),
                    func.avg(s.memory), func.min(s.memory), func.max(s.memory), func.avg(s.temperature),
                    func.min(s.temperature), func.max(s.temperature), func.avg(s.voltage), func.avg(s.ppp_active),
                    func.max(s.ppp_active), func.avg(s.hotspot_active), func.max(s.hotspot_active)
                    ).where(s.ts >= lo, s.ts < hi).group_by(s.router_id, b)
    cols = ["router_id", "step", "ts", "samples", "cpu_avg", "cpu_min", "cpu_max", "memory_avg", "memory_min",
            "memory_max", "temperature_avg", "temperature_min", "temperature_max", "voltage_avg", "ppp_active_avg",
            "ppp_active_max", "hotspot_active_avg", "hotspot_active_max"]
    db.session.execute(ignore_duplicates(insert(RouterRollup).from_select(cols, router)))
    i, b = InterfaceSample, _bucket(InterfaceSample.ts, 60)
    iface = select(i.interface_id, literal(60), b, func.count(), func.round(func.avg(i.rx_bps)), func.min(i.rx_bps),
                   func.max(i.rx_bps), func.round(func.avg(i.tx_bps)), func.min(i.tx_bps), func.max(i.tx_bps)
                   ).where(i.ts >= lo, i.ts < hi).group_by(i.interface_id, b)
    db.session.execute(ignore_duplicates(insert(InterfaceRollup).from_select(
        ["interface_id", "step", "ts", "samples", "rx_avg", "rx_min", "rx_max", "tx_avg", "tx_min", "tx_max"], iface)))


def _weighted(table: Any, column: str) -> Any:
    """Sample-weighted average of a per-minute average (minutes without a value do not count)."""
    avg = getattr(table, column)
    return func.sum(avg * table.samples) / func.sum(case((avg.isnot(None), table.samples), else_=None))


def _minute_to_hour(lo: int, hi: int) -> None:
    r, b = RouterRollup, _bucket(RouterRollup.ts, 3600)
    router = select(r.router_id, literal(3600), b, func.sum(r.samples), _weighted(r, "cpu_avg"), func.min(r.cpu_min),
                    func.max(r.cpu_max), _weighted(r, "memory_avg"), func.min(r.memory_min), func.max(r.memory_max),
                    _weighted(r, "temperature_avg"), func.min(r.temperature_min), func.max(r.temperature_max),
                    _weighted(r, "voltage_avg"), _weighted(r, "ppp_active_avg"), func.max(r.ppp_active_max),
                    _weighted(r, "hotspot_active_avg"), func.max(r.hotspot_active_max)
                    ).where(r.step == 60, r.ts >= lo, r.ts < hi).group_by(r.router_id, b)
    cols = ["router_id", "step", "ts", "samples", "cpu_avg", "cpu_min", "cpu_max", "memory_avg", "memory_min",
            "memory_max", "temperature_avg", "temperature_min", "temperature_max", "voltage_avg", "ppp_active_avg",
            "ppp_active_max", "hotspot_active_avg", "hotspot_active_max"]
    db.session.execute(ignore_duplicates(insert(RouterRollup).from_select(cols, router)))
    i, b = InterfaceRollup, _bucket(InterfaceRollup.ts, 3600)
    iface = select(i.interface_id, literal(3600), b, func.sum(i.samples), func.round(_weighted(i, "rx_avg")),
                   func.min(i.rx_min), func.max(i.rx_max), func.round(_weighted(i, "tx_avg")), func.min(i.tx_min),
                   func.max(i.tx_max)).where(i.step == 60, i.ts >= lo, i.ts < hi).group_by(i.interface_id, b)
    db.session.execute(ignore_duplicates(insert(InterfaceRollup).from_select(
        ["interface_id", "step", "ts", "samples", "rx_avg", "rx_min", "rx_max", "tx_avg", "tx_min", "tx_max"], iface)))


def rollup_step(now: float) -> bool:
    """Roll one bounded chunk of completed minutes, then of completed hours; True while more is left to roll."""
    cfg = current_app.config
    minute_end = int(now - lag()) // 60 * 60
    oldest_raw = int(now) - int(cfg["MONITOR_RAW_HOURS"]) * 3600
    first = db.session.scalar(select(func.min(RouterSample.ts)).where(RouterSample.ts >= oldest_raw))
    minute = _cursor("rollup:60", (first if first is not None else minute_end) // 60 * 60)
    minute = max(minute, oldest_raw // 60 * 60)  # what retention dropped cannot be rolled any more
    more = False
    if minute < minute_end:
        hi = min(minute + CHUNK[60], minute_end)
        _raw_to_minute(minute, hi)
        _set_cursor("rollup:60", hi)
        minute, more = hi, hi < minute_end
    hour_end = minute // 3600 * 3600  # hours whose every minute has been rolled
    oldest_minute = int(now) - int(cfg["MONITOR_MINUTE_DAYS"]) * 86400
    first = db.session.scalar(select(func.min(RouterRollup.ts)).where(RouterRollup.step == 60,
                                                                      RouterRollup.ts >= oldest_minute))
    hour = _cursor("rollup:3600", (first if first is not None else hour_end) // 3600 * 3600)
    hour = max(hour, oldest_minute // 3600 * 3600)
    if hour < hour_end:
        hi = min(hour + CHUNK[3600], hour_end)
        _minute_to_hour(hour, hi)
        _set_cursor("rollup:3600", hi)
        more = more or hi < hour_end
    return more


def _delete_before(table: Any, column: Any, cutoff: object, *extra: Any) -> int:
    """Delete up to DELETE_CHUNK rows of `table` with column < cutoff; returns how many went."""
    cond = [column < cutoff, *extra]
    if db.session.get_bind().dialect.name in ("mysql", "mariadb"):
        stmt = delete(table).where(*cond).with_dialect_options(mysql_limit=DELETE_CHUNK)
    else:  # SQLite has no DELETE ... LIMIT by default: pick the rowids first (the ts index finds them)
        rowid = literal_column("rowid")
        stmt = delete(table).where(rowid.in_(select(rowid).select_from(table).where(*cond).limit(DELETE_CHUNK)))
    return db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0


def retention_step(now: float) -> int:
    """Delete one bounded chunk per table of what is past its retention; returns rows deleted (0: done)."""
    cfg = current_app.config
    raw_cut = int(now) - int(cfg["MONITOR_RAW_HOURS"]) * 3600
    minute_cut = int(now) - int(cfg["MONITOR_MINUTE_DAYS"]) * 86400
    hour_cut = int(now) - int(cfg["MONITOR_HOUR_DAYS"]) * 86400
    gone = _delete_before(RouterSample, RouterSample.ts, raw_cut)
    gone += _delete_before(InterfaceSample, InterfaceSample.ts, raw_cut)
    gone += _delete_before(RouterLogEntry, RouterLogEntry.at, datetime.fromtimestamp(raw_cut, UTC))
    for model in (RouterRollup, InterfaceRollup):
        gone += _delete_before(model, model.ts, minute_cut, model.step == 60)
        gone += _delete_before(model, model.ts, hour_cut, model.step == 3600)
    return gone
