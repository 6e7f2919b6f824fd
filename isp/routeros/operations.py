"""Idempotent router operations: "ensure X has these attributes", "ensure removed", "kick".

Each takes a librouteros Api and the command payload and returns a small dict (never a value that was
sent: results are stored). Running one twice leaves the router exactly as running it once. Operation names
are `<MENUS key>.<verb>`: the worker pipelines a chunk of one `.ensure` through `MENUS[key]` by name, so an
item keyed otherwise (an address-list entry) has a `.put` instead.

A subscriber's password travels sealed: the payload (an outbox row, kept for ever) holds its Fernet token
under `password_sealed`, opened here only for the API call (`unseal`), never stored, returned or logged.
A step carrying `owner` (a comment prefix) only changes or removes rows whose comment starts with it: a row
of that name owned by someone else (the operator's own secret, a voucher) fails the step (`NotManaged`).
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable

from librouteros.api import Api
from librouteros.exceptions import TrapError

from isp import crypto
from isp.routeros.client import CONNECTED_ADDRESS

MENUS = {
    "hotspot_user": "/ip/hotspot/user",
    "hotspot_profile": "/ip/hotspot/user/profile",
    "hotspot_active": "/ip/hotspot/active",
    "ppp_secret": "/ppp/secret",
    "ppp_profile": "/ppp/profile",
    "ppp_active": "/ppp/active",
    "queue": "/queue/simple",
    "address_list": "/ip/firewall/address-list",
}
# The field naming the user of a live session, per active menu.
SESSION_USER = {"hotspot_active": "user", "ppp_active": "name"}
# Read-only fields the router computes; never compared or sent.
READ_ONLY = {".id", "uptime", "bytes-in", "bytes-out", "packets-in", "packets-out", "last-logged-out", "dynamic",
             "default", "rate", "bytes", "invalid", "packets", "packet-rate", "last-caller-id",
             "last-disconnect-reason", "creation-time"}
# A subscriber's simple queue ends its comment with the plan it follows ("… plan 7", "… plan 7 fup"), so one
# command per router can re-apply a plan's limits to all its queues; "restricted" queues keep their own.
PLAN_MARK = re.compile(r" plan ([0-9]+)(?: (fup|restricted))?\Z")


SEALED = "password_sealed"  # a payload's Fernet token of the password, opened only for the API call
# What an owned item is called in an error an operator reads.
LABELS = {"/ppp/secret": "PPP secret", "/ip/hotspot/user": "hotspot user", "/queue/simple": "simple queue"}
# The user menu whose owner a session kick checks, per active menu.
USER_MENU = {"ppp_active": "ppp_secret", "hotspot_active": "hotspot_user"}


class NotManaged(TrapError):
    """A step refused locally: handled like a router trap (this command fails, the connection stays, retried
    then dead-lettered with this message)."""


def unseal(attrs: dict) -> dict:
    """`attrs` with a sealed password opened (a copy; the payload itself is never changed)."""
    if SEALED not in attrs:
        return attrs
    opened = {k: v for k, v in attrs.items() if k != SEALED}
    try:
        opened["password"] = crypto.decrypt(attrs[SEALED]) if attrs[SEALED] else ""
    except ValueError as exc:
        raise NotManaged(f"{attrs.get('name', '')}: {exc}") from None
    return opened


def _owned(row: dict, owner: str) -> bool:
    return str(row.get("comment", "")).startswith(owner)


def plan_mark(plan_id: int, variant: str = "") -> str:
    """The comment suffix marking a queue as following plan `plan_id` ("", "fup" or "restricted")."""
    return f" plan {plan_id}" + (f" {variant}" if variant else "")


def _norm(value: object) -> str:
    """Compare values as RouterOS prints them (true/false, plain numbers)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return {"yes": "true", "no": "false"}.get(text, text)


