"""Subscriber sessions and usage in api mode: one low-priority read per router, applied in one unit.

Each poll reads, once each and only the columns it needs: /ppp/active, /ip/hotspot/active, the dynamic
pppoe-in interfaces (a PPP session's byte counters live there, not in /ppp/active) and the simple queues
(static subscribers' counters, only the ones the panel put there). `sessions.apply_poll` does the rest.
"""
from __future__ import annotations

import ipaddress
import logging

from librouteros.api import Api

from isp import dispatch
from isp.extensions import db
from isp.models import Router, RouterMode, ServiceKind
from isp.models.base import utcnow
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import job_problems, sessions
from isp.services.provisioning_api import SERVICE_TAG
from isp.transaction import atomic
from isp.units import router_duration

log = logging.getLogger(__name__)
PPP_FIELDS = ".id,name,address,caller-id,uptime,session-id"
HOTSPOT_FIELDS = ".id,user,address,mac-address,uptime,bytes-in,bytes-out"
IFACE_FIELDS = "name,rx-byte,tx-byte"
QUEUE_FIELDS = ".id,target,bytes,disabled,dynamic,comment"
READS = 4


def poll_sessions_all() -> int:
    """Enqueue one session poll per router to poll (`sessions.routers_to_poll`; one job per router at a time)."""
    ids = db.session.scalars(sessions.routers_to_poll())
    return dispatch.enqueue_once(dispatch.POLL_SESSIONS, {f"sessions-{i}": (i,) for i in ids})


def poll_sessions(router_id: int) -> str:
    """Read /ppp/active, the hotspot active list and the static queues once; update sessions and usage."""
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled:
        return "skipped"
    # On a radius-mode router PPPoE and hotspot sessions come from RADIUS accounting; only the static-IP services'
    # queues are the router's own to count.
    radius = router.mode == RouterMode.radius
    first = sessions.last_polled(router.id) is None
    try:
        seen = guarded(router, read_static_queues if radius else read_sessions, count=1 if radius else READS)
    except RouterUnavailable as exc:
        return exc.message  # nothing changes: open sessions stay open until the router answers again
    now = utcnow()
    counts = atomic(lambda: sessions.apply_poll(router.id, seen, now, baseline_only=first))
    # Only after the commit: a poll that died before it leaves the next one taking no baselines it should not.
    sessions.mark_polled(router.id, now)
    return "online {online}, opened {opened}, closed {closed}, fup {fup}, kicked {kicked}".format(**counts)


def read_sessions(api: Api) -> list[sessions.Seen]:
    """Every live PPP and hotspot session and every panel-owned static queue on the router, as Seen rows."""
    ppp = list(api.rawCmd("/ppp/active/print", f"=.proplist={PPP_FIELDS}"))
    hotspot = list(api.rawCmd("/ip/hotspot/active/print", f"=.proplist={HOTSPOT_FIELDS}"))
    ifaces = {str(row.get("name", "")): row for row in api.rawCmd(
        "/interface/print", f"=.proplist={IFACE_FIELDS}", "?type=pppoe-in")}
    queues = list(api.rawCmd("/queue/simple/print", f"=.proplist={QUEUE_FIELDS}"))
    out: list[sessions.Seen] = []
    _parse(out, "ppp", _ppp_rows(ppp, ifaces))
    _parse(out, "hotspot", [(row, _hotspot) for row in hotspot])
    _parse(out, "queue", [(row, _queue) for row in queues])
    return out


def read_static_queues(api: Api) -> list[sessions.Seen]:
    """The panel-owned simple queues only (a radius-mode router's static-IP services), as Seen rows."""
    out: list[sessions.Seen] = []
    _parse(out, "queue", [(row, _queue) for row in api.rawCmd("/queue/simple/print", f"=.proplist={QUEUE_FIELDS}")])
    return out


def _parse(out: list[sessions.Seen], what: str, rows: list) -> None:
    """Turn router rows into Seen; a row that cannot be read is recorded for Monitoring and skipped."""
    for row, parse in rows:
        try:
            seen = parse(row)
        except (KeyError, TypeError, ValueError) as exc:
            job_problems.record(sessions.JOB, f"{what} {row.get('.id', '?')}", exc)
            continue
        if seen is not None:
            out.append(seen)


def _ppp_rows(ppp: list[dict], ifaces: dict[str, dict]) -> list:
    """Pair each PPP session with its <pppoe-NAME> interface (a user's 2nd session has <pppoe-NAME-1>, ...)."""
    by_user: dict[str, list[dict]] = {}
    for row in ppp:
        by_user.setdefault(str(row.get("name", "")), []).append(row)
    out = []
    for name, rows in by_user.items():
        rows.sort(key=lambda r: -router_duration(str(r.get("uptime", ""))))  # the oldest got the plain name
        for n, row in enumerate(rows):
            iface = ifaces.get(f"<pppoe-{name}>" if n == 0 else f"<pppoe-{name}-{n}>", {})
            out.append((row, lambda r, i=iface: _ppp(r, i)))
    return out


def _ppp(row: dict, iface: dict) -> sessions.Seen:
    return sessions.Seen(ServiceKind.pppoe, str(row["name"]), str(row.get("session-id") or row[".id"]),
                         address=str(row.get("address", "")), caller_id=str(row.get("caller-id", "")),
                         uptime=router_duration(str(row.get("uptime", ""))),
                         bytes_in=int(iface.get("rx-byte") or 0), bytes_out=int(iface.get("tx-byte") or 0))


def _hotspot(row: dict) -> sessions.Seen:
    return sessions.Seen(ServiceKind.hotspot, str(row["user"]), str(row[".id"]),
                         address=str(row.get("address", "")), caller_id=str(row.get("mac-address", "")),
                         uptime=router_duration(str(row.get("uptime", ""))),
                         bytes_in=int(row.get("bytes-in") or 0), bytes_out=int(row.get("bytes-out") or 0))


def _queue(row: dict) -> sessions.Seen | None:
    """A static subscriber's queue (ours by its comment, on one IP, enabled, not held for a suspension), or None."""
    comment = str(row.get("comment", ""))
    if not comment.startswith(SERVICE_TAG) or _true(row.get("disabled")) or _true(row.get("dynamic")):
        return None
    if comment.endswith(" restricted"):  # a suspended static IP's queue stays at a trickle: not a customer online
        return None
    target = str(row.get("target", ""))
    if "," in target:
        return None
    net = ipaddress.ip_network(target, strict=False)
    if net.num_addresses != 1:
        return None
    up, _, down = str(row.get("bytes") or "0/0").partition("/")
    ip = str(net.network_address)
    return sessions.Seen(ServiceKind.static, ip, f"queue:{row['.id']}", address=ip, bytes_in=int(up), bytes_out=int(down or 0))


def _true(value: object) -> bool:
    return value is True or str(value).lower() in ("true", "yes")
