"""Routers of the fleet and their command outbox."""
from __future__ import annotations

import enum
import json
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from isp.crypto import endpoint_binding
from isp.extensions import db
from isp.models.base import UTCDateTime, utcnow


class RouterMode(enum.Enum):
    """Where users live: on the router (api) or in FreeRADIUS (radius)."""

    api = "api"
    radius = "radius"


class Router(db.Model):
    """A MikroTik router reached through the worker pool."""

    __tablename__ = "routers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # Management addresses tried in order (tunnel, LAN, public…), newline-separated.
    addresses_text: Mapped[str] = mapped_column("addresses", Text)
    api_port: Mapped[int] = mapped_column(default=8728)
    # Where the router takes Disconnect and CoA requests (`/radius incoming`, RFC 5176): 3799 on RouterOS.
    radius_incoming_port: Mapped[int] = mapped_column(default=3799)
    use_tls: Mapped[bool] = mapped_column(default=False)
    verify_tls: Mapped[bool] = mapped_column(default=False)
    username: Mapped[str] = mapped_column(String(64))
    password_encrypted: Mapped[str] = mapped_column(Text)
    mode: Mapped[RouterMode] = mapped_column(Enum(RouterMode, native_enum=False, length=16), default=RouterMode.api, index=True)
    site: Mapped[str] = mapped_column(String(120), default="", index=True)
    # The upstream router this one depends on: while the parent is down, this router's alerts are suppressed.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("routers.id", ondelete="SET NULL"))
    notes: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True, index=True)
    max_sessions: Mapped[int] = mapped_column(default=20)
    # The hotspot's DNS name (e.g. wifi.example.net): printed QR codes log in at http://<it>/login.
    hotspot_dns: Mapped[str] = mapped_column(String(255), default="")
    # Onboarding (isp.services.onboarding): the WireGuard tunnel address (unique: the constraint is what keeps two
    # concurrent onboardings apart), the router's WireGuard key pair (private half Fernet-encrypted) and the RADIUS
    # secret (encrypted). NULL/blank until onboarded; kept while disabled, freed only when the row is deleted.
    tunnel_address: Mapped[str | None] = mapped_column(String(45), unique=True)
    wg_private_key_encrypted: Mapped[str] = mapped_column(Text, default="")
    wg_public_key: Mapped[str] = mapped_column(String(64), default="")
    radius_secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    # True when the panel generated the API user and password (the setup script creates that user).
    api_user_generated: Mapped[bool] = mapped_column(default=False)
    # Facts learnt from the router by workers.
    identity: Mapped[str] = mapped_column(String(120), default="")
    version: Mapped[str] = mapped_column(String(64), default="")
    board: Mapped[str] = mapped_column(String(120), default="")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    commands: Mapped[list[RouterCommand]] = relationship(back_populates="router", passive_deletes=True, lazy="noload")

    @property
    def addresses(self) -> list[str]:
        """Management addresses, in failover order."""
        return [a.strip() for a in self.addresses_text.splitlines() if a.strip()]

    @property
    def endpoint(self) -> dict:
        """Where this router's password may be sent: addresses, port, username and TLS (see isp.crypto)."""
        return endpoint_binding(self.addresses, self.api_port, self.username, self.use_tls, self.verify_tls)

    @addresses.setter
    def addresses(self, values: list[str]) -> None:
        self.addresses_text = "\n".join(v.strip() for v in values if v.strip())

    @property
    def onboarded(self) -> bool:
        """True once a tunnel address, key pair and RADIUS secret are allocated."""
        return bool(self.tunnel_address)

    def __repr__(self) -> str:
        return f"<Router {self.name}>"


class Priority(enum.Enum):
    """RQ queue names, most urgent first."""

    critical = "critical"
    high = "high"
    normal = "normal"
    low = "low"
    bulk = "bulk"


class CommandState(enum.Enum):
    """Lifecycle of an outbox row."""

    pending = "pending"      # waiting to run (first time or after a retryable failure)
    running = "running"      # claimed by a worker
    done = "done"
    failed = "failed"        # last attempt failed; a retry is scheduled
    dead = "dead"            # out of attempts; waits for an operator (retry or discard)
    discarded = "discarded"  # an operator gave up on it

    @classmethod
    def unfinished(cls) -> tuple[CommandState, ...]:
        """States that still owe work to the router."""
        return (cls.pending, cls.running, cls.failed)


class RouterCommand(db.Model):
    """One idempotent router operation, written in the same transaction as the business change."""

    __tablename__ = "router_commands"
    __table_args__ = (
        Index("ix_router_commands_router_state", "router_id", "state"),
        Index("ix_router_commands_state_next", "state", "next_attempt_at"),
        # A router's recent commands and the dead-letter list page newest first straight off these.
        Index("ix_router_commands_router_id_id", "router_id", "id"),
        Index("ix_router_commands_state_id", "state", "id"),
        # A batch's push progress counts its rows by state off this index alone.
        Index("ix_router_commands_group_state", "group_key", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    router_id: Mapped[int] = mapped_column(ForeignKey("routers.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(191), index=True)
    # Equals "<router>:<key>" while unfinished, NULL afterwards: the unique index collapses duplicates.
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload_json: Mapped[str] = mapped_column("payload", Text, default="{}")
    priority: Mapped[Priority] = mapped_column(Enum(Priority, native_enum=False, length=16), default=Priority.normal)
    state: Mapped[CommandState] = mapped_column(Enum(CommandState, native_enum=False, length=16), default=CommandState.pending)
    group_key: Mapped[str | None] = mapped_column(String(64))
    # The RQ job expected to run this row; the sweep re-enqueues if Redis lost it.
    job_id: Mapped[str | None] = mapped_column(String(64))
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    result_json: Mapped[str] = mapped_column("result", Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    router: Mapped[Router] = relationship(back_populates="commands", lazy="joined")

    @property
    def payload(self) -> dict:
        """The operation's arguments."""
        return json.loads(self.payload_json or "{}")

    @payload.setter
    def payload(self, value: dict) -> None:
        self.payload_json = json.dumps(value, sort_keys=True, default=str)

    @property
    def result(self) -> dict | None:
        """What the router answered, for operations that read."""
        return json.loads(self.result_json) if self.result_json else None
