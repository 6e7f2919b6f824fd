"""What network monitoring reads and forces: /log, link state and flaps, held gauges, spikes, counter wraps."""

import pytest
from librouteros.exceptions import TrapError
from librouteros.query import Key

from routeros_sim import Fleet, RouterConfig, control
from routeros_sim.clock import DEFAULT_START, format_date
from routeros_sim.control import ControlError
from routeros_sim.events import LOG_LINES
from routeros_sim.tests.simclient import PASSWORD, RawClient, attrs, connect, wait_for

NEVER = 1e9


@pytest.fixture(scope="module")
def fleet():
    configs = [RouterConfig(name="m7", password=PASSWORD, hotspot_users=3, ppp_secrets=3),
               RouterConfig(name="m6", password=PASSWORD, version="6.49.10"),
               RouterConfig(name="chr", password=PASSWORD, board_name="CHR")]
    with Fleet(configs, speed=0, control_port=0) as running:
        yield running


@pytest.fixture(scope="module")
def router(fleet):
    return fleet["m7"]


@pytest.fixture
def api(router):
    conn = connect(router)
    yield conn
    conn.close()


def log_lines(api, after=None):
    path = api.path("log")
    if after is None:
        return list(path)
    return list(path.select(Key(".id"), Key("time"), Key("topics"), Key("message")).where(Key(".id") > after))


def iface(api, name):
    return next(r for r in api.path("interface") if r["name"] == name)


def monitor(api, *names, **extra):
    return list(api.path("interface")("monitor-traffic", interface=",".join(names), once=True, **extra))


def now(fleet):
    return fleet.clock.now()


# -- /log -------------------------------------------------------------------------------------------
def test_log_starts_with_the_boot_and_records_api_logins(fleet, api):
    lines = log_lines(api)
    assert lines[0][".id"] == "*1"
    assert (lines[0]["topics"], lines[0]["message"]) == ("system,info", "router rebooted")
    assert lines[0]["time"] == "2025-01-01 12:00:00"
    assert {"topics": "system,info,account", "message": "user admin logged in from 127.0.0.1 via api"} in [
        {"topics": r["topics"], "message": r["message"]} for r in lines]
    last = lines[-1][".id"]
    connect(fleet["m7"]).close()
    assert wait_for(lambda: any(r["message"] == "user admin logged out from 127.0.0.1 via api"
                                for r in log_lines(api, last)))


def test_failed_api_login_is_logged(router, api):
    last = log_lines(api)[-1][".id"]
    client = RawClient(router.port)
    client.send("/login", "=name=admin", "=password=wrong")
    assert client.read()[0] == "!trap"
    client.close()
    new = log_lines(api, last)
    assert ("system,error,critical", "login failure for user admin from 127.0.0.1 via api") in [
        (r["topics"], r["message"]) for r in new]


def test_tail_since_an_id_compares_ids_as_numbers_and_keeps_the_proplist(fleet, router, api):
    ids = [router.write_log("line %d" % i, "script,info") for i in range(20)]
    newer = log_lines(api, ids[4])
    assert [r["message"] for r in newer] == ["line %d" % i for i in range(5, 20)]  # *9 < *A < *10 < *1F
    assert set(newer[0]) == {".id", "time", "topics", "message"}
    assert log_lines(api, ids[-1]) == []
    older = list(api.path("log").select(Key("message")).where(Key(".id") < ids[1], Key("topics") == "script,info"))
    assert older == [{"message": "line 0"}]
    only = list(api.path("log").select(Key("message")).where(Key(".id") == ids[3]))
    assert only == [{"message": "line 3"}]


def test_log_is_read_only_and_keeps_the_last_thousand_lines(router, api):
    with pytest.raises(TrapError, match="no such command"):
        api.path("log").add(message="x")
    for i in range(LOG_LINES + 50):
        last = router.write_log("bulk %d" % i)
    lines = log_lines(api)
    assert len(lines) == LOG_LINES
    assert lines[-1][".id"] == last and lines[-1]["message"] == "bulk %d" % (LOG_LINES + 49)
    assert lines[0]["message"] == "bulk 50"
    assert int(lines[0][".id"][1:], 16) == int(last[1:], 16) - LOG_LINES + 1


