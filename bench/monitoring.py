"""Monitoring benchmarks, one line each (the modules in bench/monitorbench/ say what they measure and how):

P8       routers two workers poll within every 10 s interval for 5 minutes, none missed (monitorbench/p8.py)
P11      graph p95 for a 30-day range with 500 routers' history, vs 5 routers' (monitorbench/p11.py)
P12      a CPU threshold crossed on a simulated router to the alert's POST at a local webhook (monitorbench/p12.py)
P13      dashboard p95 with 500 routers and 100 open alerts, vs 5 and 1 (monitorbench/p13.py)
storage  bytes the monitoring tables take per router per day, from a period of real polling (monitorbench/storage.py)

Run all with `python bench/monitoring.py`, or some: `python bench/monitoring.py P11 storage`. SQLite by default;
MariaDB with BENCH_DATABASE_URL (a throwaway database: its tables are dropped). REDIS_URL points the workers at a
Redis (its database is flushed); else an embedded one is started. Shorter development runs: BENCH_P8_ROUTERS,
BENCH_P8_SECONDS, BENCH_STORAGE_ROUTERS, BENCH_STORAGE_SECONDS (each module lists its knobs).
"""
from __future__ import annotations

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

BENCHES = {"P8": "monitorbench.p8", "P11": "monitorbench.p11", "P12": "monitorbench.p12", "P13": "monitorbench.p13",
           "STORAGE": "monitorbench.storage"}


def main() -> None:
    wanted = [a.upper() for a in sys.argv[1:]] or list(BENCHES)
    unknown = [w for w in wanted if w not in BENCHES]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    for name in wanted:
        print(importlib.import_module(BENCHES[name]).run(), flush=True)


if __name__ == "__main__":
    main()
