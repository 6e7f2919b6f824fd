"""Server-side login sessions: one row per logged-in browser, listed to its user and ended by them or an admin.

The browser's signed Flask session holds a random id; the row keeps only its SHA-256 (`public_id`), so a copy of
the database opens no session. A request whose row is ended, idle too long or past its lifetime is logged out.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from isp.extensions import db
from isp.models import User
from isp.models.base import utcnow
from isp.models.security import UserSession
from isp.services import audit
from isp.services.errors import ServiceError

TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often per session
REASONS = {
    "logout": "You have been logged out.",
    "ended-by-user": "This session was ended from another session of your account. Please log in again.",
    "ended-by-admin": "An administrator ended your session. Please log in again.",
    "idle": "You were logged out after a period without activity. Please log in again.",
    "expired": "Your session reached its maximum length. Please log in again.",
    "password": "Your password was changed. Please log in again.",
    "role": "Your role was changed. Please log in again.",
    "disabled": "Your account was disabled.",
    "2fa-reset": "Your two-factor login was reset by an administrator. Please log in again.",
}


def hash_token(token: str) -> str:
    """The stored form of a session id."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start(user: User, ip: str, user_agent: str, two_factor: bool, lifetime_seconds: int) -> tuple[UserSession, str]:
    """A new session row for a login; returns it and the random id for the cookie (never stored in clear)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(public_id=hash_token(token), user_id=user.id, created_at=now, last_seen_at=now,
                      expires_at=now + timedelta(seconds=lifetime_seconds), ip=(ip or "")[:45],
                      user_agent=(user_agent or "")[:255], two_factor=two_factor, ended_reason="")
    db.session.add(row)
    db.session.flush()
    return row, token


def lookup(token: str | None) -> UserSession | None:
    """The row a cookie's session id names, ended or not."""
    if not token or not isinstance(token, str) or len(token) > 128:
        return None
    return db.session.scalar(select(UserSession).where(UserSession.public_id == hash_token(token)))


def lapse_reason(row: UserSession, idle_minutes: int, now: datetime | None = None) -> str | None:
    """'expired' past the absolute lifetime, 'idle' after idle_minutes without a request, else None."""
    now = now or utcnow()
    if now >= row.expires_at:
        return "expired"
    if now - row.last_seen_at > timedelta(minutes=idle_minutes):
        return "idle"
    return None


def touch(row: UserSession, now: datetime | None = None) -> bool:
    """Move last_seen_at on when it is a minute old or more (one conditional UPDATE); True if it wrote."""
    now = now or utcnow()
    if now - row.last_seen_at < TOUCH_EVERY:
        return False
    result = db.session.execute(
        update(UserSession).where(UserSession.id == row.id, UserSession.ended_at.is_(None),
                                  UserSession.last_seen_at < now - TOUCH_EVERY).values(last_seen_at=now),
        execution_options={"synchronize_session": False})
    row.last_seen_at = now
    return bool(result.rowcount)


def end(row: UserSession, reason: str) -> None:
    """End one session (no audit: the caller records why)."""
    if row.ended_at is None:
        row.ended_at = utcnow()
        row.ended_reason = reason[:32]
    db.session.flush()


def end_all(user_id: int, reason: str, except_id: int | None = None) -> int:
    """End every open session of an account (but except_id); returns how many ended."""
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    if except_id is not None:
        stmt = stmt.where(UserSession.id != except_id)
    result = db.session.execute(stmt.values(ended_at=utcnow(), ended_reason=reason[:32]),
                                execution_options={"synchronize_session": False})
    db.session.flush()
    return result.rowcount or 0


def active_for(user_id: int, now: datetime | None = None) -> list[UserSession]:
    """The account's open sessions still within their lifetime and not idle, most recently seen first."""
    from flask import current_app

    now = now or utcnow()
    idle = timedelta(minutes=int(current_app.config["SESSION_IDLE_MINUTES"]))
    return list(db.session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None),
                                  UserSession.expires_at > now, UserSession.last_seen_at > now - idle)
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc()).limit(100)))


def _own_open(user_id: int, session_id: int) -> UserSession:
    """The account's open session with this id, or a refusal."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != user_id or row.ended_at is not None:
        raise ServiceError("That session has already ended.")
    return row


def logout(user: User, session_id: int | None) -> None:
    """The user logs out: this session ends (the others stay; 'End all others' is on the Account page)."""
    row = db.session.get(UserSession, session_id) if session_id else None
    if row is not None and row.user_id == user.id:
        end(row, "logout")
    audit.record(user, "auth.logout", user.username, obj=user)


def end_by_user(actor: User, session_id: int) -> UserSession:
    """A user ends one of their own sessions (audited)."""
    row = _own_open(actor.id, session_id)
    end(row, "ended-by-user")
    audit.record(actor, "session.end", obj=row, detail=f"by the user; {device_label(row.user_agent)}, {row.ip}")
    return row


def end_others(actor: User, current_id: int | None) -> int:
    """A user ends all their sessions but this one (audited)."""
    count = end_all(actor.id, "ended-by-user", except_id=current_id)
    audit.record(actor, "session.end_others", obj=actor, detail=f"{count} other session(s) ended by the user")
    return count


def end_by_admin(actor: User, user: User, session_id: int | None) -> int:
    """An admin ends one session of an account, or all of them when session_id is None (audited)."""
    if session_id is None:
        count = end_all(user.id, "ended-by-admin")
        audit.record(actor, "session.end", obj=user, detail=f"all {count} session(s) of {user.username} ended by an admin")
        return count
    row = _own_open(user.id, session_id)
    end(row, "ended-by-admin")
    audit.record(actor, "session.end", obj=user,
                 detail=f"session #{row.id} of {user.username} ended by an admin ({device_label(row.user_agent)}, {row.ip})")
    return 1


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chromium/", "Chromium"),
             ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("curl/", "curl"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device_label(user_agent: str) -> str:
    """A short human name for a user agent, e.g. 'Firefox on Linux'."""
    ua = user_agent or ""
    browser = next((name for token, name in _BROWSERS if token in ua), "")
    system = next((name for token, name in _SYSTEMS if token in ua), "")
    if "HeadlessChrome" in ua:
        browser = "Headless Chrome"
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    cleaned = re.sub(r"\s+", " ", ua).strip()
    return cleaned[:40] or "Unknown device"


KEEP_ENDED = timedelta(days=30)  # ended sessions and dead devices stay listed/auditable this long
KEEP_IDEMPOTENCY = timedelta(hours=24)  # an API Idempotency-Key replays for a day (isp/api/idempotency.py RETENTION)


def purge(now: datetime | None = None) -> dict[str, int]:
    """Delete sessions ended or expired, and remembered devices revoked or expired, over KEEP_ENDED ago, and API
    idempotency keys older than KEEP_IDEMPOTENCY: set-based, one DELETE per table."""
    from sqlalchemy import delete, or_

    from isp.models.security import IdempotencyKey, TrustedDevice

    now = now or utcnow()
    cut = now - KEEP_ENDED
    sessions = db.session.execute(delete(UserSession).where(
        or_(UserSession.ended_at < cut, UserSession.expires_at < cut))).rowcount
    devices = db.session.execute(delete(TrustedDevice).where(
        or_(TrustedDevice.revoked_at < cut, TrustedDevice.expires_at < cut))).rowcount
    keys = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP_IDEMPOTENCY)).rowcount
    return {"sessions": sessions or 0, "devices": devices or 0, "idempotency_keys": keys or 0}
