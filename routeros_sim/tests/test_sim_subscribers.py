"""Subscribers the panel provisions: caller-id locks, pppoe-in interfaces, static queues, bound devices."""

import pytest
from librouteros.query import Key

from routeros_sim import Fleet, RouterConfig, control
from routeros_sim.control import ControlError
from routeros_sim.tests.simclient import PASSWORD, connect

NEVER = 1e12
MAC = "02:11:22:33:44:55"


@pytest.fixture
def fleet():
    with Fleet([RouterConfig(name="s1", password=PASSWORD, tls_port=None, session_mean=NEVER,
                             idle_mean=NEVER)], speed=0, control_port=0) as running:
        yield running


@pytest.fixture
def router(fleet):
    return fleet.routers[0]


def pppoe_ifaces(router):
    return [i for i in router.state.rows("/interface") if i["type"] == "pppoe-in"]


def test_caller_id_lock_refuses_another_mac_and_admits_the_locked_one(router):
    router.state.add("/ppp/secret", name="alice", password="pw", service="pppoe", caller_id=MAC)
    assert router.login("alice", "ppp") == "caller-id mismatch"
    assert router.login("alice", "ppp", mac="02:99:99:99:99:99") == "caller-id mismatch"
    assert router.state.rows("/ppp/active") == []
    assert router.login("alice", "ppp", mac=MAC.lower()) is None
    (active,) = router.state.rows("/ppp/active")
    assert (active["name"], active["caller-id"]) == ("alice", MAC)


def test_secret_without_caller_id_admits_any_mac_and_keeps_its_remote_address(router):
    router.state.add("/ppp/secret", name="bob", password="pw", remote_address="10.20.0.7")
    assert router.login("bob", "ppp", mac="02:00:00:00:00:01") is None
    (active,) = router.state.rows("/ppp/active")
    assert (active["caller-id"], active["address"]) == ("02:00:00:00:00:01", "10.20.0.7")


def test_a_ppp_session_has_a_dynamic_pppoe_interface_counting_its_traffic(fleet, router):
    router.state.add("/ppp/secret", name="carol", password="pw")
    router.login("carol", "ppp")
    fleet.advance(60)
    (iface,) = pppoe_ifaces(router)
    assert (iface["name"], iface["dynamic"], iface["running"]) == ("<pppoe-carol>", "true", "true")
    rx, tx = int(iface["rx-byte"]), int(iface["tx-byte"])
    assert 0 < rx < tx  # the router receives the client's (smaller) upload, sends its download
    fleet.advance(60)
    (later,) = pppoe_ifaces(router)
    assert int(later["rx-byte"]) > rx and int(later["tx-byte"]) > tx
    api = connect(router)
    (row,) = api.path("interface").select(Key("name"), Key("rx-byte")).where(Key("type") == "pppoe-in")
    assert row["name"] == "<pppoe-carol>"
    (session,) = api.path("ppp", "active")
    api.path("ppp", "active").remove(session[".id"])
    assert pppoe_ifaces(router) == []
    assert "<pppoe-carol>" not in {i["name"] for i in api.path("interface")}
    api.close()


def test_two_sessions_of_one_user_get_two_interfaces_and_a_reboot_clears_them(router):
    router.state.add("/ppp/secret", name="dave", password="pw")
    router.login("dave", "ppp")
    router.login("dave", "ppp")
    assert sorted(i["name"] for i in pppoe_ifaces(router)) == ["<pppoe-dave-1>", "<pppoe-dave>"]
    router.reboot()
    assert pppoe_ifaces(router) == [] and router.state.rows("/ppp/active") == []
    assert [i["name"] for i in router.state.rows("/interface")][:2] == ["ether1", "ether2"]


def queue_bytes(router, name):
    row = next(q for q in router.state.rows("/queue/simple") if q["name"] == name)
    up, down = row["bytes"].split("/")
    return int(up), int(down)


def test_static_queue_counts_bytes_until_disabled_or_suspended(fleet, router):
    router.state.add("/queue/simple", name="isp-static1", target="10.30.0.5/32", max_limit="2M/8M")
    router.state.add("/queue/simple", name="subnet", target="10.31.0.0/24")
    fleet.advance(600)
    up, down = queue_bytes(router, "isp-static1")
    assert 0 < up and 0 < down
    assert up <= 2e6 / 8 * 600 and down <= 8e6 / 8 * 600  # max-limit caps the rate
    assert queue_bytes(router, "subnet") == (0, 0)
    router.state.add("/ip/firewall/address-list", list="isp-suspended", address="10.30.0.5")
    fleet.advance(600)
    assert queue_bytes(router, "isp-static1") == (up, down)
    with router.state.lock:
        entries = router.state.menu("/ip/firewall/address-list")
        entries.delete(next(iter(entries.items.values())))
    fleet.advance(600)
    again = queue_bytes(router, "isp-static1")
    assert again[0] > up and again[1] > down
    with router.state.lock:
        queues = router.state.menu("/queue/simple")
        queues.update(queues.by_name("isp-static1"), {"disabled": "yes"})
    fleet.advance(600)
    assert queue_bytes(router, "isp-static1") == again


def test_bound_device_redials_after_a_kick_and_stays_out_while_disabled(fleet, router):
    router.state.add("/ppp/secret", name="erin", password="pw")
    assert router.login("erin", "ppp", redial=True) is None
    api = connect(router)
    active = api.path("ppp", "active")
    (first,) = active
    secrets = api.path("ppp", "secret")
    (secret,) = secrets
    secrets.update(**{".id": secret[".id"], "disabled": True})
    active.remove(first[".id"])
    fleet.advance(300)
    assert list(active) == []
    secrets.update(**{".id": secret[".id"], "disabled": False})
    fleet.advance(60)
    (second,) = active
    assert second["name"] == "erin" and second["session-id"] != first["session-id"]
    api.close()


def test_bound_device_waits_for_its_account_to_be_created(fleet, router):
    assert router.login("frank", "hotspot", redial=True) == "no such user"
    fleet.advance(60)
    assert router.state.rows("/ip/hotspot/active") == []
    router.state.add("/ip/hotspot/user", name="frank", password="pw")
    fleet.advance(60)
    assert [r["user"] for r in router.state.rows("/ip/hotspot/active")] == ["frank"]


def test_a_device_without_redial_gives_up_after_a_refusal(fleet, router):
    router.state.add("/ppp/secret", name="gina", password="pw", disabled=True)
    router.state.add("/ppp/secret", name="other", password="pw")
    assert router.login("gina", "ppp") == "user disabled"
    fleet.advance(3600)
    assert router.state.rows("/ppp/active") == []


def test_control_login_takes_kind_mac_and_redial(fleet, router):
    router.state.add("/ppp/secret", name="hank", password="pw", caller_id=MAC)
    with pytest.raises(ControlError, match="caller-id mismatch"):
        control(fleet.control_port, router="s1", login="hank", kind="ppp")
    answer = control(fleet.control_port, router="s1", login="hank", kind="ppp", mac="02:00:00:00:00:09",
                     redial=True)
    assert answer["refused"] == "caller-id mismatch"
    control(fleet.control_port, router="s1", login="hank", kind="ppp", mac=MAC)
    assert [r["caller-id"] for r in router.state.rows("/ppp/active")] == [MAC]
    with pytest.raises(ControlError, match="kind"):
        control(fleet.control_port, router="s1", login="hank", kind="pptp")
