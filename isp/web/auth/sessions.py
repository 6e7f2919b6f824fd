"""The per-request session check, the half-login state and the one way a login completes.

A full login is: a fresh Flask session (cleared, so nothing from before the login survives), a new UserSession
row whose random id the session carries, and Flask-Login's user. Until the second factor passes, the session holds
only a signed, short-lived "pending" note (user id, session version, expiry); Flask-Login knows nothing of it.
"""
from __future__ import annotations

import time

from flask import Flask, Response, current_app, flash, g, request, session
from flask_login import login_user, logout_user
from itsdangerous import BadSignature, URLSafeSerializer

from isp.extensions import db
from isp.models import User
from isp.services import twofactor, user_sessions, users
from isp.transaction import atomic

PENDING = "_2fa_pending"
SID = "sid"
PENDING_SECONDS = 300  # password to second factor
ENROL_SECONDS = 900  # password to a finished forced enrolment (scanning takes longer)
DEVICE_COOKIE = "isp_device"


def client_ip() -> str:
    """The caller's address (ProxyFix, when enabled, has already resolved proxies)."""
    return request.remote_addr or "unknown"


def user_agent() -> str:
    """The caller's user agent, trimmed to what a row keeps."""
    return (request.headers.get("User-Agent") or "")[:255]


# -- half-login -----------------------------------------------------------------------------------------------------

def set_pending(user: User, next_url: str | None, enrol: bool) -> None:
    """Remember who passed the password, for a short while, in a fresh session."""
    session.clear()
    session[PENDING] = {"uid": user.id, "ver": user.session_version, "next": next_url or "",
                        "enrol": enrol, "exp": int(time.time()) + (ENROL_SECONDS if enrol else PENDING_SECONDS)}


def pending_user(enrol: bool) -> tuple[User | None, str]:
    """(the user half logged in for this step, the next URL); None when absent, expired or no longer valid."""
    note = session.get(PENDING)
    if not isinstance(note, dict) or bool(note.get("enrol")) != enrol or int(note.get("exp", 0)) < time.time():
        return None, ""
    user = db.session.get(User, int(note.get("uid", 0)))
    if user is None or not user.active or user.session_version != note.get("ver"):
        return None, ""
    return user, str(note.get("next") or "")


def clear_pending() -> None:
    """Drop the half-login note."""
    session.pop(PENDING, None)


# -- completing a login ---------------------------------------------------------------------------------------------

def complete_login(user: User, two_factor: bool, remember_days: int = 0) -> str | None:
    """Log the user in on a fresh session with a new server-side row; returns a device token when remembered."""
    ip, agent = client_ip(), user_agent()
    lifetime = int(current_app.config["PERMANENT_SESSION_LIFETIME"])

    def work() -> tuple[str, str | None]:
        users.note_login(user)
        _row, token = user_sessions.start(user, ip, agent, two_factor, lifetime)
        device = (twofactor.remember_device(user, ip, user_sessions.device_label(agent), remember_days)
                  if remember_days > 0 else None)
        return token, device

    session.clear()  # rotate: nothing of the pre-login session survives
    login_user(user)  # first: a login refused here (e.g. the IP allow-list) leaves no session row behind
    token, device = atomic(work)  # commits; re-run whole on a deadlock
    session[SID] = token
    return device


def rotate(user: User, two_factor: bool) -> None:
    """Replace the current session row and id (after a privilege change of one's own, e.g. 2FA turned on)."""
    row = user_sessions.lookup(session.get(SID))
    ip, agent = client_ip(), user_agent()
    lifetime = int(current_app.config["PERMANENT_SESSION_LIFETIME"])

    def work() -> str:
        if row is not None:
            user_sessions.end(row, "rotated")
        return user_sessions.start(user, ip, agent, two_factor, lifetime)[1]

    token = atomic(work)
    keep = {k: v for k, v in session.items() if k.startswith("_") and k != PENDING}  # Flask-Login's keys
    session.clear()
    session.update(keep)
    session[SID] = token


def current_session_id() -> int | None:
    """The id of this request's UserSession row (set by the check)."""
    return g.get("user_session_id")


# -- remembered device cookie ---------------------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="isp-trusted-device")


def set_device_cookie(response: Response, user: User, token: str, days: int) -> None:
    """A signed, HttpOnly, SameSite=Lax cookie naming the remembered device."""
    response.set_cookie(DEVICE_COOKIE, _serializer().dumps({"u": user.id, "t": token}), max_age=days * 86400,
                        httponly=True, samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                        path="/auth/")


def device_token_for(user: User) -> str | None:
    """The device token in this browser's cookie if it was issued to this user."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != user.id or not isinstance(data.get("t"), str):
        return None
    return data["t"]


# -- the check on every request -------------------------------------------------------------------------------------

def init_sessions(app: Flask) -> None:
    """Check every logged-in request's server-side session: ended, idle or past its lifetime means logged out."""

    @app.before_request
    def check_user_session():
        if request.endpoint in (None, "static") or "_user_id" not in session:
            return None
        user_id = str(session.get("_user_id", "")).partition(".")[0]
        row = user_sessions.lookup(session.get(SID))
        if row is None or str(row.user_id) != user_id:
            reason: str | None = "missing"
        elif row.ended_at is not None:
            reason = row.ended_reason or "logout"
        else:
            reason = user_sessions.lapse_reason(row, int(app.config["SESSION_IDLE_MINUTES"]))
            if reason is not None:
                user_sessions.end(row, reason)
                db.session.commit()
            elif user_sessions.touch(row):
                db.session.commit()
        if reason is None and row is not None:
            g.user_session_id = row.id
            return None
        logout_user()
        session.clear()
        message = user_sessions.REASONS.get(reason, "Please log in again.")
        flash(message, "info")
        return None  # the view's role check now sends the anonymous caller to the login page
