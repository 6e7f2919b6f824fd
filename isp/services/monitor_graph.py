"""Graph reads over samples and rollups, picking the resolution by range; and the size of the monitoring tables."""
from __future__ import annotations

import time
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, case, func, literal_column, select, text

from isp.extensions import db
from isp.models.monitoring import (
    InterfaceRollup,
    InterfaceSample,
    MonitorCursor,
    RouterInterface,
    RouterLogEntry,
    RouterRollup,
    RouterSample,
)

MAX_POINTS = 1000
STEPS = (10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800)
# Graph column -> (raw column, rollup avg, rollup min, rollup max); None where the rollup does not keep it.
SYSTEM = {
    "cpu": ("cpu", "cpu_avg", "cpu_min", "cpu_max"),
    "memory": ("memory", "memory_avg", "memory_min", "memory_max"),
    "temperature": ("temperature", "temperature_avg", "temperature_min", "temperature_max"),
    "voltage": ("voltage", "voltage_avg", None, None),
    "ppp_active": ("ppp_active", "ppp_active_avg", None, "ppp_active_max"),
    "hotspot_active": ("hotspot_active", "hotspot_active_avg", None, "hotspot_active_max"),
}
IFACE = {"rx": ("rx_bps", "rx_avg", "rx_min", "rx_max"), "tx": ("tx_bps", "tx_avg", "tx_min", "tx_max")}
TABLES = ("router_interfaces", "router_samples", "interface_samples", "router_rollups", "interface_rollups",
          "router_log", "monitor_cursors")


def resolution(start: int, end: int, now: float) -> tuple[str, int]:
    """(source, step) for a range: the finest step giving at most MAX_POINTS buckets that the stores still hold."""
    cfg = current_app.config
    interval = int(cfg["MONITOR_INTERVAL"])
    want = max(end - start, 1) / (MAX_POINTS - 2)  # bucket edges may add two partial buckets
    step = next((s for s in sorted({interval, *STEPS}) if s >= interval and s >= want), STEPS[-1])
    while step < want:
        step *= 2
    if step < 60 and start >= now - int(cfg["MONITOR_RAW_HOURS"]) * 3600:
        return "raw", step
    if step < 3600 and start >= now - int(cfg["MONITOR_MINUTE_DAYS"]) * 86400:
        return "minute", max(step, 60)
    return "hour", max(step, 3600)


def _bucket(column: Any, step: int) -> Any:
    return (column - column % literal_column(str(int(step)))).label("t")


def graph(router_id: int, series: str, start: int, end: int, now: float | None = None) -> dict:
    """Compact columns for a chart of one router's series between start and end (epoch seconds, inclusive)."""
    now = time.time() if now is None else now
    start, end = int(start), int(end)
    source, step = resolution(start, end, now)
    if series == "system":
        names, raw_table, roll_table, key = SYSTEM, RouterSample, RouterRollup, RouterRollup.router_id
        raw_key, target = RouterSample.router_id, router_id
    elif series.startswith("iface:") and series[6:].isdigit():
        target = int(series[6:])
        owner = db.session.scalar(select(RouterInterface.router_id).where(RouterInterface.id == target))
        names, raw_table, roll_table = IFACE, InterfaceSample, InterfaceRollup
        key, raw_key = InterfaceRollup.interface_id, InterfaceSample.interface_id
        if owner != router_id:
            return _empty(names, step, source)
    else:
        return _empty(SYSTEM, step, source)
    native = int(current_app.config["MONITOR_INTERVAL"])
    raw_cond = and_(raw_key == target, raw_table.ts >= start, raw_table.ts <= end)
    statements = []
    if source == "raw" and step <= native:
        picks = [(name, getattr(raw_table, spec[0])) for name, spec in names.items()]
        statements.append(select(raw_table.ts.label("t"), *(c.label(n) for n, c in picks)).where(raw_cond)
                          .order_by(raw_table.ts))
    elif source == "raw":
        picks = _raw_picks(raw_table, names, None)
        statements.append(_grouped(raw_table, picks, step, raw_cond))
    else:
        picks = _rollup_picks(roll_table, names, regroup=step not in (60, 3600))
        cond = and_(key == target, roll_table.step == (60 if source == "minute" else 3600),
                    roll_table.ts >= start - start % step, roll_table.ts <= end)
        # The newest buckets are not rolled yet: read them from the raw samples, so a graph reaches now.
        split = _rolled_until(60 if source == "minute" else 3600, step, now)
        if split is not None and split <= end:
            cond = and_(cond, roll_table.ts < split)
        if step in (60, 3600):
            statements.append(select(roll_table.ts.label("t"), *(c.label(n) for n, c in picks)).where(cond)
                              .order_by(roll_table.ts))
        else:
            statements.append(_grouped(roll_table, picks, step, cond))
        if split is not None and split <= end:
            tail = and_(raw_key == target, raw_table.ts >= max(split, start), raw_table.ts <= end)
            statements.append(_grouped(raw_table, _raw_picks(raw_table, names, {n for n, _ in picks}), step, tail))
    columns: dict[str, list] = {"t": [], **{name: [] for name, _ in picks}}
    rate = series != "system"
    for stmt in statements:
        for row in db.session.execute(stmt).mappings():
            columns["t"].append(int(row["t"]))
            for name, _ in picks:
                columns[name].append(_value(row[name], rate))
    return {"step": step, "source": source, **columns}


