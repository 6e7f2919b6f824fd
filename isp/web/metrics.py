"""Prometheus /metrics, plus the token-or-staff access rule it shares with /health/detailed."""
from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Response, current_app, jsonify, request
from flask_login import current_user
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString
from sqlalchemy import select

from isp.extensions import db, redis_store
from isp.models import Router
from isp.models.base import utcnow
from isp.models.monitoring import RouterInterface
from isp.routeros import stats, status
from isp.routeros.status import breaker
from isp.services import health, pool_monitor
from isp.web.routers.reads import CIRCUIT_GAUGE
from isp.web.security import STAFF, public

bp = Blueprint("metrics", __name__)


def _bearer_ok() -> bool:
    """True when METRICS_TOKEN is set and the request carries it as a bearer token."""
    token = current_app.config.get("METRICS_TOKEN")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), str(token).encode())


def token_or_staff(view: Callable) -> Callable:
    """Allow a valid METRICS_TOKEN bearer or a staff login; use under @public so the deny-by-default hook lets it in."""

    @wraps(view)
    def wrapped(*args: object, **kwargs: object) -> Response:
        if _bearer_ok() or (current_user.is_authenticated and current_user.has_role(*STAFF)):
            return view(*args, **kwargs)
        if current_user.is_authenticated:
            return jsonify(error="forbidden", message="Your role does not allow that."), 403
        response = jsonify(error="unauthenticated", message="Log in as staff or send Authorization: Bearer <METRICS_TOKEN>.")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="isp"'
        return response

    wrapped._token_roles = STAFF  # type: ignore[attr-defined]  # read by the role matrix test
    return wrapped


def _routers() -> list[tuple[int, str]]:
    return [tuple(row) for row in db.session.execute(select(Router.id, Router.name).order_by(Router.name))]


class IspCollector:
    """Reads Redis and SQL at scrape time; one instance per request, nothing global."""

    def collect(self):
        """Yield every isp_* metric family."""
        redis = redis_store.client
        routers = _routers()
        circuits = breaker().states([router_id for router_id, _ in routers])
        commands = CounterMetricFamily("isp_router_commands", "Router commands run by workers, by result.",
                                       labels=["router", "result"])
        latency = HistogramMetricFamily("isp_router_command_latency_seconds", "Time per router command.", labels=["router"])
        circuit = GaugeMetricFamily("isp_router_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.",
                                    labels=["router"])
        conns = GaugeMetricFamily("isp_router_connections", "Pooled API connections over live workers.",
                                  labels=["router", "kind"])
        for router_id, name in routers:
            totals = stats.totals(redis, router_id)
            commands.add_metric([name, "ok"], totals.get("ok", 0.0))
            commands.add_metric([name, "fail"], totals.get("fail", 0.0))
            buckets = [(floatToGoString(bound), totals.get(f"le:{bound}", 0.0)) for bound in stats.BUCKETS]
            latency.add_metric([name], buckets + [("+Inf", totals.get("le:+Inf", 0.0))], totals.get("seconds_sum", 0.0))
            circuit.add_metric([name], CIRCUIT_GAUGE.get(circuits[router_id]["state"], 2))
            open_, in_use = pool_monitor.connections(router_id)
            conns.add_metric([name, "open"], open_)
            conns.add_metric([name, "in_use"], in_use)
        depth = GaugeMetricFamily("isp_queue_depth", "RQ jobs per priority queue.", labels=["queue", "kind"])
        for queue_name, counts in pool_monitor.queue_depths().items():
            depth.add_metric([queue_name, "queued"], counts["queued"])
            depth.add_metric([queue_name, "scheduled"], counts["scheduled"])
        yield from (commands, latency, circuit, conns, depth)
        yield from _router_series(routers)
        yield GaugeMetricFamily("isp_workers_alive", "RQ workers registered and heartbeating.", value=len(pool_monitor.workers()))


def _router_series(routers: list[tuple[int, str]]):
    """Per-router gauges from the last poll (one Redis MGET, one SQL read of interface rates; no router I/O)."""
    latest = status.latest_many([router_id for router_id, _ in routers])
    interval = int(current_app.config["MONITOR_INTERVAL"])
    seen = dict(db.session.execute(select(Router.id, Router.last_seen_at).where(Router.last_error == "")).all())
    now = utcnow()
    up = GaugeMetricFamily("isp_router_up", "1 when the last poll answered within 3 poll intervals.", labels=["router"])
    gauges = {key: GaugeMetricFamily(f"isp_router_{name}", text, labels=["router"]) for key, name, text in (
        ("cpu_load", "cpu_percent", "CPU load in percent."),
        ("memory", "memory_used_percent", "Memory used in percent."),
        ("temperature", "temperature_celsius", "Board temperature."),
        ("voltage", "voltage_volts", "Supply voltage."),
    )}
    users = GaugeMetricFamily("isp_router_users_online", "Active sessions by kind.", labels=["router", "kind"])
    names = dict(routers)
    for router_id, name in routers:
        at = seen.get(router_id)
        up.add_metric([name], 1.0 if at is not None and (now - at).total_seconds() <= 3 * interval else 0.0)
        figures = latest.get(router_id) or {}
        for key, family in gauges.items():
            if figures.get(key) is not None:
                family.add_metric([name], float(figures[key]))
        for kind in ("ppp", "hotspot"):
            if figures.get(f"{kind}_active") is not None:
                users.add_metric([name, kind], float(figures[f"{kind}_active"]))
    yield from (up, *gauges.values(), users)
    rx = GaugeMetricFamily("isp_interface_rx_bps", "Receive rate from counter deltas.", labels=["router", "interface"])
    tx = GaugeMetricFamily("isp_interface_tx_bps", "Transmit rate from counter deltas.", labels=["router", "interface"])
    rows = db.session.execute(select(RouterInterface.router_id, RouterInterface.name, RouterInterface.rx_bps,
                                     RouterInterface.tx_bps).where(RouterInterface.present.is_(True)))
    for router_id, iface, rx_bps, tx_bps in rows:
        if router_id in names:
            rx.add_metric([names[router_id], iface], float(rx_bps))
            tx.add_metric([names[router_id], iface], float(tx_bps))
    yield from (rx, tx)


@bp.route("/metrics")
@public
@token_or_staff
def index():
    """Prometheus text exposition of router, queue and worker figures."""
    down = health.down(health.readiness())
    if down:
        return Response(f"# scrape failed: {', '.join(down)} down\n", status=503, content_type=CONTENT_TYPE_LATEST)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(IspCollector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
