"""The pool: reuse, discard on error, failover, the fleet-wide cap, encrypted credentials."""
from __future__ import annotations

import logging

import fakeredis
import pytest
from sqlalchemy import text

from isp.crypto import decrypt
from isp.extensions import db
from isp.models import CommandState, Router
from isp.routeros.client import RouterError, RouterSpec
from isp.routeros.pool import PoolExhausted, PoolSettings, RouterPool
from tests.conftest import SIM_PASSWORD, run_worker
from tests.pipeline.helpers import command, queue_users, states, user_names


def test_pool_reuses_one_login_for_many_commands(app, sim, make_router):
    r = make_router(sim.routers[0])
    before = sim.routers[0].stats.logins
    ids = queue_users(app, r.id, [f"reuse{n}" for n in range(25)])
    run_worker(app, promote_scheduled=False)
    assert set(states(app, ids).values()) == {"done"}
    assert sim.routers[0].stats.logins - before == 1


def test_bulk_chunk_runs_over_one_connection(app, sim, make_router):
    app.config["BULK_CHUNK"] = 50
    r = make_router(sim.routers[0])
    before = sim.routers[0].stats.logins
    ids = queue_users(app, r.id, [f"bulk{n}" for n in range(120)], bulk=True)
    run_worker(app, promote_scheduled=False)
    assert set(states(app, ids).values()) == {"done"}
    assert sim.routers[0].stats.logins - before == 1
    assert sum(1 for n in user_names(sim.routers[0]) if n.startswith("bulk")) == 120


def test_dropped_connection_is_discarded_and_the_command_retried(app, sim, make_router):
    r = make_router(sim.routers[0])
    sim.routers[0].faults.drop_mid_reply = 1.0
    [cid] = queue_users(app, r.id, ["dropped"])
    before = sim.routers[0].stats.logins
    run_worker(app, promote_scheduled=False)
    first = command(app, cid)
    assert first.state == CommandState.failed and first.attempts == 1
    assert "closed" in first.last_error or "unreachable" in first.last_error
    sim.routers[0].faults.drop_mid_reply = 0.0
    run_worker(app)
    assert command(app, cid).state == CommandState.done
    assert "dropped" in user_names(sim.routers[0])
    assert sim.routers[0].stats.logins - before == 2  # the broken connection was not reused


def test_failover_to_the_second_address(app, sim, make_router):
    # 127.0.0.2 is loopback but nothing listens there: the first address refuses.
    r = make_router(sim.routers[1], addresses="127.0.0.2\n127.0.0.1")
    [cid] = queue_users(app, r.id, ["failover"])
    run_worker(app, promote_scheduled=False)
    assert command(app, cid).state == CommandState.done
    assert "failover" in user_names(sim.routers[1])


def _spec(sim_router, router_id=99, max_sessions=20, password=SIM_PASSWORD):
    return RouterSpec(id=router_id, name=sim_router.name, addresses=("127.0.0.1",), port=sim_router.port,
                      username="admin", password=password, max_sessions=max_sessions)


def test_fleet_wide_cap_is_enforced_across_pools():
    from routeros_sim import Fleet, RouterConfig

    shared = fakeredis.FakeRedis()
    settings = PoolSettings(timeout=1, max_size=4, fleet_cap=8, acquire_timeout=0.2)
    with Fleet([RouterConfig(name="capped", password=SIM_PASSWORD, tls_port=None, max_sessions=4)]) as fleet:
        sim_router = fleet.routers[0]
        spec = _spec(sim_router, max_sessions=4)  # cap = max_sessions - 2 = 2 across all workers
        worker_a, worker_b = RouterPool(shared, settings, "a"), RouterPool(shared, settings, "b")
        with worker_a.connection(spec), worker_b.connection(spec):
            assert sim_router.stats.connections_open == 2
            with pytest.raises(PoolExhausted):
                with worker_b.connection(spec):
                    pass
        with worker_b.connection(spec):  # a lease came back: B may use its idle connection
            pass
        assert sim_router.stats.connections_open <= 2
        worker_a.close_all()
        worker_b.close_all()


def test_health_check_after_idle_replaces_a_dead_connection():
    from routeros_sim import Fleet, RouterConfig

    settings = PoolSettings(timeout=1, health_after=0.0)
    with Fleet([RouterConfig(name="hc", password=SIM_PASSWORD, tls_port=None)]) as fleet:
        sim_router = fleet.routers[0]
        pool = RouterPool(fakeredis.FakeRedis(), settings, "hc")
        spec = _spec(sim_router)
        with pool.connection(spec):
            pass
        sim_router.reboot()  # drops every session; the pooled socket is now dead
        with pool.connection(spec) as conn:
            assert next(iter(conn.api("/system/identity/print")))["name"]
        assert pool.logins == 2
        pool.close_all()


def test_idle_connections_are_evicted():
    from routeros_sim import Fleet, RouterConfig

    with Fleet([RouterConfig(name="idle", password=SIM_PASSWORD, tls_port=None)]) as fleet:
        pool = RouterPool(fakeredis.FakeRedis(), PoolSettings(timeout=1, idle_timeout=0.0), "idle")
        with pool.connection(_spec(fleet.routers[0])):
            pass
        assert pool.stats(99) == (1, 0)
        assert pool.evict_idle() == 1
        assert pool.stats(99) == (0, 0)


def test_wrong_password_is_an_auth_error_not_a_failover():
    from routeros_sim import Fleet, RouterConfig

    with Fleet([RouterConfig(name="auth", password=SIM_PASSWORD, tls_port=None)]) as fleet:
        pool = RouterPool(fakeredis.FakeRedis(), PoolSettings(timeout=1), "auth")
        with pytest.raises(RouterError) as err:
            with pool.connection(_spec(fleet.routers[0], password="wrong")):
                pass
        assert err.value.kind == "auth"


def test_router_password_is_encrypted_at_rest_and_never_logged(app, sim, make_router, caplog):
    r = make_router(sim.routers[0], password="Sup3r-Secret-Pass")
    with app.app_context():
        stored = db.session.execute(text("SELECT password_encrypted FROM routers WHERE id = :id"), {"id": r.id}).scalar()
        assert "Sup3r-Secret-Pass" not in stored
        assert decrypt(stored) == "Sup3r-Secret-Pass"
        assert "Sup3r-Secret-Pass" not in repr(RouterSpec.from_model(db.session.get(Router, r.id)))
    caplog.set_level(logging.DEBUG)
    queue_users(app, r.id, ["x"])  # the sim rejects this password: auth errors get logged
    run_worker(app, promote_scheduled=False)
    assert "Sup3r-Secret-Pass" not in caplog.text


def test_a_changed_encryption_key_is_reported_not_crashed(app, sim, make_router):
    r = make_router(sim.routers[0])
    app.config["ISP_ENCRYPTION_KEY"] = "A" * 43 + "="
    with app.app_context(), pytest.raises(ValueError, match="ISP_ENCRYPTION_KEY"):
        RouterSpec.from_model(db.session.get(Router, r.id))
