"""Read cache for router menus: pages read it, workers fill it, writes invalidate it."""
from __future__ import annotations

import json
import time

from redis import Redis


def key(router_id: int, menu: str) -> str:
    return f"isp:cache:{router_id}:{menu}"


def put(redis: Redis, router_id: int, menu: str, rows: list[dict], ttl: int) -> None:
    """Store a fresh read of a menu for `ttl` seconds."""
    redis.set(key(router_id, menu), json.dumps({"at": time.time(), "rows": rows}), ex=ttl)


def get(redis: Redis, router_id: int, menu: str) -> dict | None:
    """The cached read ({'at', 'rows'}) or None if absent or expired."""
    raw = redis.get(key(router_id, menu))
    return json.loads(raw) if raw else None


def invalidate(redis: Redis, router_id: int, menu: str) -> None:
    """Forget a menu after a write to it."""
    redis.delete(key(router_id, menu))
