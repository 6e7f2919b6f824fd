"""The token pages: create (shown once), scopes offered by role, revoke by owner and admin, CSRF."""
from __future__ import annotations

import hashlib
import re

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import AuditEntry
from isp.models.security import ApiToken
from tests.conftest import csrf_from


def _create(client, **data):
    page = client.get("/account/tokens/")
    form = {"csrf_token": csrf_from(page.get_data(as_text=True)), "name": "integration", "scopes": ["read"],
            "expires": "90"}
    form.update(data)
    return client.post("/account/tokens/", data=form)


def _raw(html: str) -> str:
    match = re.search(r'data-test="raw-token">(isp_[A-Za-z0-9_-]+)<', html)
    assert match, html
    return match.group(1)


def test_created_token_is_shown_once_and_never_again(app, client, auth):
    auth.login_as("admin")
    response = _create(client, name="billing sync", scopes=["read", "vouchers"])
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    raw = _raw(html)
    assert f'curl -H "Authorization: Bearer {raw}" http://localhost/api/v1/vouchers' in html.replace("&#34;", '"')
    assert 'hx-history="false"' in html and "js/tokens.js" in html
    listing = client.get("/account/tokens/").get_data(as_text=True)
    assert "billing sync" in listing and raw[:12] in listing
    assert raw not in listing
    with app.app_context():
        token = _db.session.scalar(select(ApiToken))
        assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
        assert token.expires_at is not None
        assert not any(raw in (e.target + e.detail + e.changes) for e in _db.session.scalars(select(AuditEntry)))


def test_scope_checkboxes_follow_the_role(client, auth):
    auth.login_as("reseller")
    html = client.get("/account/tokens/").get_data(as_text=True)
    assert 'value="vouchers"' in html and 'value="customers"' in html
    assert 'value="routers"' not in html and 'value="admin"' not in html
    assert 'action="/account/tokens/" hx-boost="false"' in html  # a full page load shows the token (and runs its script)


def test_operator_cannot_grant_admin_even_by_crafting_the_form(app, client, auth):
    auth.login_as("operator")
    response = _create(client, scopes=["read", "admin"])
    assert response.status_code == 422
    assert "Your role (operator) cannot grant admin." in response.get_data(as_text=True)
    with app.app_context():
        assert _db.session.scalar(select(ApiToken)) is None


def test_reseller_cannot_grant_routers(app, client, auth):
    auth.login_as("reseller")
    response = _create(client, scopes=["routers"])
    assert response.status_code == 422
    assert "Your role (reseller) cannot grant routers." in response.get_data(as_text=True)


def test_expiry_choices(app, client, auth):
    auth.login_as("operator")
    assert _create(client, expires="date").status_code == 422  # no date picked
    response = _create(client, expires="date", expires_on="2000-01-01")
    assert response.status_code == 422 and "in the future" in response.get_data(as_text=True)
    assert _create(client, name="never", expires="never").status_code == 200
    assert _create(client, name="dated", expires="date", expires_on="2099-01-01").status_code == 422  # > 2 years
    last_day = _create(client, name="far", expires="date", expires_on="9999-12-31")  # the calendar's last day: no crash
    assert last_day.status_code == 422 and "at most 2 years" in last_day.get_data(as_text=True)
    with app.app_context():
        tokens = {t.name: t for t in _db.session.scalars(select(ApiToken))}
    assert list(tokens) == ["never"] and tokens["never"].expires_at is None


def test_owner_revokes_with_csrf(app, client, auth):
    auth.login_as("operator")
    raw = _raw(_create(client).get_data(as_text=True))
    with app.app_context():
        token_id = _db.session.scalar(select(ApiToken.id))
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 400  # no CSRF token
    listing = client.get("/account/tokens/").get_data(as_text=True)
    assert "hx-confirm=\"Revoke the token 'integration'? Anything using it loses access at once." in listing
    response = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": auth.token()})
    assert response.status_code == 302
    listing = client.get("/account/tokens/").get_data(as_text=True)
    assert 'data-state="revoked"' in listing and "Token &#39;integration&#39; revoked" in listing
    from isp.services import api_tokens
    with app.app_context():
        assert api_tokens.authenticate(raw) is None


