"""The setup script configures a simulated router: each line the simulator has a menu for is run over the API.

The simulator serves /interface/wireguard (+peers), /radius, /radius/incoming, /ppp/aaa and /ip/hotspot/profile;
the lines for menus it lacks (/ip address, /user, /ip service, firewall filters) are left out. The values the
router ends up with are the decoded strings of the script, byte for byte, and a second run leaves one of each.
"""
from __future__ import annotations

import re

import librouteros
import pytest

from isp.crypto import encrypt
from isp.extensions import db
from isp.services import onboarding, routers
from tests.onboarding.conftest import router_data
from tests.onboarding.rsc_parse import STRING, decode

PASSWORD = "onb-sim-pw"
VERBS = {"add", "set", "remove"}


@pytest.fixture(scope="module")
def sim_router():
    """One simulated router of our own (its state does not leak into the shared fleet)."""
    from routeros_sim import Fleet, RouterConfig

    with Fleet([RouterConfig(name="onb", password=PASSWORD, tls_port=None, seed=11)], speed=1.0) as fleet:
        yield fleet.routers[0]


def words(line: str) -> list[str]:
    """Top-level words of a script line, keeping "strings" and [selectors] whole."""
    out, current, depth, i = [], "", 0, 0
    while i < len(line):
        char = line[i]
        if char == '"':
            match = STRING.match(line, i)
            assert match, line
            current, i = current + match.group(0), match.end()
            continue
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == " " and depth == 0:
            out, current = (out + [current]) if current else out, ""
        else:
            current += char
        i += 1
    return out + [current] if current else out


def _value(raw: str) -> str:
    return decode(raw[1:-1]) if raw.startswith('"') else raw


def run_line(api, line: str, menus: set[str]) -> bool:
    """Run one plain script line (`/menu verb [selector] k=v …`) over the API; False if the simulator lacks the menu."""
    parts = words(line)
    verb_at = next(i for i, w in enumerate(parts) if w in VERBS)
    menu = "/" + "/".join(w.strip("/") for w in parts[:verb_at])
    if menu not in menus:
        return False
    verb, rest = parts[verb_at], parts[verb_at + 1:]
    selector = rest.pop(0) if rest and rest[0].startswith("[") else None
    attrs = dict((k, _value(v)) for k, v in (w.split("=", 1) for w in rest))
    if selector is None and verb != "add" and menu in ("/radius/incoming", "/ppp/aaa"):
        tuple(api(f"{menu}/set", **attrs))
        return True
    if selector is None:
        tuple(api(f"{menu}/{verb}", **attrs))
        return True
    wanted = {k: decode(v) for k, v in re.findall(r"([a-z-]+)=" + STRING.pattern, selector)}
    for row in tuple(api(f"{menu}/print")):
        if all(str(row.get(k)) == v for k, v in wanted.items()):
            tuple(api(f"{menu}/{verb}", **{".id": row[".id"]}, **attrs))
    return True


def apply_script(api, script: str) -> int:
    """Run every plain line the simulator can take; returns how many ran."""
    menus = {"/interface/wireguard", "/interface/wireguard/peers", "/radius", "/radius/incoming", "/ppp/aaa",
             "/ip/hotspot/profile"}
    ran = 0
    for line in script.splitlines():
        if line.startswith("/"):
            ran += run_line(api, line, menus)
    return ran


def test_script_configures_a_simulated_router_and_a_second_run_changes_nothing(ctx, hub, sim_router):
    router = routers.create_router(router_data(name="edge-sim"))
    # Straight into the row (the form refuses such a name; a secret is ours): the router must get them byte for byte.
    router.name = 'edge "$(x)" [y]'
    router.radius_secret_encrypted = encrypt('s"e$c\\r;e[t]?\n\u00e9')
    db.session.commit()
    script = onboarding.setup_script(router)
    api = librouteros.connect("127.0.0.1", username="admin", password=PASSWORD, port=sim_router.port, encoding="utf-8",
                              timeout=5)
    try:
        for _ in range(2):
            assert apply_script(api, script) == 9  # 4 WireGuard, 2 /radius, incoming, hotspot, aaa
            wg = [r for r in api("/interface/wireguard/print") if r.get("name") == "wg-isp"]
            assert len(wg) == 1 and wg[0]["private-key"] == onboarding.private_key(router)
            assert wg[0]["listen-port"] == 13231
            peers = [r for r in api("/interface/wireguard/peers/print") if r.get("interface") == "wg-isp"]
            assert len(peers) == 1
            peer = peers[0]
            assert (peer["public-key"], peer["endpoint-address"], peer["endpoint-port"], peer["allowed-address"]) == (
                hub.hub_public_key, "vpn.example.net", 51820, "10.100.0.1/32")
            clients = [r for r in api("/radius/print") if str(r.get("comment", "")).startswith("isp:")]
            assert len(clients) == 1
            radius = clients[0]
            assert radius["secret"] == onboarding.radius_secret(router) and radius["address"] == "10.100.0.1"
            assert radius["src-address"] == router.tunnel_address and "hotspot" in str(radius["service"])
            assert next(iter(api("/radius/incoming/print")))["accept"] is True
            aaa = next(iter(api("/ppp/aaa/print")))
            assert aaa["use-radius"] is True and aaa["accounting"] is True
            assert all(p["use-radius"] is True for p in api("/ip/hotspot/profile/print"))
    finally:
        api.close()
