"""The simulated router as a NAS: Access-Request, accounting and Disconnect/CoA against a pyrad stub."""

from __future__ import annotations

import time

import pytest
from pyrad import packet as rp

from routeros_sim import Fleet, RouterConfig, control
from routeros_sim.tests.radius_stub import SECRET, StubServer, dae
from routeros_sim.tests.simclient import PASSWORD, connect


@pytest.fixture(scope="module")
def stub():
    """The RADIUS server stub."""
    server = StubServer()
    server.users.update({
        "alice": ("wonderland", {"Mikrotik-Rate-Limit": "2M/4M", "Framed-IP-Address": "10.5.99.7",
                                 "Acct-Interim-Interval": 60, "Class": b"plan-7"}),
        "bob": ("builder", {"Mikrotik-Rate-Limit": "1M/2M", "Session-Timeout": 600}),
        "carol": ("pw", {}),
    })
    yield server
    server.close()


@pytest.fixture(scope="module")
def nas_fleet(stub):
    """A frozen-clock router configured for RADIUS before it starts (so it says Accounting-On)."""
    fleet = Fleet([RouterConfig(name="nas", password=PASSWORD, hotspot_users=1)], speed=0, control_port=0)
    fleet["nas"].use_radius("127.0.0.1", SECRET, auth_port=stub.auth_port, acct_port=stub.acct_port,
                            timeout="1s", interim="5m")
    with fleet:
        yield fleet
    assert stub.wait_for(lambda a: a["Acct-Status-Type"] == "Accounting-Off")


@pytest.fixture
def nas(nas_fleet):
    """The router; every test ends with no session left."""
    router = nas_fleet["nas"]
    yield router
    for s in router.sessions():
        router.logout(session_id=s["acct_session_id"] or None, user=s["user"])


def _acct(stub, status, session_id):
    found = stub.wait_for(lambda a: a["Acct-Status-Type"] == status and a.get("Acct-Session-Id") == session_id)
    assert found, "no %s for %s" % (status, session_id)
    return found


def test_setup_script_commands_configure_radius_menus(nas_fleet):
    router = nas_fleet["nas"]
    api = connect(router)
    try:
        radius = list(api.path("radius"))
        assert radius[0]["address"] == "127.0.0.1" and radius[0]["service"] == "ppp,hotspot"
        api.path("radius", "incoming").update(accept=True)  # `/radius incoming set accept=yes`
        incoming = list(api.path("radius", "incoming"))[0]
        assert incoming["accept"] is True and incoming["port"] == 3799
        aaa = list(api.path("ppp", "aaa"))[0]
        assert aaa["use-radius"] is True and aaa["interim-update"] == "5m"
        profiles = {p["name"]: p for p in api.path("ip", "hotspot", "profile")}
        assert profiles["hsprof1"]["use-radius"] is True
        assert profiles["hsprof1"]["radius-interim-update"] == "received"
        with pytest.raises(Exception, match="invalid value for argument interim-update"):
            tuple(api("/ppp/aaa/set", **{"interim-update": "soon"}))
    finally:
        api.close()


def test_accounting_on_at_start(stub, nas_fleet):
    assert stub.wait_for(lambda a: a["Acct-Status-Type"] == "Accounting-On" and a["NAS-Identifier"] == "nas")


def test_hotspot_pap_login_applies_the_reply_and_accounts(stub, nas):
    result = nas.radius_login("alice", "wonderland", mac="02:00:00:00:00:A1")
    assert result["accepted"] and result["via"] == "radius"
    session = result["session"]
    assert session["address"] == "10.5.99.7" and session["rate_limit"] == "2M/4M"
    request = stub.requests[-1]
    assert request["method"] == "pap" and request["User-Name"] == ["alice"]
    assert request["Calling-Station-Id"] == ["02:00:00:00:00:A1"]
    assert request["NAS-Port-Type"] == ["Wireless-802.11"] and request["Called-Station-Id"] == ["hotspot1"]
    assert request["NAS-Identifier"] == ["nas"] and request["NAS-IP-Address"] == ["127.0.0.1"]
    active = [a for a in nas.state.rows("/ip/hotspot/active") if a["user"] == "alice"]
    assert active[0]["radius"] == "true" and active[0]["address"] == "10.5.99.7"
    queue = [q for q in nas.state.rows("/queue/simple") if q["name"] == "<hotspot-alice>"]
    assert queue[0]["max-limit"] == "2000000/4000000" and queue[0]["dynamic"] == "true"
    start = _acct(stub, "Start", session["acct_session_id"])[0]
    assert start["Framed-IP-Address"] == "10.5.99.7" and start["Class"] == b"plan-7".hex()

    nas.state.clock.advance(125)  # interims every received 60 s (hotspot radius-interim-update=received)
    with nas.state.lock:
        nas.state.sync(force=True)
    interims = _acct(stub, "Interim-Update", session["acct_session_id"])
    assert stub.wait_for(lambda a: a["Acct-Status-Type"] == "Interim-Update"
                         and a["Acct-Session-Id"] == session["acct_session_id"] and a["Acct-Session-Time"] >= 120)
    assert interims[0]["Acct-Output-Octets"] > 0

    assert nas.logout(user="alice") == 1
    stop = _acct(stub, "Stop", session["acct_session_id"])[0]
    assert stop["Acct-Terminate-Cause"] == "User-Request" and stop["Acct-Session-Time"] == 125
    assert stop["Acct-Output-Octets"] >= interims[-1]["Acct-Output-Octets"]
    assert not [q for q in nas.state.rows("/queue/simple") if q["name"] == "<hotspot-alice>"]


