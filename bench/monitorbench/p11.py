"""P11: graph p95 for a 30-day range with 500 routers' history, against 5 routers' history in the same database.

History is written set-based (multi-row INSERTs in chunks): per router one system series and BENCH_P11_IFACES
interfaces (3), hour rollups for 30 days, minute rollups for BENCH_P11_MINUTE_DAYS (14) and raw samples every
10 s for BENCH_P11_RAW_HOURS (48). The full default is about 40 M rows per 500 routers; a development run can
shrink the minute and raw spans (the 30-day graph reads hour rollups either way). First 5 routers get their
history and are timed, then the other 495, and the same queries run again: a 30-day range ending now, a random
router, a random series (system or one interface). Timed through the router page's graph endpoint
(GET /routers/<id>/graph.json, the test client, logged in as an admin) when the app has it, and through
metrics_store.graph directly. BENCH_P11_QUERIES (400) per size; BENCH_P11_ROUTERS (500).
"""
from __future__ import annotations

import random
import time

from monitorbench.common import dialect, env_int, harness, login, p95, verbose
from monitorbench.history import add_routers, fill

DAYS = 30
BASE = 5


def _graph_url(app) -> str | None:
    """The graph endpoint's rule when the router page has one (its path has a <router id> placeholder)."""
    for rule in app.url_map.iter_rules():
        if rule.rule.endswith("/graph.json"):
            return rule.rule
    return None


def _measure(h, fleet, queries: int, rng: random.Random, client, rule: str | None) -> tuple[list[float], list[float]]:
    """Seconds per call of metrics_store.graph and of the HTTP endpoint (empty when it is missing)."""
    from isp.services import metrics_store

    direct, http = [], []
    end = int(time.time())
    start = end - DAYS * 86400
    with h.app.app_context():
        for n in range(queries):
            router_id, ifaces = fleet[rng.randrange(len(fleet))]
            pick = rng.randrange(len(ifaces) + 1)
            series = "system" if pick == 0 else f"iface:{ifaces[pick - 1]}"
            began = time.perf_counter()
            data = metrics_store.graph(router_id, series, start, end)
            direct.append(time.perf_counter() - began)
            if n == 0 and not data.get("t"):
                raise RuntimeError(f"graph({router_id}, {series!r}) returned no points: {str(data)[:200]}")
            if rule is not None:
                url = rule.replace(rule[rule.index("<"):rule.index(">") + 1], str(router_id))
                began = time.perf_counter()
                response = client.get(f"{url}?series={series}&start={start}&end={end}")
                http.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {response.status_code}")
    return direct, http


def run() -> str:
    total = env_int("BENCH_P11_ROUTERS", 500)
    interfaces = env_int("BENCH_P11_IFACES", 3)
    minute_days = env_int("BENCH_P11_MINUTE_DAYS", 14)
    raw_hours = env_int("BENCH_P11_RAW_HOURS", 48)
    queries = env_int("BENCH_P11_QUERIES", 400)
    h = harness()
    try:
        try:
            from isp.services import metrics_store

            if not hasattr(metrics_store, "graph"):
                return "P11: not measured (isp.services.metrics_store.graph does not exist yet)"
        except ImportError:
            return "P11: not measured (isp.services.metrics_store is missing)"
        from isp.models import Role
        from isp.services import users

        with h.app.app_context():
            from isp.extensions import db

            users.create_user("bench-admin", "Quiet-Harbour-7-Lantern", Role.admin)
            db.session.commit()
        client = h.app.test_client()
        login(client, "bench-admin", "Quiet-Harbour-7-Lantern")
        rule = _graph_url(h.app)
        now = int(time.time())
        rng = random.Random(11)
        began = time.perf_counter()
        fleet = add_routers(h, BASE, 0, interfaces)
        rows = fill(h, fleet, now, DAYS, minute_days, raw_hours)
        small_direct, small_http = _measure(h, fleet, queries, rng, client, rule)
        more = add_routers(h, total - BASE, 1, interfaces)
        rows += fill(h, more, now, DAYS, minute_days, raw_hours)
        built = time.perf_counter() - began
        fleet += more
        large_direct, large_http = _measure(h, fleet, queries, rng, client, rule)
    finally:
        h.close()
    headline = large_http or large_direct
    via = "GET graph.json" if large_http else "metrics_store.graph"
    verbose(f"P11: {rows:,} rows of history for {total} routers × (system + {interfaces} interfaces): hour rollups "
            f"{DAYS} d, minute rollups {minute_days} d, raw {raw_hours} h; built in {built:.0f} s; {dialect(h)}")
    verbose(f"P11: metrics_store.graph p95 {p95(small_direct) * 1000:.1f} ms at {BASE} routers, "
            f"{p95(large_direct) * 1000:.1f} ms at {total} (median {sorted(large_direct)[len(large_direct) // 2] * 1000:.1f} ms)" + (
                f"; GET graph.json p95 {p95(small_http) * 1000:.1f} ms at {BASE}, {p95(large_http) * 1000:.1f} ms at "
                f"{total}" if large_http else "; no graph.json endpoint yet") + f"; {queries} queries per size")
    verbose(f"P11: the figure below is {via}")
    return f"P11: {p95(headline) * 1000:.0f} ms (graph p95 for a {DAYS}-day range, {total} routers' history)"
