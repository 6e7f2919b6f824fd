"""Account management: create, change role, disable, reset password."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from isp.extensions import db
from isp.models import Role, User
from isp.models.base import utcnow
from isp.services import audit
from isp.services.errors import ServiceError

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10


def normalise_username(username: str) -> str:
    """Lower-case and validate a username."""
    name = (username or "").strip().lower()
    if not USERNAME_RE.match(name):
        raise ServiceError(
            "Username must be 3-64 characters: letters, digits, dot, dash or underscore, starting with a letter or digit.",
            field="username",
        )
    return name


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short."""
    if len(password or "") < MIN_PASSWORD:
        raise ServiceError(f"Password must be at least {MIN_PASSWORD} characters.", field="password")


def find_by_username(username: str) -> User | None:
    """The account with this username, if any."""
    return db.session.scalar(select(User).where(User.username == (username or "").strip().lower()))


def create_user(username: str, password: str, role: Role, full_name: str = "", actor: User | None = None) -> User:
    """Create an account; refuses duplicates and weak passwords."""
    name = normalise_username(username)
    check_password_strength(password)
    if find_by_username(name):
        raise ServiceError(f"The username '{name}' is already taken.", field="username")
    user = User(username=name, full_name=(full_name or "").strip()[:120], role=role, active=True)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record(actor, "user.create", name, f"role={role.value}")
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
    audit.record(actor, "user.role", user.username, f"{old.value}->{role.value}")
    db.session.flush()


def set_active(user: User, active: bool, actor: User | None = None) -> None:
    """Enable or disable the account; disabling ends its sessions."""
    if user.active == active:
        return
    if not active:
        _guard_last_admin(user)
        user.session_version += 1
    user.active = active
    audit.record(actor, "user.enable" if active else "user.disable", user.username)
    db.session.flush()


def reset_password(user: User, password: str, actor: User | None = None) -> None:
    """Set a new password and end the account's other sessions."""
    check_password_strength(password)
    user.set_password(password)
    user.session_version += 1
    audit.record(actor, "user.password", user.username)
    db.session.flush()


def update_profile(user: User, full_name: str, actor: User | None = None) -> None:
    """Change the display name."""
    user.full_name = (full_name or "").strip()[:120]
    db.session.flush()


def note_login(user: User) -> None:
    """Stamp a successful login."""
    user.last_login_at = utcnow()
    audit.record(user, "auth.login", user.username)
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
