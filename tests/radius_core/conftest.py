"""Fixtures for the radius bind's atomicity tests: an injected failure inside the RADIUS database."""
from __future__ import annotations

import pytest

from isp.radius import binds

BOOM = "boom"  # a radcheck value the injected trigger refuses


@pytest.fixture
def radcheck_trigger(app):
    """A trigger on radcheck that fails any insert whose value is BOOM (created in the radius database itself)."""
    with app.app_context():
        engine = binds.radius_engine(app)
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS radcheck_boom")
                conn.exec_driver_sql(
                    f"CREATE TRIGGER radcheck_boom BEFORE INSERT ON radcheck WHEN NEW.value = '{BOOM}' "
                    "BEGIN SELECT RAISE(ABORT, 'injected radius failure'); END")
            else:
                conn.exec_driver_sql("DROP TRIGGER IF EXISTS radcheck_boom")
                conn.exec_driver_sql(
                    f"CREATE TRIGGER radcheck_boom BEFORE INSERT ON radcheck FOR EACH ROW BEGIN "
                    f"IF NEW.value = '{BOOM}' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected radius failure'; "
                    "END IF; END")
        engine.dispose()
    yield BOOM
    with app.app_context():
        engine = binds.radius_engine(app)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS radcheck_boom")
        engine.dispose()


def counts(app, username: str) -> tuple[int, int]:
    """(our users named `username`, radcheck rows for `username`), each read on a fresh connection of its own database."""
    from sqlalchemy import func, select

    from isp.extensions import db
    from isp.models import User
    from isp.radius.models import RadCheck

    with app.app_context():
        with db.engines[None].connect() as conn:
            ours = conn.scalar(select(func.count()).select_from(User).where(User.username == username))
        engine = binds.radius_engine(app)
        with engine.connect() as conn:
            radius = conn.scalar(select(func.count()).select_from(RadCheck).where(RadCheck.username == username))
        engine.dispose()
        db.session.remove()
    return ours, radius
