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
from isp.routeros import stats
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
        yield GaugeMetricFamily("isp_workers_alive", "RQ workers registered and heartbeating.", value=len(pool_monitor.workers()))


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