def test_log_listen_streams_new_lines(router):
    raw = RawClient(router.port)
    raw.login()
    raw.send("/log/listen", ".tag=t")
    assert wait_for(lambda: router.state.menus["/log"].listeners)
    first = router.write_log("streamed", "system,info")
    sentence = raw.read()
    assert sentence[0] == "!re" and attrs(sentence)["message"] == "streamed" and attrs(sentence)[".id"] == first
    raw.send("/cancel", "=tag=t")
    assert raw.read()[0] in ("!trap", "!done")
    raw.close()


def test_v6_log_time_and_flat_health(fleet):
    r6 = fleet["m6"]
    conn = connect(r6)
    line = list(conn.path("log"))[0]
    assert line["time"] == format_date(DEFAULT_START, (6, 49)) == "jan/01/2025 12:00:00"
    health = list(conn.path("system", "health"))
    assert len(health) == 1 and set(health[0]) == {"voltage", "temperature"}
    r6.hold({"temperature": 71, "voltage": 11.9}, seconds=60)
    assert list(conn.path("system", "health"))[0] == {"voltage": "11.9", "temperature": 71}
    r6.release()
    conn.close()


# -- link state -------------------------------------------------------------------------------------
def test_unplugged_link_stops_counters_and_logs(fleet, router, api):
    fleet.advance(10)
    before = iface(api, "ether2")
    assert before["running"] is True and before["rx-byte"] > 0
    last = log_lines(api)[-1][".id"]
    router.set_link("ether2", False)
    down = iface(api, "ether2")
    assert down["running"] is False and down["link-downs"] == before["link-downs"] + 1
    assert down["last-link-down-time"] == format_date(now(fleet), (7, 20))
    fleet.advance(60)
    assert iface(api, "ether2")["rx-byte"] == down["rx-byte"]
    assert monitor(api, "ether2")[0]["rx-bits-per-second"] == 0
    router.set_link("ether2", True)
    fleet.advance(10)
    assert iface(api, "ether2")["rx-byte"] > down["rx-byte"]
    assert [(r["topics"], r["message"]) for r in log_lines(api, last)] == [
        ("interface,info", "ether2 link down"), ("interface,info", "ether2 link up")]


def test_disabling_through_the_api_takes_the_link_down(fleet, api):
    ifaces = api.path("interface")
    last = log_lines(api)[-1][".id"]
    tuple(ifaces("disable", **{".id": "ether3"}))
    row = iface(api, "ether3")
    assert (row["disabled"], row["running"]) == (True, False)
    counter = row["tx-byte"]
    fleet.advance(30)
    assert iface(api, "ether3")["tx-byte"] == counter
    ifaces.update(**{".id": iface(api, "ether3")[".id"], "disabled": False})
    assert iface(api, "ether3")["running"] is True
    assert [r["message"] for r in log_lines(api, last)] == [
        "interface changed by admin", "ether3 link down", "interface changed by admin", "ether3 link up"]


def test_a_disabled_interface_stays_down_when_plugged(router, api):
    ifaces = api.path("interface")
    tuple(ifaces("disable", **{".id": "ether5"}))
    router.set_link("ether5", False)
    router.set_link("ether5", True)
    assert iface(api, "ether5")["running"] is False
    tuple(ifaces("enable", **{".id": "ether5"}))
    assert iface(api, "ether5")["running"] is True


