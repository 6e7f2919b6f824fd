"""Simulated subscribers under the router's own rules, on a frozen, hand-advanced clock."""

import json
import time

import pytest

from routeros_sim import Fleet, RouterConfig
from routeros_sim.tests.simclient import PASSWORD, connect
from routeros_sim.values import parse_duration

NEVER = 1e12  # a session_mean so long that only the router's rules end a session


def quiet_fleet(**kw):
    kw.setdefault("session_mean", NEVER)
    return Fleet([RouterConfig(name="p1", password=PASSWORD, tls_port=None, **kw)], speed=0)


def active_users(router):
    return [r["user"] for r in router.state.rows("/ip/hotspot/active")]


def test_clients_use_existing_accounts_and_accumulate_traffic():
    with quiet_fleet(clients=6, hotspot_users=3, ppp_secrets=2, session_mean=1800) as fleet:
        router = fleet.routers[0]
        fleet.advance(120)
        api = connect(router)
        hs = list(api.path("ip", "hotspot", "active"))
        ppp = list(api.path("ppp", "active"))
        assert hs and ppp
        assert {r["user"] for r in hs} <= {"user1", "user2", "user3"}
        assert {r["name"] for r in ppp} <= {"ppp1", "ppp2"}
        wan = next(i for i in api.path("interface") if i["name"] == "ether1")
        fleet.advance(30)
        later = {r[".id"]: r for r in api.path("ip", "hotspot", "active")}
        for row in hs:
            if row[".id"] in later:
                assert later[row[".id"]]["bytes-out"] > row["bytes-out"]
                assert parse_duration(later[row[".id"]]["uptime"]) == parse_duration(row["uptime"]) + 30
        wan2 = next(i for i in api.path("interface") if i["name"] == "ether1")
        assert wan2["rx-byte"] > wan["rx-byte"] and wan2["tx-packet"] > wan["tx-packet"]
        api.close()


def test_disabled_user_never_logs_in():
    with quiet_fleet(clients=6, session_mean=300) as fleet:
        router = fleet.routers[0]
        router.state.add("/ip/hotspot/user", name="good")
        router.state.add("/ip/hotspot/user", name="bad", disabled=True)
        seen = set()
        for _ in range(60):
            fleet.advance(60)
            seen.update(active_users(router))
        assert "good" in seen and "bad" not in seen
        assert router.state.population.stats["rejected"] > 0


def test_limit_uptime_cuts_the_session_at_the_exact_second():
    with quiet_fleet(clients=1) as fleet:
        router = fleet.routers[0]
        router.state.add("/ip/hotspot/user", name="timed", limit_uptime="10m")
        fleet.advance(60)
        (row,) = router.state.rows("/ip/hotspot/active")
        used = parse_duration(row["uptime"])
        assert row["session-time-left"] == "%dm%ds" % divmod(600 - used, 60)
        fleet.advance(600 - used - 1)
        (row,) = router.state.rows("/ip/hotspot/active")
        assert row["uptime"] == "9m59s" and row["session-time-left"] == "1s"
        fleet.advance(2)
        assert active_users(router) == []
        (user,) = router.state.rows("/ip/hotspot/user")
        assert user["uptime"] == "10m"
        fleet.advance(3600)
        assert active_users(router) == []  # the limit is spent, so every retry is refused


def test_limit_bytes_total_cuts_the_session():
    with quiet_fleet(clients=1) as fleet:
        router = fleet.routers[0]
        router.state.add("/ip/hotspot/user", name="capped", limit_bytes_total="5M")
        fleet.advance(3600)
        assert active_users(router) == [] and router.state.population.stats["logins"] == 1
        (user,) = router.state.rows("/ip/hotspot/user")
        assert 5_000_000 - 2 <= int(user["bytes-in"]) + int(user["bytes-out"]) <= 5_000_000


