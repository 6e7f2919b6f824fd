"""Staff and reseller accounts."""
from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class Role(enum.Enum):
    """What an account may do."""

    admin = "admin"
    operator = "operator"
    reseller = "reseller"

    @property
    def label(self) -> str:
        """Human name of the role."""
        return self.value.capitalize()


class User(UserMixin, db.Model):
    """A person who logs in: admin, operator or reseller."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16, validate_strings=True), index=True)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    # Bumped on password reset or disable so every existing session dies.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A reseller allowed to sign up customers and take their payments (their own customers only).
    can_sell_services: Mapped[bool] = mapped_column(default=False)
    # Two-factor login (isp.services.twofactor): the TOTP seed, Fernet-encrypted; enabled once a code was confirmed.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The 30-second step of the last TOTP code accepted: a code is good once (a replayed one is refused).
    totp_last_step: Mapped[int | None] = mapped_column()

    @property
    def has_two_factor(self) -> bool:
        """True once the user has confirmed a TOTP enrolment."""
        return self.totp_enabled_at is not None

    def set_password(self, password: str) -> None:
        """Hash and store a new password (scrypt)."""
        from flask import current_app

        # Tests lower the scrypt cost through config; production keeps werkzeug's default.
        self.password_hash = generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))

    def check_password(self, password: str) -> bool:
        """True if the password matches."""
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        """Session identity: id plus version, so a reset logs out old sessions."""
        return f"{self.id}.{self.session_version}"

    def has_role(self, *roles: str) -> bool:
        """True if the account has one of the roles."""
        return self.role.value in roles

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role.value}>"
