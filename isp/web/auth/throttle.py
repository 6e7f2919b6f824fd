"""Login throttling with Flask-Limiter's storage and strategy.

Attempts are counted per IP (LOGIN_RATE_LIMIT_IP) and per username (LOGIN_RATE_LIMIT) in a fixed window
of LOGIN_RATE_WINDOW seconds, separately for the password ("login") and the second factor ("2fa"). Each attempt is
counted before it is checked (so concurrent guesses cannot slip under the limit), a success clears the username's
counter (so in effect only failures count against a user), and the wait is shown. The
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


def _wait(scope: str, ip: str, username: str, count: bool) -> int:
    """Seconds until the busier counter allows another attempt (0: go ahead), counting this one first if `count`."""
    over = limiter.limiter.hit if count else limiter.limiter.test
    wait = 0.0
    try:
        for item, key in zip(_items(), _keys(scope, ip, username), strict=True):
            if not over(item, *key):
                reset = limiter.limiter.get_window_stats(item, *key).reset_time
                wait = max(wait, reset - time.time(), 1)
    except (StorageError, RedisError, OSError):
        log.error("login rate limiter unavailable: storage error")
        return 0
    return math.ceil(wait)


def attempt(scope: str, ip: str, username: str) -> int:
    """Count this attempt BEFORE it is checked; returns the wait in seconds when over a limit (0: go ahead).

    Counting first (an atomic INCR) means concurrent attempts cannot all pass a check made before any of them was
    counted; a success then clears the username's counter (clear()). Storage down: 0, with the error logged.
    """
    return _wait(scope, ip, username, count=True)


def wait_for(scope: str, ip: str, username: str) -> int:
    """Seconds until another attempt is allowed, without counting one; 0 when not blocked (or the storage is down)."""
    return _wait(scope, ip, username, count=False)


def tries_left(scope: str, ip: str, username: str) -> int | None:
    """After a failed attempt (already counted by attempt()): tries left before a pause (None if unknown)."""
    try:
        left = None
        for item, key in zip(_items(), _keys(scope, ip, username), strict=True):
            remaining = limiter.limiter.get_window_stats(item, *key).remaining
            left = remaining if left is None else min(left, remaining)
        return left
    except (StorageError, RedisError, OSError):
        log.error("login rate limiter unavailable: storage error")
        return None


def clear(scope: str, ip: str, username: str) -> None:
    """After a success: forget the username's failures, and take this attempt back off the IP's count (so an office
    behind one address is limited by its failures only, never by its colleagues' successful logins)."""
    try:
        ip_item, user_item = _items()
        ip_key, user_key = _keys(scope, ip, username)
        limiter.limiter.clear(user_item, *user_key)
        limiter.limiter.hit(ip_item, *ip_key, cost=-1)
    except (StorageError, RedisError, OSError):
        log.error("login rate limiter unavailable: storage error")
