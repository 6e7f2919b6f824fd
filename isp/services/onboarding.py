"""Router onboarding: tunnel address, WireGuard keys, RADIUS secret, API login, the `nas` row and the setup script.

A router is onboarded when it is created (or by the Onboard button for one added before onboarding existed).
Allocation is constraint-backed: the lowest free address is tried inside a SAVEPOINT and a unique-key clash
(another transaction took it meanwhile) moves on to the next one. The address stays with the router while it
exists, enabled or not; deleting the row frees it.
"""
from __future__ import annotations

import logging
import re
import secrets
import string
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from isp.crypto import decrypt, decrypt_bound, encrypt, encrypt_bound
from isp.extensions import db
from isp.models import Branding, Router, RouterMode, User
from isp.models.base import utcnow
from isp.radius.models import Nas
from isp.services import audit, wireguard
from isp.services.errors import ServiceError
from isp.services.rsc import Bare, command, find, quote

log = logging.getLogger(__name__)

API_USER = "isp-panel"      # the least-privilege API user the script creates when the panel generates the login
API_GROUP = "isp-api"
WG_INTERFACE = "wg-isp"
LISTEN_PORT = 13231         # RouterOS's default WireGuard port
TAG = "isp"                 # comment prefix: the script removes only what an earlier run of it added
# No sensitive (the panel never reads passwords back), no policy/password (cannot raise its own rights).
API_POLICY = "read,write,api,!local,!telnet,!ssh,!ftp,!reboot,!policy,!test,!winbox,!password,!web,!sniff,!sensitive,!romon"
PASSWORD_LENGTH = 32
SECRET_LENGTH = 24
_ALPHABET = string.ascii_letters + string.digits
MAX_TRIES = 25
MAX_ADDRESSES = 5


def settings_row() -> Branding:
    """The settings row, or (never saved yet) an unsaved one with the hub defaults: onboarding only reads it.

    Creating the row here would make two routers onboarded at once on a fresh install race to insert it.
    """
    return db.session.get(Branding, 1) or Branding(
        hub_endpoint="", hub_public_key="", hub_tunnel_address="10.100.0.1", tunnel_range=wireguard.DEFAULT_RANGE,
        tunnel_reserved="", radius_server_address="", panel_address="")


def random_token(length: int) -> str:
    """Letters and digits from the CSPRNG (about 5.95 bits each: 32 -> 190 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _secret(router: Router, column: str) -> str:
    token = getattr(router, column)
    return decrypt(token) if token else ""


def radius_secret(router: Router) -> str:
    """The router's RADIUS shared secret, decrypted."""
    return _secret(router, "radius_secret_encrypted")


def private_key(router: Router) -> str:
    """The router's WireGuard private key, decrypted (only the setup script needs it)."""
    return _secret(router, "wg_private_key_encrypted")


def _current_password(router: Router) -> str | None:
    """The stored API password, or None if there is none or it cannot be read."""
    if not router.password_encrypted:
        return None
    try:
        return decrypt_bound(router.password_encrypted)[0]
    except ValueError:
        return None


def _addresses_with(addresses: list[str], tunnel: str, name: str) -> list[str]:
    """The tunnel address first, then the others in their order."""
    rest = [a for a in addresses if a != tunnel]
    if len(rest) + 1 > MAX_ADDRESSES:
        raise ServiceError(f"'{name}' already has {MAX_ADDRESSES} management addresses: remove one so the tunnel "
                           "address can come first.", field="addresses")
    return [tunnel, *rest]


