"""Account management: create, change role, disable, reset password."""
from __future__ import annotations

import functools
import os
import re

from flask import current_app
from sqlalchemy import func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from isp.extensions import db
from isp.models import Role, User
from isp.models.base import utcnow
from isp.services import audit, user_sessions
from isp.services.errors import ServiceError

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}\Z")
MIN_PASSWORD = 10
MAX_PASSWORD = 128
COMMON_PASSWORDS = os.path.join(os.path.dirname(__file__), "common-passwords.txt")


def normalise_username(username: str) -> str:
    """Lower-case and validate a username."""
    name = (username or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise ServiceError(
            "Username must be 3-64 characters: letters, digits, dot, dash or underscore, starting with a letter or digit.",
            field="username",
        )
    return name


@functools.cache
def _common_passwords() -> frozenset[str]:
    """The vendored list of common passwords, lower-cased."""
    with open(COMMON_PASSWORDS, encoding="utf-8") as fh:
        return frozenset(line.strip().lower() for line in fh if line.strip() and not line.startswith("#"))


def check_password_strength(password: str, username: str = "") -> None:
    """The one password policy (web and CLI): 10-128 characters, not the username, not a common password."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        raise ServiceError(f"Password must be at least {MIN_PASSWORD} characters.", field="password")
    if len(password) > MAX_PASSWORD:
        raise ServiceError(f"Password must be at most {MAX_PASSWORD} characters.", field="password")
    if username and password.strip().lower() == username.strip().lower():
        raise ServiceError("Password must not be the username.", field="password")
    if password.lower() in _common_passwords():
        raise ServiceError("This password is one of the most common ones; choose another.", field="password")


def find_by_username(username: str) -> User | None:
    """The account with this username, if any."""
    return db.session.scalar(select(User).where(User.username == (username or "").strip().lower()))


def create_user(username: str, password: str, role: Role, full_name: str = "", actor: User | None = None) -> User:
    """Create an account; refuses duplicates and weak passwords."""
    name = normalise_username(username)
    check_password_strength(password, name)
    if find_by_username(name):
        raise ServiceError(f"The username '{name}' is already taken.", field="username")
    user = User(username=name, full_name=(full_name or "").strip()[:120], role=role, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", name, f"role={role.value}", obj=user,
                 changes=audit.diff({}, audit.state(user)))
    return user


def _active_admins() -> int:
    """How many enabled admins exist."""
    return db.session.scalar(select(func.count()).where(User.role == Role.admin, User.active.is_(True))) or 0


def _guard_last_admin(user: User) -> None:
    """Refuse to remove the last enabled admin."""
    if user.role == Role.admin and user.active and _active_admins() <= 1:
        raise ServiceError("At least one active admin must remain.")


def change_role(user: User, role: Role, actor: User | None = None) -> None:
    """Give the account another role."""
    if user.role == role:
        return
    if role != Role.admin:
        _guard_last_admin(user)
    old = user.role
    user.role = role
    user.session_version += 1  # permissions changed: make the user log in again
    user_sessions.end_all(user.id, "role")
    audit.record(actor, "user.role", user.username, f"{old.value}->{role.value}", obj=user,
                 changes={"role": [old.value, role.value]})
    db.session.flush()


def set_active(user: User, active: bool, actor: User | None = None) -> None:
    """Enable or disable the account; disabling ends its sessions."""
    if user.active == active:
        return
    if not active:
        _guard_last_admin(user)
        user.session_version += 1
        user_sessions.end_all(user.id, "disabled")
    user.active = active
    audit.record(actor, "user.enable" if active else "user.disable", user.username, obj=user,
                 changes={"active": [not active, active]})
    db.session.flush()


def reset_password(user: User, password: str, actor: User | None = None) -> None:
    """Set a new password, end the account's sessions and forget its remembered devices."""
    from isp.services import twofactor

    check_password_strength(password, user.username)
    user.set_password(password)
    user.session_version += 1
    ended = user_sessions.end_all(user.id, "password")
    devices = twofactor.revoke_all_devices(user.id)
    audit.record(actor, "user.password", user.username, f"{ended} session(s) ended, {devices} remembered device(s) revoked",
                 obj=user, changes={"password": [audit.MASK, audit.MASK]})
    db.session.flush()


@functools.cache
def _dummy_hash(method: str) -> str:
    """A hash of the configured method, verified for unknown users so they cost the same time."""
    return generate_password_hash(os.urandom(16).hex(), method=method)


def authenticate(username: str, password: str) -> User | None:
    """The active account these credentials open, or None; the same hashing work whether or not it exists."""
    user = find_by_username(username)
    stored = user.password_hash if user else _dummy_hash(current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))
    if check_password_hash(stored, password or "") and user is not None and user.active:
        return user
    return None


def note_login(user: User) -> None:
    """Stamp a successful login: one plain UPDATE by id, taking the row lock before the audit row's FK check."""
    # No locking read and no ORM dirty-check: concurrent logins of one account only queue on this
    # row briefly instead of each holding a shared FK lock and then asking for an exclusive one (1213).
    now = utcnow()
    db.session.execute(update(User).where(User.id == user.id).values(last_login_at=now),
                       execution_options={"synchronize_session": False})
    audit.record(user, "auth.login", user.username, obj=user)
    db.session.flush()


def note_failed_login(username: str, user: User | None, step: str) -> None:
    """Audit a refused login (the typed username, never the password or code); step: password or second factor."""
    audit.record(None, "auth.login_failed", (username or "").strip().lower()[:64], f"wrong {step}", obj=user)
    db.session.flush()


def list_query(q: str = "", role: str = ""):
    """Select accounts filtered by a search term and a role, newest first."""
    stmt = select(User).order_by(User.username)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where((User.username.like(like)) | (func.lower(User.full_name).like(like)))
    if role in Role.__members__:
        stmt = stmt.where(User.role == Role[role])
    return stmt
