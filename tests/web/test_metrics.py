"""/metrics and /health/detailed: content, and access by staff login or METRICS_TOKEN bearer only."""
from __future__ import annotations

import redis as redis_lib
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from isp.extensions import redis_store
from isp.routeros import stats
from isp.routeros.breaker import CircuitBreaker
from tests.conftest import make_test_app

NAMES = ("isp_router_commands", "isp_router_command_latency_seconds", "isp_queue_depth", "isp_router_circuit_state",
         "isp_router_connections", "isp_workers_alive")


def _samples(text: str) -> dict:
    """{(name, sorted labels): value} from a valid exposition (the parser raises on a malformed one)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_expose_router_counters_latency_circuits_queues_and_workers(app, client, auth, make_router):
    up, down = make_router(name="up-gw"), make_router(name="down-gw")
    with app.app_context():
        stats.record(redis_store.client, up.id, True, 0.02)
        stats.record(redis_store.client, up.id, True, 0.3)
        stats.record(redis_store.client, up.id, False, 2.0, "timeout")
        breaker = CircuitBreaker.from_config(redis_store.client, app.config)
        for _ in range(app.config["BREAKER_THRESHOLD"]):
            breaker.failure(down.id, "refused")
    auth.login_as("operator")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    text = response.get_data(as_text=True)
    assert all(f"# TYPE {name}" in text for name in NAMES)
    samples = _samples(text)
    assert samples[("isp_router_commands_total", (("result", "ok"), ("router", "up-gw")))] == 2
    assert samples[("isp_router_commands_total", (("result", "fail"), ("router", "up-gw")))] == 1
    assert samples[("isp_router_command_latency_seconds_bucket", (("le", "0.025"), ("router", "up-gw")))] == 1
    assert samples[("isp_router_command_latency_seconds_bucket", (("le", "0.5"), ("router", "up-gw")))] == 2
    assert samples[("isp_router_command_latency_seconds_count", (("router", "up-gw"),))] == 3
    assert abs(samples[("isp_router_command_latency_seconds_sum", (("router", "up-gw"),))] - 2.32) < 1e-6
    assert samples[("isp_router_circuit_state", (("router", "up-gw"),))] == 0
    assert samples[("isp_router_circuit_state", (("router", "down-gw"),))] == 2
    assert samples[("isp_router_connections", (("kind", "in_use"), ("router", "up-gw")))] == 0
    assert samples[("isp_queue_depth", (("kind", "queued"), ("queue", "bulk")))] == 0
    assert samples[("isp_workers_alive", ())] == 0


def test_health_detailed_reports_stores_workers_and_circuits(app, client, auth, make_router):
    make_router(name="up-gw")
    down = make_router(name="down-gw")
    app.config["BREAKER_COOLDOWN"] = 60  # the circuit must still be open when the page is read, however slow the login
    with app.app_context():
        breaker = CircuitBreaker.from_config(redis_store.client, app.config)
        for _ in range(app.config["BREAKER_THRESHOLD"]):
            breaker.failure(down.id, "refused")
    auth.login_as("admin")
    response = client.get("/health/detailed")
    assert response.status_code == 200
    body = response.json
    assert body["checks"] == {"database": "ok", "redis": "ok"}
    assert body["workers"]["alive"] == 0
    assert body["routers"] == {"down-gw": "open", "up-gw": "closed"}
    assert body["status"] == "degraded"  # no worker alive and an open circuit


def test_a_bearer_token_opens_both_endpoints_without_login(app, client):
    app.config["METRICS_TOKEN"] = "scrape-me-123"
    good = {"Authorization": "Bearer scrape-me-123"}
    assert client.get("/metrics", headers=good).status_code == 200
    assert client.get("/health/detailed", headers=good).json["checks"]["redis"] == "ok"
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me-123"}, {}):
        assert client.get("/metrics", headers=headers).status_code == 401
        assert client.get("/health/detailed", headers=headers).status_code == 401


def test_anonymous_and_resellers_are_refused_when_no_token_is_configured(app, client, auth):
    assert app.config.get("METRICS_TOKEN") in (None, "")
    anonymous = client.get("/metrics", headers={"Authorization": "Bearer "})
    assert anonymous.status_code == 401 and "isp_" not in anonymous.get_data(as_text=True)
    assert client.get("/health/detailed").status_code == 401
    auth.login_as("reseller")
    assert client.get("/metrics").status_code == 403
    assert client.get("/health/detailed").status_code == 403


def test_health_detailed_is_503_when_redis_is_down(app, _migrated):
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.3, socket_timeout=0.3)
    broken = make_test_app(_migrated, REDIS_CLIENT=dead, METRICS_TOKEN="t0ken")
    response = broken.test_client().get("/health/detailed", headers={"Authorization": "Bearer t0ken"})
    assert response.status_code == 503 and response.json["down"] == ["redis"]
    assert broken.test_client().get("/metrics", headers={"Authorization": "Bearer t0ken"}).status_code == 503
