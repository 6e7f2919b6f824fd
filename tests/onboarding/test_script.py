"""The setup script: RouterOS syntax as documented, every value one escaped string, the hub's [Peer] block."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from isp.crypto import decrypt, encrypt, encrypt_bound
from isp.extensions import db
from isp.models import Router
from isp.services import onboarding, routers, rsc, wireguard
from isp.services.errors import ServiceError
from tests.onboarding.conftest import router_data
from tests.onboarding.rsc_parse import decode, pairs, scan

HOSTILE = [
    'a"b', "x$y", "$(/system reboot)", "; /system reset-configuration", "line1\nline2", "[/user print]",
    "back\\slash\\", "tab\tcr\r", "ünïcødé ✓", "q?mark", "\x00\x1b\x7f", '"; /file remove [find]; :put "',
    "\\\"", "$[/interface print]", "}{ do={", "#comment",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_quote_round_trips_as_one_ascii_string(value):
    quoted = rsc.quote(value)
    assert quoted.isascii() and "\n" not in quoted and "\r" not in quoted
    skeleton, strings = scan(f"/x set a={quoted}")
    assert skeleton == ['/x set a="S"'] and strings == [value]


def test_quote_escapes_as_routeros_documents():
    assert rsc.quote('say "hi" $x \\ ?') == r'"say \"hi\" \$x \\ \?"'
    assert rsc.quote("a\nb\rc\td\x01") == r'"a\nb\rc\td\01"'
    assert rsc.quote("é") == r'"\C3\A9"'  # UTF-8 bytes as \XX
    assert rsc.word("10.100.0.2/16") == "10.100.0.2/16" and rsc.word("a b") == '"a b"'
    assert rsc.command("/ip address", "add", address=rsc.Bare("1.2.3.4/32"), interface="wg x", disabled=False) == \
        '/ip address add address=1.2.3.4/32 interface="wg x" disabled=no'


def _router(ctx_hub, **fields) -> Router:
    router = routers.create_router(router_data(**fields))
    db.session.commit()
    return router


def test_script_has_each_documented_command(ctx, hub):
    router = _router(hub)
    script = onboarding.setup_script(router)
    host_values = dict(pairs(script))
    lines = script.splitlines()
    secret, private = onboarding.radius_secret(router), onboarding.private_key(router)
    password = decrypt(router.password_encrypted)

    def line(prefix: str) -> str:
        found = [x for x in lines if x.startswith(prefix) or x.startswith(":if") and prefix in x]
        assert found, f"no line starts with {prefix!r}"
        return found[0]

    wg = line("/interface wireguard add")
    assert "listen-port=13231" in wg and f'private-key="{private}"' in wg
    peer = line("/interface wireguard peers add")
    for part in (f'public-key="{hub.hub_public_key}"', 'endpoint-address="vpn.example.net"', "endpoint-port=51820",
                 "allowed-address=10.100.0.1/32", "persistent-keepalive=25s"):
        assert part in peer
    assert 'address=10.100.0.2/16 interface="wg-isp"' in line("/ip address add")
    radius = line("/radius add")
    for part in ("address=10.100.0.1", f'secret="{secret}"', "service=ppp,hotspot", "src-address=10.100.0.2", "timeout="):
        assert part in radius
    assert "/radius incoming set accept=yes" in lines
    assert "/ip hotspot profile set [find] use-radius=yes radius-accounting=yes radius-interim-update=received" in lines
    assert "/ppp aaa set use-radius=yes accounting=yes interim-update=5m" in lines
    group = line("/user group set")
    assert "policy=read,write,api,!local" in group and "!sensitive" in group and "!policy" in group
    user = line("/user set")
    assert 'group="isp-api"' in user and f'password="{password}"' in user and "isp-panel" in user
    assert "/ip service set api-ssl address=10.100.0.1/32" in lines and "/ip service set api address=10.100.0.1/32" in lines
    drop = line(":do { /ip firewall filter add chain=forward src-address-list=isp-suspended action=drop")
    assert "place-before=[:pick [/ip firewall filter find where dynamic=no] 0] } on-error={ /ip firewall filter add chain=forward" in drop
    assert host_values["comment"].startswith("isp:")
    # Re-running replaces, never duplicates: what the script adds, it first removes by name or comment.
    for removed in ('/interface wireguard remove [find where name="wg-isp"]',
                    '/ip address remove [find where comment="isp: tunnel address"]',
                    '/radius remove [find where comment="isp: panel RADIUS"]',
                    '/ip firewall filter remove [find where comment="isp: suspended subscribers"]'):
        assert removed in lines


def test_settings_addresses_reach_the_script(ctx, hub):
    hub.radius_server_address, hub.panel_address = "10.100.0.5", "203.0.113.7"
    hub.tunnel_reserved = "10.100.0.5"
    db.session.commit()
    script = onboarding.setup_script(_router(hub))
    assert "/radius add address=10.100.0.5 " in script
    assert "/ip service set api-ssl address=203.0.113.7/32" in script


def test_api_mode_script_leaves_radius_out_and_a_typed_login_alone(ctx, hub):
    router = _router(hub, mode="api", username="admin", password="typed-Secret-1")
    script = onboarding.setup_script(router)
    assert "/radius add" not in script and "use-radius" not in script
    assert "/user add" not in script and "typed-Secret-1" not in script


def test_hostile_values_stay_one_string_each(ctx, hub):
    """Names, logins, secrets and keys with quotes, $, ;, new lines, [ ], backslashes and unicode change no structure."""
    hostile = _router(hub, name="hostile")
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    skeleton_ok, _ = scan(onboarding.setup_script(hostile, hub, now))
    for value in HOSTILE:
        # Straight into the row: the form would refuse most of these names, the script must not rely on it.
        hostile.name, hostile.username = value, value + "u"
        hostile.radius_secret_encrypted = encrypt(value + "s")
        hostile.wg_private_key_encrypted = encrypt(value + "k")
        hostile.password_encrypted = encrypt_bound(value + "p", hostile.endpoint)
        hub.hub_public_key = value + "h"
        script = onboarding.setup_script(hostile, hub, now)
        assert script.isascii()
        skeleton, strings = scan(script)
        assert skeleton == skeleton_ok, value  # the same commands, lines and arguments: only string contents differ
        for expected in (value + "u", value + "s", value + "k", value + "p", value + "h", f"isp: setting up {value}"):
            assert expected in strings, (value, expected)
        got = dict(pairs(script))
        assert got["private-key"] == value + "k" and got["public-key"] == value + "h" and got["secret"] == value + "s"
        assert onboarding.hub_peer(hostile).count("\n") == 4  # the name is one comment line there
    db.session.rollback()


def test_script_says_what_is_missing(ctx):
    router = _router(None)
    with pytest.raises(ServiceError, match="hub endpoint.*public key"):
        onboarding.setup_script(router)
    legacy = Router(name="legacy", addresses_text="1.2.3.4", username="u", password_encrypted="")
    with pytest.raises(ServiceError, match="Onboard"):
        onboarding.setup_script(legacy)


def test_hub_peer_and_filename(ctx, hub):
    router = _router(hub, name="Edge 1.north")
    assert onboarding.hub_peer(router) == (f"# isp router Edge 1.north (#{router.id})\n[Peer]\n"
                                           f"PublicKey = {router.wg_public_key}\nAllowedIPs = 10.100.0.2/32\n")
    assert onboarding.filename(router) == "Edge-1.north.rsc"
    router.name = '../"evil"\r\n.rsc'
    assert onboarding.filename(router) == "evil-.rsc.rsc"
    db.session.rollback()


def test_keys_are_wireguard_keys():
    private, public = wireguard.generate_keypair()
    assert len(private) == len(public) == 44 and wireguard.public_key_of(private) == public
    assert wireguard.check_key(public) == public
    for bad in ("abc", public[:-2] + "==", "!" * 44, public + "A"):
        with pytest.raises(ServiceError, match="not a WireGuard key"):
            wireguard.check_key(bad)


def test_decode_helper_matches_quote():
    assert decode(rsc.quote("x\\y")[1:-1]) == "x\\y"
