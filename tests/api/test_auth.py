"""Bearer-token authentication: what is refused (401/403 problems), what a token may do, and that a session never counts."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from isp.extensions import db as _db
from tests.api.conftest import assert_problem


def _api_rules(app):
    """Every token-authenticated API route, with sample ids."""
    rules = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if getattr(view, "_api_token", False):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                url = rule.rule
                for arg in rule.arguments:
                    url = url.replace(f"<int:{arg}>", "1")
                rules.append((method, url))
    return rules


def test_every_api_route_wants_a_token(app, client):
    rules = _api_rules(app)
    assert len(rules) >= 10 and ("GET", "/api/v1/vouchers") in rules and ("POST", "/api/v1/batches") in rules
    for method, url in rules:
        response = client.open(url, method=method, json={})
        body = assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "Bearer" in body["detail"]


@pytest.mark.parametrize("header", ["Bearer isp_not-a-real-token", "Bearer ", "Basic YWRtaW46YWRtaW4=", "isp_x",
                                    "Bearer " + "isp_" + "a" * 500])
def test_bad_credentials_are_401_problems(client, header):
    response = client.get("/api/v1/vouchers", headers={"Authorization": header})
    assert_problem(response, 401)


def test_valid_token_reads(api_as, shop):
    api = api_as("admin", "read")
    response = api.get("/vouchers")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(response.get_json()["items"]) == 9


def _set(app, token_id, **values):
    from isp.models.security import ApiToken

    with app.app_context():
        token = _db.session.get(ApiToken, token_id)
        for key, value in values.items():
            setattr(token, key, value)
        _db.session.commit()


def test_expired_token_is_refused(app, api_as):
    from isp.models.base import utcnow

    api = api_as("admin", "read")
    assert api.get("/vouchers").status_code == 200
    _set(app, api.token.id, expires_at=utcnow() - timedelta(seconds=1))
    body = assert_problem(api.get("/vouchers"), 401)
    assert "expired" in body["detail"]


def test_revoked_token_is_refused(app, api_as):
    from isp.models import User
    from isp.models.security import ApiToken
    from isp.services import api_tokens

    api = api_as("admin", "read")
    with app.app_context():
        token = _db.session.get(ApiToken, api.token.id)
        api_tokens.revoke(_db.session.get(User, api.user.id), token)
        _db.session.commit()
    assert_problem(api.get("/vouchers"), 401)


def test_disabled_owner_token_is_refused(app, api_as):
    from isp.models import User

    api = api_as("admin", "read")
    with app.app_context():
        _db.session.get(User, api.user.id).active = False
        _db.session.commit()
    assert_problem(api.get("/vouchers"), 401)


def test_a_logged_in_browser_session_does_not_authenticate_the_api(client, auth):
    auth.login_as("admin")
    assert client.get("/vouchers/").status_code == 200  # the session works on pages
    response = client.get("/api/v1/vouchers")
    assert_problem(response, 401)
    # and a write with the session's CSRF token is refused too: no cookie-borne request can act on the API
    response = client.post("/api/v1/vouchers/1/disable", headers={"X-CSRFToken": auth.token()})
    assert_problem(response, 401)


def test_api_answers_set_no_cookie(api_as, shop):
    api = api_as("admin", "read")
    response = api.get("/vouchers")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_write_without_its_scope_is_403(api_as, shop):
    api = api_as("admin", "read")
    body = assert_problem(api.post("/vouchers/1/disable"), 403)
    assert "vouchers" in body["detail"]


def test_read_needs_the_read_scope(api_as, shop):
    api = api_as("admin", "vouchers")
    assert_problem(api.get("/vouchers"), 403)


def test_admin_scope_includes_every_other(app, api_as, shop):
    from isp.models import Voucher

    api = api_as("admin", "admin")
    assert api.get("/vouchers").status_code == 200
    with app.app_context():
        voucher_id = _db.session.scalar(select(Voucher.id).limit(1))
    assert api.post(f"/vouchers/{voucher_id}/disable").status_code == 200


def test_role_narrower_than_the_endpoint_is_403(api_as, shop):
    api = api_as("reseller", "read")
    body = assert_problem(api.get("/routers"), 403)
    assert "reseller" in body["detail"]


def test_staff_allow_list_applies_to_tokens(app, api_as):
    from isp.services import branding

    api = api_as("admin", "read")
    with app.app_context():
        branding.get().allow_cidrs_admin = "192.0.2.0/24"
        _db.session.commit()
    body = assert_problem(api.get("/vouchers"), 403)
    assert "allow-list" in body["detail"]
    assert api.get("/vouchers", environ_overrides={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


def test_use_is_noted_on_the_token(app, api_as):
    from isp.models.security import ApiToken

    api = api_as("admin", "read")
    api.get("/vouchers", environ_overrides={"REMOTE_ADDR": "198.51.100.4"})
    with app.app_context():
        token = _db.session.get(ApiToken, api.token.id)
        assert token.last_used_at is not None and token.last_used_ip == "198.51.100.4"


def test_per_token_rate_limit_answers_429_problem(app, api_as):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    api, other = api_as("admin", "read"), api_as("admin", "read")
    assert [api.get("/vouchers").status_code for _ in range(3)] == [200, 200, 200]
    body = assert_problem(api.get("/vouchers"), 429)
    assert "3 per 1 minute" in body["detail"]
    assert int(api.get("/vouchers").headers["Retry-After"]) >= 1
    assert other.get("/vouchers").status_code == 200  # per token, not per address


def test_writes_are_audited_via_api(app, api_as, shop):
    from isp.models import AuditEntry, Voucher

    api = api_as("admin", "vouchers")
    with app.app_context():
        voucher_id = _db.session.scalar(select(Voucher.id).where(Voucher.batch_id == shop.batch_staff).limit(1))
    assert api.post(f"/vouchers/{voucher_id}/disable").status_code == 200
    with app.app_context():
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "vouchers.disable"))
        assert entry.via == "api" and entry.actor_id == api.user.id and entry.ip == "127.0.0.1"
