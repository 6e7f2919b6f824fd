"""Stateful menus: add/print/set/remove on each, traps, formats and the system menus."""

import pytest
from librouteros.exceptions import TrapError
from librouteros.login import token

from routeros_sim import Fleet, RouterConfig
from routeros_sim.tests.simclient import RawClient, connect

MENUS = [
    ("ip/hotspot/user", {"name": "u1", "password": "p", "limit-uptime": "3600"},
     {"limit-uptime": "3600", "server": "all"}, {"comment": "edited"}),
    ("ip/hotspot/user/profile", {"name": "prof1", "rate-limit": "2M/4M", "shared-users": 2},
     {"rate-limit": "2M/4M", "shared-users": 2}, {"session-timeout": "01:30:00"}),
    ("ip/hotspot", {"name": "hs2", "interface": "ether3"}, {"profile": "default"},
     {"idle-timeout": "10m"}),
    ("ppp/secret", {"name": "s1", "password": "p", "service": "pppoe"},
     {"profile": "default", "service": "pppoe"}, {"remote-address": "10.0.0.9"}),
    ("ppp/profile", {"name": "pp1", "rate-limit": "5M/10M", "only-one": "yes"},
     {"only-one": True}, {"session-timeout": "7200"}),
    ("queue/simple", {"name": "q1", "target": "10.0.0.5/32", "max-limit": "5M/10M"},
     {"max-limit": "5000000/10000000", "limit-at": "0/0"}, {"limit-at": "1M/2M"}),
    ("radius", {"address": "10.100.0.1", "secret": "x", "service": "ppp,hotspot"},
     {"authentication-port": 1812, "accounting-port": 1813, "timeout": "300ms"}, {"timeout": "1s"}),
    ("interface/wireguard", {"name": "wg1"}, {"listen-port": 13231, "mtu": 1420}, {"mtu": 1400}),
    ("interface/wireguard/peers", {"interface": "wg0", "public-key": "cGVlcg==", "allowed-address": "10.100.0.2/32"},
     {"endpoint-port": 0}, {"persistent-keepalive": "25s"}),
]
NORMALISED = {"limit-uptime": "1h", "limit-at": "1000000/2000000"}


@pytest.fixture(scope="module", autouse=True)
def wireguard_parent(router):
    api = connect(router)
    api.path("interface", "wireguard").add(name="wg0")
    yield
    api.close()


@pytest.mark.parametrize("path, add, expect, change", MENUS, ids=[m[0] for m in MENUS])
def test_add_print_set_disable_remove(api, path, add, expect, change):
    menu = api.path(*path.split("/"))
    new_id = menu.add(**add)
    assert new_id.startswith("*")
    row = next(r for r in menu if r[".id"] == new_id)
    for key, value in {**add, **expect}.items():
        if key not in ("limit-uptime", "max-limit"):
            assert row[key] == value, key
        else:
            assert row[key] == {"limit-uptime": "1h", "max-limit": "5000000/10000000"}[key]
    key, value = next(iter(change.items()))
    menu.update(**{".id": new_id, key: value})
    row = next(r for r in menu if r[".id"] == new_id)
    assert row[key] == NORMALISED.get(key, {"01:30:00": "1h30m", "7200": "2h"}.get(str(value), value))
    if "disabled" in row:
        tuple(menu("disable", **{".id": new_id}))
        assert next(r for r in menu if r[".id"] == new_id)["disabled"] is True
        tuple(menu("enable", **{".id": new_id}))
        assert next(r for r in menu if r[".id"] == new_id)["disabled"] is False
    else:
        with pytest.raises(TrapError, match="no such command"):
            tuple(menu("disable", **{".id": new_id}))
    menu.remove(new_id)
    assert all(r[".id"] != new_id for r in menu)
    with pytest.raises(TrapError) as err:
        menu.remove(new_id)
    assert (err.value.message, err.value.category) == ("no such item (4)", 0)


def test_duplicate_hotspot_user_traps_but_another_server_is_fine(api):
    users = api.path("ip", "hotspot", "user")
    first = users.add(name="dup")
    with pytest.raises(TrapError) as err:
        users.add(name="dup")
    assert err.value.message == "failure: already have user with this name for this server"
    other = users.add(name="dup", server="hotspot1")
    users.remove(first, other)
    assert not [u for u in users if u["name"] == "dup"]


def test_duplicate_ppp_secret_traps(api):
    secrets = api.path("ppp", "secret")
    sid = secrets.add(name="twin")
    with pytest.raises(TrapError, match="secret with the same name already exists"):
        secrets.add(name="twin")
    secrets.remove(sid)


@pytest.mark.parametrize("path, args, message, category", [
    ("ip/hotspot/user", {"name": "x", "profile": "gold"}, "input does not match any value of profile", 1),
    ("ppp/secret", {"name": "x", "profile": "nope"}, "input does not match any value of profile", 1),
    ("ip/hotspot/user", {"name": "x", "disabled": "maybe"}, "invalid value for argument disabled", 1),
    ("ip/hotspot/user", {"name": "x", "limit-uptime": "soon"}, "invalid value for argument limit-uptime", 1),
    ("ppp/secret", {"name": "x", "service": "carrier-pigeon"}, "invalid value for argument service", 1),
    ("ip/hotspot/user", {"name": "x", "uptime": "1h"}, "unknown parameter uptime", None),
    ("ip/hotspot/user", {"password": "x"}, "missing value(s) of argument(s) name", None),
])
def test_bad_values_trap_with_routeros_messages(api, path, args, message, category):
    with pytest.raises(TrapError) as err:
        api.path(*path.split("/")).add(**args)
    assert (err.value.message, err.value.category) == (message, category)