def test_shared_users_limits_concurrent_hotspot_logins():
    with quiet_fleet(clients=8) as fleet:
        router = fleet.routers[0]
        router.state.add("/ip/hotspot/user/profile", name="duo", shared_users=2)
        router.state.add("/ip/hotspot/user", name="family", profile="duo")
        fleet.advance(600)
        assert active_users(router) == ["family", "family"]


def test_only_one_limits_ppp_logins_to_one():
    with quiet_fleet(clients=8) as fleet:
        router = fleet.routers[0]
        router.state.add("/ppp/profile", name="single", only_one=True)
        router.state.add("/ppp/secret", name="solo", profile="single")
        fleet.advance(600)
        assert [r["name"] for r in router.state.rows("/ppp/active")] == ["solo"]
        assert router.state.population.stats["rejected"] >= 3


def test_removing_an_active_entry_kicks_the_client():
    with quiet_fleet(clients=2, idle_mean=NEVER) as fleet:
        router = fleet.routers[0]
        router.state.add("/ip/hotspot/user", name="kicked")
        router.state.add("/ppp/secret", name="dropped")
        fleet.advance(120)
        api = connect(router)
        for path in ("ip/hotspot/active", "ppp/active"):
            menu = api.path(*path.split("/"))
            (row,) = list(menu)
            menu.remove(row[".id"])
            assert list(menu) == []
        (user,) = api.path("ip", "hotspot", "user")
        assert parse_duration(user["uptime"]) > 0
        (secret,) = api.path("ppp", "secret")
        assert secret["last-disconnect-reason"] == "admin-disconnect"
        api.close()


def test_same_seed_gives_the_same_network():
    def run(seed):
        with Fleet([RouterConfig(name="d", seed=seed, clients=10, hotspot_users=5, ppp_secrets=5,
                                 tls_port=None)], speed=0) as fleet:
            fleet.advance(1800)
            router = fleet.routers[0]
            return (router.state.rows("/ip/hotspot/active"), router.state.rows("/ppp/active"),
                    router.state.rows("/interface"))

    first = run(7)
    assert first == run(7)
    assert first != run(8)


def test_speed_factor_accelerates_simulated_time():
    with Fleet([RouterConfig(tls_port=None)], speed=600) as fleet:
        t0 = fleet.clock.now()
        time.sleep(0.1)
        assert fleet.clock.now() - t0 >= 60


def test_state_survives_save_and_load(tmp_path):
    path = tmp_path / "fleet.json"
    with quiet_fleet(clients=1) as fleet:
        router = fleet.routers[0]
        router.state.add("/ip/hotspot/user", name="kept", comment="demo")
        router.state.add("/interface/wireguard", name="wg-demo")
        fleet.advance(120)
        fleet.save(path)
    assert json.loads(path.read_text())["routers"]["p1"]["menus"]["/ip/hotspot/user"][0]["name"] == "kept"
    with quiet_fleet() as fleet:
        fleet.load(path)
        router = fleet.routers[0]
        (user,) = router.state.rows("/ip/hotspot/user")
        assert (user["name"], user["comment"], user[".id"]) == ("kept", "demo", "*1")
        names = [i["name"] for i in router.state.rows("/interface")]
        assert names.count("wg-demo") == 1


@pytest.mark.parametrize("version, expected", [("7.20.2", "2025-01-01 12:02:00"),
                                               ("7.10", "Jan/01/2025 12:02:00"),
                                               ("6.49.10", "jan/01/2025 12:02:00")])
def test_ppp_logout_dates_follow_the_version_format(version, expected):
    with Fleet([RouterConfig(version=version, clients=2, idle_mean=NEVER, session_mean=NEVER,
                             tls_port=None)], speed=0) as fleet:
        router = fleet.routers[0]
        router.state.add("/ppp/secret", name="dated")
        fleet.advance(120)
        with router.state.lock:
            menu = router.state.menu("/ppp/active")
            menu.delete(next(iter(menu.items.values())))
        (secret,) = router.state.rows("/ppp/secret")
        assert secret["last-logged-out"] == expected
