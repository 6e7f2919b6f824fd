"""Reconcile jobs: read a router's managed menus once, compare with SQL, queue what drifted."""
from __future__ import annotations

import logging
import time

from librouteros.api import Api

from isp.extensions import db
from isp.models import Router, RouterMode
from isp.routeros.operations import MENUS
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import reconcile
from isp.transaction import atomic

log = logging.getLogger(__name__)


def _read(api: Api) -> tuple[list[dict], list[dict]]:
    """Hotspot users and user profiles, only the fields we compare (one print each)."""
    users = list(api.rawCmd(f"{MENUS['hotspot_user']}/print", "=.proplist=" + ",".join(reconcile.USER_FIELDS)))
    profiles = list(api.rawCmd(f"{MENUS['hotspot_profile']}/print", "=.proplist=" + ",".join(reconcile.PROFILE_FIELDS)))
    return users, profiles


def reconcile_router(router_id: int, reason: str = "scheduled") -> str:
    """Make one router equal to SQL for the objects the panel owns; the report shows on the router page."""
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled or router.mode != RouterMode.api:
        return "skipped"
    started = time.perf_counter()
    try:
        users, profiles = guarded(router, _read, count=2)
    except RouterUnavailable as exc:
        reconcile.record(router.id, reason, error=exc.message, seconds=time.perf_counter() - started)
        return exc.message

    def unit() -> tuple:
        udrift, pdrift, profile_items, user_items = reconcile.compare(router, users, profiles)
        return udrift, pdrift, reconcile.queue_fixes(router, profile_items, user_items)

    udrift, pdrift, queued = atomic(unit)
    reconcile.record(router.id, reason, udrift, pdrift, seconds=time.perf_counter() - started)
    if queued:
        log.warning("reconcile %s (%s): %s users and %s profiles drifted; fixes queued", router.name, reason,
                    udrift.total(), pdrift.total())
    return f"users {udrift.total()} drifted, profiles {pdrift.total()} drifted, {queued} fixes queued"


def reconcile_all() -> int:
    """Queue a reconcile of every enabled API-mode router (scheduled every RECONCILE_INTERVAL)."""
    return reconcile.queue_all("scheduled")