def test_read_only_fields_cannot_be_set(api):
    users = api.path("ip", "hotspot", "user")
    uid = users.add(name="ro")
    with pytest.raises(TrapError, match="unknown parameter bytes-in"):
        users.update(**{".id": uid, "bytes-in": 5})
    users.remove(uid)


@pytest.mark.parametrize("command, missing", [
    ("/ip/nothing/print", "nothing"), ("/interface/add", "add"), ("/ip/hotspot/active/add", "add"),
])
def test_unknown_commands_trap_in_category_0(api, command, missing):
    with pytest.raises(TrapError) as err:
        tuple(api(command))
    assert (err.value.message, err.value.category) == ("no such command or directory (%s)" % missing, 0)


def test_booleans_go_out_as_true_false_and_come_in_as_yes_no(raw):
    raw.send("/ip/hotspot/user/add", "=name=b1", "=disabled=yes")
    uid = raw.until_done()[-1][-1].split("=")[-1]
    raw.send("/ip/hotspot/user/print", "?.id=" + uid, "=.proplist=disabled")
    assert raw.until_done()[0] == ["!re", "=disabled=true"]
    raw.send("/ip/hotspot/user/set", "=.id=" + uid, "=disabled=false")
    raw.until_done()
    raw.send("/ip/hotspot/user/print", "?.id=" + uid, "=.proplist=disabled")
    assert raw.until_done()[0] == ["!re", "=disabled=false"]
    raw.send("/ip/hotspot/user/remove", "=.id=" + uid)
    raw.until_done()


def test_queue_without_name_gets_queue_n(api):
    queues = api.path("queue", "simple")
    qid = queues.add(target="10.7.7.7/32")
    assert next(q for q in queues if q[".id"] == qid)["name"].startswith("queue")
    queues.remove(qid)


def test_wireguard_interface_appears_in_interface_list_with_keys(api):
    wg = next(w for w in api.path("interface", "wireguard") if w["name"] == "wg0")
    assert len(wg["private-key"]) == 44 and len(wg["public-key"]) == 44
    assert [(i["name"], i["type"]) for i in api.path("interface") if i["name"] == "wg0"] == [("wg0", "wg")]


def test_interface_rename_and_get(api):
    ifaces = api.path("interface")
    ether5 = next(i for i in ifaces if i["name"] == "ether5")
    ifaces.update(**{".id": ether5[".id"], "name": "uplink", "comment": "to ISP"})
    got = tuple(api("/interface/get", **{".id": ether5[".id"], "value-name": "name"}))
    assert got == ({"ret": "uplink"},)
    ifaces.update(**{".id": ether5[".id"], "name": "ether5"})


def test_remove_takes_a_comma_list(api):
    users = api.path("ip", "hotspot", "user")
    ids = [users.add(name="multi%d" % i) for i in range(3)]
    users.remove(*ids)
    assert not [u for u in users if u["name"].startswith("multi")]


def test_identity_set_and_resource_fields(api):
    tuple(api("/system/identity/set", name="edge-1"))
    assert list(api.path("system", "identity")) == [{"name": "edge-1"}]
    tuple(api("/system/identity/set", name="r720"))
    res = next(iter(api.path("system", "resource")))
    assert res["version"] == "7.20.2 (stable)"
    assert isinstance(res["cpu-load"], int) and 0 <= res["cpu-load"] <= 100
    assert res["free-memory"] < res["total-memory"]
    assert res["uptime"].endswith("s")


def test_health_v7_rows_per_sensor(api):
    rows = list(api.path("system", "health"))
    assert {r["name"] for r in rows} >= {"voltage", "temperature"}
    assert all(set(r) == {".id", "name", "value", "type"} for r in rows)


def test_health_v6_flat_row(fleet):
    api = connect(fleet["r6"], login_method=token)
    rows = list(api.path("system", "health"))
    assert len(rows) == 1 and set(rows[0]) == {"voltage", "temperature"}
    api.close()


def test_health_on_chr_is_empty():
    config = RouterConfig(password="s3cret", board_name="CHR", tls_port=None)
    with Fleet([config], speed=0) as fleet:
        client = RawClient(fleet.routers[0].port)
        client.login()
        client.send("/system/health/print")
        assert client.until_done() == [["!empty"], ["!done"]]
        client.close()


def test_monitor_traffic_once_gives_one_row_of_integers(api):
    rows = tuple(api("/interface/monitor-traffic", interface="ether1", once=True))
    assert len(rows) == 1 and rows[0]["name"] == "ether1"
    assert all(isinstance(rows[0][k], int) for k in ("rx-bits-per-second", "tx-bits-per-second",
                                                      "rx-packets-per-second", "tx-packets-per-second"))
