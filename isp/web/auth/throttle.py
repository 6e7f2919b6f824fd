"""Login throttling with Flask-Limiter's storage and strategy, and the app's answer to a 429.

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

from flask import Flask, current_app, request
from flask.typing import ResponseReturnValue
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError
from redis import RedisError
from werkzeug.exceptions import HTTPException

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


def init_rate_limit_errors(app: Flask) -> None:
    """Answer a limiter's 429 with the friendly error page (and Retry-After); /api/ paths keep the API's own handler."""

    @app.errorhandler(429)
    def too_many_requests(err: HTTPException) -> ResponseReturnValue:
        if request.path.startswith("/api/"):
            return _api_handler(app, err)
        from isp.web.errors import error_response

        wait = _retry_after()
        message = f"Too many requests. Wait {wait} seconds and try again." if wait else None
        response = error_response(429, message)
        if wait:
            response.headers["Retry-After"] = str(wait)
        return response


def _retry_after() -> int:
    """Seconds until the breached limit of this request resets (0 if unknown)."""
    try:
        current = limiter.current_limit
        return max(1, math.ceil(current.reset_at - time.time())) if current is not None else 0
    except Exception:  # noqa: BLE001 - a hint only; the storage may be down
        return 0


def _api_handler(app: Flask, err: HTTPException) -> ResponseReturnValue:
    """The handler Flask would pick without ours: the blueprint's or the app's HTTPException handler."""
    for name in (*request.blueprints, None):
        handlers = app.error_handler_spec.get(name, {}).get(None, {})
        for cls in type(err).__mro__:
            if cls in handlers:
                return handlers[cls](err)
    return err
