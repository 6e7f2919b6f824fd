"""Fixtures for the real-FreeRADIUS tests: rows written through the radius models, tables emptied per test."""
from __future__ import annotations

import pytest


@pytest.fixture
def radius(freeradius, ctx):
    """The running server, with the radius tables emptied before the test (FreeRADIUS writes them too)."""
    from isp.extensions import db

    with db.engines["radius"].begin() as conn:
        for table in reversed(db.metadatas["radius"].sorted_tables):
            conn.execute(table.delete())
    yield freeradius
    db.session.remove()


@pytest.fixture
def rows(ctx):
    """rows(*models): add and commit radius rows, as a writer would."""
    from isp.extensions import db

    def add(*objects):
        db.session.add_all(objects)
        db.session.commit()

    return add
