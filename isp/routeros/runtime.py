"""The worker side's router access: this process's pool, and the one guarded router call.

`guarded(router, work)` is the only way code reaches a router: it asks the shared breaker,
borrows a pooled connection, runs `work(api)`, records the outcome in the stats and the
breaker, and turns every failure into `RouterUnavailable` with a reason the caller can act on.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from librouteros.api import Api

from isp.extensions import redis_store
from isp.routeros import stats, status
from isp.routeros.client import CONNECTED_ADDRESS, RouterError, RouterSpec, classify
from isp.routeros.pool import PoolExhausted, PoolSettings, RouterPool

T = TypeVar("T")
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


def evict_idle() -> None:
    """Close idle connections, if this process has a pool at all (worker heartbeat)."""
    if _pool is not None and _pool_pid == os.getpid():
        _pool.evict_idle()


def close_pool() -> None:
    """Close every pooled connection (worker teardown)."""
    global _pool
    if _pool is not None and _pool_pid == os.getpid():
        _pool.close_all()
    _pool = None


class RouterUnavailable(Exception):
    """The router could not be used now.

    reason: "circuit" (open or a probe in flight; retry_after says when), "pool" (no free
    connection), "credentials" (the stored password cannot be used), "failed" (the router or
    the network failed: `error` is the classified failure, counted against the breaker).
    """

    def __init__(self, reason: str, message: str, error: RouterError | None = None, retry_after: float = 0.0,
                 circuit: str = "") -> None:
        super().__init__(message)
        self.reason, self.message, self.error = reason, message, error
        self.retry_after, self.circuit = retry_after, circuit


def guarded(router: object, work: Callable[[Api], T], count: int | Callable[[T], int] = 1, probe: bool = False,
            prepare: Callable[[], bool] | None = None) -> T | None:
    """Run work(api) on a pooled connection to `router`, honouring and feeding the breaker.

    `count` is how many commands the work stands for in the stats (or a function of its result).
    A probe (an operator's connection test) runs even when the circuit is open.
    `prepare` runs once the breaker lets the call through, before connecting (the command path
    claims its rows there, so an attempt counts even when the connection fails); when it
    returns False nothing is left to do and None is returned without touching the router.
    Non-Exception interrupts (a job timeout, SIGINT) are recorded as failures and re-raised as they are.
    """
    shared = status.breaker()
    router_id = router.id  # type: ignore[attr-defined]
    decision = shared.allow(router_id)
    if not decision.allowed and not probe:
        raise RouterUnavailable("circuit", f"circuit {decision.state}", retry_after=decision.retry_after,
                                circuit=decision.state)
    # A half-open circuit lets one trial through; a trial that never reaches the router gives it back.
    trial = decision.allowed and decision.state == "half-open"
    try:
        spec = RouterSpec.from_model(router)
    except ValueError as exc:
        if trial:
            shared.release(router_id)
        raise RouterUnavailable("credentials", f"config: {exc}") from None
    if prepare is not None and not prepare():
        if trial:
            shared.release(router_id)
        return None
    started = time.perf_counter()
    try:
        with pool().connection(spec) as conn:
            token = CONNECTED_ADDRESS.set(conn.address)
            try:
                result = work(conn.api)
            finally:
                CONNECTED_ADDRESS.reset(token)
    except PoolExhausted as exc:
        if trial:
            shared.release(router_id)
        raise RouterUnavailable("pool", str(exc)) from None
    except BaseException as exc:
        error = classify(exc)
        shared.failure(router_id, error.message)
        stats.record(redis_store.client, router_id, False, time.perf_counter() - started, str(error))
        if not isinstance(exc, Exception) or type(exc).__name__ == "JobTimeoutException":
            raise
        raise RouterUnavailable("failed", f"failed: {error}", error) from exc
    shared.success(router_id)
    done = count(result) if callable(count) else count
    stats.record(redis_store.client, router_id, True, time.perf_counter() - started, count=max(done, 1))
    return result