def _prepare(router: Router, generate_login: bool, new_username: str) -> Callable[[str], None]:
    """Draw the secrets once; returns what sets them (and the given address) on the router, for each attempt."""
    wg_private, wg_public = wireguard.generate_keypair()
    sealed_key, sealed_secret = encrypt(wg_private), encrypt(random_token(SECRET_LENGTH))
    password = random_token(PASSWORD_LENGTH) if generate_login else _current_password(router)
    if password is None:
        raise ServiceError(f"The stored API password of '{router.name}' cannot be read: re-enter it (Edit), or let the "
                           "panel generate a login.", field="password")
    username = new_username if generate_login else router.username
    addresses, generated = list(router.addresses), generate_login or router.api_user_generated

    def apply(address: str) -> None:
        # A rolled-back SAVEPOINT expires a stored router's changes: set every one again on each attempt.
        router.addresses = _addresses_with(addresses, address, router.name) if generate_login else addresses
        router.tunnel_address, router.wg_public_key = address, wg_public
        router.wg_private_key_encrypted, router.radius_secret_encrypted = sealed_key, sealed_secret
        router.username, router.api_user_generated = username, generated
        router.password_encrypted = encrypt_bound(password, router.endpoint)

    return apply


def tunnel_first(router: Router, actor: User | None = None) -> bool:
    """Put the tunnel address first in the router's addresses (re-sealing its password); True if it moved. Audited."""
    if not router.onboarded or router.addresses[:1] == [router.tunnel_address]:
        return False
    password = _current_password(router)
    if password is None:
        raise ServiceError(f"The stored API password of '{router.name}' cannot be read: re-enter it (Edit) first.")
    before = audit.snapshot(router, ("addresses_text",))
    router.addresses = _addresses_with(router.addresses, router.tunnel_address, router.name)
    router.password_encrypted = encrypt_bound(password, router.endpoint)
    db.session.flush()
    audit.record(actor, "router.tunnel_first", router.name, obj=router, changes=audit.changed(before, router))
    return True


def _place(router: Router, apply: Callable[[str], None], settings: Branding) -> None:
    """Give the router the next free address (`wireguard.next_free`), moving past any a concurrent transaction takes
    first."""
    tried: list[str] = []
    db.session.flush()  # earlier pending work (an audit entry) must not ride in, and vanish with, a failed SAVEPOINT
    for _ in range(MAX_TRIES):
        address = wireguard.next_free(settings, tried)
        try:
            with db.session.begin_nested():
                apply(address)
                db.session.add(router)
                db.session.flush()
            if settings in db.session:  # a saved settings row remembers it (never saved: addresses start low)
                settings.tunnel_last_issued = address
            return
        except IntegrityError as err:
            if "tunnel_address" not in str(err.orig):
                raise
            tried.append(address)
    raise ServiceError("Every tunnel address tried was taken by routers onboarded at the same moment; try again.")


def onboard(router: Router, actor: User | None = None, generate_login: bool = True, username: str | None = None) -> Router:
    """Allocate the tunnel address, key pair, RADIUS secret (and, if asked, an API login); add the `nas` row.

    `generate_login` makes the panel log in as `username` (default API_USER) with a fresh 32-character password
    the setup script creates, and puts the tunnel address first (the login works only once the script ran).
    Otherwise the stored login and addresses are kept; "Check" puts the tunnel address first later.
    """
    if router.onboarded:
        raise ServiceError(f"'{router.name}' is already onboarded (tunnel address {router.tunnel_address}).")
    settings = settings_row()
    _place(router, _prepare(router, generate_login, username or API_USER), settings)
    sync_nas(router, may_exist=False)
    audit.record(actor, "router.onboard", router.name, f"tunnel {router.tunnel_address}"
                 + ("; generated API login" if generate_login else ""), obj=router,
                 changes={"tunnel_address": [None, router.tunnel_address]})
    log.info("router %s onboarded at %s", router.id, router.tunnel_address)
    return router


def rotate_radius_secret(router: Router, actor: User | None = None) -> Router:
    """Draw a new RADIUS secret; the `nas` row takes it at once (the router needs the script run again)."""
    if not router.onboarded:
        raise ServiceError(f"'{router.name}' is not onboarded yet: it has no RADIUS secret to change.")
    router.radius_secret_encrypted = encrypt(random_token(SECRET_LENGTH))
    db.session.flush()
    sync_nas(router)
    audit.record(actor, "router.radius_secret", router.name, "new RADIUS secret", obj=router,
                 changes={"radius_secret_encrypted": [audit.MASK, audit.MASK]})
    return router


