"""Synthetic monitoring history written set-based: routers, interfaces, raw samples and minute/hour rollups."""
from __future__ import annotations

import math
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


def _wave(ts: int, seed: int) -> float:
    """0..1, a daily cycle with some per-series phase."""
    return 0.5 + 0.5 * math.sin((ts / 86400.0) * 2 * math.pi + seed)


def _router_rollup(router_id: int, step: int, ts: int) -> dict:
    w = _wave(ts, router_id)
    cpu = 10 + 60 * w
    return {"router_id": router_id, "step": step, "ts": ts, "samples": step // 10, "cpu_avg": cpu, "cpu_min": cpu - 8,
            "cpu_max": cpu + 12, "memory_avg": 40 + 10 * w, "memory_min": 39 + 10 * w, "memory_max": 42 + 10 * w,
            "temperature_avg": 45 + 5 * w, "temperature_min": 44 + 5 * w, "temperature_max": 46 + 5 * w,
            "voltage_avg": 24.0, "ppp_active_avg": 50 * w, "ppp_active_max": int(55 * w),
            "hotspot_active_avg": 30 * w, "hotspot_active_max": int(35 * w)}


def _iface_rollup(iface_id: int, step: int, ts: int) -> dict:
    rate = int(50_000_000 * _wave(ts, iface_id))
    return {"interface_id": iface_id, "step": step, "ts": ts, "samples": step // 10, "rx_avg": rate,
            "rx_min": rate // 2, "rx_max": rate * 2, "tx_avg": rate // 4, "tx_min": rate // 8, "tx_max": rate // 2}


def _router_sample(router_id: int, ts: int) -> dict:
    w = _wave(ts, router_id)
    return {"router_id": router_id, "ts": ts, "cpu": int(10 + 60 * w), "memory": 40 + 10 * w, "temperature": 45 + 5 * w,
            "voltage": 24.0, "ppp_active": int(50 * w), "hotspot_active": int(30 * w), "queue_rx_bps": 0,
            "queue_tx_bps": 0}


def _iface_sample(iface_id: int, ts: int) -> dict:
    rate = int(50_000_000 * _wave(ts, iface_id))
    return {"interface_id": iface_id, "ts": ts, "rx_bps": rate, "tx_bps": rate // 4}


def fill(h, fleet: list[tuple[int, list[int]]], now: int, hour_days: int, minute_days: int, raw_hours: int,
         raw_step: int = 10) -> int:
    """Write the history of every router and interface in `fleet`, newest buckets ending at `now`; rows written."""
    from sqlalchemy import insert

    from isp.extensions import db
    from isp.models.monitoring import InterfaceRollup, InterfaceSample, RouterRollup, RouterSample

    plans = (  # (table, row maker, step, span seconds, router-level?)
        (RouterRollup.__table__, _router_rollup, HOUR, hour_days * 86400, True),
        (InterfaceRollup.__table__, _iface_rollup, HOUR, hour_days * 86400, False),
        (RouterRollup.__table__, _router_rollup, MINUTE, minute_days * 86400, True),
        (InterfaceRollup.__table__, _iface_rollup, MINUTE, minute_days * 86400, False),
        (RouterSample.__table__, None, raw_step, raw_hours * 3600, True),
        (InterfaceSample.__table__, None, raw_step, raw_hours * 3600, False),
    )
    written = 0
    with h.app.app_context():
        for table, maker, step, span, router_level in plans:
            if span <= 0:
                continue
            last = now - now % step - step
            stamps = range(last - span + step, last + step, step)
            targets = [r for r, _ in fleet] if router_level else [i for _, ifaces in fleet for i in ifaces]
            batch: list[dict] = []
            for target in targets:
                for ts in stamps:
                    if maker is not None:
                        batch.append(maker(target, step, ts))
                    elif router_level:
                        batch.append(_router_sample(target, ts))
                    else:
                        batch.append(_iface_sample(target, ts))
                    if len(batch) >= CHUNK:
                        db.session.execute(insert(table), batch)
                        written += len(batch)
                        batch = []
                db.session.commit()
            if batch:
                db.session.execute(insert(table), batch)
                written += len(batch)
            db.session.commit()
        analyze = "ANALYZE" if db.engine.dialect.name == "sqlite" else \
            "ANALYZE TABLE router_samples, interface_samples, router_rollups, interface_rollups"
        db.session.execute(db.text(analyze))
        db.session.commit()
    return written


def timed(fn, *args) -> float:
    began = time.perf_counter()
    fn(*args)
    return time.perf_counter() - began