def test_flapping_logs_every_change_at_its_second(fleet, router, api):
    last = log_lines(api)[-1][".id"]
    t0 = now(fleet)
    downs = iface(api, "ether4")["link-downs"]
    router.flap_link("ether4", down=5, up=10)
    fleet.advance(31)
    router.flap_link("ether4", None)
    changes = [(r["time"], r["message"]) for r in log_lines(api, last)]
    expected = [(t0, "down"), (t0 + 5, "up"), (t0 + 15, "down"), (t0 + 20, "up"), (t0 + 30, "down"), (t0 + 31, "up")]
    assert changes == [(format_date(t, (7, 20)), "ether4 link " + w) for t, w in expected]
    assert iface(api, "ether4")["link-downs"] == downs + 3


def test_a_few_quick_flaps_then_the_link_stays_up(fleet, router, api):
    last = log_lines(api)[-1][".id"]
    router.flap_link("ether4", down=1, up=2, count=3)
    assert router.monitoring_state()["flaps"]["ether4"]["count"] == 3
    fleet.advance(20)
    messages = [r["message"] for r in log_lines(api, last)]
    assert messages == ["ether4 link down", "ether4 link up"] * 3
    assert iface(api, "ether4")["running"] is True
    assert router.monitoring_state()["flaps"] == {}


# -- gauges -----------------------------------------------------------------------------------------
def test_held_cpu_and_memory_cross_a_threshold_for_exactly_the_time_asked(fleet, router, api):
    resource = api.path("system", "resource")
    router.hold({"cpu-load": 95, "memory-percent": 90}, seconds=300)
    row = list(resource)[0]
    assert row["cpu-load"] == 95 and row["free-memory"] == row["total-memory"] // 10
    fleet.advance(299)
    assert list(resource)[0]["cpu-load"] == 95
    fleet.advance(1)
    row = list(resource)[0]
    assert row["cpu-load"] < 50 and row["free-memory"] > row["total-memory"] * 0.3
    router.hold(cpu_load=91)
    fleet.advance(3600)
    assert list(resource)[0]["cpu-load"] == 91
    router.release("cpu-load")
    assert list(resource)[0]["cpu-load"] < 50


def test_health_moves_and_can_be_held(fleet, router, api):
    health = api.path("system", "health")
    seen = set()
    for _ in range(6):
        rows = {r["name"]: r for r in health}
        seen.add((rows["temperature"]["value"], rows["voltage"]["value"]))
        fleet.advance(300)
    assert len(seen) > 2
    assert {r["type"] for r in rows.values()} == {"C", "V"}
    router.hold(temperature=82, voltage=10.5, seconds=60)
    rows = {r["name"]: r["value"] for r in health}
    assert (rows["temperature"], rows["voltage"], rows["cpu-temperature"]) == (82, "10.5", 91)
    fleet.advance(60)
    assert {r["name"]: r["value"] for r in health}["temperature"] < 70
    assert list(connect(router, port=fleet["chr"].port).path("system", "health")) == []


def test_bad_holds_are_refused(router):
    with pytest.raises(ValueError, match="cannot hold"):
        router.hold({"fan-speed": 1})
    with pytest.raises(ValueError, match="0..100"):
        router.hold(cpu_load=130)


# -- traffic ----------------------------------------------------------------------------------------
def test_spike_multiplies_the_rate_for_its_time(fleet, router, api):
    base = monitor(api, "ether1")[0]["rx-bits-per-second"]
    router.spike("ether1", factor=10, seconds=120)
    spiked = monitor(api, "ether1")[0]["rx-bits-per-second"]
    assert 7 < spiked / base < 14
    start = iface(api, "ether1")["rx-byte"]
    fleet.advance(60)
    during = iface(api, "ether1")["rx-byte"] - start
    fleet.advance(60)
    after_bps = monitor(api, "ether1")[0]["rx-bits-per-second"]
    start = iface(api, "ether1")["rx-byte"]
    fleet.advance(60)
    normal = iface(api, "ether1")["rx-byte"] - start
    assert during > 3 * normal
    assert after_bps < spiked / 3
    assert router.monitoring_state()["spikes"] == {}


