"""Fixtures of the router monitoring tests: the customer factories, and interfaces and logs written as the poll would."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from isp.extensions import db as _db
from tests.customers.conftest import make_customer, make_service, make_service_plan, staff  # noqa: F401 (fixtures)


@pytest.fixture
def make_iface(app):
    """Factory: make_iface(router_id, name, **fields) -> id, name (a RouterInterface row as the poll writes it)."""
    from isp.models.monitoring import RouterInterface

    def factory(router_id: int, name: str = "ether1", **fields):
        with app.app_context():
            row = RouterInterface(router_id=router_id, name=name, **{"type": "ether", **fields})
            _db.session.add(row)
            _db.session.commit()
            return SimpleNamespace(id=row.id, name=row.name)

    return factory


def post(client, url: str, data: dict | None = None, **headers):
    """POST a form with the session's CSRF token."""
    from tests.conftest import csrf_from

    token = csrf_from(client.get("/").get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **(data or {})}, headers=headers)
