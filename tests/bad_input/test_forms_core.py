"""Bad input on the login, user, router, hotspot plan and voucher forms: a 4xx, the message, nothing written."""
from __future__ import annotations

import pytest

from tests.bad_input.conftest import LONG, NUL, SCRIPT

# -- users -----------------------------------------------------------------------------------------------------

GOOD_USER = {"username": "newbie", "full_name": "New Person", "role": "operator", "password": "a-long-passphrase-1",
             "confirm": "a-long-passphrase-1"}
USERS = [
    ("blank username", {"username": ""}, "This field is required"),
    ("2-char username", {"username": "ab"}, "between 3 and 64 characters"),
    ("long username", {"username": LONG}, "between 3 and 64 characters"),
    ("username with spaces", {"username": "new person"}, "Username must be 3-64 characters"),
    ("username script", {"username": SCRIPT}, "Username must be 3-64 characters"),
    ("username nul", {"username": "new\x00bie"}, "Username must be 3-64 characters"),
    ("duplicate username", {"username": "{admin}"}, "already taken"),
    ("bad role", {"role": "root"}, "Not a valid choice"),
    ("short password", {"password": "short", "confirm": "short"}, "at least"),
    ("common password", {"password": "password1234", "confirm": "password1234"}, "most common"),
    ("password is username", {"username": "newbie-user-1", "password": "newbie-user-1", "confirm": "newbie-user-1"},
     "must not be the username"),
    ("mismatched confirm", {"confirm": "something-else-1"}, "Passwords do not match"),
    ("huge password", {"password": LONG, "confirm": LONG}, "at most"),
    ("full name too long", {"full_name": LONG}, "cannot be longer than 120"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in USERS], ids=[c[0] for c in USERS])
def test_user_create(world, fields, message):
    """A refused account shows the reason and creates nobody."""
    data = {**GOOD_USER, **{k: v.replace("{admin}", world.admin.username) for k, v in fields.items()}}
    world.bad.post("/settings/users/new", data, message)


USER_EDITS = [
    ("role", "bad role", {"role": "superuser"}, "Not a valid choice"),
    ("password", "short reset", {"password": "abc", "confirm": "abc"}, "at least"),
    ("password", "mismatch reset", {"password": "a-long-passphrase-1", "confirm": "a-long-passphrase-2"},
     "Passwords do not match"),
    ("role", "demote last admin", {"role": "operator"}, "At least one active admin must remain"),
    ("disable", "disable last admin", {}, "At least one active admin must remain"),
]


@pytest.mark.parametrize("action,fields,message", [(c[0],) + c[2:] for c in USER_EDITS], ids=[c[1] for c in USER_EDITS])
def test_user_edit(world, action, fields, message):
    """Role, password and disable refusals on an account change nothing and say why."""
    world.bad.post(f"/settings/users/{world.admin.id}/{action}", fields, message, status=(302, 422))


# -- routers ---------------------------------------------------------------------------------------------------

GOOD_ROUTER = {"name": "new-router", "addresses": "10.9.0.1", "api_port": "8728", "username": "isp-panel",
               "password": "router-secret", "mode": "api", "site": "", "parent_id": "0", "notes": "", "enabled": "y",
               "max_sessions": "20", "radius_incoming_port": "3799"}
ROUTERS = [
    ("blank name", {"name": ""}, "Name must be 1-64"),
    ("name script", {"name": SCRIPT}, "Name must be 1-64"),
    ("name 10k", {"name": LONG}, "Name must be 1-64"),
    ("name nul", {"name": NUL}, "Name must be 1-64"),
    ("duplicate name", {"name": "core-1"}, "already exists"),
    ("no address", {"addresses": ""}, "at least one management address"),
    ("bad host", {"addresses": "not a host!"}, "is not an IP address or host name"),
    ("ip out of range", {"addresses": "10.0.0.300"}, "is not an IP address or host name"),
    ("address twice", {"addresses": "10.9.0.1\n10.9.0.1"}, "listed twice"),
    ("address rtl", {"addresses": "10.9.0.1\u202e"}, "is not an IP address or host name"),
    ("port 0", {"api_port": "0"}, "API port must be between 1 and 65535"),
    ("port 65536", {"api_port": "65536"}, "API port must be between 1 and 65535"),
    ("port negative", {"api_port": "-1"}, "API port must be between 1 and 65535"),
    ("port text", {"api_port": "http"}, "Not a valid integer value"),
    ("port huge", {"api_port": "9" * 40}, "API port must be between 1 and 65535"),
    ("radius port 0", {"radius_incoming_port": "0"}, "RADIUS incoming port must be between"),
    ("no username", {"username": ""}, "API username is required"),
    ("long username", {"username": LONG}, "API username is required"),
    ("long password", {"password": LONG}, "too long"),
    ("bad mode", {"mode": "telnet"}, "Not a valid choice"),
    ("max sessions 0", {"max_sessions": "0"}, "Max sessions must be between 3 and 1000"),
    ("max sessions huge", {"max_sessions": "100000"}, "Max sessions must be between 3 and 1000"),
    ("unknown parent", {"parent_id": "999999"}, "Not a valid choice"),
    ("parent text", {"parent_id": "abc"}, "Invalid Choice"),
    ("site 10k", {"site": LONG}, "Site is at most 120 characters"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in ROUTERS], ids=[c[0] for c in ROUTERS])
def test_router_create(world, fields, message):
    """A refused router shows the field's message and adds no router and no command."""
    world.bad.post("/routers/new", {**GOOD_ROUTER, **fields}, message)