def nas_description(router: Router) -> str:
    """What the `nas` row says about its router (it finds the row by nasname, the tunnel address)."""
    return f"isp router #{router.id}: {router.name}"[:200]


def sync_nas(router: Router, may_exist: bool = True) -> None:
    """Make the `nas` row agree with the router: present with its name and secret in radius mode, absent otherwise.

    `may_exist=False` (an api-mode router that was never in radius mode) skips the lookup.
    """
    wanted = router.onboarded and router.mode == RouterMode.radius
    if not router.onboarded or not (wanted or may_exist):
        return
    row = db.session.scalar(select(Nas).where(Nas.nasname == router.tunnel_address))
    if not wanted:
        if row is not None:
            db.session.delete(row)
            db.session.flush()
        return
    if row is None:
        row = Nas(nasname=router.tunnel_address, type="other")
        db.session.add(row)
    row.nasname, row.shortname, row.type = router.tunnel_address, router.name[:32], "other"
    row.secret, row.description = radius_secret(router), nas_description(router)
    db.session.flush()


def forget(router: Router) -> None:
    """On a hard delete: drop the router's `nas` row (its address is freed with the router row itself)."""
    if router.tunnel_address and router.mode == RouterMode.radius:
        db.session.execute(delete(Nas).where(Nas.nasname == router.tunnel_address))


# -- what the operator pastes ---------------------------------------------------------------------------------

def filename(router: Router) -> str:
    """`<router-name>.rsc` with only safe characters (for Content-Disposition)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", router.name).strip(".-") or f"router-{router.id}"
    return f"{stem}.rsc"


def ready(router: Router, settings: Branding) -> list[str]:
    """What is missing before the setup script can be made (empty when it can)."""
    missing = [] if router.onboarded else ["the router's onboarding (press Onboard)"]
    return missing + [f"{p} (Settings → WireGuard hub)" for p in wireguard.hub_problems(settings)]


def hub_peer(router: Router) -> str:
    """The `[Peer]` block for the operator's hub (wg-quick syntax)."""
    name = re.sub(r"[^\x20-\x7e]", "?", router.name)  # one printable line: the name is only a comment here
    return (f"# isp router {name} (#{router.id})\n[Peer]\nPublicKey = {router.wg_public_key}\n"
            f"AllowedIPs = {router.tunnel_address}/32\n")


def setup_script(router: Router, settings: Branding | None = None, now: datetime | None = None) -> str:
    """The RouterOS 7 setup script for this router; raises ServiceError naming what is missing."""
    settings = settings or settings_row()
    missing = ready(router, settings)
    if missing:
        raise ServiceError("The setup script needs " + "; ".join(missing) + ".")
    return _script(router, settings, now or utcnow())


def _first(path: str, **attrs: object) -> str:
    """Add an item above every existing static one (`place-before` the first), or at the end of an empty list.

    Dynamic rules (defconf's fasttrack counter) are left out: a rule cannot be placed before one, and the
    fallback would append ours below a "drop all not coming from LAN" rule.
    """
    line = command(path, "add", **attrs)
    return f":do {{ {line} place-before=[:pick [{path} find where dynamic=no] 0] }} on-error={{ {line} }}"


