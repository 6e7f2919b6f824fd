"""Checks of the stores the app depends on."""
from __future__ import annotations

import logging

from sqlalchemy import text

from isp.extensions import db, redis_store

log = logging.getLogger(__name__)


def check_database() -> str | None:
    """None if the main DB answers, else a short reason."""
    try:
        db.session.execute(text("SELECT 1"))
        return None
    except Exception as err:  # noqa: BLE001 - any driver error means "down"
        db.session.rollback()
        log.warning("health: database check failed: %s", type(err).__name__)
        return f"database unreachable ({type(err).__name__})"


def check_redis() -> str | None:
    """None if Redis answers PING, else a short reason."""
    try:
        redis_store.client.ping()
        return None
    except Exception as err:  # noqa: BLE001 - connection, timeout or embedded start failure
        log.warning("health: redis check failed: %s", type(err).__name__)
        return f"redis unreachable ({type(err).__name__})"


def readiness() -> dict:
    """Status of each dependency: {'database': 'ok'|reason, 'redis': ...}."""
    return {"database": check_database() or "ok", "redis": check_redis() or "ok"}


def down(checks: dict) -> list[str]:
    """Names of the dependencies that are not ok, sorted."""
    return sorted(name for name, state in checks.items() if state != "ok")


def detailed_report() -> tuple[dict, int]:
    """Stores, live workers and every router's circuit; 503 when the database or Redis is down."""
    from sqlalchemy import select

    from isp.models import Router
    from isp.routeros.status import breaker
    from isp.services import pool_monitor

    checks = readiness()
    missing = down(checks)
    report: dict = {"status": "down" if missing else "ok", "down": missing, "checks": checks, "workers": None, "routers": None}
    if missing:
        return report, 503
    workers = pool_monitor.workers()
    routers = db.session.execute(select(Router.id, Router.name).order_by(Router.name)).all()
    circuits = breaker().states([router_id for router_id, _ in routers])
    report["workers"] = {"alive": len(workers), "names": sorted(w["name"] for w in workers)}
    report["routers"] = {name: circuits[router_id]["state"] for router_id, name in routers}
    if not workers or any(state != "closed" for state in report["routers"].values()):
        report["status"] = "degraded"
    return report, 200
