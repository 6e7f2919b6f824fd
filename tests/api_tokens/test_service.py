"""The token service: shown once, hashed at rest, scopes bounded by role, expiry, use, revocation, audit."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from isp.models import AuditEntry, Role, User
from isp.models.base import utcnow
from isp.models.security import ApiToken
from isp.services import api_tokens
from isp.services.api_tokens import TokenError


@pytest.fixture
def users(db, make_user):
    """One user per role, loaded in the test's session."""
    def load(role):
        return db.session.get(User, make_user(role).id)
    return {r: load(r) for r in ("admin", "operator", "reseller")}


def test_create_stores_the_hash_and_returns_the_raw_token_once(db, users):
    token, raw = api_tokens.create(users["admin"], "billing export", {"read", "vouchers"}, None)
    db.session.commit()
    assert raw.startswith("isp_") and len(raw) >= 40
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert token.prefix == raw[:12]
    stored = db.session.execute(select(ApiToken.__table__)).mappings().one()
    assert raw not in [str(v) for v in stored.values()]  # the raw value is nowhere in the row
    assert token.scopes == "read vouchers"


def test_audited_without_the_token_value(db, users):
    token, raw = api_tokens.create(users["operator"], "n8n", {"read"}, None)
    api_tokens.revoke(users["operator"], token)
    db.session.commit()
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("api_token.%"))
                                 .order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["api_token.create", "api_token.revoke"]
    assert entries[0].target_type == "api_tokens" and entries[0].target_id == token.id
    assert "n8n" in entries[0].target and '"scopes"' in entries[0].changes
    for e in entries:
        for value in (e.target, e.detail, e.changes):
            assert raw not in value and raw[4:20] not in value and token.token_hash not in value


def test_authenticate_takes_only_live_tokens(db, users):
    token, raw = api_tokens.create(users["operator"], "sync", {"read"}, utcnow() + timedelta(days=1))
    db.session.commit()
    assert api_tokens.authenticate(raw).id == token.id
    assert api_tokens.authenticate(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert api_tokens.authenticate("") is None and api_tokens.authenticate("Bearer " + raw) is None
    assert api_tokens.authenticate("isp_" + "x" * 500) is None
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert api_tokens.authenticate(raw) is None
    assert api_tokens.state(token) == "expired"


def test_a_disabled_owner_or_a_narrowed_role_stops_the_token(db, users):
    op = users["operator"]
    token, raw = api_tokens.create(op, "routers", {"read", "routers"}, None)
    db.session.commit()
    op.role = Role.reseller  # routers is beyond a reseller
    db.session.commit()
    assert api_tokens.authenticate(raw) is None
    assert api_tokens.state(token, op) == "exceeds role"
    op.role = Role.operator
    op.active = False
    db.session.commit()
    assert api_tokens.authenticate(raw) is None
    op.active = True
    db.session.commit()
    assert api_tokens.authenticate(raw).id == token.id


@pytest.mark.parametrize(("role", "scope"), [("operator", "admin"), ("reseller", "routers"), ("reseller", "admin")])
def test_scopes_are_limited_by_role(db, users, role, scope):
    with pytest.raises(TokenError, match=f"Your role \\({role}\\) cannot grant {scope}"):
        api_tokens.create(users[role], "too much", {"read", scope}, None)
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_allowed_scopes_per_role(users):
    assert api_tokens.allowed_scopes(users["admin"]) == set(api_tokens.SCOPES)
    assert api_tokens.allowed_scopes(users["operator"]) == {"read", "vouchers", "customers", "routers"}
    assert api_tokens.allowed_scopes(users["reseller"]) == {"read", "vouchers", "customers"}


@pytest.mark.parametrize(("name", "scopes", "days", "message"), [
    ("", {"read"}, None, "Name the token"),
    ("x" * 81, {"read"}, None, "Name the token"),
    ("ok", set(), None, "at least one scope"),
    ("ok", {"read", "write"}, None, "Unknown scope 'write'"),
    ("ok", {"read"}, -1, "in the future"),
    ("ok", {"read"}, 731, "at most 2 years"),
])
def test_bad_input_is_refused_with_a_clear_message(db, users, name, scopes, days, message):
    expires = None if days is None else utcnow() + timedelta(days=days)
    with pytest.raises(ValueError, match=message):
        api_tokens.create(users["admin"], name, scopes, expires)
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_two_years_is_allowed(db, users):
    token, _ = api_tokens.create(users["admin"], "long", {"read"}, utcnow() + timedelta(days=729))
    assert token.expires_at is not None


def test_touch_writes_at_most_once_a_minute(db, users):
    token, raw = api_tokens.create(users["admin"], "poller", {"read"}, None)
    db.session.commit()
    statements = []

    from sqlalchemy import event
    engine = db.engine

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        t = api_tokens.authenticate(raw)
        api_tokens.touch(t, "10.0.0.7")
        db.session.commit()
        for _ in range(3):  # the next requests within the minute
            db.session.expire_all()
            t = api_tokens.authenticate(raw)
            api_tokens.touch(t, "10.0.0.8")
            db.session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    db.session.expire_all()
    t = db.session.get(ApiToken, token.id)
    assert t.last_used_ip == "10.0.0.7" and t.last_used_at is not None
    t.last_used_at = utcnow() - timedelta(minutes=2)
    db.session.commit()
    api_tokens.touch(t, "10.0.0.9")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).last_used_ip == "10.0.0.9"


def test_revoke_by_owner_and_admin_but_not_another_user(db, users, make_user):
    op = users["operator"]
    other = db.session.get(User, make_user("operator").id)
    mine, raw = api_tokens.create(op, "mine", {"read"}, None)
    second, raw2 = api_tokens.create(op, "second", {"read"}, None)
    db.session.commit()
    with pytest.raises(TokenError, match="No such token"):
        api_tokens.revoke(other, mine)
    assert api_tokens.visible(other, mine.id) is None
    api_tokens.revoke(op, mine)
    api_tokens.revoke(users["admin"], second)
    db.session.commit()
    assert api_tokens.authenticate(raw) is None and api_tokens.authenticate(raw2) is None
    with pytest.raises(TokenError, match="already revoked"):
        api_tokens.revoke(op, mine)
    assert [t.name for t in api_tokens.for_user(op)] == ["second", "mine"]
    assert api_tokens.for_user(other) == []