def test_another_user_cannot_see_or_revoke_my_token(app, client, auth, make_user):
    auth.login_as("operator")
    _create(client, name="private one")
    with app.app_context():
        token_id = _db.session.scalar(select(ApiToken.id))
    auth.logout()
    auth.login_as("operator")
    assert "private one" not in client.get("/account/tokens/").get_data(as_text=True)
    response = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": auth.token()})
    assert response.status_code == 404
    with app.app_context():
        assert _db.session.get(ApiToken, token_id).revoked_at is None


def test_admin_sees_everyones_tokens_filters_and_revokes(app, client, auth, make_user):
    first = auth.login_as("operator")
    _create(client, name="op token")
    auth.logout()
    auth.login_as("reseller")
    _create(client, name="reseller token")
    auth.logout()
    admin = auth.login_as("admin")
    html = client.get("/account/tokens/").get_data(as_text=True)
    assert "op token" in html and "reseller token" in html and f">{first.username}<" in html
    filtered = client.get(f"/account/tokens/?user={first.id}").get_data(as_text=True)
    assert "op token" in filtered and "reseller token" not in filtered
    fragment = client.get(f"/account/tokens/?user={first.id}", headers={"HX-Request": "true"})  # the filter's swap
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert "op token" in fragment.get_data(as_text=True) and 'data-test="revoke"' in fragment.get_data(as_text=True)
    with app.app_context():
        token_id = _db.session.scalar(select(ApiToken.id).where(ApiToken.name == "op token"))
    response = client.post(f"/account/tokens/{token_id}/revoke?user={first.id}", data={"csrf_token": auth.token()})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"?user={first.id}")
    with app.app_context():
        assert _db.session.get(ApiToken, token_id).revoked_at is not None
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.revoke"))
        assert entry.actor_id == admin.id and first.username in entry.target


def test_a_malformed_user_filter_is_ignored(client, auth):
    auth.login_as("admin")
    for value in ("\u00b2", "99999999999999999999999", "-1", "abc"):
        assert client.get(f"/account/tokens/?user={value}").status_code == 200


def test_login_required(client):
    response = client.get("/account/tokens/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_an_admin_revokes_every_token_of_one_user_at_once(app, client, auth):
    from isp.services import api_tokens

    leaker = auth.login_as("operator")
    raws = [_raw(_create(client, name=f"script {n}").get_data(as_text=True)) for n in range(3)]
    auth.logout()
    auth.login_as("reseller")
    kept = _raw(_create(client, name="someone else's").get_data(as_text=True))
    auth.logout()
    admin = auth.login_as("admin")
    assert 'data-test="revoke-all"' not in client.get("/account/tokens/").get_data(as_text=True)  # no user chosen
    filtered = client.get(f"/account/tokens/?user={leaker.id}").get_data(as_text=True)
    assert f"Revoke all of {leaker.username}&#39;s tokens" in filtered
    response = client.post(f"/account/tokens/revoke-all?user={leaker.id}", data={"csrf_token": auth.token()})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"?user={leaker.id}")
    assert "3 tokens of" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert [api_tokens.authenticate(raw) for raw in raws] == [None, None, None]
        assert api_tokens.authenticate(kept) is not None
        entry = _db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.revoke_all"))
        assert (entry.actor_id, entry.target, entry.detail) == (admin.id, leaker.username, "3 tokens revoked")
    again = client.post(f"/account/tokens/revoke-all?user={leaker.id}", data={"csrf_token": auth.token()})
    assert "has no token left to revoke" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_a_user_revokes_all_their_own_tokens_but_nobody_elses(app, client, auth):
    from isp.services import api_tokens

    other = auth.login_as("operator")
    theirs = _raw(_create(client, name="theirs").get_data(as_text=True))
    auth.logout()
    auth.login_as("operator")
    mine = _raw(_create(client, name="mine").get_data(as_text=True))
    assert "Revoke all of your tokens" in client.get("/account/tokens/").get_data(as_text=True)
    # ?user= is an admin's filter: for anyone else it is ignored, so this revokes only the caller's own.
    client.post(f"/account/tokens/revoke-all?user={other.id}", data={"csrf_token": auth.token()})
    assert client.post("/account/tokens/revoke-all", data={}).status_code == 400  # no CSRF token
    with app.app_context():
        assert api_tokens.authenticate(mine) is None
        assert api_tokens.authenticate(theirs) is not None