def test_ppp_chap_login_and_wrong_password(stub, nas):
    bad = nas.radius_login("bob", "wrong", kind="ppp")
    assert not bad["accepted"] and bad["reason"] == "rejected by the RADIUS server"
    assert stub.requests[-1]["method"] == "chap"
    assert not [a for a in nas.state.rows("/ppp/active") if a["name"] == "bob"]
    good = nas.radius_login("bob", "builder", kind="ppp", mac="02:00:00:00:00:B0")
    assert good["accepted"] and stub.requests[-1]["method"] == "chap"
    assert stub.requests[-1]["NAS-Port-Type"] == ["Ethernet"]
    active = [a for a in nas.state.rows("/ppp/active") if a["name"] == "bob"][0]
    assert active["radius"] == "true" and active["session-id"] == "0x" + good["session"]["acct_session_id"]


def test_session_timeout_ends_the_session_with_its_cause(stub, nas):
    result = nas.radius_login("bob", "builder", kind="ppp")
    sid = result["session"]["acct_session_id"]
    nas.state.clock.advance(601)
    with nas.state.lock:
        nas.state.sync(force=True)
    stop = _acct(stub, "Stop", sid)[0]
    assert stop["Acct-Terminate-Cause"] == "Session-Timeout" and stop["Acct-Session-Time"] == 600
    assert sid not in [s["acct_session_id"] for s in nas.sessions()]


def test_local_user_first_then_radius(stub, nas):
    before = len(stub.requests)
    local = nas.radius_login("user1", "pass1")
    assert local["accepted"] and local["via"] == "local" and len(stub.requests) == before
    unknown = nas.radius_login("nobody", "x")
    assert not unknown["accepted"] and len(stub.requests) == before + 1


def test_disconnect_request_ends_the_session(stub, nas):
    result = nas.radius_login("carol", "pw", mac="02:00:00:00:00:C0")
    sid, address = result["session"]["acct_session_id"], result["session"]["address"]
    assert dae(nas.radius_incoming_port, rp.DisconnectRequest, secret="wrong", User_Name="carol") is None
    nak = dae(nas.radius_incoming_port, rp.DisconnectRequest, User_Name="carol", Acct_Session_Id="nope")
    assert nak.code == rp.DisconnectNAK and nak["Error-Cause"] == ["Session-Context-Not-Found"]
    ack = dae(nas.radius_incoming_port, rp.DisconnectRequest, User_Name="carol", Acct_Session_Id=sid,
              Framed_IP_Address=address)
    assert ack.code == rp.DisconnectACK
    assert "carol" not in [a["user"] for a in nas.state.rows("/ip/hotspot/active")]
    assert _acct(stub, "Stop", sid)[0]["Acct-Terminate-Cause"] == "Admin-Reset"
    assert nas.nas.stats["dae_dropped"] >= 1


def test_coa_changes_the_live_rate(stub, nas):
    result = nas.radius_login("alice", "wonderland")
    ack = dae(nas.radius_incoming_port, rp.CoARequest, User_Name="alice", Framed_IP_Address="10.5.99.7",
              Mikrotik_Rate_Limit="8M/16M")
    assert ack.code == rp.CoAACK
    assert [s["rate_limit"] for s in nas.sessions() if s["user"] == "alice"] == ["8M/16M"]
    queue = [q for q in nas.state.rows("/queue/simple") if q["name"] == "<hotspot-alice>"][0]
    assert queue["max-limit"] == "8000000/16000000"
    nak = dae(nas.radius_incoming_port, rp.CoARequest, User_Name="zed", Mikrotik_Rate_Limit="1M/1M")
    assert nak.code == rp.CoANAK and nak["Error-Cause"] == ["Session-Context-Not-Found"]
    assert result["accepted"]


def test_incoming_off_means_no_answer(nas):
    nas.state.configure("/radius/incoming", accept=False)
    try:
        assert dae(nas.radius_incoming_port, rp.DisconnectRequest, timeout=0.5, User_Name="alice") is None
    finally:
        nas.state.configure("/radius/incoming", accept=True)


def test_counters_past_four_gigabytes_use_gigawords(stub, nas):
    result = nas.radius_login("carol", "pw")
    sid = result["session"]["acct_session_id"]
    with nas.state.lock:
        session = next(s for s in nas.state.population.sessions() if s.get("_acct_id") == sid)
        session["_out"] = 5 * 2**32 + 123
    nas.logout(session_id=sid)
    stop = _acct(stub, "Stop", sid)[0]
    assert stop["Acct-Output-Gigawords"] == 5 and stop["Acct-Output-Octets"] == 123


