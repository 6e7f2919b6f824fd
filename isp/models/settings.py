"""Operator-wide settings: branding, the voucher expiry policy, billing numbering and suspension."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import LargeBinary, Numeric, String, Text
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
    # Router onboarding: the operator's WireGuard hub and what routers see over the tunnel (isp.services.wireguard).
    hub_endpoint: Mapped[str] = mapped_column(String(262), default="")  # host:port routers dial
    hub_public_key: Mapped[str] = mapped_column(String(64), default="")
    hub_tunnel_address: Mapped[str] = mapped_column(String(45), default="10.100.0.1")
    tunnel_range: Mapped[str] = mapped_column(String(49), default="10.100.0.0/16")
    # Addresses or CIDR blocks inside the range that are never handed out, comma-separated.
    tunnel_reserved: Mapped[str] = mapped_column(String(1000), default="")
    # The last tunnel address handed out: allocation goes on after it, so a freed address is not reused at once.
    tunnel_last_issued: Mapped[str] = mapped_column(String(45), default="")
    # The RADIUS server as routers see it (blank: the hub's tunnel address) and the panel's address as routers
    # see it (blank: the hub's tunnel address), which the setup script allows to reach the API.
    radius_server_address: Mapped[str] = mapped_column(String(45), default="")
    panel_address: Mapped[str] = mapped_column(String(45), default="")
    # Billing: numbering, grace, suspension and reminders.
    account_prefix: Mapped[str] = mapped_column(String(16), default="ISP-")
    account_digits: Mapped[int] = mapped_column(default=6)
    invoice_prefix: Mapped[str] = mapped_column(String(16), default="INV-")
    receipt_prefix: Mapped[str] = mapped_column(String(16), default="RCT-")
    default_grace_days: Mapped[int] = mapped_column(default=3)
    # "disable": secret/user disabled, static IP into isp-suspended, sessions kicked;
    # "restrict": moved to the isp-suspended profile / address list (redirect it to a payment notice).
    suspend_mode: Mapped[str] = mapped_column(String(16), default="disable")
    # Days before paid_until when a reminder goes out, comma-separated.
    reminder_days: Mapped[str] = mapped_column(String(32), default="3,1")
    # An agent's share of each payment they take, in percent.
    agent_commission_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0.00"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # radius-mode routers (isp.services.provisioning_radius): a suspended login is refused ("reject") or let into
    # the isp-suspended address list at a trickle ("walled-garden"); a plan edit reaches live sessions as a CoA
    # with the new rate ("coa") or by ending them ("disconnect").
    radius_suspend_action: Mapped[str] = mapped_column(String(16), default="reject")
    radius_plan_change_action: Mapped[str] = mapped_column(String(16), default="coa")
    # Security (isp.services.security_settings): who must use a second factor, how long a remembered device lasts,
    # and the staff IP allow-lists per role (CIDRs, comma- or newline-separated; blank allows every address).
    require_2fa_admin: Mapped[bool] = mapped_column(default=False)
    require_2fa_operator: Mapped[bool] = mapped_column(default=False)
    remember_device_days: Mapped[int] = mapped_column(default=30)
    allow_cidrs_admin: Mapped[str] = mapped_column(Text, default="")
    allow_cidrs_operator: Mapped[str] = mapped_column(Text, default="")
    allow_cidrs_reseller: Mapped[str] = mapped_column(Text, default="")