def _rolled_until(rollup_step: int, step: int, now: float) -> int | None:
    """Where rolled buckets end (a multiple of `step`), or None when the rollup never ran or raw is gone there."""
    cursor = db.session.scalar(select(MonitorCursor.ts).where(MonitorCursor.name == f"rollup:{rollup_step}"))
    if not cursor:
        return None
    split = cursor - cursor % step
    oldest_raw = now - int(current_app.config["MONITOR_RAW_HOURS"]) * 3600
    return split if split >= oldest_raw else None


def _raw_picks(table: Any, names: dict, wanted: set[str] | None) -> list:
    """avg/min/max of raw columns in buckets (only the `wanted` output names, when given)."""
    picks = []
    for name, spec in names.items():
        col = getattr(table, spec[0])
        picks += [(n, f(col)) for n, f in ((name, func.avg), (f"{name}_min", func.min), (f"{name}_max", func.max))
                  if wanted is None or n in wanted]
    return picks


def _grouped(table: Any, picks: list, step: int, cond: Any) -> Any:
    bucket = _bucket(table.ts, step)
    return select(bucket, *(c.label(n) for n, c in picks)).where(cond).group_by(bucket).order_by(bucket)


def _rollup_picks(table: Any, names: dict, regroup: bool) -> list:
    """Rollup columns as stored, or regrouped into coarser buckets (sample-weighted averages)."""
    picks = []
    for name, (_, avg, low, high) in names.items():
        avg_col = getattr(table, avg)
        if regroup:
            weight = func.sum(case((avg_col.isnot(None), table.samples), else_=None))
            picks.append((name, func.sum(avg_col * table.samples) / weight))
        else:
            picks.append((name, avg_col))
        if low:
            picks.append((f"{name}_min", func.min(getattr(table, low)) if regroup else getattr(table, low)))
        if high:
            picks.append((f"{name}_max", func.max(getattr(table, high)) if regroup else getattr(table, high)))
    return picks


def _value(value: object, rate: bool) -> float | int | None:
    if value is None:
        return None
    return int(round(float(value))) if rate else round(float(value), 2)


def _empty(names: dict, step: int, source: str) -> dict:
    return {"step": step, "source": source, "t": [], **{name: [] for name in names}}


def storage_by_table() -> dict[str, int]:
    """Bytes (data + indexes) per monitoring table on the current database."""
    session = db.session
    dialect = session.get_bind().dialect.name
    if dialect in ("mysql", "mariadb"):
        rows = session.execute(text(
            "SELECT table_name, data_length + index_length FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name IN :names").bindparams(
            bindparam("names", expanding=True)), {"names": list(TABLES)})
        return {str(name): int(size or 0) for name, size in rows}
    try:  # SQLite with the dbstat virtual table: pages of each table and its indexes
        with session.begin_nested():
            rows = session.execute(text("SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m "
                                        "ON m.name = s.name GROUP BY m.tbl_name")).all()
        sizes = {str(name): int(size or 0) for name, size in rows}
        return {name: sizes.get(name, 0) for name in TABLES}
    except Exception:  # noqa: BLE001 - no dbstat: estimate from row counts and typical row sizes (index included)
        per_row = {RouterSample: 60, InterfaceSample: 40, RouterRollup: 140, InterfaceRollup: 80, RouterLogEntry: 160}
        out = {name: 0 for name in TABLES}
        for model, size in per_row.items():
            out[model.__tablename__] = int(session.scalar(select(func.count()).select_from(model)) or 0) * size
        return out


def storage_bytes() -> int:
    """Bytes the monitoring tables use (for the benchmark's bytes per router per day)."""
    return sum(storage_by_table().values())
