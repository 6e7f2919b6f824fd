"""Per-process router runtime: the pool and the breaker, created lazily after any fork."""
from __future__ import annotations

import os
import time
from typing import Callable

from flask import current_app

from isp.extensions import redis_store
from isp.routeros.breaker import CircuitBreaker
from isp.routeros.pool import PoolSettings, RouterPool

_pool: RouterPool | None = None
_pool_pid: int | None = None


def pool() -> RouterPool:
    """This process's pool (a forked child never reuses its parent's sockets)."""
    global _pool, _pool_pid
    if _pool is not None and _pool.redis is not redis_store.client:
        _pool.close_all()  # another app (tests) or a new Redis: start afresh
        _pool = None
    if _pool is None or _pool_pid != os.getpid():
        _pool = RouterPool(redis_store.client, PoolSettings.from_config(current_app.config))
        _pool_pid = os.getpid()
    return _pool


class RouterUnavailable(Exception):
    """A read could not reach the router; the message is what the job reports, `error` the router's own failure."""

    def __init__(self, message: str, error: Exception | None = None) -> None:
        super().__init__(message)
        self.error = error


def read(router, reader: Callable, count: int = 1):  # noqa: ANN001, ANN201
    """Run reader(api) on a pooled connection, honouring the breaker and recording the outcome.

    Raises RouterUnavailable ("circuit open", "pool busy", "failed: …"); a failure counts
    against the router's breaker and stats, a success closes the breaker.
    """
    from isp.routeros import stats
    from isp.routeros.client import RouterSpec, classify
    from isp.routeros.pool import PoolExhausted

    shared = breaker()
    if not shared.allow(router.id).allowed:
        raise RouterUnavailable("circuit open")
    started = time.perf_counter()
    try:
        with pool().connection(RouterSpec.from_model(router)) as conn:
            result = reader(conn.api)
    except PoolExhausted:
        raise RouterUnavailable("pool busy") from None
    except Exception as exc:  # noqa: BLE001 - any failure counts against the router
        error = classify(exc)
        shared.failure(router.id, error.message)
        stats.record(redis_store.client, router.id, False, time.perf_counter() - started, str(error))
        raise RouterUnavailable(f"failed: {error}", error) from exc
    shared.success(router.id)
    stats.record(redis_store.client, router.id, True, time.perf_counter() - started, count=count)
    return result


def breaker() -> CircuitBreaker:
    """The shared breaker, configured from the app."""
    return CircuitBreaker.from_config(redis_store.client, current_app.config)


def close_pool() -> None:
    """Close every pooled connection (worker teardown)."""
    global _pool
    if _pool is not None and _pool_pid == os.getpid():
        _pool.close_all()
    _pool = None
