"""Batch generation: alphabet, uniqueness, bulk storage, push through the pipeline."""
import time

from sqlalchemy import func, select

from isp.models import Voucher
from isp.services import codes
from tests.conftest import run_worker


def test_codes_use_only_the_unambiguous_alphabet():
    sample = "".join(codes.random_code(16) for _ in range(500))
    assert set(sample) <= set(codes.ALPHABET)
    assert not set(sample) & set("0O1lI")
    assert len(set(sample)) == len(codes.ALPHABET)  # every symbol is used: no accidental bias to a subset


def test_collisions_are_redrawn():
    calls = []

    def taken(candidates):
        calls.append(len(candidates))
        return set(candidates[:3]) if len(calls) == 1 else set()

    out = codes.unique_codes(10, 6, "X", taken)
    assert len(out) == len(set(out)) == 10 and len(calls) == 2


def test_ten_thousand_batch_is_stored_and_pushed(app, sim, make_user, make_router, make_plan, generate, db):
    admin = make_user("admin")
    router = make_router(sim.routers[0])
    plan = make_plan([router.id], time_quota="2h", data_quota="1G")
    started = time.perf_counter()
    batch_id = generate(admin.id, plan.id, 10_000, prefix="W", length=8)
    elapsed = time.perf_counter() - started
    assert db.session.scalar(select(func.count()).select_from(Voucher).where(Voucher.batch_id == batch_id)) == 10_000
    assert db.session.scalar(select(func.count(func.distinct(Voucher.code)))) == 10_000
    assert elapsed < 60  # sanity only; the benchmark measures speed
    run_worker(app)
    users = {r["name"]: r for r in sim.routers[0].state.rows("/ip/hotspot/user")}
    names = [c for c in users if c.startswith("W")]
    assert len(names) == 10_000
    one = users[names[0]]
    assert one["profile"] == plan.profile and one["limit-uptime"] == "2h" and one["limit-bytes-total"] == str(1024 ** 3)
    profile = next(p for p in sim.routers[0].state.rows("/ip/hotspot/user/profile") if p["name"] == plan.profile)
    assert profile["rate-limit"] == "2M/4M"