ROUTER_EDITS = [
    ("rename to taken", {"name": "edge-2"}, "already exists"),
    ("own parent", {"parent_id": "{self}"}, "Not a valid choice"),
    ("port 70000", {"api_port": "70000"}, "API port must be between 1 and 65535"),
    ("address changed without password", {"addresses": "10.9.9.9", "password": ""}, "Re-enter the API password"),
    ("bad mode", {"mode": "ssh"}, "Not a valid choice"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in ROUTER_EDITS], ids=[c[0] for c in ROUTER_EDITS])
def test_router_edit(world, fields, message):
    """A refused edit leaves the router as it was and queues nothing for it."""
    rid = world.router.id
    data = {**GOOD_ROUTER, "name": "core-1", "addresses": "127.0.0.1", "password": "",
            **{k: v.replace("{self}", str(rid)) for k, v in fields.items()}}
    world.bad.post(f"/routers/{rid}/edit", data, message)


# -- hotspot plans -------------------------------------------------------------------------------------------

GOOD_PLAN = {"name": "Week pass", "price": "50", "reseller_price": "40", "validity": "7d", "time_quota": "",
             "data_quota": "", "rate_limit": "2M/4M", "shared_users": "1", "active": "y"}
PLANS = [
    ("blank name", {"name": ""}, "Name is required"),
    ("duplicate name", {"name": "day pass"}, "already exists"),
    ("name 10k", {"name": LONG}, "Name is required"),
    ("negative price", {"price": "-5"}, "price"),
    ("price NaN", {"price": "NaN"}, "is not an amount"),
    ("price 1e309", {"price": "1e309"}, "is not an amount"),
    ("price 3 decimals", {"price": "10.001"}, "at most two decimals"),
    ("price huge", {"price": "99999999999999"}, "too large"),
    ("reseller above price", {"reseller_price": "60"}, "cannot be above the price"),
    ("validity no unit", {"validity": "7"}, "needs a unit"),
    ("validity zero", {"validity": "0d"}, "longer than zero"),
    ("validity 100 years", {"validity": "36500d"}, "too long"),
    ("validity words", {"validity": "forever"}, "is not a duration"),
    ("data quota bad", {"data_quota": "lots"}, "is not a size"),
    ("data quota huge", {"data_quota": "99999T"}, "too large"),
    ("rate limit bad", {"rate_limit": "fast"}, "is not a RouterOS rate limit"),
    ("rate limit injection", {"rate_limit": "2M/4M; /system reset"}, "is not a RouterOS rate limit"),
    ("rate limit 10k", {"rate_limit": LONG}, "rate limit is at most"),
    ("shared users 0", {"shared_users": "0"}, "Shared users must be between 1 and 100"),
    ("shared users text", {"shared_users": "many"}, "Not a valid integer value"),
    ("unknown router", {"router_ids": "999999"}, "no longer exists"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in PLANS], ids=[c[0] for c in PLANS])
def test_hotspot_plan_create(world, fields, message):
    """A refused hotspot plan is not stored."""
    world.bad.post("/plans/new", {**GOOD_PLAN, **fields}, message)


def test_hotspot_plan_edit_bad_rate(world):
    """Editing a plan with a bad rate limit changes neither the plan nor its routers' profiles."""
    world.bad.post(f"/plans/{world.plan.id}/edit", {**GOOD_PLAN, "name": "Day pass", "rate_limit": "2M/"},
                   "is not a RouterOS rate limit")


# -- voucher batches -----------------------------------------------------------------------------------------

GOOD_BATCH = {"plan_id": "{plan}", "router_id": "0", "count": "10", "mode": "code", "prefix": "", "length": "8",
              "note": ""}
BATCHES = [
    ("count 0", {"count": "0"}, "Count must be a whole number from 1 to 10,000"),
    ("count 10001", {"count": "10001"}, "Count must be a whole number from 1 to 10,000"),
    ("count negative", {"count": "-5"}, "Count must be a whole number from 1 to 10,000"),
    ("count text", {"count": "ten"}, "Not a valid integer value"),
    ("count huge", {"count": "9" * 30}, "Count must be a whole number from 1 to 10,000"),
    ("count unicode digits", {"count": "١٠"}, "Use the digits 0-9"),
    ("count float", {"count": "10.5"}, "Not a valid integer value"),
    ("count blank", {"count": ""}, "Count must be a whole number"),
    ("length 3", {"length": "3"}, "Code length must be from"),
    ("length 99", {"length": "99"}, "Code length must be from"),
    ("prefix symbols", {"prefix": "A-B!"}, "Prefix: up to 8 letters or digits"),
    ("prefix long", {"prefix": "ABCDEFGHIJ"}, "Prefix: up to 8 letters or digits"),
    ("prefix unicode", {"prefix": "ÄÖ"}, "Prefix: up to 8 letters or digits"),
    ("bad mode", {"mode": "qr"}, "Not a valid choice"),
    ("unknown plan", {"plan_id": "999999"}, "Not a valid choice"),
    ("plan text", {"plan_id": "abc"}, "Not a valid choice"),
    ("router not the plan's", {"router_id": "{other_router}"}, "Not a valid choice"),
    ("note 10k", {"note": LONG}, "A note is at most 200 characters"),
]


@pytest.mark.parametrize("fields,message", [c[1:] for c in BATCHES], ids=[c[0] for c in BATCHES])
def test_voucher_batch(world, fields, message):
    """A refused batch creates no batch, no voucher, no ledger entry and no router command."""
    data = {**GOOD_BATCH, **fields}
    data = {k: v.replace("{plan}", str(world.plan.id)).replace("{other_router}", str(world.other_router.id))
            for k, v in data.items()}
    world.bad.post("/vouchers/batches/new", data, message or "")
