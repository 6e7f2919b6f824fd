"""Rows for the dashboards, written directly (no router I/O): routers, samples, alerts, outbox rows, circuits."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from isp.extensions import db, redis_store
from isp.models import Alert, AlertKind, AlertRule, AlertSeverity, AlertState, CommandState, Router, RouterCommand, RouterSample
from isp.routeros.breaker import key as breaker_key
from isp.routeros.status import metrics_key

HX = {"HX-Request": "true"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def rows(app):
    """Helpers that write the monitoring state of routers straight into SQL and Redis (inside an app context)."""

    class Rows:
        def router(self, name: str, seen_ago: float | None = 5, enabled: bool = True, site: str = "") -> int:
            seen = None if seen_ago is None else datetime.now(UTC) - timedelta(seconds=seen_ago)
            router = Router(name=name, addresses_text="127.0.0.1", username="admin", password_encrypted="x",
                            enabled=enabled, last_seen_at=seen, site=site)
            db.session.add(router)
            db.session.flush()
            return router.id

        def sample(self, router_id: int, ago: int = 5, cpu: int = 10, hotspot: int = 0, ppp: int = 0) -> None:
            db.session.add(RouterSample(router_id=router_id, ts=int(time.time()) - ago, cpu=cpu, memory=40.0,
                                        hotspot_active=hotspot, ppp_active=ppp))

        def rule(self, name: str = "Test CPU") -> int:
            """A rule of our own (the migration's default rules exist only until the first test empties the tables)."""
            rule = AlertRule(name=name, kind=AlertKind.metric, metric="cpu", warning=70, critical=90)
            db.session.add(rule)
            db.session.flush()
            return rule.id

        def alert(self, rule_id: int, router_id: int | None, severity: str = "warning", state: str = "open",
                  message: str = "") -> int:
            now = datetime.now(UTC)
            live = state in ("open", "acknowledged", "pending")
            alert = Alert(rule_id=rule_id, router_id=router_id, severity=AlertSeverity(severity), state=AlertState(state),
                          message=message, opened_at=now, started_at=now, last_seen_at=now,
                          open_key=f"{rule_id}:{router_id}:{time.monotonic_ns()}" if live else None,
                          resolved_at=None if live else now)
            db.session.add(alert)
            db.session.flush()
            return alert.id

        def command(self, router_id: int, state: str = "pending", age: int = 0) -> None:
            n = db.session.query(RouterCommand).count()
            db.session.add(RouterCommand(router_id=router_id, operation="ensure_user", idempotency_key=f"k{n}",
                                         state=CommandState(state), created_at=datetime.now(UTC) - timedelta(seconds=age)))

        def circuit_open(self, router_id: int) -> None:
            redis_store.client.hset(breaker_key(router_id), mapping={"state": "open", "opened_at": time.time(), "failures": 3})

        def metrics(self, router_id: int, **values) -> None:
            redis_store.client.set(metrics_key(router_id), json.dumps({"at": time.time(), **values}), ex=300)

    return Rows()


from tests.billing.conftest import bill  # noqa: E402,F401 (services built as rows)
