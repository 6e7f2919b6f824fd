"""Per-process router runtime: the pool and the breaker, created lazily after any fork."""
from __future__ import annotations

import os

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


def breaker() -> CircuitBreaker:
    """The shared breaker, configured from the app."""
    return CircuitBreaker.from_config(redis_store.client, current_app.config)


def close_pool() -> None:
    """Close every pooled connection (worker teardown)."""
    global _pool
    if _pool is not None and _pool_pid == os.getpid():
        _pool.close_all()
    _pool = None
