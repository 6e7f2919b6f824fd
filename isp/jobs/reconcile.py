"""Reconcile jobs: read a router's managed menus once, compare with SQL, queue what drifted."""
from __future__ import annotations

import logging
import time

from librouteros.api import Api

from isp.extensions import db
from isp.models import Router, RouterMode
from isp.routeros.operations import MENUS
from isp.routeros.runtime import RouterUnavailable, guarded
from isp.services import audit, reconcile, reconcile_services
from isp.services.provisioning_api import OUR_LISTS
from isp.transaction import atomic

log = logging.getLogger(__name__)


def _print(api: Api, kind: str, fields: tuple[str, ...], *query: str) -> list[dict]:
    """One print of a menu, only the fields we compare."""
    return list(api.rawCmd(f"{MENUS[kind]}/print", "=.proplist=" + ",".join(dict.fromkeys(fields)), *query))


def _read(api: Api) -> dict[str, list[dict]]:
    """Every menu the panel writes, one print each: hotspot users and profiles (vouchers and subscribers share
    them), PPP secrets and profiles, simple queues, and the entries of our address lists."""
    lists = [f"?=list={name}" for name in OUR_LISTS] + ["?#" + "|" * (len(OUR_LISTS) - 1)]
    return {
        "users": _print(api, "hotspot_user", reconcile.USER_FIELDS + reconcile_services.SUBSCRIBER_FIELDS),
        "hotspot_profiles": _print(api, "hotspot_profile", reconcile.PROFILE_FIELDS + reconcile_services.HOTSPOT_PROFILE_FIELDS),
        "secrets": _print(api, "ppp_secret", reconcile_services.SECRET_FIELDS),
        "ppp_profiles": _print(api, "ppp_profile", reconcile_services.PPP_PROFILE_FIELDS),
        "queues": _print(api, "queue", reconcile_services.QUEUE_FIELDS),
        "entries": _print(api, "address_list", reconcile_services.ENTRY_FIELDS, *lists),
    }


def reconcile_router(router_id: int, reason: str = "scheduled") -> str:
    """Make one router equal to SQL for the objects the panel owns; the report shows on the router page."""
    router = db.session.get(Router, router_id)
    if router is None or not router.enabled or router.mode != RouterMode.api:
        return "skipped"
    started = time.perf_counter()
    try:
        read = guarded(router, _read, count=6)
    except RouterUnavailable as exc:
        reconcile.record(router.id, reason, error=exc.message, seconds=time.perf_counter() - started)
        return exc.message

    def unit() -> tuple:
        busy = reconcile.in_flight(router.id)
        users, profiles = reconcile_services.voucher_rows(read["users"], read["hotspot_profiles"])
        udrift, pdrift, profile_items, user_items = reconcile.compare(router, users, profiles, busy)
        services, service_profiles, service_items = reconcile_services.compare(router, read, busy)
        queued = reconcile.queue_fixes(router, profile_items, user_items)
        queued += reconcile_services.queue_fixes(router, service_profiles, service_items)
        if queued:  # one row per pass that changed something (a pass that found no drift wrote nothing)
            audit.record(None, "router.reconcile", router.name, f"{reason}: {udrift.total()} users, {pdrift.total()} "
                         f"profiles, {sum(d.total() for d in services.values())} service items drifted", obj=router,
                         changes={"fixes queued": [None, queued]})
        return udrift, pdrift, services, queued

    udrift, pdrift, services, queued = atomic(unit)
    reconcile.record(router.id, reason, udrift, pdrift, seconds=time.perf_counter() - started, services=services)
    drifted = sum(d.total() for d in services.values())
    if queued:
        log.warning("reconcile %s (%s): %s users, %s profiles and %s service items drifted; fixes queued", router.name,
                    reason, udrift.total(), pdrift.total(), drifted)
    return f"users {udrift.total()} drifted, profiles {pdrift.total()} drifted, services {drifted} drifted, {queued} fixes queued"


def reconcile_all() -> int:
    """Queue a reconcile of every enabled API-mode router (scheduled every RECONCILE_INTERVAL)."""
    return reconcile.queue_all("scheduled")
