"""/ip/firewall/address-list: entries, the duplicate trap, creation time and timed (dynamic) entries."""

import pytest
from librouteros.exceptions import TrapError

from routeros_sim import Fleet, RouterConfig
from routeros_sim.tests.simclient import PASSWORD, connect


@pytest.fixture
def quiet():
    with Fleet([RouterConfig(name="fw", password=PASSWORD, tls_port=None)], speed=0,
               start_time=1735732800) as fleet:  # 2025-01-01 12:00:00 UTC
        yield fleet


def test_add_print_set_disable_remove(quiet):
    api = connect(quiet.routers[0])
    entries = api.path("ip", "firewall", "address-list")
    eid = entries.add(list="isp-suspended", address="10.20.0.5", comment="ISP-000001")
    (row,) = list(entries)
    assert row == {".id": eid, "list": "isp-suspended", "address": "10.20.0.5",
                   "creation-time": "2025-01-01 12:00:00", "dynamic": False, "disabled": False,
                   "comment": "ISP-000001"}
    entries.update(**{".id": eid, "comment": "moved"})
    tuple(entries("disable", **{".id": eid}))
    (row,) = list(entries)
    assert (row["comment"], row["disabled"]) == ("moved", True)
    entries.remove(eid)
    assert list(entries) == []
    api.close()


def test_same_address_twice_in_one_list_traps_but_another_list_is_fine(quiet):
    api = connect(quiet.routers[0])
    entries = api.path("ip", "firewall", "address-list")
    entries.add(list="isp-suspended", address="10.20.0.6")
    with pytest.raises(TrapError) as err:
        entries.add(list="isp-suspended", address="10.20.0.6")
    assert err.value.message == "failure: already have such entry"
    entries.add(list="isp-restricted", address="10.20.0.6")
    assert sorted(r["list"] for r in entries) == ["isp-restricted", "isp-suspended"]
    api.close()


@pytest.mark.parametrize("args, message", [
    ({"address": "10.0.0.1"}, "missing value(s) of argument(s) list"),
    ({"list": "x"}, "missing value(s) of argument(s) address"),
    ({"list": "x", "address": "10.0.0.1", "dynamic": "yes"}, "unknown parameter dynamic"),
    ({"list": "x", "address": "10.0.0.1", "timeout": "soon"}, "invalid value for argument timeout"),
])
def test_bad_entries_trap(quiet, args, message):
    api = connect(quiet.routers[0])
    with pytest.raises(TrapError) as err:
        api.path("ip", "firewall", "address-list").add(**args)
    assert err.value.message == message
    api.close()


def test_an_entry_with_a_timeout_is_dynamic_counts_down_and_goes_away(quiet):
    api = connect(quiet.routers[0])
    entries = api.path("ip", "firewall", "address-list")
    entries.add(list="blocked", address="10.0.0.9", timeout="1h")
    entries.add(list="blocked", address="10.0.0.10")
    quiet.advance(600)
    timed = next(r for r in entries if r["address"] == "10.0.0.9")
    assert (timed["dynamic"], timed["timeout"]) == (True, "50m")
    quiet.advance(3000)
    assert [r["address"] for r in entries] == ["10.0.0.10"]
    api.close()


def test_static_entries_survive_a_reboot_timed_ones_do_not(quiet):
    router = quiet.routers[0]
    router.state.add("/ip/firewall/address-list", list="isp-suspended", address="10.0.0.7")
    router.state.add("/ip/firewall/address-list", list="isp-suspended", address="10.0.0.8", timeout="1d")
    router.reboot()
    assert [r["address"] for r in router.state.rows("/ip/firewall/address-list")] == ["10.0.0.7"]
