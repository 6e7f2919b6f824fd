"""Idempotent router operations: "ensure X has these attributes", "ensure removed", "kick".

Each takes a librouteros Api and the command payload and returns a small dict.
Running one twice leaves the router exactly as running it once.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from librouteros.api import Api

MENUS = {
    "hotspot_user": "/ip/hotspot/user",
    "hotspot_profile": "/ip/hotspot/user/profile",
    "hotspot_active": "/ip/hotspot/active",
}
# Read-only fields the router computes; never compared or sent.
READ_ONLY = {".id", "uptime", "bytes-in", "bytes-out", "packets-in", "packets-out", "last-logged-out", "dynamic",
             "default", "rate", "bytes", "invalid"}


def _norm(value: object) -> str:
    """Compare values as RouterOS prints them (true/false, plain numbers)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return {"yes": "true", "no": "false"}.get(text, text)


def _find(api: Api, menu: str, key: str, value: str) -> list[dict]:
    """Rows of a menu whose `key` equals `value` (server-side query)."""
    return list(api.rawCmd(f"{menu}/print", f"?={key}={value}"))


def differences(row: dict, attrs: dict, fields: tuple[str, ...] | None = None) -> dict:
    """The attributes (of `fields`, or all) whose value on the router differs from what we want, as we would set them."""
    wanted = {k: _norm(v) for k, v in attrs.items() if k not in READ_ONLY and (fields is None or k in fields)}
    return {k: v for k, v in wanted.items() if _norm(row.get(k, "")) != v}


def ensure(api: Api, menu: str, attrs: dict, key: str = "name") -> dict:
    """Create the item, or set only the attributes that differ."""
    attrs = {k: _norm(v) for k, v in attrs.items() if k not in READ_ONLY}
    rows = _find(api, menu, key, attrs[key])
    if not rows:
        new_id = None
        for reply in api(f"{menu}/add", **attrs):
            new_id = reply.get("ret", new_id)
        return {"action": "added", "id": new_id}
    row = rows[0]
    diff = differences(row, attrs)
    for extra in rows[1:]:  # a duplicate made outside the panel: keep one
        tuple(api(f"{menu}/remove", **{".id": extra[".id"]}))
    if diff:
        tuple(api(f"{menu}/set", **{".id": row[".id"], **diff}))
        return {"action": "updated", "id": row[".id"], "changed": sorted(diff)}
    return {"action": "unchanged", "id": row[".id"]}


def remove(api: Api, menu: str, value: str, key: str = "name") -> dict:
    """Remove the item if present."""
    rows = _find(api, menu, key, value)
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
    }


def _ensure_op(kind: str, key: str = "name") -> Callable:
    return lambda api, payload: ensure(api, MENUS[kind], payload["attrs"], key)


def _remove_op(kind: str, key: str = "name") -> Callable:
    return lambda api, payload: remove(api, MENUS[kind], payload["name"], key)


OPERATIONS: dict[str, Callable[[Api, dict], dict]] = {
    "router.test": test_connection,
    "hotspot_user.ensure": _ensure_op("hotspot_user"),
    "hotspot_user.remove": _remove_op("hotspot_user"),
    "hotspot_user.retire": retire,
    "hotspot_profile.ensure": _ensure_op("hotspot_profile"),
    "hotspot_profile.remove": _remove_op("hotspot_profile"),
}

# Operator probes: they run even when the circuit is open, and answer once (never retried or dead-lettered).
PROBES = frozenset({"router.test"})


def run(api: Api, operation: str, payload: dict) -> dict:
    """Execute one operation by name."""
    try:
        handler = OPERATIONS[operation]
    except KeyError:
        raise ValueError(f"unknown router operation {operation!r}") from None
    return handler(api, payload)