def test_monitor_traffic_once_gives_one_row_per_interface_with_proplist(router, api):
    keys = ["name", "rx-bits-per-second", "tx-bits-per-second", "rx-packets-per-second", "tx-packets-per-second"]
    rows = list(api.path("interface")("monitor-traffic", interface="ether1,ether2", once=True, **{".proplist": ",".join(keys)}))
    assert [r["name"] for r in rows] == ["ether1", "ether2"]
    assert all(set(r) == set(keys) for r in rows)
    assert all(r["rx-bits-per-second"] > 0 and r["rx-packets-per-second"] >= 0 for r in rows)
    router.set_link("ether1", False)
    assert monitor(api, "ether1")[0]["tx-bits-per-second"] == 0
    router.set_link("ether1", True)


@pytest.mark.parametrize("bits", [32, 64])
def test_counter_wrap(fleet, router, api, bits):
    printed = router.wrap_counters("ether1", bits=bits, margin=1000)
    top = 2 ** bits
    row = iface(api, "ether1")
    assert (row["rx-byte"], row["tx-byte"]) == (top - 1000, top - 1000) == tuple(int(v) for v in printed.values())
    fleet.advance(10)
    row = iface(api, "ether1")
    assert 0 < row["rx-byte"] < 10 * 50e6 / 8 and 0 < row["tx-byte"] < 10 * 50e6 / 8
    row = monitor(api, "ether1")[0]
    default = router.wrap_counters("ether1", bits=bits)
    assert 0 < top - int(default["rx-byte"]) <= 5 * row["rx-bits-per-second"] / 8 * 1.5
    fleet.advance(10)
    assert iface(api, "ether1")["rx-byte"] < top // 2


def test_reboot_zeroes_counters_restarts_uptime_and_log(fleet):
    r = fleet["m6"]
    conn = connect(r)
    fleet.advance(120)
    r.wrap_counters("ether1", bits=32, margin=10**6)
    assert list(conn.path("log"))[-1][".id"] != "*1"
    conn.close()
    r.reboot()
    conn = connect(r)
    rows = {x["name"]: x for x in conn.path("interface")}
    assert all(rows[n]["rx-byte"] == rows[n]["tx-byte"] == 0 for n in ("ether1", "ether2"))
    assert list(conn.path("system", "resource"))[0]["uptime"] == "0s"
    lines = list(conn.path("log"))
    assert [(x[".id"], x["message"]) for x in lines[:2]] == [
        ("*1", "router rebooted"), ("*2", "user admin logged in from 127.0.0.1 via api")]
    fleet.advance(10)
    assert 0 < next(x for x in conn.path("interface") if x["name"] == "ether1")["rx-byte"] < 2**31  # still 32 bits wide
    conn.close()


# -- subscribers ------------------------------------------------------------------------------------
def test_logins_and_logouts_are_logged_and_counted(fleet, router, api):
    last = log_lines(api)[-1][".id"]
    assert router.login("user1") is None and router.login("user2") is None
    assert router.login("ppp1", "ppp", mac="02:00:00:00:00:01") is None
    hs = api.path("ip", "hotspot", "active")
    ppp = api.path("ppp", "active")
    assert tuple(hs("print", **{"count-only": ""})) == ({"ret": 2},)
    assert tuple(ppp("print", **{"count-only": ""})) == ({"ret": 1},)
    fleet.advance(30)
    router.logout(user="user1")
    router.logout(user="ppp1")
    addr = {s["user"]: s["address"] for s in router.sessions()}
    lines = [(r["topics"], r["message"]) for r in log_lines(api, last)]
    assert lines[0][0] == "hotspot,account,info,debug" and lines[0][1].startswith("user1 (10.5.")
    assert lines[0][1].endswith("): logged in")
    assert ("hotspot,account,info,debug", "user2 (%s): logged in" % addr["user2"]) in lines
    assert ("pppoe,ppp,info", "<pppoe-ppp1>: connected") in lines
    assert any(t == "pppoe,ppp,info,account" and m.startswith("ppp1 logged in, 10.10.") for t, m in lines)
    assert lines[-3][1].startswith("user1 (10.5.") and lines[-3][1].endswith("): logged out: user request")
    assert lines[-2][1].startswith("ppp1 logged out, 30 ")
    assert lines[-1] == ("pppoe,ppp,info", "<pppoe-ppp1>: disconnected")
    assert tuple(hs("print", **{"count-only": ""})) == ({"ret": 1},)
    router.logout(user="user2")


