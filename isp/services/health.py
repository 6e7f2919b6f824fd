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
    except Exception as err:  # any driver error means "down"
        db.session.rollback()
        log.warning("health: database check failed: %s", type(err).__name__)
        return f"database unreachable ({type(err).__name__})"


def check_redis() -> str | None:
    """None if Redis answers PING, else a short reason."""
    try:
        redis_store.client.ping()
        return None
    except Exception as err:  # connection, timeout or embedded start failure
        log.warning("health: redis check failed: %s", type(err).__name__)
        return f"redis unreachable ({type(err).__name__})"


def readiness() -> dict:
    """Status of each dependency: {'database': 'ok'|reason, 'redis': ...}."""
    return {"database": check_database() or "ok", "redis": check_redis() or "ok"}
