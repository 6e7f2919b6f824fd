"""Login throttling in Redis, per IP and per username, shared by every web process."""
from __future__ import annotations

import hashlib
import logging

import redis
from flask import current_app

from isp.extensions import redis_store

log = logging.getLogger(__name__)


def _keys(ip: str, username: str) -> list[str]:
    """Redis keys for the failure counters (username hashed: no PII in Redis keys)."""
    user_hash = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:24]
    return [f"isp:rl:login:ip:{ip}", f"isp:rl:login:user:{user_hash}"]


def login_blocked_for(ip: str, username: str) -> int:
    """Seconds until another attempt is allowed; 0 when not blocked."""
    # The username's limit bites first; an IP's is much higher, so one office behind NAT is not locked out
    # by a colleague's typos, while a password spray from one address still stops.
    limits = (current_app.config["LOGIN_RATE_LIMIT_IP"], current_app.config["LOGIN_RATE_LIMIT"])
    try:
        client = redis_store.client
        pipe = client.pipeline()
        for key in _keys(ip, username):
            pipe.get(key)
            pipe.ttl(key)
        values = pipe.execute()
    except redis.RedisError:
        # Failing open keeps staff able to log in while Redis is down; the error is logged.
        log.error("login rate limiter unavailable: redis error")
        return 0
    wait = 0
    for limit, count, ttl in zip(limits, values[0::2], values[1::2], strict=True):
        if count is not None and int(count) >= limit:
            wait = max(wait, int(ttl) if ttl and ttl > 0 else 1)
    return wait


def record_failure(ip: str, username: str) -> None:
    """Count one failed attempt in the current window."""
    window = current_app.config["LOGIN_RATE_WINDOW"]
    try:
        pipe = redis_store.client.pipeline()
        for key in _keys(ip, username):
            # SET NX EX then INCR: a fixed window that works on Redis 6 (embedded) and 7.
            pipe.set(key, 0, ex=window, nx=True)
            pipe.incr(key)
        pipe.execute()
    except redis.RedisError:
        log.error("login rate limiter unavailable: redis error")


def clear(ip: str, username: str) -> None:
    """Forget the username's failures after a successful login."""
    try:
        redis_store.client.delete(_keys(ip, username)[1])
    except redis.RedisError:
        log.error("login rate limiter unavailable: redis error")