def _wire(value: object) -> str:
    """A value as sent: Python booleans as yes/no, anything else as its text (a choice such as only-one=yes
    must go as written; only the comparison treats yes and true alike)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _find(api: Api, menu: str, key: str, value: str) -> list[dict]:
    """Rows of a menu whose `key` equals `value` (server-side query)."""
    return list(api.rawCmd(f"{menu}/print", f"?={key}={value}"))


def differences(row: dict, attrs: dict, fields: tuple[str, ...] | None = None) -> dict:
    """The attributes (of `fields`, or all) whose value on the router differs from what we want, as we would set them."""
    wanted = {k: v for k, v in attrs.items() if k not in READ_ONLY and (fields is None or k in fields)}
    return {k: _wire(v) for k, v in wanted.items() if _norm(row.get(k, "")) != _norm(v)}


def _add(api: Api, menu: str, attrs: dict) -> dict:
    """Add an item; empty values are left out (they are the defaults, and a router may refuse an empty address)."""
    new_id = None
    for reply in api(f"{menu}/add", **{k: v for k, v in attrs.items() if v != ""}):
        new_id = reply.get("ret", new_id)
    return {"action": "added", "id": new_id}


def ensure(api: Api, menu: str, attrs: dict, key: str = "name", create_only: bool = False,
           owner: str | None = None) -> dict:
    """Create the item, or set only the attributes that differ (`create_only`: leave an existing one as it is).

    With `owner`, only a row whose comment starts with it is ours to change; one of that name that is not
    raises NotManaged (never taken over).
    """
    attrs = {k: _wire(v) for k, v in unseal(attrs).items() if k not in READ_ONLY}
    rows = _find(api, menu, key, attrs[key])
    if owner is not None:
        owned = [r for r in rows if _owned(r, owner)]
        if rows and not owned:
            raise NotManaged(f"a {LABELS.get(menu, menu)} named {attrs[key]} exists on the router and is not managed "
                             "by the panel")
        rows = owned
    if not rows:
        return _add(api, menu, attrs)
    row = rows[0]
    if create_only:
        return {"action": "present", "id": row[".id"]}
    diff = differences(row, attrs)
    for extra in rows[1:]:  # a duplicate made outside the panel: keep one
        tuple(api(f"{menu}/remove", **{".id": extra[".id"]}))
    if diff:
        tuple(api(f"{menu}/set", **{".id": row[".id"], **diff}))
        return {"action": "updated", "id": row[".id"], "changed": sorted(diff)}
    return {"action": "unchanged", "id": row[".id"]}


def remove(api: Api, menu: str, value: str, key: str = "name", owner: str | None = None) -> dict:
    """Remove the item if present (with `owner`: only rows whose comment starts with it)."""
    rows = _find(api, menu, key, value)
    if owner is not None:
        rows = [r for r in rows if _owned(r, owner)]
    if rows:
        tuple(api(f"{menu}/remove", **{".id": ",".join(r[".id"] for r in rows)}))
    return {"action": "removed" if rows else "absent", "count": len(rows)}


def kick(api: Api, menu: str, key: str, value: str) -> dict:
    """Disconnect every active session of a user."""
    rows = _find(api, menu, key, value)
    for row in rows:
        tuple(api(f"{menu}/remove", **{".id": row[".id"]}))
    return {"action": "kicked", "count": len(rows)}


def retire(api: Api, payload: dict) -> dict:
    """End a hotspot user: remove it (or disable it), then log out every session it still has."""
    menu, name = MENUS["hotspot_user"], payload["name"]
    if payload.get("action") == "disable":
        rows = _find(api, menu, "name", name)
        for row in rows:
            if _norm(row.get("disabled", "false")) != "true":
                tuple(api(f"{menu}/set", **{".id": row[".id"], "disabled": "yes"}))
        result = {"action": "disabled" if rows else "absent"}
    else:
        result = remove(api, menu, name)
    # RouterOS keeps a live session running after its user is removed or disabled: kick it explicitly.
    result["kicked"] = kick(api, MENUS["hotspot_active"], "user", name)["count"]
    return result


def test_connection(api: Api, payload: dict) -> dict:
    """Identity, version and board, with the round-trip latency."""
    started = time.perf_counter()
    identity = next(iter(api("/system/identity/print")), {}).get("name", "")
    latency_ms = (time.perf_counter() - started) * 1000
    resource = next(iter(api("/system/resource/print")), {})
    return {
        "identity": identity, "version": str(resource.get("version", "")), "board": str(resource.get("board-name", "")),
        "uptime": str(resource.get("uptime", "")), "latency_ms": round(latency_ms, 1),
        "address": CONNECTED_ADDRESS.get(),  # which of the router's addresses answered
    }


def _entries(api: Api, list_name: str | None = None, address: str | None = None, comment: str | None = None) -> list[dict]:
    """Static (not dynamic) address-list entries matching every criterion given."""
    words = [f"?={k}={v}" for k, v in (("list", list_name), ("address", address), ("comment", comment)) if v is not None]
    rows = api.rawCmd(f"{MENUS['address_list']}/print", *words)
    return [r for r in rows if _norm(r.get("dynamic", "false")) != "true"]


def put_entry(api: Api, attrs: dict) -> dict:
    """Ensure the address-list entry (list, address) exists with these attributes; its key is the pair."""
    attrs = {k: _wire(v) for k, v in attrs.items() if k not in READ_ONLY}
    rows = _entries(api, attrs["list"], attrs["address"])
    if not rows:
        return _add(api, MENUS["address_list"], attrs)
    for extra in rows[1:]:
        tuple(api(f"{MENUS['address_list']}/remove", **{".id": extra[".id"]}))
    diff = differences(rows[0], attrs)
    if diff:
        tuple(api(f"{MENUS['address_list']}/set", **{".id": rows[0][".id"], **diff}))
        return {"action": "updated", "id": rows[0][".id"], "changed": sorted(diff)}
    return {"action": "unchanged", "id": rows[0][".id"]}


def remove_entry(api: Api, payload: dict) -> dict:
    """Remove the static entries of (list, address), if present."""
    rows = _entries(api, payload["list"], payload["address"])
    if rows:
        tuple(api(f"{MENUS['address_list']}/remove", **{".id": ",".join(r[".id"] for r in rows)}))
    return {"action": "removed" if rows else "absent", "count": len(rows)}


def own_entries(api: Api, payload: dict) -> dict:
    """Make the entries carrying one owner's comment exactly `entries`: put each, remove the others.

    A subscriber's entries are found by their comment, so a new static IP, a move between the active and
    suspended lists, or a removal needs no memory of what was there before.
    """
    wanted = {(e["list"], e["address"]) for e in payload["entries"]}
    for entry in payload["entries"]:
        put_entry(api, {**entry, "comment": payload["comment"]})
    stale = [r for r in _entries(api, comment=payload["comment"]) if (r.get("list"), r.get("address")) not in wanted]
    if stale:
        tuple(api(f"{MENUS['address_list']}/remove", **{".id": ",".join(r[".id"] for r in stale)}))
    return {"action": "owned", "entries": len(wanted), "removed": len(stale)}


def retune_queues(api: Api, payload: dict) -> dict:
    """Re-apply a plan's limits to every simple queue marked with it (one read, a set per queue that differs).

    `limits` maps the mark's variant ("" or "fup") to queue attributes; "restricted" queues are left alone.
    """
    plan, limits, changed = str(payload["plan_id"]), payload["limits"], 0
    fields = sorted({k for attrs in limits.values() for k in attrs})
    for row in api.rawCmd(f"{MENUS['queue']}/print", "=.proplist=" + ",".join([".id", "comment", *fields])):
        mark = PLAN_MARK.search(str(row.get("comment", "")))
        if mark is None or mark.group(1) != plan or (mark.group(2) or "") not in limits:
            continue
        diff = differences(row, limits[mark.group(2) or ""])
        if diff:
            tuple(api(f"{MENUS['queue']}/set", **{".id": row[".id"], **diff}))
            changed += 1
    return {"action": "retuned", "changed": changed}


def _ensure_op(kind: str, key: str = "name") -> Callable:
    return lambda api, payload: ensure(api, MENUS[kind], payload["attrs"], key, bool(payload.get("create_only")),
                                       payload.get("owner"))


def _remove_op(kind: str, key: str = "name") -> Callable:
    return lambda api, payload: remove(api, MENUS[kind], payload["name"], key, payload.get("owner"))


def _kick_op(kind: str) -> Callable:
    def op(api: Api, payload: dict) -> dict:
        owner = payload.get("owner")
        if owner is not None:  # the user of that name is someone else's: its sessions are not ours to end
            users = _find(api, MENUS[USER_MENU[kind]], "name", payload["name"])
            if users and not any(_owned(r, owner) for r in users):
                return {"action": "not managed", "count": 0}
        return kick(api, MENUS[kind], SESSION_USER[kind], payload["name"])
    return op


def set_interface(api: Api, payload: dict) -> dict:
    """Ensure the interface `name` is disabled (or enabled) as `disabled` says; a missing one fails the step."""
    rows = _find(api, "/interface", "name", payload["name"])
    if not rows:
        raise NotManaged(f"no interface named {payload['name']!r} on the router")
    wanted = bool(payload["disabled"])
    if _norm(rows[0].get("disabled", "false")) == _norm(wanted):
        return {"action": "unchanged", "disabled": wanted}
    tuple(api("/interface/set", **{".id": rows[0][".id"], "disabled": _wire(wanted)}))
    return {"action": "disabled" if wanted else "enabled", "disabled": wanted}


def radius_fallback(api: Api, payload: dict) -> dict:
    """The API side of a RADIUS Disconnect or CoA, run only when the router did not answer the packet (or
    refused it): kick the user's hotspot and PPP sessions, so the next login takes what RADIUS says now."""
    name = payload["username"]
    count = kick(api, MENUS["hotspot_active"], "user", name)["count"] + kick(api, MENUS["ppp_active"], "name", name)["count"]
    return {"action": "kicked", "count": count}


