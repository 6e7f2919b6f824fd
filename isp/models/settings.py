"""Operator-wide settings: branding for printed vouchers and the expiry policy."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow

# Logos live in the database: web processes share no disk on a Heroku-style deployment.
LogoBlob = LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")


class Branding(db.Model):
    """The single settings row (id 1)."""

    __tablename__ = "branding"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_name: Mapped[str] = mapped_column(String(120), default="")
    currency: Mapped[str] = mapped_column(String(8), default="")
    logo: Mapped[bytes | None] = mapped_column(LogoBlob)
    logo_mime: Mapped[str] = mapped_column(String(32), default="")
    # What happens on the router when a voucher expires or is used up: "remove" or "disable".
    expiry_action: Mapped[str] = mapped_column(String(16), default="remove")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
