"""Voucher benchmarks: simulated routers at real-time speed, real `flask worker` and `flask clock` processes.

P3   seconds to generate and store 10,000 vouchers (vouchers.generate + commit, outbox rows and jobs queued)
P3b  push rate of those 10,000 through the pipeline vs a sequential add with a fresh login per voucher
     (Mikhmon style), both against identical simulated routers with 1 ms latency, in the same run
P6   expiry lag: from each voucher's stored expires_at until its user is gone (or disabled) on the router
     and its session is gone from /ip/hotspot/active, watched on the simulator every 100 ms
P4v, P15: list pages and the usage poll at 100,000 vouchers (bench/_scale.py)

Run all with `python bench/vouchers.py`, or some: `python bench/vouchers.py P4v P15`. P4v runs on a fresh
SQLite database, or on BENCH_DATABASE_URL (a throwaway MariaDB database: its tables are dropped first).
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time

import _scale
from _harness import PASSWORD, Harness, stop_process

LATENCY_MS = 1.0
P3_COUNT = 10_000
BASELINE_SAMPLE = 1_000
P6_COUNT = 20
P6_VALIDITY = "20s"
ADMIN_PASSWORD = "bench-admin-password"
USERS = "/ip/hotspot/user"
ACTIVE = "/ip/hotspot/active"


# -- set-up ----------------------------------------------------------------------

def _admin(h: Harness) -> int:
    from isp.extensions import db
    from isp.models import Role
    from isp.services import users

    with h.app.app_context():
        user = users.create_user("bench-admin", ADMIN_PASSWORD, Role.admin)
        db.session.commit()
        return user.id


def _plan(h: Harness, name: str, router_id: int, validity: str) -> int:
    from isp.extensions import db
    from isp.services import plans

    with h.app.app_context():
        plan = plans.create_plan({"name": name, "price": "1.00", "reseller_price": "1.00", "validity": validity,
                                  "time_quota": "", "data_quota": "", "rate_limit": "2M/4M", "shared_users": 1,
                                  "active": True, "router_ids": [router_id]})
        db.session.commit()
        return plan.id


def _generate(h: Harness, admin_id: int, plan_id: int, count: int, prefix: str) -> tuple[list[str], float]:
    """Generate and commit a batch; returns its codes and the perf_counter() when the commit started."""
    from isp.extensions import db
    from isp.models import User, Voucher
    from isp.services import vouchers

    with h.app.app_context():
        batch = vouchers.generate(db.session.get(User, admin_id), plan_id, count, prefix=prefix, length=8)
        committed = time.perf_counter()
        db.session.commit()
        return list(db.session.scalars(db.select(Voucher.code).where(Voucher.batch_id == batch.id))), committed


def _names(sim) -> set[str]:
    with sim.state.lock:
        return {str(i.get("name")) for i in sim.state.menu(USERS).items.values()}


def _wait_users(sim, codes: list[str], timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not set(codes) <= _names(sim):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{len(set(codes) - _names(sim))} vouchers never reached {sim.name}")
        time.sleep(0.05)


def _thread_cpu(fleet) -> float:
    """CPU seconds used so far by the simulator's event-loop thread (all routers share it)."""
    tid = fleet._thread.native_id if fleet._thread is not None else None
    if tid is None:
        return float("nan")
    try:
        with open(f"/proc/self/task/{tid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- P3 / P3b -------------------------------------------------------------------------

class _Timings:
    """Wall time spent inside a few service functions during one generate() call."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - started

        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo = []


def baseline_login_per_voucher(port: int, count: int) -> float:
    """Mikhmon style: connect, log in, /ip/hotspot/user/add one voucher, disconnect; users per second."""
    import librouteros

    started = time.perf_counter()
    for n in range(count):
        api = librouteros.connect("127.0.0.1", username="admin", password=PASSWORD, port=port, timeout=5, encoding="utf-8")
        tuple(api("/ip/hotspot/user/add", name=f"MK{n:06d}", password=f"MK{n:06d}", profile="default",
                  comment="mikhmon-style baseline"))
        api.close()
    return count / (time.perf_counter() - started)


def p3(h: Harness, fleet, admin_id: int) -> None:
    from isp.extensions import db
    from isp.models import User, Voucher
    from isp.services import codes, outbox, vouchers

    pipe_sim, base_sim = fleet["p3b-pipeline"], fleet["p3b-baseline"]
    base = baseline_login_per_voucher(base_sim.port, BASELINE_SAMPLE)

    router_id = h.add_router("p3b", pipe_sim.port)
    plan_id = _plan(h, "Bench day", router_id, "1d")
    h.start_workers(2)
    warm, _ = _generate(h, admin_id, plan_id, 10, "WARM")  # first-call costs out of the way, profile pushed
    _wait_users(pipe_sim, warm)

    timings = _Timings()
    timings.wrap(codes, "unique_codes", "codes")
    timings.wrap(vouchers, "_store", "store")
    timings.wrap(vouchers, "push", "push")
    timings.wrap(outbox, "queue_bulk", "outbox")
    users = pipe_sim.state.menu(USERS).items
    on_router = len(users)
    with h.app.app_context():
        admin = db.session.get(User, admin_id)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            batch = vouchers.generate(admin, plan_id, P3_COUNT, prefix="B", length=8)
            committed = time.perf_counter()
            db.session.commit()
        finally:
            timings.restore()
        done, cpu = time.perf_counter(), time.process_time() - cpu_started
        wanted = set(db.session.scalars(db.select(Voucher.code).where(Voucher.batch_id == batch.id)))
    # Pipeline: from the commit (which enqueues the chunk jobs) until every user is on the router.
    sim_cpu = _thread_cpu(fleet)
    marks: dict[int, float] = {}
    deadline = done + 300
    while True:
        count = len(users) - on_router  # cheap progress; the exact check below decides
        for mark in (1_000, P3_COUNT - 1_000):
            if count >= mark and mark not in marks:
                marks[mark] = time.perf_counter() - committed
        if count >= P3_COUNT:
            missing = wanted - _names(pipe_sim)
            if not missing:
                break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{len(wanted - _names(pipe_sim))} of {P3_COUNT} vouchers never reached the router")
        time.sleep(0.02)
    pushed = time.perf_counter() - committed
    sim_cpu = _thread_cpu(fleet) - sim_cpu
    h.stop_workers()

    spent = timings.spent
    total = done - started
    insert = spent.get("store", 0.0) - spent.get("codes", 0.0)
    other = total - spent.get("store", 0.0) - spent.get("push", 0.0) - (done - committed)
    load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"P3 detail: codes {spent.get('codes', 0):.2f} s, insert {insert:.2f} s, outbox {spent.get('push', 0):.2f} s "
          f"(of which queue_bulk {spent.get('outbox', 0):.2f} s), commit+enqueue {done - committed:.2f} s, other {other:.2f} s; "
          f"{cpu:.2f} s CPU in this process; load average {load} on {os.cpu_count()} CPUs")
    first, last = marks.get(1_000, float("nan")), pushed - marks.get(P3_COUNT - 1_000, float("nan"))
    print(f"P3b detail: pipeline {P3_COUNT:,} users in {pushed:.1f} s from the commit (2 workers, BULK_CHUNK "
          f"{h.app.config['BULK_CHUNK']}); first 1,000 in {first:.1f} s, last 1,000 in {last:.1f} s; simulator thread "
          f"{sim_cpu:.1f} s CPU meanwhile; baseline {BASELINE_SAMPLE:,}-user sample at {base:.0f} users/s on an empty router")
    print(f"P3: {total:.2f} s (codes {spent.get('codes', 0):.2f}, insert {insert:.2f}, outbox {spent.get('push', 0):.2f}, "
          f"commit {done - committed:.2f}; {P3_COUNT:,} vouchers, embedded SQLite)")
    pipe = P3_COUNT / pushed
    print(f"P3b: {pipe / base:.1f}x (pipeline {pipe:.0f} users/s, sequential {base:.0f} users/s; "
          f"{P3_COUNT:,} via 2 workers vs a {BASELINE_SAMPLE:,}-user sample with a login per voucher, {LATENCY_MS:g} ms latency)")


# -- P6 ---------------------------------------------------------------------------------

def _retired(sim, codes: list[str]) -> set[str]:
    """Codes whose user is gone or disabled and who have no live session."""
    state = sim.state
    with state.lock:
        state.sync(force=True)
        live_users = {str(i.get("name")): i for i in state.menu(USERS).items.values()}
        online = {str(i.get("user")) for i in state.menu(ACTIVE).items.values()}
    out = set()
    for code in codes:
        user = live_users.get(code)
        if (user is None or str(user.get("disabled")) == "true") and code not in online:
            out.add(code)
    return out


def p6(h: Harness, fleet, admin_id: int) -> None:
    from isp.extensions import db
    from isp.models import Voucher, VoucherEvent

    sim = fleet["p6"]
    router_id = h.add_router("p6", sim.port)
    plan_id = _plan(h, "Bench 20 seconds", router_id, P6_VALIDITY)
    h.start_workers(2)
    clock = h.start_clock()
    try:
        codes, _ = _generate(h, admin_id, plan_id, P6_COUNT, "EXP")
        _wait_users(sim, codes)
        logged_in = {}
        for code in codes:
            refusal = sim.login(code)
            if refusal:
                raise RuntimeError(f"simulated login of {code} refused: {refusal}")
            logged_in[code] = time.time()
        gone: dict[str, float] = {}
        deadline = time.time() + 120
        while len(gone) < len(codes):
            if time.time() > deadline:
                raise RuntimeError(f"{len(codes) - len(gone)} expired vouchers still on the router after 120 s")
            now = time.time()
            for code in _retired(sim, [c for c in codes if c not in gone]):
                gone[code] = now
            time.sleep(0.1)
    finally:
        stop_process(clock)
        h.stop_workers()
    with h.app.app_context():
        rows = {v.code: v for v in db.session.scalars(db.select(Voucher).where(Voucher.code.in_(codes)))}
        seen = dict(db.session.execute(db.select(Voucher.code, VoucherEvent.at).join(
            Voucher, Voucher.id == VoucherEvent.voucher_id).where(
            Voucher.code.in_(codes), VoucherEvent.to_state == "active")).tuples().all())
        missing = [c for c in codes if rows[c].expires_at is None]
        if missing:
            raise RuntimeError(f"{len(missing)} vouchers were retired without an expires_at")
        lags = [gone[c] - rows[c].expires_at.timestamp() for c in codes]
        detect = [seen[c].timestamp() - logged_in[c] for c in codes if c in seen]
        states = sorted({rows[c].state.value for c in codes})
    print(f"P6 detail: {P6_COUNT} vouchers valid {P6_VALIDITY}, logged in together; first login seen after "
          f"median {statistics.median(detect):.1f} s (max {max(detect):.1f}); expiry lag median "
          f"{statistics.median(lags):.1f} s, min {min(lags):.1f}, max {max(lags):.1f}; final state {', '.join(states)}")
    print(f"P6: {max(lags):.1f} s (max lag from expires_at to user and session gone from the router; "
          f"median {statistics.median(lags):.1f} s, {P6_COUNT} vouchers, flask clock + 2 workers)")


def main() -> None:
    from routeros_sim import FaultConfig, Fleet, RouterConfig

    wanted = {a.upper() for a in sys.argv[1:]} or {"P3", "P6", "P4V", "P15"}
    instance = tempfile.mkdtemp(prefix="isp-bench-instance-")
    os.environ["ISP_INSTANCE_PATH"] = instance  # the app, workers and clock never touch the real instance/
    configs = [RouterConfig(name=name, password=PASSWORD, tls_port=None, faults=FaultConfig(latency_ms=LATENCY_MS))
               for name in ("p3b-pipeline", "p3b-baseline", "p6", "p15")]
    try:
        if wanted & {"P3", "P6", "P15"}:
            with Fleet(configs, speed=1.0) as fleet:
                h = Harness()
                try:
                    admin_id = _admin(h)
                    if "P3" in wanted:
                        p3(h, fleet, admin_id)
                    if "P6" in wanted:
                        p6(h, fleet, admin_id)
                    if "P15" in wanted:
                        _scale.p15(h, fleet["p15"])
                finally:
                    h.close()
        if "P4V" in wanted:
            url = os.environ.get("BENCH_DATABASE_URL")
            if url:
                url = _scale.empty_database(url)
            h = Harness(**({"SQLALCHEMY_DATABASE_URI": url} if url else {}))
            try:
                _scale.p4v(h)
            finally:
                h.close()
    finally:
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
