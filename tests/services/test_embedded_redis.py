"""The embedded Redis of the default profile is shared and restartable."""
from __future__ import annotations

import redis

from isp.embedded_redis import ensure_embedded_redis, stop_embedded_redis


def test_embedded_redis_starts_once_is_shared_and_stops(tmp_path):
    url = ensure_embedded_redis(str(tmp_path))
    try:
        first = redis.Redis.from_url(url)
        first.set("k", "v")
        assert ensure_embedded_redis(str(tmp_path)) == url  # second caller reuses the server
        assert redis.Redis.from_url(url).get("k") == b"v"
    finally:
        assert stop_embedded_redis(str(tmp_path)) is True
    assert stop_embedded_redis(str(tmp_path)) is False
