"""Reconcile benchmark, against a baseline measured in the same run (1 ms simulated latency).

P14  a router holding 10,000 managed users, 1 % of them deleted behind our back: from the start of the
     reconcile job until the router equals SQL again (read both menus, compare, queue, push the fixes),
     vs the "sync everything" a panel without reconcile does (re-push all 10,000 users).
"""
from __future__ import annotations

import time

from _harness import PASSWORD, Harness

COUNT = 10_000
DRIFT = COUNT // 100
USERS = "/ip/hotspot/user"


def _names(sim) -> set[str]:
    with sim.state.lock:
        return {str(i.get("name")) for i in sim.state.menu(USERS).items.values()}


def _wait_users(sim, codes: set[str], timeout: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout
    while not codes <= _names(sim):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{len(codes - _names(sim))} users never reached {sim.name}")
        time.sleep(0.02)


def _setup(h: Harness, sim) -> tuple[int, list[str]]:
    """A router with a plan and 10,000 vouchers pushed to it; returns the router id and the codes."""
    from isp.extensions import db
    from isp.models import Role, User, Voucher
    from isp.services import plans, users, vouchers

    router_id = h.add_router("p14", sim.port)
    with h.app.app_context():
        admin = users.create_user("bench-admin", "bench-admin-password-1", Role.admin)
        plan = plans.create_plan({"name": "Bench day", "price": "1.00", "reseller_price": "1.00", "validity": "1d",
                                  "time_quota": "20m", "data_quota": "", "rate_limit": "2M/4M", "shared_users": 1,
                                  "active": True, "router_ids": [router_id]})
        db.session.commit()
        batch = vouchers.generate(db.session.get(User, admin.id), plan.id, COUNT, prefix="P", length=8)
        db.session.commit()
        codes = list(db.session.scalars(db.select(Voucher.code).where(Voucher.batch_id == batch.id)))
    _wait_users(sim, set(codes))
    return router_id, codes


def _delete_behind_our_back(sim, codes: list[str]) -> None:
    """What an operator deleting users in Winbox does (straight into the router's state)."""
    menu = sim.state.menu(USERS)
    with sim.state.lock:
        doomed = [item for item in menu.items.values() if item.get("name") in set(codes)]
        for item in doomed:
            menu.delete(item)


def main() -> None:
    from isp.extensions import db
    from isp.jobs.reconcile import reconcile_router
    from isp.models import VoucherBatch
    from isp.services import vouchers
    from routeros_sim import FaultConfig, Fleet, RouterConfig

    configs = [RouterConfig(name="rec", password=PASSWORD, tls_port=None, clients=0, faults=FaultConfig(latency_ms=1.0))]
    with Fleet(configs, speed=0) as fleet:
        sim = fleet.routers[0]
        h = Harness(LOG_LEVEL="WARNING")
        try:
            h.start_workers(1)
            router_id, codes = _setup(h, sim)

            # Reconcile: 1 % drift.
            victims = codes[::100][:DRIFT]
            _delete_behind_our_back(sim, victims)
            started = time.perf_counter()
            with h.app.app_context():
                outcome = reconcile_router(router_id, "benchmark")
            queued = time.perf_counter()
            _wait_users(sim, set(codes))
            done = time.perf_counter()

            # Baseline: re-push every user (a panel without reconcile can only "sync all").
            _delete_behind_our_back(sim, victims)
            base_started = time.perf_counter()
            with h.app.app_context():
                vouchers.push(db.session.scalar(db.select(VoucherBatch).where(VoucherBatch.router_id == router_id)))
                db.session.commit()
            _wait_users(sim, set(codes))
            base = time.perf_counter() - base_started
        finally:
            h.close()
    total = done - started
    print(f"P14: {total:.1f} s (reconcile of a router holding 10,000 managed users with 1 % drift: read+compare+queue "
          f"{queued - started:.2f} s, {DRIFT} fixes pushed {done - queued:.2f} s; {outcome})")
    print(f"P14-base: {base / total:.1f}x (re-pushing all 10,000 users, what a sync-everything panel does: {base:.1f} s)")


if __name__ == "__main__":
    main()
