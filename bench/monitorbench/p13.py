"""P13: the dashboard (GET /, an admin, the test client) p95 with 500 routers and 100 open alerts, vs 5 and 5.

Routers are registered through the panel's create path (never polled: their rows, latest samples, interfaces and
Redis metrics are written directly, a tenth of them down with an error, some hot); open alerts are rows of the
default rules spread over the routers (offline, CPU, memory, interface down). Timed first at 5 routers and 5 alerts,
then again once the fleet grew, same process, same database. BENCH_P13_REQUESTS (200) per size.
"""
from __future__ import annotations

import time
from datetime import timedelta

from monitorbench.common import dialect, env_int, harness, login, p95, verbose
from monitorbench.history import add_routers

PASSWORD = "Quiet-Harbour-7-Lantern"


def _state(h, fleet: list[tuple[int, list[int]]], alerts: int, first_alert: int) -> None:
    """Latest samples, rates, last seen, Redis metrics for `fleet`; `alerts` open alerts among them."""
    from sqlalchemy import insert, select, update

    from isp.extensions import db
    from isp.models import Router
    from isp.models.base import utcnow
    from isp.models.monitoring import Alert, AlertRule, AlertSeverity, AlertState, RouterInterface, RouterSample
    from isp.routeros import status

    now = int(time.time())
    with h.app.app_context():
        stamp = utcnow()
        ids = [r for r, _ in fleet]
        down = [r for n, r in enumerate(ids) if n % 10 == 3]
        db.session.execute(update(Router).where(Router.id.in_(ids)).values(last_seen_at=stamp))
        if down:
            db.session.execute(update(Router).where(Router.id.in_(down))
                               .values(last_seen_at=stamp - timedelta(minutes=5), last_error="timed out"))
        db.session.execute(insert(RouterSample.__table__), [
            {"router_id": r, "ts": now - k * 10, "cpu": 95 if n % 17 == 0 else 20 + n % 40, "memory": 50.0,
             "temperature": 48.0, "voltage": 24.0, "ppp_active": n % 60, "hotspot_active": n % 25, "queue_rx_bps": 0,
             "queue_tx_bps": 0} for n, r in enumerate(ids) for k in range(6)])
        db.session.execute(update(RouterInterface).where(RouterInterface.router_id.in_(ids))
                           .values(rx_bps=12_000_000, tx_bps=3_000_000, seen_at=stamp))
        for n, r in enumerate(ids):
            status.store_metrics(r, {"cpu_load": 95 if n % 17 == 0 else 20 + n % 40, "free_memory": 512 * 2**20,
                                     "total_memory": 1024 * 2**20, "uptime": "3d4h", "version": "7.20.2",
                                     "board": "RB5009UG+S+"})
        rules = {rule.name: rule.id for rule in db.session.scalars(select(AlertRule))}
        kinds = [("Router offline", AlertSeverity.critical, ""), ("CPU load", AlertSeverity.warning, ""),
                 ("Memory used", AlertSeverity.critical, ""), ("Interface down", AlertSeverity.warning, "iface:ether2")]
        rows = []
        for k in range(alerts):
            n = first_alert + k
            name, severity, target = kinds[n % len(kinds)]
            router_id = ids[k % len(ids)]
            rows.append({"rule_id": rules[name], "router_id": router_id, "target": target,
                         "open_key": f"{rules[name]}:{router_id}:{target}:{n}", "state": AlertState.open.name,
                         "severity": severity.name, "value": 95.0, "message": f"{name} on router {router_id}",
                         "started_at": stamp - timedelta(minutes=n % 90 + 2), "opened_at": stamp - timedelta(minutes=n % 90),
                         "last_seen_at": stamp, "ack_note": "", "suppressed": ""})
        db.session.execute(insert(Alert.__table__), rows)
        db.session.commit()


def _time(client, count: int) -> list[float]:
    out = []
    for n in range(count + 10):
        began = time.perf_counter()
        response = client.get("/")
        took = time.perf_counter() - began
        if response.status_code != 200:
            raise RuntimeError(f"GET / answered {response.status_code}")
        if n >= 10:  # the first few warm caches and templates
            out.append(took)
    return out


def run() -> str:
    routers = env_int("BENCH_P13_ROUTERS", 500)
    alerts = env_int("BENCH_P13_ALERTS", 100)
    requests = env_int("BENCH_P13_REQUESTS", 200)
    h = harness()
    try:
        from isp.extensions import db
        from isp.models import Role
        from isp.services import users

        with h.app.app_context():
            users.create_user("bench-admin", PASSWORD, Role.admin)
            db.session.commit()
        client = h.app.test_client()
        login(client, "bench-admin", PASSWORD)
        fleet = add_routers(h, 5, 0, 4)
        _state(h, fleet, 5, 0)
        small = _time(client, requests)
        more = add_routers(h, routers - 5, 1, 4)
        _state(h, more, alerts - 5, 5)
        large = _time(client, requests)
        page = client.get("/").get_data(as_text=True)
    finally:
        h.close()
    verbose(f"P13: GET / p95 {p95(small) * 1000:.1f} ms at 5 routers and 5 open alerts, {p95(large) * 1000:.1f} ms at "
            f"{routers} and {alerts} (median {sorted(large)[len(large) // 2] * 1000:.1f} ms, max {max(large) * 1000:.1f} ms, "
            f"{len(large)} requests each); page {len(page) // 1024} KiB; {dialect(h)}")
    return f"P13: {p95(large) * 1000:.0f} ms (dashboard p95 with {routers} routers and {alerts} open alerts)"