def apply(api: Api, payload: dict) -> dict:
    """Run an ordered list of steps `[[operation, payload], …]` as one command (a subscription's or a plan's
    whole desired state on one router): pending changes collapse into it, the latest state winning.

    A trap stops the list and the command is retried as a whole; every step is idempotent.
    """
    results = []
    for operation, step in payload["steps"]:
        if operation in COMPOSITE or operation in PROBES or operation in PACKET_FIRST:
            raise ValueError(f"{operation!r} cannot be a step")
        result = run(api, operation, step)
        results.append({"op": operation, **{k: v for k, v in result.items() if k in ("action", "count", "changed")}})
    return {"action": "applied", "steps": results}


OPERATIONS: dict[str, Callable[[Api, dict], dict]] = {
    "router.test": test_connection,
    "hotspot_user.ensure": _ensure_op("hotspot_user"),
    "hotspot_user.remove": _remove_op("hotspot_user"),
    "hotspot_user.retire": retire,
    "hotspot_profile.ensure": _ensure_op("hotspot_profile"),
    "hotspot_profile.remove": _remove_op("hotspot_profile"),
    "hotspot_active.kick": _kick_op("hotspot_active"),
    "ppp_secret.ensure": _ensure_op("ppp_secret"),
    "ppp_secret.remove": _remove_op("ppp_secret"),
    "ppp_profile.ensure": _ensure_op("ppp_profile"),
    "ppp_profile.remove": _remove_op("ppp_profile"),
    "ppp_active.kick": _kick_op("ppp_active"),
    "queue.ensure": _ensure_op("queue"),
    "queue.remove": _remove_op("queue"),
    "queue.retune": retune_queues,
    "address_list.put": lambda api, payload: put_entry(api, payload["attrs"]),
    "address_list.remove": remove_entry,
    "address_list.own": own_entries,
    "service.apply": apply,  # one subscription on one router
    "plan.apply": apply,     # one service plan's profiles (or queue limits) on one router
    # RADIUS Disconnect / CoA: the worker sends the packet first, without the pool (isp.services.radius_commands);
    # the entry here is the API fallback it runs only when the router did not answer.
    "interface.set": set_interface,  # an operator's interface disable/enable from the router page
    "radius.disconnect": radius_fallback,
    "radius.coa": radius_fallback,
}
# Operations made of steps: never nested.
COMPOSITE = frozenset({"service.apply", "plan.apply"})

# Operations whose real work is a RADIUS packet from the worker; the API entry above is only their fallback.
PACKET_FIRST = frozenset({"radius.disconnect", "radius.coa"})

# Operator probes: they run even when the circuit is open, and answer once (never retried or dead-lettered).
PROBES = frozenset({"router.test"})


def run(api: Api, operation: str, payload: dict) -> dict:
    """Execute one operation by name."""
    try:
        handler = OPERATIONS[operation]
    except KeyError:
        raise ValueError(f"unknown router operation {operation!r}") from None
    return handler(api, payload)
