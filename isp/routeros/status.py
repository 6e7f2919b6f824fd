"""Router state for pages and probes, read from Redis: latest metrics (written by the monitoring poll) and circuit states.

No router I/O here.
"""
from __future__ import annotations

import json
import time

from flask import current_app
from redis.client import Pipeline

from isp.extensions import redis_store
from isp.routeros.breaker import CircuitBreaker

METRICS_TTL = 300


def breaker() -> CircuitBreaker:
    """The shared per-router circuit breaker, configured from the app."""
    return CircuitBreaker.from_config(redis_store.client, current_app.config)


def circuits(router_ids: list[int]) -> dict[int, dict]:
    """Breaker hash per router, in one Redis round trip."""
    return breaker().states(router_ids)


def reset_circuits(router_ids: list[int]) -> None:
    """Close the circuits of these routers (an admin's pool reset)."""
    breaker().reset(*router_ids)


def metrics_key(router_id: int) -> str:
    return f"isp:metrics:{router_id}"


def latest_metrics(router_id: int) -> dict | None:
    """The last polled resources of a router, or None when none is fresh."""
    raw = redis_store.client.get(metrics_key(router_id))
    return json.loads(raw) if raw else None


def store_metrics(router_id: int, metrics: dict) -> None:
    """Keep a router's latest resources for the pages (a poll writes them)."""
    redis_store.client.set(metrics_key(router_id), json.dumps({"at": time.time(), **metrics}), ex=METRICS_TTL)


def store_metrics_many(pipe: Pipeline, figures: dict[int, dict]) -> None:
    """Queue on a Redis pipeline: store_metrics() of many routers (a batch poll)."""
    at = time.time()
    for router_id, metrics in figures.items():
        pipe.set(metrics_key(router_id), json.dumps({"at": at, **metrics}), ex=METRICS_TTL)


def latest_many(router_ids: list[int]) -> dict[int, dict]:
    """The last polled figures of many routers in one Redis round trip (routers without fresh ones left out)."""
    ids = list(router_ids)
    if not ids:
        return {}
    values = redis_store.client.mget([metrics_key(i) for i in ids])
    return {i: json.loads(raw) for i, raw in zip(ids, values, strict=True) if raw}
