"""Login security: TOTP recovery codes, remembered devices, server-side sessions, API tokens and idempotency keys.

Secrets are never stored in the clear: recovery codes, device and API tokens are kept as hashes (SHA-256 of a
high-entropy random value; a slow hash buys nothing there), the TOTP seed on `users.totp_secret` is Fernet-encrypted.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class RecoveryCode(db.Model):
    """One single-use second-factor code (ten per enrolment, shown once)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrustedDevice(db.Model):
    """A browser that may skip the second factor until expires_at (a signed cookie names token_hash's value)."""

    __tablename__ = "trusted_devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")  # user agent summary
    ip: Mapped[str] = mapped_column(String(45), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(db.Model):
    """One logged-in browser: listed to its user, ended by them or an admin, expired by idle or absolute timeout.

    The Flask session cookie carries `public_id`; a request whose row is ended or expired is logged out.
    """

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user_ended", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the cookie's random id
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # absolute lifetime
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    two_factor: Mapped[bool] = mapped_column(default=False)  # passed a second factor (or a trusted device)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # logout, ended-by-user, ended-by-admin, idle, expired, password
    ended_reason: Mapped[str] = mapped_column(String(32), default="")


class ApiToken(db.Model):
    """A personal API token: shown once, stored as SHA-256, with scopes, expiry, last use and revocation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, shown so the owner can tell tokens apart
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200), default="read")  # space-separated: read vouchers customers routers admin
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_ip: Mapped[str] = mapped_column(String(45), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def scope_set(self) -> frozenset[str]:
        """The token's scopes as a set."""
        return frozenset(self.scopes.split())


class IdempotencyKey(db.Model):
    """The stored answer to a POST made with an Idempotency-Key, replayed when the same key comes again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("token_id", "key", name="uq_idempotency_keys_token_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    # Compared byte for byte on every dialect: MariaDB's default collation would make 'k', 'K' and 'k ' one key.
    key: Mapped[str] = mapped_column(String(128).with_variant(mysql.VARCHAR(128, collation="utf8mb4_bin"), "mysql", "mariadb"))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path and body: a reuse with another body is refused
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(512), default="", server_default="")  # the answer's Location header
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