def test_control_channel_login_sessions_logout(stub, nas_fleet):
    port = nas_fleet.control_port
    answer = control(port, router="nas", login="carol", password="pw", kind="hotspot", mac="02:00:00:00:00:CC")
    assert answer["result"]["accepted"] and answer["result"]["session"]["mac"] == "02:00:00:00:00:CC"
    listed = control(port, router="nas", sessions=True)["sessions"]["nas"]
    assert [s["user"] for s in listed if s["radius"]] == ["carol"]
    assert control(port, router="nas", logout={"user": "carol"})["ended"] == 1
    refused = control(port, router="nas", login="carol", password="nope")["result"]
    assert not refused["accepted"]
    snap = control(port, router="nas", stats=True)["routers"][0]
    assert snap["radius_incoming_port"] == nas_fleet["nas"].radius_incoming_port and snap["radius"]["accepts"] >= 1


def test_data_quota_from_radius_ends_the_session(stub, nas):
    stub.users["dave"] = ("quota", {"Mikrotik-Total-Limit": 100_000_000, "Mikrotik-Total-Limit-Gigawords": 0})
    sid = nas.radius_login("dave", "quota")["session"]["acct_session_id"]
    nas.state.clock.advance(3600)
    with nas.state.lock:
        nas.state.sync(force=True)
    stop = _acct(stub, "Stop", sid)[0]
    used = stop["Acct-Input-Octets"] + stop["Acct-Output-Octets"]
    assert 99_000_000 <= used <= 100_000_000 and stop["Acct-Terminate-Cause"] == "Session-Timeout"


def test_living_clients_of_a_radius_router_log_in_through_radius(stub):
    fleet = Fleet([RouterConfig(name="busy", password=PASSWORD, clients=4,
                                radius_users={"alice": "wonderland", "carol": "pw"})], speed=0)
    fleet["busy"].use_radius("127.0.0.1", SECRET, auth_port=stub.auth_port, acct_port=stub.acct_port, timeout="1s")
    with fleet:
        router = fleet["busy"]
        for _ in range(10):
            fleet.advance(30)
            if sum(1 for s in router.sessions() if s["radius"]) >= 2:
                break
            time.sleep(0.2)  # the Access-Requests are answered in real time
        sessions = [s for s in router.sessions() if s["radius"]]
        assert len(sessions) >= 2 and {s["kind"] for s in sessions} <= {"hotspot", "ppp"}
        assert _acct(stub, "Start", sessions[0]["acct_session_id"])


def test_reboot_stops_radius_sessions_then_says_accounting_on(stub, nas):
    sid = nas.radius_login("carol", "pw")["session"]["acct_session_id"]
    ons = len([a for a in stub.accounting if a["Acct-Status-Type"] == "Accounting-On"])
    nas.reboot()
    assert _acct(stub, "Stop", sid)[0]["Acct-Terminate-Cause"] == "Admin-Reboot"
    assert stub.wait_for(lambda a: len([x for x in stub.accounting if x["Acct-Status-Type"] == "Accounting-On"]) > ons)
    assert not nas.sessions()


def test_radius_settings_survive_save_and_load(nas_fleet, tmp_path):
    path = tmp_path / "fleet.json"
    nas_fleet.save(path)
    other = Fleet([RouterConfig(name="nas")], speed=0)
    other.load(path)
    state = other["nas"].state
    assert state.settings["/ppp/aaa"].get("use-radius") == "true"
    assert state.settings["/radius/incoming"].get("accept") == "true"
    assert state.rows("/radius")[0]["secret"] == SECRET
    assert state.menu("/ip/hotspot/profile").by_name("hsprof1")["use-radius"] == "true"


def test_a_running_clock_drives_interims_and_a_redial_cpe_comes_back_after_a_disconnect(stub):
    fleet = Fleet([RouterConfig(name="fast", password=PASSWORD)], speed=120)  # 60 simulated s = 0.5 real s
    fleet["fast"].use_radius("127.0.0.1", SECRET, auth_port=stub.auth_port, acct_port=stub.acct_port, timeout="1s")
    with fleet:
        router = fleet["fast"]
        first = router.radius_login("alice", "wonderland", kind="ppp", redial=True)["session"]["acct_session_id"]
        assert _acct(stub, "Interim-Update", first)
        ack = dae(router.radius_incoming_port, rp.DisconnectRequest, User_Name="alice", Acct_Session_Id=first)
        assert ack.code == rp.DisconnectACK
        assert _acct(stub, "Stop", first)[0]["Acct-Terminate-Cause"] == "Admin-Reset"
        deadline = time.monotonic() + 5  # the CPE dials again within 5-30 simulated seconds
        while time.monotonic() < deadline and not [s for s in router.sessions() if s["user"] == "alice"]:
            time.sleep(0.05)
        again = [s for s in router.sessions() if s["user"] == "alice"]
        assert again and again[0]["acct_session_id"] != first
