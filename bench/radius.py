"""RADIUS benchmarks, one line each (the modules in bench/radiusbench/ say what they measure and how):

P5   a plan change re-syncs 10,000 subscribers on a radius-mode router in one transaction (radiusbench/p5.py)
P10  Access-Request p95 against a real FreeRADIUS at 100,000 RADIUS users vs 1,000 (radiusbench/p10.py)
P4r  online-now and usage pages p95 at 1,000,000 radacct rows vs 10,000 (radiusbench/p4r.py)

Run all with `python bench/radius.py`, or some: `python bench/radius.py P5 P4r`. SQLite by default; MariaDB with
BENCH_DATABASE_URL (and BENCH_SMALL_DATABASE_URL for P4r's baseline), throwaway databases whose tables are dropped.
P10 needs Debian's freeradius (`make freeradius`).
"""
from __future__ import annotations

import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

BENCHES = {"P5": "radiusbench.p5", "P10": "radiusbench.p10", "P4R": "radiusbench.p4r"}


def main() -> None:
    wanted = [a.upper() for a in sys.argv[1:]] or list(BENCHES)
    unknown = [w for w in wanted if w not in BENCHES]
    if unknown:
        sys.exit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    for name in wanted:
        print(importlib.import_module(BENCHES[name]).run(), flush=True)


if __name__ == "__main__":
    main()
