"""API fixtures: a token factory (the real service) and a client that sends the Bearer header."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from isp.extensions import db as _db

PROBLEM = "application/problem+json"


@pytest.fixture
def make_token(app, make_user):
    """make_token(role='admin', scopes=('read',), user=None) -> SimpleNamespace(raw, id, user)."""
    from isp.models import User
    from isp.services import api_tokens

    def factory(role: str = "admin", scopes=("read",), user=None, expires_at=None):
        user = user or make_user(role)
        with app.app_context():
            token, raw = api_tokens.create(_db.session.get(User, user.id), "test", set(scopes), expires_at)
            _db.session.commit()
            return SimpleNamespace(raw=raw, id=token.id, user=user)

    return factory


class ApiClient:
    """The test client with a token: api.get('/vouchers'), api.post('/batches', json=..., key='k1')."""

    def __init__(self, client, raw: str) -> None:
        self.client, self.raw = client, raw

    def _headers(self, key: str | None, extra: dict | None) -> dict:
        headers = {"Authorization": f"Bearer {self.raw}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return {**headers, **(extra or {})}

    def get(self, path: str, headers: dict | None = None, **kw):
        return self.client.get("/api/v1" + path, headers=self._headers(None, headers), **kw)

    def post(self, path: str, json=None, key: str | None = None, headers: dict | None = None, **kw):
        return self.client.post("/api/v1" + path, json=json, headers=self._headers(key, headers), **kw)

    def patch(self, path: str, json=None, headers: dict | None = None, **kw):
        return self.client.patch("/api/v1" + path, json=json, headers=self._headers(None, headers), **kw)


@pytest.fixture
def api_as(client, make_token):
    """api_as(role, *scopes, user=None) -> ApiClient with a fresh token of that user."""

    def factory(role: str = "admin", *scopes: str, user=None) -> ApiClient:
        token = make_token(role, scopes or ("read",), user=user)
        api = ApiClient(client, token.raw)
        api.token, api.user = token, token.user
        return api

    return factory


def assert_problem(response, status: int) -> dict:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    assert body["instance"] == response.request.path
    return body


@pytest.fixture
def shop(app, make_user, make_router, make_plan, allow, fund, generate):
    """Two resellers with a batch each on one router's plan, and a staff batch; ids in a namespace."""
    router = make_router()
    plan = make_plan([router.id])
    other_plan = make_plan([router.id])
    admin = make_user("admin")
    a, b = make_user("reseller"), make_user("reseller")
    for reseller in (a, b):
        allow(reseller.id, plan.id)
        fund(reseller.id, "1000.00")
    return SimpleNamespace(router=router, plan=plan, other_plan=other_plan, admin=admin, a=a, b=b,
                           batch_a=generate(a.id, plan.id, 3), batch_b=generate(b.id, plan.id, 2),
                           batch_staff=generate(admin.id, plan.id, 4))
