"""Login throttling with Flask-Limiter's storage and strategy.

Failed attempts are counted per IP (LOGIN_RATE_LIMIT_IP) and per username (LOGIN_RATE_LIMIT) in a fixed window
of LOGIN_RATE_WINDOW seconds, separately for the password ("login") and the second factor ("2fa"). Only failures
count (a decorator would count every POST), a success clears the username's counter, and the wait is shown. The
per-username limit is the lower one, so a colleague's typos behind the same NAT never lock others out. When Redis
is down the check fails open, with the error logged, so staff can still log in.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import current_app
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from redis import RedisError

from isp.extensions import limiter

log = logging.getLogger(__name__)


def _items() -> tuple[RateLimitItem, RateLimitItem]:
    """(per IP, per username) limits from the config."""
    config = current_app.config
    window = config["LOGIN_RATE_WINDOW"]
    return (RateLimitItemPerSecond(config["LOGIN_RATE_LIMIT_IP"], window),
            RateLimitItemPerSecond(config["LOGIN_RATE_LIMIT"], window))


def _keys(scope: str, ip: str, username: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Identifiers of the two counters (the username hashed: no personal data in Redis keys)."""
    user_hash = hashlib.sha256((username or "").strip().lower().encode()).hexdigest()[:24]
    return (scope, "ip", ip or "unknown"), (scope, "user", user_hash)


def blocked_for(scope: str, ip: str, username: str) -> int:
    """Seconds until another attempt is allowed; 0 when not blocked (or when the storage is down)."""
    wait = 0.0
    try:
        for item, key in zip(_items(), _keys(scope, ip, username), strict=True):
            if not limiter.limiter.test(item, *key):
                reset = limiter.limiter.get_window_stats(item, *key).reset_time
                wait = max(wait, reset - time.time(), 1)
    except (StorageError, RedisError, OSError):
        log.error("login rate limiter unavailable: storage error")
        return 0
    return math.ceil(wait)


def failed(scope: str, ip: str, username: str) -> int | None:
    """Count one failure; returns the tries left for the username before a pause (None if unknown)."""
    try:
        left = None
        for item, key in zip(_items(), _keys(scope, ip, username), strict=True):
            limiter.limiter.hit(item, *key)
            remaining = limiter.limiter.get_window_stats(item, *key).remaining
            left = remaining if left is None else min(left, remaining)
        return left
    except (StorageError, RedisError, OSError):
        log.error("login rate limiter unavailable: storage error")
        return None


def clear(scope: str, ip: str, username: str) -> None:
    """Forget the username's failures after a success."""
    try:
        limiter.limiter.clear(_items()[1], *_keys(scope, ip, username)[1])
    except (StorageError, RedisError, OSError):
        log.error("login rate limiter unavailable: storage error")
