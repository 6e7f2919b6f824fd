"""Per-router circuit breaker kept in Redis, so every worker sees the same state.

closed --N consecutive failures--> open --cool-down--> half-open --success--> closed
                                                       half-open --failure--> open
While open, jobs for the router are deferred (not failed); one probe at a time
is let through in half-open.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"

# KEYS[1] breaker hash; ARGV: now, cooldown, probe_ttl. Returns {allowed, state, retry_after*1000}.
_ALLOW_LUA = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return {1, state, 0} end
local now = tonumber(ARGV[1])
if state == 'open' then
  local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
  local wait = opened + tonumber(ARGV[2]) - now
  if wait > 0 then return {0, state, math.ceil(wait * 1000)} end
  redis.call('HSET', KEYS[1], 'state', 'half-open', 'changed_at', ARGV[1])
  state = 'half-open'
end
local probe = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if probe > now then return {0, state, math.ceil((probe - now) * 1000)} end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[3]))
return {1, state, 0}
"""

# KEYS[1] breaker hash; ARGV: now, threshold, error. Returns the new state.
_FAILURE_LUA = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
redis.call('HSET', KEYS[1], 'last_error', ARGV[3], 'probe_until', 0)
if state == 'half-open' or (state == 'closed' and failures >= tonumber(ARGV[2])) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1], 'changed_at', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'opens', 1)
  return 'open'
end
return state
"""

_SUCCESS_LUA = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
redis.call('HSET', KEYS[1], 'failures', 0, 'probe_until', 0)
if state ~= 'closed' then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'changed_at', ARGV[1])
end
return state
"""


def key(router_id: int) -> str:
    return f"isp:breaker:{router_id}"


@dataclass
class Decision:
    """Whether a job may talk to the router now, and if not, when to retry."""

    allowed: bool
    state: str
    retry_after: float


class CircuitBreaker:
    """Breaker operations for any router, shared through Redis."""

    def __init__(self, redis: Redis, threshold: int = 3, cooldown: float = 5.0, probe_ttl: float = 30.0) -> None:
        self.redis = redis
        self.threshold = threshold
        self.cooldown = cooldown
        self.probe_ttl = probe_ttl

    @classmethod
    def from_config(cls, redis: Redis, config: Mapping[str, Any]) -> CircuitBreaker:
        return cls(redis, config["BREAKER_THRESHOLD"], config["BREAKER_COOLDOWN"], max(config["ROUTER_TIMEOUT"] * 3, 5.0))

    def allow(self, router_id: int) -> Decision:
        """May a job use the router now? Moves open → half-open after the cool-down."""
        allowed, state, wait_ms = self.redis.eval(_ALLOW_LUA, 1, key(router_id), time.time(), self.cooldown, self.probe_ttl)
        state = state.decode() if isinstance(state, bytes) else state
        return Decision(bool(allowed), state, int(wait_ms) / 1000.0)

    def success(self, router_id: int) -> None:
        """The router answered: close the circuit."""
        before = self.redis.eval(_SUCCESS_LUA, 1, key(router_id), time.time())
        before = before.decode() if isinstance(before, bytes) else before
        if before != CLOSED:
            log.info("circuit of router %s closed (was %s)", router_id, before)

    def failure(self, router_id: int, error: str) -> str:
        """Count a failure; returns the state after it."""
        state = self.redis.eval(_FAILURE_LUA, 1, key(router_id), time.time(), self.threshold, error[:300])
        state = state.decode() if isinstance(state, bytes) else state
        if state == OPEN:
            log.warning("circuit of router %s is open: %s", router_id, error[:200])
        return state

    def state(self, router_id: int) -> dict:
        """The breaker hash as a dict (state, failures, opened_at, last_error, opens)."""
        return self.states([router_id])[router_id]

    def states(self, router_ids: list[int]) -> dict[int, dict]:
        """state() for many routers in one Redis round trip (list pages, metrics, health)."""
        pipe = self.redis.pipeline(transaction=False)
        for router_id in router_ids:
            pipe.hgetall(key(router_id))
        now = time.time()
        out = {}
        for router_id, raw in zip(router_ids, pipe.execute(), strict=True):
            data = {k.decode(): v.decode() for k, v in raw.items()}
            data.setdefault("state", CLOSED)
            data.setdefault("failures", "0")
            if data["state"] == OPEN and float(data.get("opened_at", 0)) + self.cooldown <= now:
                data["state"] = HALF_OPEN  # will let a probe through on the next job
            out[router_id] = data
        return out

    def release(self, router_id: int) -> None:
        """Give back a half-open trial that never reached the router (no connection free, nothing to run)."""
        self.redis.hset(key(router_id), "probe_until", 0)

    def reset(self, *router_ids: int) -> None:
        """Forget these routers' breakers (admin reset), in one round trip."""
        if router_ids:
            self.redis.delete(*(key(router_id) for router_id in router_ids))
