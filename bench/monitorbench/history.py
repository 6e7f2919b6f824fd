"""Synthetic monitoring history written set-based: routers, interfaces, raw samples and minute/hour rollups."""
from __future__ import annotations

import time

CHUNK = 5_000
MINUTE, HOUR = 60, 3600


def add_routers(h, count: int, first: int = 0, interfaces: int = 3) -> list[tuple[int, list[int]]]:
    """`count` routers (never polled: port 1) with `interfaces` interfaces each; [(router id, [interface ids])]."""
    from sqlalchemy import insert, select

    from isp.extensions import db
    from isp.models.monitoring import RouterInterface
    from monitorbench.common import register_routers

    ids = register_routers(h, [1] * count, prefix=f"hist-{first}")
    with h.app.app_context():
        db.session.execute(insert(RouterInterface.__table__), [
            {"router_id": r, "name": f"ether{i + 1}", "type": "ether", "comment": "", "running": True, "disabled": False,
             "rx_bps": 0, "tx_bps": 0, "link_downs": 0, "present": True} for r in ids for i in range(interfaces)])
        rows = db.session.execute(select(RouterInterface.router_id, RouterInterface.id)
                                  .where(RouterInterface.router_id.in_(ids))).all()
        db.session.commit()
    by_router: dict[int, list[int]] = {r: [] for r in ids}
    for router_id, iface_id in rows:
        by_router[router_id].append(iface_id)
    return [(r, sorted(by_router[r])) for r in ids]


# Values computed in SQL from the series id and the time of day (portable arithmetic: SQLite and MariaDB alike).
DAY = "(t.ts % 86400)"
ROUTER_COLUMNS = {
    "samples": "{step} / 10", "cpu_avg": f"10 + {DAY} / 1440.0", "cpu_min": f"5 + {DAY} / 1440.0",
    "cpu_max": f"20 + {DAY} / 1440.0", "memory_avg": "40 + r.id % 20", "memory_min": "39 + r.id % 20",
    "memory_max": "42 + r.id % 20", "temperature_avg": f"40 + {DAY} / 8640.0", "temperature_min": f"39 + {DAY} / 8640.0",
    "temperature_max": f"41 + {DAY} / 8640.0", "voltage_avg": "24.0", "ppp_active_avg": f"{DAY} / 1728.0",
    "ppp_active_max": f"{DAY} % 60", "hotspot_active_avg": f"{DAY} / 2880.0", "hotspot_active_max": f"{DAY} % 30",
}
IFACE_COLUMNS = {
    "samples": "{step} / 10", "rx_avg": f"{DAY} * 500 + r.id % 13 * 100000", "rx_min": f"{DAY} * 250",
    "rx_max": f"{DAY} * 1000 + 1", "tx_avg": f"{DAY} * 120", "tx_min": f"{DAY} * 60", "tx_max": f"{DAY} * 240 + 1",
}
ROUTER_RAW = {"cpu": f"{DAY} % 70 + 5", "memory": "40 + r.id % 20", "temperature": f"40 + {DAY} / 8640.0",
              "voltage": "24.0", "ppp_active": f"{DAY} % 60", "hotspot_active": f"{DAY} % 30", "queue_rx_bps": "0",
              "queue_tx_bps": "0"}
IFACE_RAW = {"rx_bps": f"{DAY} * 500 + r.id % 13 * 100000", "tx_bps": f"{DAY} * 120"}
ROUTERS_PER_STATEMENT = 25


def fill(h, fleet: list[tuple[int, list[int]]], now: int, hour_days: int, minute_days: int, raw_hours: int,
         raw_step: int = 10) -> int:
    """Write the history of every router and interface in `fleet`, newest buckets ending at `now`; rows written.

    Set-based: the bucket times go into a scratch table once per step, then one INSERT ... SELECT per table and
    group of routers crosses them with the routers' (or their interfaces') ids.
    """
    from isp.extensions import db

    plans = (  # (table, key column, values, step, span seconds, router-level?)
        ("router_rollups", "router_id", ROUTER_COLUMNS, HOUR, hour_days * 86400, True),
        ("interface_rollups", "interface_id", IFACE_COLUMNS, HOUR, hour_days * 86400, False),
        ("router_rollups", "router_id", ROUTER_COLUMNS, MINUTE, minute_days * 86400, True),
        ("interface_rollups", "interface_id", IFACE_COLUMNS, MINUTE, minute_days * 86400, False),
        ("router_samples", "router_id", ROUTER_RAW, raw_step, raw_hours * 3600, True),
        ("interface_samples", "interface_id", IFACE_RAW, raw_step, raw_hours * 3600, False),
    )
    written = 0
    router_ids = [r for r, _ in fleet]
    with h.app.app_context():
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_ts (ts INTEGER PRIMARY KEY)")
        for table, key, values, step, span, router_level in plans:
            if span <= 0:
                continue
            last = now - now % step - step
            stamps = [(ts,) for ts in range(last - span + step, last + step, step)]
            marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM bench_ts")
                for lo in range(0, len(stamps), CHUNK):
                    conn.exec_driver_sql(f"INSERT INTO bench_ts (ts) VALUES ({marker})", stamps[lo:lo + CHUNK])
            rolled = table.endswith("rollups")
            columns = [key, *(["step"] if rolled else []), "ts", *values]
            exprs = ["r.id", *([str(step)] if rolled else []), "t.ts",
                     *(v.format(step=step) for v in values.values())]
            source = "routers r" if router_level else "router_interfaces r"
            owner = "r.id" if router_level else "r.router_id"
            for lo in range(0, len(router_ids), ROUTERS_PER_STATEMENT):
                group = ", ".join(str(i) for i in router_ids[lo:lo + ROUTERS_PER_STATEMENT])
                sql = (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} "
                       f"FROM {source} CROSS JOIN bench_ts t WHERE {owner} IN ({group})")
                if marker == "%s":  # the driver formats the text: its modulo signs are doubled
                    sql = sql.replace("%", "%%")
                with db.engine.begin() as conn:
                    result = conn.exec_driver_sql(sql)
                    written += result.rowcount
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE bench_ts")
            # The rollup's cursors where a running rollup would have them: graphs read rollups up to there and
            # group the raw samples after it.
            conn.exec_driver_sql("DELETE FROM monitor_cursors WHERE name IN ('rollup:60', 'rollup:3600')")
            conn.exec_driver_sql(f"INSERT INTO monitor_cursors (name, ts) VALUES ('rollup:60', {now - now % MINUTE}), "
                                 f"('rollup:3600', {now - now % HOUR})")
            if db.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("ANALYZE")
            else:
                conn.exec_driver_sql("ANALYZE TABLE router_samples, interface_samples, router_rollups, interface_rollups")
    return written


def timed(fn, *args) -> float:
    began = time.perf_counter()
    fn(*args)
    return time.perf_counter() - began
