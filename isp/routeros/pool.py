"""Per-process RouterOS connection pool, with a fleet-wide per-router cap held in Redis.

A worker process keeps up to POOL_MAX logged-in connections per router and
reuses them across jobs. Any error except a trap discards the connection,
because librouteros may have left unread bytes on the socket.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from redis import Redis

from isp.routeros import client
from isp.routeros.client import RouterSpec

log = logging.getLogger(__name__)

GENERATION_KEY = "isp:pool:generation"
LEASE_TTL = 300.0  # a lease outlives any idle connection (POOL_IDLE_TIMEOUT), so live ones never expire

# Atomically drop expired leases, then take one if the router is under its cap.
_LEASE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
  redis.call('EXPIRE', KEYS[1], 600)
  return 1
end
return 0
"""


def lease_key(router_id: int) -> str:
    return f"isp:pool:leases:{router_id}"


def conns_key(router_id: int) -> str:
    return f"isp:pool:conns:{router_id}"


class PoolExhausted(Exception):
    """The router's fleet-wide connection cap is reached; try again later."""


@dataclass
class PooledConnection:
    """A logged-in connection and its bookkeeping."""

    api: object
    address: str
    lease: str
    key: tuple[int, str] = (0, "")
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)


@dataclass
class PoolSettings:
    """Thresholds, from app config."""

    timeout: float = 5.0
    min_size: int = 0
    max_size: int = 2
    fleet_cap: int = 8
    health_after: float = 30.0
    idle_timeout: float = 120.0
    acquire_timeout: float = 10.0
    reply_deadline: float = client.REPLY_DEADLINE

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PoolSettings:
        return cls(
            timeout=config["ROUTER_TIMEOUT"], min_size=config["POOL_MIN"], max_size=config["POOL_MAX"],
            fleet_cap=config["POOL_FLEET_CAP"], health_after=config["POOL_HEALTH_AFTER"],
            idle_timeout=config["POOL_IDLE_TIMEOUT"], acquire_timeout=config["POOL_ACQUIRE_TIMEOUT"],
            reply_deadline=config.get("ROUTER_REPLY_DEADLINE", client.REPLY_DEADLINE),
        )


class _Slot:
    """Connections of one router (with one set of credentials) inside this process."""

    def __init__(self) -> None:
        self.idle: deque[PooledConnection] = deque()
        self.in_use = 0
        self.cond = threading.Condition()


