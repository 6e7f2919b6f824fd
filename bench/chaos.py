"""Fault suite (issue 14, point 10): real work under random faults, then the invariants that must hold.

A fleet of simulated routers (three in `api` mode, one in `radius` mode), real `flask worker` processes and a
`flask clock`, the bench's own database (a fresh SQLite file, or with --database-url a MariaDB database of its
own whose tables are dropped first) and its own embedded Redis. For --duration seconds (default 180; --quick: 45)
it generates and pushes voucher batches, takes customers' payments, suspends and reactivates services and edits
plans, while injecting a fault every few seconds (bench/chaos_faults.py: a router's connections cut mid-batch,
FLUSHALL, SIGKILL of a worker, on MariaDB the bench's database connections killed, a refused RADIUS write).
Then it clears the faults, lets the outbox drain, reconciles every router and prints on stdout:

    faults: N survived, L lost, D duplicated
    C1 … C7: one line per invariant (outbox, routers vs SQL, ledger, duplicates, radius, reconcile drift) and the
    faults and work done

(the fault timeline and any finding's details go to stderr). It exits 1 when anything was lost or duplicated.

Timing is not measured here: the figures are counts, valid on a busy machine.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time

import chaos_checks
import chaos_faults
import chaos_work
from _harness import PASSWORD, Harness, stop_process

# Fast enough thresholds that the settle phase takes seconds, not the production quarter of an hour.
ENV = {"OUTBOX_SWEEP_GRACE": "5", "OUTBOX_STUCK_AFTER": "30", "BREAKER_COOLDOWN": "2", "MONITOR_INTERVAL": "30",
       "RECONCILE_INTERVAL": "60", "LOG_LEVEL": "WARNING"}


def _args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of faults (default 180)")
    parser.add_argument("--quick", action="store_true", help="45 s of faults")
    parser.add_argument("--faults", type=int, default=0, help="faults to inject (default: one every ~4.5 s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--settle", type=float, default=240.0, help="longest wait for the outbox to drain")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""),
                        help="a throwaway MariaDB database of the bench's own (its tables are dropped)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 45.0
    return args


def _database(url: str) -> dict:
    """Config for a MariaDB database of the bench's own, emptied (radius tables in it too)."""
    if not url:
        return {}
    from sqlalchemy import create_engine, inspect

    from isp.config import normalise_db_url

    url = normalise_db_url("--database-url", url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        for table in inspect(engine).get_table_names():
            conn.exec_driver_sql(f"DROP TABLE `{table}`")
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
    engine.dispose()
    return {"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_BINDS": {"radius": url}}


def main(argv: list[str] | None = None) -> int:
    from cryptography.fernet import Fernet

    from routeros_sim import FaultConfig, Fleet, RouterConfig

    args = _args(argv)
    import logging

    logging.getLogger("isp").setLevel(logging.ERROR)  # the sweep's warnings are expected here; the lines below count
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    os.environ.pop("REDIS_URL", None)  # FLUSHALL must only ever reach the bench's own embedded Redis
    os.environ.setdefault("ISP_ENCRYPTION_KEY", Fernet.generate_key().decode())
    os.environ.update(ENV)
    quiet = FaultConfig(latency_ms=1.0)
    configs = [RouterConfig(name=f"chaos-{i}", password=PASSWORD, tls_port=None, clients=0, seed=i, faults=quiet)
               for i in range(1, 4)]
    configs.append(RouterConfig(name="chaos-radius", password=PASSWORD, tls_port=None, clients=0, seed=9,
                                faults=FaultConfig(latency_ms=1.0)))
    mysql = bool(args.database_url)
    with Fleet(configs, speed=1.0) as fleet:
        h = Harness(**_database(args.database_url))
        clock = None
        try:
            world = chaos_work.setup(h.app, fleet, radius_sim=fleet["chaos-radius"])
            h.start_workers(args.workers)
            clock = h.start_clock()
            injector = chaos_faults.Injector(h, fleet, world, rng, mysql)
            planned = args.faults or max(len(injector.kinds()), round(args.duration / 4.5))
            gap = args.duration / planned
            started = time.monotonic()
            next_fault = started + gap / 2
            while time.monotonic() - started < args.duration or len(injector.log) < planned:
                chaos_work.some_work(h.app, world, rng)
                if time.monotonic() >= next_fault and len(injector.log) < planned:
                    fault = injector.next()
                    print(f"  {time.monotonic() - started:6.1f} s  {fault.kind:8}  {fault.detail}", file=sys.stderr, flush=True)
                    next_fault += gap
                time.sleep(0.05)
            injector.clear()
            # A worker killed last may not have been replaced yet; the clock may have died with its Redis.
            h.workers = [w for w in h.workers if w.poll() is None] or h.workers
            if clock.poll() is not None:
                print("  note: the clock process had exited; restarted", file=sys.stderr, flush=True)
                clock = h.start_clock()
            settle_1 = chaos_checks.settle(h.app, args.settle)
            drift = chaos_checks.reconcile(h.app, world)
            settle_2 = chaos_checks.settle(h.app, args.settle)
            drift_after = chaos_checks.reconcile(h.app, world) if drift else 0
            report = chaos_checks.Report()
            chaos_checks.check(h.app, fleet, world, report)
        finally:
            if clock is not None:
                stop_process(clock)
            h.close()
    # The invariant is "reconcile finds 0 drift" once the faults stop and the pipeline settles: anything the first
    # pass finds is work the outbox lost (reconcile repairing it afterwards does not make it survived).
    if drift:
        report.lost.append(chaos_checks.Finding("reconcile", f"{drift} items differed between routers and SQL after settling"))
    if drift_after:
        report.lost.append(chaos_checks.Finding("reconcile", f"{drift_after} items still drifted after a second pass"))
    kinds = ", ".join(f"{k} {sum(1 for f in injector.log if f.kind == k)}" for k in injector.kinds())
    kinds += "" if mysql else "; database: not on SQLite"
    done = ", ".join(f"{n} {k}" for k, n in sorted(world.done.items()))
    refused = sum(world.refused.values())
    print(chaos_checks.summary(injector.log, report))
    for line in report.lines:
        print(line)
    print(f"C6: {drift} drifted (reconcile of {len(world.api_routers)} API routers after settling {settle_1:.0f} s; "
          f"a second pass after {settle_2:.0f} s found {drift_after})")
    print(f"C7: {len(injector.log)} faults ({kinds}; seed {seed}; {args.duration:.0f} s of work: {done}; "
          f"{refused} actions refused and rolled back)")
    for finding in (report.lost + report.duplicated)[:15]:  # the details go with the fault timeline, on stderr
        print(f"  {finding.kind}: {finding.what}{f' (committed {finding.at:%H:%M:%S})' if finding.at else ''}",
              file=sys.stderr)
    for error in world.errors[:8]:
        print(f"  refused: {error}", file=sys.stderr)
    return 1 if report.lost or report.duplicated else 0


if __name__ == "__main__":
    sys.exit(main())