def _script(router: Router, settings: Branding, now: datetime) -> str:
    """The script's lines; every stored or typed value goes through rsc quoting."""
    network = wireguard.check_range(settings.tunnel_range)
    host, port = wireguard.split_endpoint(settings.hub_endpoint)
    tunnel, hub = router.tunnel_address, settings.hub_tunnel_address
    radius_server = settings.radius_server_address or hub
    panel = settings.panel_address or hub
    panel_net = Bare(f"{panel}/{128 if ':' in panel else 32}")
    wg, tag = WG_INTERFACE, TAG
    lines = [
        f"# isp setup script, generated {now:%Y-%m-%d %H:%M} UTC. RouterOS 7.",
        "# It holds this router's WireGuard private key, RADIUS secret and API password: keep it private.",
        "# Paste it into a terminal as a full admin, or upload it and run /import file-name=<this file>.",
        "# Running it again replaces what an earlier run added (items commented \"isp: ...\").",
        ":put " + quote(f"isp: setting up {router.name}"),
        "",
        "# WireGuard tunnel to the panel's hub",
        command("/interface wireguard peers", "remove", find(interface=wg)),
        command("/interface wireguard", "remove", find(name=wg)),
        command("/interface wireguard", "add", name=wg, listen_port=LISTEN_PORT, private_key=private_key(router),
                comment=f"{tag}: tunnel to the panel"),
        command("/interface wireguard peers", "add", interface=wg, public_key=settings.hub_public_key,
                endpoint_address=host, endpoint_port=port, allowed_address=Bare(f"{hub}/32"),
                persistent_keepalive=Bare("25s"), comment=f"{tag}: panel hub"),
        command("/ip address", "remove", find(comment=f"{tag}: tunnel address")),
        command("/ip address", "add", address=Bare(f"{tunnel}/{network.prefixlen}"), interface=wg,
                comment=f"{tag}: tunnel address"),
        "# Let the panel reach the API and RADIUS CoA over the tunnel (placed first, above any drop rule)",
        command("/ip firewall filter", "remove", find(comment=f"{tag}: panel over the tunnel")),
        _first("/ip firewall filter", chain=Bare("input"), in_interface=wg, action=Bare("accept"),
               comment=f"{tag}: panel over the tunnel"),
        "",
    ]
    if router.mode == RouterMode.radius:
        lines += [
            "# RADIUS: users live in the panel's FreeRADIUS; accounting goes back to it",
            command("/radius", "remove", find(comment=f"{tag}: panel RADIUS")),
            command("/radius", "add", address=Bare(radius_server), secret=radius_secret(router),
                    service=Bare("ppp,hotspot"), src_address=Bare(tunnel), timeout=Bare("3s"),
                    comment=f"{tag}: panel RADIUS"),
            command("/radius incoming", "set", accept=True),
            command("/ip hotspot profile", "set", "[find]", use_radius=True, radius_accounting=True,
                    radius_interim_update=Bare("received")),
            command("/ppp aaa", "set", use_radius=True, accounting=True, interim_update=Bare("5m")),
            "",
        ]
    else:
        lines += ["# RADIUS: this router is in api mode (users on the router). Switch it to radius mode in the panel",
                  "# and download the script again to add the RADIUS client.", ""]
    if router.api_user_generated:
        user, password = router.username, _current_password(router) or ""
        lines += [
            "# The panel's API login: a least-privilege group and its user",
            f":if ([:len [/user group find where name={quote(API_GROUP)}]] = 0) do={{ "
            + command("/user group", "add", name=API_GROUP, policy=Bare(API_POLICY)) + " }",
            command("/user group", "set", find(name=API_GROUP), policy=Bare(API_POLICY), comment=f"{tag}: panel API"),
            f":if ([:len [/user find where name={quote(user)}]] = 0) do={{ "
            + command("/user", "add", name=user, group=API_GROUP, password=password) + " }",
            command("/user", "set", find(name=user), group=API_GROUP, password=password, comment=f"{tag}: panel API"),
        ]
    else:
        lines += ["# The panel's API login: kept as you entered it (not changed by this script)."]
    lines += [
        "# The API answers only the panel",
        command("/ip service", "set", "api", address=panel_net),
        command("/ip service", "set", "api-ssl", address=panel_net),
        "",
        "# Suspended subscribers (address list isp-suspended) get no forwarding",
        command("/ip firewall filter", "remove", find(comment=f"{tag}: suspended subscribers")),
        _first("/ip firewall filter", chain=Bare("forward"), src_address_list=Bare("isp-suspended"),
               action=Bare("drop"), comment=f"{tag}: suspended subscribers"),
        ":put " + quote(f"isp: done. Check the tunnel from the panel ({tunnel})."),
    ]
    return "\n".join(lines) + "\n"
