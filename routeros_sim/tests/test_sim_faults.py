"""Fault switches, set from the test thread and through the control channel."""

import socket
import time

import pytest
from librouteros.exceptions import ConnectionClosed, TrapError

from routeros_sim import ControlError, FaultConfig, Fleet, RouterConfig, control
from routeros_sim.tests.simclient import PASSWORD, connect, wait_for


@pytest.fixture(scope="module")
def ffleet():
    configs = [RouterConfig(name="f1", password=PASSWORD, tls_port=None, hotspot_users=2),
               RouterConfig(name="f2", password=PASSWORD, tls_port=None,
                            faults=FaultConfig(latency_ms=30))]
    with Fleet(configs, speed=0, control_port=0) as fleet:
        yield fleet


@pytest.fixture
def frouter(ffleet):
    router = ffleet["f1"]
    yield router
    router.faults.update(**{k: v for k, v in FaultConfig().as_dict().items()})
    assert wait_for(lambda: not router.is_down() and refused(router.port) is False)


def refused(port: int) -> bool:
    """True when nothing listens on port (a reset means the listener was closing)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except (ConnectionRefusedError, ConnectionResetError):
        return True


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def test_latency_and_jitter_delay_replies(frouter):
    api = connect(frouter)
    fast = timed(lambda: list(api.path("system", "identity")))
    frouter.faults.latency_ms = 120
    frouter.faults.jitter_ms = 40
    slow = [timed(lambda: list(api.path("system", "identity"))) for _ in range(3)]
    assert fast < 0.05 and all(0.079 < s < 0.5 for s in slow)
    api.close()


def test_latency_set_at_start(ffleet):
    api = connect(ffleet["f2"])
    assert timed(lambda: list(api.path("system", "identity"))) >= 0.029
    api.close()


def test_down_refuses_connections_and_cuts_open_ones(frouter):
    api = connect(frouter)
    frouter.faults.down = True
    assert wait_for(lambda: refused(frouter.port))
    with pytest.raises((ConnectionClosed, OSError)):
        list(api.path("system", "identity"))
    frouter.faults.down = False
    assert wait_for(lambda: not refused(frouter.port))
    assert [r["name"] for r in connect(frouter).path("system", "identity")] == ["f1"]


def test_flap_goes_down_then_comes_back(frouter):
    frouter.faults.flap = (0.3, 0.3)
    assert wait_for(lambda: refused(frouter.port), timeout=1)
    assert wait_for(lambda: not refused(frouter.port), timeout=1.5)
    frouter.faults.flap = None


def test_drop_mid_reply_closes_the_connection(frouter):
    api = connect(frouter)
    before = frouter.stats.dropped
    frouter.faults.drop_mid_reply = 1.0
    with pytest.raises((ConnectionClosed, OSError)):
        list(api.path("interface"))
    assert frouter.stats.dropped == before + 1


def test_stall_exceeds_the_client_timeout(frouter):
    api = connect(frouter, timeout=0.3)
    frouter.faults.stall_ms = 1000
    with pytest.raises(TimeoutError):
        list(api.path("system", "identity"))


def test_trap_ratio_one_traps_every_command_but_login(frouter):
    frouter.faults.trap_ratio = 1.0
    api = connect(frouter)
    with pytest.raises(TrapError) as err:
        list(api.path("system", "identity"))
    assert (err.value.message, err.value.category) == ("failure: simulated fault", 4)


def test_reboot_renumbers_ids_clears_sessions_keeps_config(ffleet, frouter):
    api = connect(frouter)
    users = api.path("ip", "hotspot", "user")
    before = {u["name"]: u[".id"] for u in users}
    with frouter.state.lock:
        frouter.state.menu("/ip/hotspot/active").add({"user": "user1", "address": "10.5.50.2"},
                                                      internal=True)
    ffleet.advance(3600)
    frouter.reboot()
    with pytest.raises((ConnectionClosed, OSError)):
        list(api.path("system", "identity"))
    api = connect(frouter)
    after = {u["name"]: u[".id"] for u in api.path("ip", "hotspot", "user")}
    assert set(after) == set(before) and not set(after.values()) & set(before.values())
    assert list(api.path("ip", "hotspot", "active")) == []
    assert next(iter(api.path("system", "resource")))["uptime"] == "0s"


def test_control_channel_switches_faults_and_reports_stats(ffleet, frouter):
    port = ffleet.control_port
    answer = control(port, router="f1", set={"down": True})
    assert answer["routers"][0]["faults"]["down"] is True
    assert wait_for(lambda: refused(frouter.port))
    control(port, router="f1", set={"down": False})
    assert wait_for(lambda: not refused(frouter.port))
    stats = control(port, stats=True)
    assert {r["name"] for r in stats["routers"]} == {"f1", "f2"}
    assert stats["routers"][0]["stats"]["logins"] >= 1
    t0 = stats["time"]
    assert control(port, advance=60)["time"] == pytest.approx(t0 + 60)


def test_control_channel_reboot_and_errors(ffleet, frouter):
    port = ffleet.control_port
    ids = {u[".id"] for u in connect(frouter).path("ip", "hotspot", "user")}
    control(port, router="f1", reboot=True)
    assert not ids & {u[".id"] for u in connect(frouter).path("ip", "hotspot", "user")}
    with pytest.raises(ControlError, match="unknown fault"):
        control(port, router="f1", set={"explode": True})
    with pytest.raises(ControlError, match="no router named"):
        control(port, router="zz", reboot=True)