def test_simple_queue_bytes_move(fleet, router, api):
    queues = api.path("queue", "simple")
    qid = queues.add(name="static-5", target="10.0.0.5/32", **{"max-limit": "5M/10M"})
    fleet.advance(60)
    row = next(q for q in queues if q[".id"] == qid)
    up, down = (int(x) for x in row["bytes"].split("/"))
    assert 0 < up <= 60 * 5e6 / 8 and 0 < down <= 60 * 10e6 / 8
    queues.remove(qid)


# -- control channel --------------------------------------------------------------------------------
def test_control_channel_drives_every_switch(fleet, router, api):
    port = fleet.control_port
    control(port, router="m7", link={"interface": "ether2", "running": False})
    assert iface(api, "ether2")["running"] is False
    control(port, router="m7", link={"interface": "ether2", "running": True})
    control(port, router="m7", flap_link={"interface": "ether3", "down": 5, "up": 5})
    assert control(port, router="m7", forced=True)["forced"]["m7"]["flaps"]["ether3"]["down"] == 5.0
    control(port, router="m7", flap_link=None)
    assert iface(api, "ether3")["running"] is True
    control(port, router="m7", flap_link={"interface": "ether3", "down": 2, "up": 3, "count": 2})
    fleet.advance(6)
    assert iface(api, "ether3")["running"] is False  # down 0-2 s, up 2-5 s, down again 5-7 s
    control(port, router="m7", flap_link={"interface": "ether3", "down": None})
    assert iface(api, "ether3")["running"] is True and router.monitoring_state()["flaps"] == {}
    control(port, router="m7", hold={"cpu-load": 97}, seconds=300)
    assert list(api.path("system", "resource"))[0]["cpu-load"] == 97
    control(port, router="m7", release=["cpu-load"])
    assert list(api.path("system", "resource"))[0]["cpu-load"] != 97
    control(port, router="*", hold={"memory-percent": 96, "temperature": 80})
    assert control(port, router="m6", forced=True)["forced"]["m6"]["holds"]["temperature"] == {"value": 80.0, "until": None}
    control(port, router="*", release=True)
    assert router.monitoring_state()["holds"] == {} and fleet["m6"].monitoring_state()["holds"] == {}
    control(port, router="m7", spike={"interface": "ether1", "factor": 10, "seconds": 120})
    assert control(port, router="m7", forced=True)["forced"]["m7"]["spikes"]["ether1"]["factor"] == 10.0
    control(port, router="m7", spike={"interface": "ether1", "factor": 1})
    answer = control(port, router="m7", wrap={"interface": "ether1", "bits": 32, "margin": 100})
    assert answer["counters"]["m7"] == {"rx-byte": str(2**32 - 100), "tx-byte": str(2**32 - 100)}
    answer = control(port, router="*", log={"topics": "script,warning", "message": "hello"})
    assert set(answer["log_ids"]) == {"m7", "m6", "chr"}
    assert log_lines(api, answer["log_ids"]["m7"][:1] + "%X" % (int(answer["log_ids"]["m7"][1:], 16) - 1))[-1]["message"] == "hello"
    with pytest.raises(ControlError, match="no interface named"):
        control(port, router="m7", link={"interface": "ether9", "running": False})
    with pytest.raises(ControlError, match="name a router"):
        control(port, hold={"cpu-load": 1})
    with pytest.raises(ControlError, match="32 or 64"):
        control(port, router="m7", wrap={"interface": "ether1", "bits": 16})