class RouterPool:
    """Connections per router for one worker process.

    Slots are keyed by router id and a fingerprint of address, port and
    credentials, so editing a router never reuses a connection to the old target.
    """

    def __init__(self, redis: Redis, settings: PoolSettings, owner: str | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._slots: dict[tuple[int, str], _Slot] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._generation = self._read_generation()
        self.logins = 0  # connections opened by this pool (tests and stats)

    # -- public API -----------------------------------------------------------
    @contextmanager
    def connection(self, spec: RouterSpec):
        """Lend a connection to `spec`'s router; discard it on any non-trap error."""
        conn = self._acquire(spec)
        try:
            yield conn
        except BaseException as exc:  # job timeouts arrive as exceptions too
            if client.is_trap(exc):
                self._release(conn)
            else:
                self._discard(conn)
            raise
        else:
            self._release(conn)

    def evict_idle(self) -> int:
        """Close connections idle longer than idle_timeout (keeping POOL_MIN); returns how many."""
        closed = 0
        now = time.monotonic()
        for key, slot in list(self._slots.items()):
            with slot.cond:
                keep: deque[PooledConnection] = deque()
                while slot.idle:
                    conn = slot.idle.popleft()
                    if now - conn.last_used > self.settings.idle_timeout and len(keep) + slot.in_use >= self.settings.min_size:
                        self._close(conn)
                        closed += 1
                    else:
                        keep.append(conn)
                slot.idle = keep
            self._publish(key[0])
        return closed

    def close_all(self, router_id: int | None = None) -> None:
        """Close every idle connection (of one router, or all: shutdown and pool reset)."""
        for key, slot in list(self._slots.items()):
            if router_id is not None and key[0] != router_id:
                continue
            with slot.cond:
                while slot.idle:
                    self._close(slot.idle.popleft())
            self._publish(key[0])

    def stats(self, router_id: int) -> tuple[int, int]:
        """(open, in use) connections to the router in this process."""
        open_ = in_use = 0
        for key, slot in list(self._slots.items()):
            if key[0] == router_id:
                open_ += len(slot.idle) + slot.in_use
                in_use += slot.in_use
        return open_, in_use

    # -- internals ------------------------------------------------------------
    def _slot(self, key: tuple[int, str]) -> _Slot:
        with self._lock:
            return self._slots.setdefault(key, _Slot())

    def _read_generation(self) -> int:
        try:
            return int(self.redis.get(GENERATION_KEY) or 0)
        except Exception:  # noqa: BLE001 - Redis down must not stop router work
            return self._generation

    def _check_generation(self) -> None:
        """An admin 'reset pool' bumps the generation: drop everything we hold."""
        generation = self._read_generation()
        if generation != self._generation:
            log.info("pool reset requested (generation %s): closing idle connections", generation)
            self._generation = generation
            self.close_all()

    def _acquire(self, spec: RouterSpec) -> PooledConnection:
        self._check_generation()
        key = (spec.id, spec.fingerprint)
        slot = self._slot(key)
        deadline = time.monotonic() + self.settings.acquire_timeout
        cap = max(1, min(self.settings.fleet_cap, spec.max_sessions - 2))
        with slot.cond:
            while True:
                while slot.idle:
                    conn = slot.idle.pop()  # most recently used first: the likeliest alive
                    if time.monotonic() - conn.last_used > self.settings.health_after and not self._healthy(conn):
                        self._close(conn)
                        continue
                    slot.in_use += 1
                    self._refresh_lease(spec.id, conn)
                    self._publish(spec.id)
                    return conn
                if slot.in_use < self.settings.max_size:
                    lease = f"{self.owner}:{uuid.uuid4().hex[:8]}"
                    if self._take_lease(spec.id, lease, cap):
                        slot.in_use += 1
                        break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PoolExhausted(f"{spec.name}: {cap} connections already open across workers")
                slot.cond.wait(timeout=min(remaining, 0.05))
        try:
            api, address = client.open_connection(spec, self.settings.timeout, self.settings.reply_deadline)
        except BaseException:
            with slot.cond:
                slot.in_use -= 1
                slot.cond.notify()
            self._drop_lease(spec.id, lease)
            self._publish(spec.id)
            raise
        self.logins += 1
        self._publish(spec.id)
        return PooledConnection(api=api, address=address, lease=lease, key=key)

    def _healthy(self, conn: PooledConnection) -> bool:
        """Cheap round trip after idle; a dead socket fails here, not in the job."""
        try:
            tuple(conn.api("/system/identity/print"))
            return True
        except Exception:  # noqa: BLE001
            return False

    def _release(self, conn: PooledConnection) -> None:
        slot = self._slot(conn.key)
        conn.last_used = time.monotonic()
        with slot.cond:
            slot.in_use -= 1
            slot.idle.append(conn)
            slot.cond.notify()
        self._publish(conn.key[0])

    def _discard(self, conn: PooledConnection) -> None:
        slot = self._slot(conn.key)
        with slot.cond:
            slot.in_use -= 1
            slot.cond.notify()
        self._close(conn)
        self._publish(conn.key[0])

    def _close(self, conn: PooledConnection) -> None:
        client.close_quietly(conn.api)
        self._drop_lease(conn.key[0], conn.lease)

    def _take_lease(self, router_id: int, lease: str, cap: int) -> bool:
        now = time.time()
        try:
            return bool(self.redis.eval(_LEASE_LUA, 1, lease_key(router_id), now, cap, now + LEASE_TTL, lease))
        except Exception:  # noqa: BLE001 - without Redis, fall back to the local cap only
            log.warning("pool: redis unavailable, fleet-wide cap not enforced for router %s", router_id)
            return True

    def _refresh_lease(self, router_id: int, conn: PooledConnection) -> None:
        try:
            self.redis.zadd(lease_key(router_id), {conn.lease: time.time() + LEASE_TTL}, xx=True)
        except Exception:  # noqa: BLE001
            pass

    def _drop_lease(self, router_id: int, lease: str) -> None:
        try:
            self.redis.zrem(lease_key(router_id), lease)
        except Exception:  # noqa: BLE001
            pass

    def _publish(self, router_id: int) -> None:
        """Share (open, in use) of this process for the pool monitor."""
        open_, in_use = self.stats(router_id)
        try:
            pipe = self.redis.pipeline()
            pipe.hset(conns_key(router_id), self.owner, f"{open_},{in_use},{time.time():.0f}")
            pipe.expire(conns_key(router_id), 600)
            pipe.execute()
        except Exception:  # noqa: BLE001
            pass
