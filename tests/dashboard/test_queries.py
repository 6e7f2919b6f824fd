"""The dashboard reads a bounded number of SQL statements, whatever the fleet size (P13: no per-router query)."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from isp.extensions import db


def _fleet(app, rows, n: int) -> None:
    """n routers, each with a sample, an open alert, a backlog and an open circuit on every fifth."""
    with app.app_context():
        rule = rows.rule()
        for i in range(n):
            router = rows.router(f"r{i:03d}", seen_ago=5 if i % 7 else 900)
            rows.sample(router, cpu=50 + i % 50, hotspot=i % 5, ppp=1)
            rows.alert(rule, router, "critical" if i % 3 else "warning")
            rows.command(router, "pending", age=300)
            rows.command(router, "dead", age=300)
            if i % 2:  # the others fall back on their samples: both reads run whatever the size
                rows.metrics(router, cpu_load=10)
            if i % 5 == 0:
                rows.circuit_open(router)
        db.session.commit()


def _statements(app, client) -> tuple[int, str]:
    """Statements run by one dashboard request, and the page."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        html = client.get("/").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen), html


@pytest.mark.parametrize("role", ["operator"])
def test_statement_count_does_not_grow_with_the_fleet(client, auth, app, rows, role):
    auth.login_as(role)
    _fleet(app, rows, 5)
    small, html = _statements(app, client)
    assert html.count('data-test="fleet-row"') == 5
    with app.app_context():  # ten times the routers, each with a sample, an alert and a backlog
        rule = rows.rule("Second rule")
        for i in range(45):
            router = rows.router(f"s{i:03d}")
            rows.sample(router, hotspot=1)
            rows.alert(rule, router)
            rows.command(router, "pending", age=300)
        db.session.commit()
    large, html = _statements(app, client)
    assert html.count('data-test="fleet-row"') == 15 and "of 50" in html
    assert large == small, (small, large)
    assert small <= 12, small
