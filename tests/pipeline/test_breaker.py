"""Circuit breaker and priorities: a dead router waits without hammering; urgent work goes first."""
from __future__ import annotations

import time

import fakeredis

from isp.extensions import redis_store
from isp.models import Priority
from isp.routeros.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker
from tests.conftest import run_worker
from tests.pipeline.helpers import command, queue_users, states, user_names


def test_breaker_state_machine():
    breaker = CircuitBreaker(fakeredis.FakeRedis(), threshold=2, cooldown=0.2, probe_ttl=5)
    assert breaker.allow(1).allowed
    assert breaker.failure(1, "refused") == CLOSED
    assert breaker.failure(1, "refused") == OPEN
    decision = breaker.allow(1)
    assert not decision.allowed and 0 < decision.retry_after <= 0.2
    time.sleep(0.25)
    probe = breaker.allow(1)
    assert probe.allowed and probe.state == HALF_OPEN
    assert not breaker.allow(1).allowed  # one probe at a time
    assert breaker.failure(1, "still down") == OPEN  # failed probe re-opens
    time.sleep(0.25)
    assert breaker.allow(1).allowed
    breaker.success(1)
    assert breaker.state(1)["state"] == CLOSED and breaker.allow(1).allowed
    assert breaker.allow(2).allowed  # other routers unaffected


def test_breaker_opens_on_a_dead_router_defers_without_burning_retries_and_recovers(app, sim, make_router):
    # A cool-down long enough that a slow, loaded machine still finds the circuit open after the first round.
    app.config["BREAKER_COOLDOWN"] = 2.0
    down, healthy = sim.routers[0], sim.routers[1]
    r_down, r_ok = make_router(down), make_router(healthy)
    down.faults.down = True
    ids = queue_users(app, r_down.id, [f"wait{n}" for n in range(6)])
    ok_ids = queue_users(app, r_ok.id, ["unaffected"])
    run_worker(app, promote_scheduled=False)
    with app.app_context():
        breaker = CircuitBreaker.from_config(redis_store.client, app.config)
        assert breaker.state(r_down.id)["state"] == OPEN
        assert breaker.state(r_ok.id)["state"] == CLOSED
    assert set(states(app, ok_ids).values()) == {"done"}
    attempts = [command(app, i).attempts for i in ids]
    # Only the threshold's worth of commands actually tried the router; the rest were deferred untouched.
    assert sum(attempts) == app.config["BREAKER_THRESHOLD"]
    assert set(states(app, ids).values()) <= {"pending", "failed"}
    # Deferred while open: several worker rounds later nothing is dead and no attempt was burnt.
    run_worker(app, rounds=3)
    assert sum(command(app, i).attempts for i in ids) <= app.config["BREAKER_THRESHOLD"] + 3
    assert "dead" not in states(app, ids).values()
    down.faults.down = False
    time.sleep(app.config["BREAKER_COOLDOWN"] + 0.05)
    run_worker(app)
    assert set(states(app, ids).values()) == {"done"}
    assert all(f"wait{n}" in user_names(down) for n in range(6))
    with app.app_context():
        assert CircuitBreaker.from_config(redis_store.client, app.config).state(r_down.id)["state"] == CLOSED


def test_priority_order_under_a_backlog(app, sim, make_router):
    r = make_router(sim.routers[2])
    order = []
    for priority in (Priority.bulk, Priority.low, Priority.normal, Priority.high, Priority.critical):
        names = [f"{priority.value}{n}" for n in range(3)]
        order.append(priority.value)
        if priority == Priority.bulk:
            queue_users(app, r.id, names, bulk=True)
        else:
            queue_users(app, r.id, names, priority)
    run_worker(app, promote_scheduled=False)
    rows = sim.routers[2].state.rows("/ip/hotspot/user")
    created = [row["name"] for row in sorted(rows, key=lambda row: int(row[".id"][1:], 16)) if row["name"][-1].isdigit()]
    ranks = {"critical": 0, "high": 1, "normal": 2, "low": 3, "bulk": 4}
    sequence = [ranks[name[:-1]] for name in created]
    assert sequence == sorted(sequence), created
    assert len(created) == 15


def test_a_half_open_trial_that_never_reaches_the_router_is_given_back(app):
    from isp.extensions import redis_store
    from isp.routeros.breaker import CircuitBreaker

    with app.app_context():
        breaker = CircuitBreaker.from_config(redis_store.client, app.config)
        for _ in range(app.config["BREAKER_THRESHOLD"]):
            breaker.failure(7, "refused")
        time.sleep(app.config["BREAKER_COOLDOWN"] + 0.05)
        assert breaker.allow(7).allowed  # the one trial
        assert not breaker.allow(7).allowed  # everyone else waits for it
        breaker.release(7)  # e.g. no pooled connection was free: the trial never happened
        assert breaker.allow(7).allowed
