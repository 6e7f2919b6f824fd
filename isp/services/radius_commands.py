"""RADIUS Disconnect and CoA as outbox commands: queued in the business transaction, sent by a worker.

`queue_disconnect` / `queue_coa` add a `radius.disconnect` / `radius.coa` row (flush, never commit); the
worker (`isp.jobs.router.execute_command`) calls `deliver` on the row's priority queue: the packets go
straight from the worker to the router's incoming port (no RouterOS API connection). ACK, or a NAK saying
the session is not there (the user is not online), settles the command; no answer (or a refusal) falls back
to the API kick of the same operation, and both outcomes are recorded on the command's result.
"""
from __future__ import annotations

import logging

from flask import current_app

from isp.extensions import db
from isp.models import Priority, Router, RouterCommand
from isp.models.base import utcnow
from isp.radius import coa
from isp.services import outbox

log = logging.getLogger(__name__)

DISCONNECT, COA = "radius.disconnect", "radius.coa"
BULK_OVER = 20  # more Disconnects than this for one router go in as multi-row inserts with chunk jobs


def disconnect_key(username: str) -> str:
    """Outbox key of a user's pending Disconnect (collapses repeats)."""
    return f"radius-disconnect:{username}"


def coa_key(username: str) -> str:
    """Outbox key of a user's pending CoA (a newer one replaces the attributes of a pending one)."""
    return f"radius-coa:{username}"


def queue_disconnect(router: Router, username: str, priority: Priority = Priority.critical) -> RouterCommand:
    """Queue a Disconnect-Request for every live session of `username` on `router` (flushes, never commits)."""
    return outbox.queue_command(router, DISCONNECT, disconnect_key(username), {"username": username}, priority)


def queue_coa(router: Router, username: str, attributes: dict, priority: Priority = Priority.high) -> RouterCommand:
    """Queue a CoA-Request carrying `attributes` (e.g. {"Mikrotik-Rate-Limit": "2M/4M"}) for the user's live sessions."""
    payload = {"username": username, "attributes": {str(k): v for k, v in attributes.items()}}
    return outbox.queue_command(router, COA, coa_key(username), payload, priority)


def queue_disconnects(router: Router, usernames: list[str], priority: Priority = Priority.critical) -> int:
    """Disconnects for many users of one router: one by one when few, else multi-row inserts with chunk jobs
    (the chunk job sends each packet first and runs the API kick only for the unanswered); returns how many."""
    names = sorted(set(usernames))
    if len(names) <= BULK_OVER:
        for name in names:
            queue_disconnect(router, name, priority)
        return len(names)
    items = [(DISCONNECT, disconnect_key(name), {"username": name}) for name in names]
    outbox.queue_bulk(router, items, f"radius-disconnect:{router.id}:{utcnow():%Y%m%d%H%M%S}",
                      current_app.config["BULK_CHUNK"], priority)
    return len(names)


def queue_coas(router: Router, changes: dict[str, dict], priority: Priority = Priority.high) -> int:
    """CoAs for many users of one router ({username: attributes}): one by one when few, else chunk jobs."""
    if len(changes) <= BULK_OVER:
        for name, attributes in sorted(changes.items()):
            queue_coa(router, name, attributes, priority)
        return len(changes)
    items = [(COA, coa_key(name), {"username": name, "attributes": {str(k): v for k, v in attributes.items()}})
             for name, attributes in sorted(changes.items())]
    outbox.queue_bulk(router, items, f"radius-coa:{router.id}:{utcnow():%Y%m%d%H%M%S}", current_app.config["BULK_CHUNK"],
                      priority)
    return len(changes)


def _summary(operation: str, answers: list[coa.Answer]) -> str:
    if all(a.kind == "nak" and a.error_cause == coa.SESSION_NOT_FOUND for a in answers):
        return "not online"
    return "disconnected" if operation == DISCONNECT else "changed"


def deliver(router: Router, operation: str, payload: dict) -> dict:
    """Send the command's packets (worker only); the result to record, with `delivered` False when the API
    fallback must run (no answer, a refusal, or no RADIUS address/secret known). The secret never appears."""
    config = current_app.config
    timeout = float(config.get("RADIUS_COA_TIMEOUT", coa.TIMEOUT))
    retries = int(config.get("RADIUS_COA_RETRIES", coa.RETRIES))
    username = payload["username"]
    try:
        target = coa.target_for(router)
    except ValueError as exc:
        return {"delivered": False, "action": "not sent", "packet": str(exc)}
    try:
        if operation == DISCONNECT:
            answers = coa.disconnect(target, username, timeout=timeout, retries=retries)
        else:
            answers = coa.change(target, username, payload.get("attributes") or {}, timeout=timeout, retries=retries)
    except Exception as exc:  # noqa: BLE001 - a malformed reply or an attribute the dictionary lacks: the kick instead
        log.warning("RADIUS %s for %s on router %s failed: %s; falling back to the API kick", operation, username,
                    router.id, type(exc).__name__)
        return {"delivered": False, "action": "not sent", "packet": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        db.session.rollback()  # end the radacct read: the worker holds no snapshot while it waits on the network
    result = {"to": f"{target.address}:{target.port}", "answers": [a.as_dict() for a in answers]}
    if all(a.nothing_to_do for a in answers):
        return {"delivered": True, "action": _summary(operation, answers), **result}
    unanswered = any(a.kind == "timeout" for a in answers)
    log.info("RADIUS %s for %s on router %s: %s; falling back to the API kick", operation, username, router.id,
             "no answer" if unanswered else "refused")
    return {"delivered": False, "action": "no answer" if unanswered else "refused", **result}
