"""Per-router command statistics in Redis: rates, latency percentiles, histogram, last error."""
from __future__ import annotations

import json
import time

from redis import Redis

WINDOW = 60  # seconds over which the pool monitor computes rates and percentiles
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _k(router_id: int, name: str) -> str:
    return f"isp:stats:{router_id}:{name}"


def record(redis: Redis, router_id: int, ok: bool, seconds: float, error: str = "", count: int = 1) -> None:
    """Record `count` commands that took `seconds` in all (a batch records once per chunk)."""
    now = time.time()
    second = int(now)
    per_command = seconds / max(count, 1)
    try:
        pipe = redis.pipeline(transaction=False)
        bucket = _k(router_id, f"sec:{second}")
        pipe.hincrby(bucket, "ok" if ok else "fail", count)
        pipe.expire(bucket, WINDOW * 2)
        # Latency samples: member is unique, score is the time, so old ones trim by score.
        pipe.zadd(_k(router_id, "lat"), {f"{now:.6f}:{per_command:.6f}": now})
        pipe.zremrangebyscore(_k(router_id, "lat"), "-inf", now - WINDOW)
        pipe.expire(_k(router_id, "lat"), WINDOW * 2)
        totals = _k(router_id, "totals")
        pipe.hincrby(totals, "ok" if ok else "fail", count)
        pipe.hincrbyfloat(totals, "seconds_sum", per_command * count)
        for upper in BUCKETS:
            if per_command <= upper:
                pipe.hincrby(totals, f"le:{upper}", count)
        pipe.hincrby(totals, "le:+Inf", count)
        if not ok and error:
            pipe.set(_k(router_id, "last_error"), json.dumps({"at": now, "error": error[:500]}))
        pipe.execute()
    except Exception:  # noqa: BLE001 - statistics never break router work
        pass


def summary(redis: Redis, router_id: int, window: int = WINDOW) -> dict:
    """Rates and percentiles over the last `window` seconds."""
    now = int(time.time())
    pipe = redis.pipeline(transaction=False)
    for second in range(now - window + 1, now + 1):
        pipe.hgetall(_k(router_id, f"sec:{second}"))
    pipe.zrangebyscore(_k(router_id, "lat"), now - window, "+inf")
    pipe.get(_k(router_id, "last_error"))
    results = pipe.execute()
    ok = fail = 0
    recent = 0
    for index, bucket in enumerate(results[:window]):
        good, bad = int(bucket.get(b"ok", 0)), int(bucket.get(b"fail", 0))
        ok, fail = ok + good, fail + bad
        if index >= window - 10:
            recent += good + bad
    latencies = sorted(float(m.decode().split(":")[1]) for m in results[window])
    last_error = json.loads(results[window + 1]) if results[window + 1] else None
    total = ok + fail
    return {
        "commands_per_s": recent / 10.0,
        "ok": ok,
        "fail": fail,
        "success_rate": (ok / total) if total else None,
        "p50_ms": _percentile(latencies, 0.50) * 1000 if latencies else None,
        "p95_ms": _percentile(latencies, 0.95) * 1000 if latencies else None,
        "last_error": last_error,
    }


def totals(redis: Redis, router_id: int) -> dict[str, float]:
    """Monotonic counters for Prometheus."""
    raw = redis.hgetall(_k(router_id, "totals"))
    return {k.decode(): float(v) for k, v in raw.items()}


def _percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, max(0, int(round(fraction * (len(sorted_values) - 1)))))
    return sorted_values[index]
