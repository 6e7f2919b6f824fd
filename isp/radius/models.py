"""The stock FreeRADIUS 3.2 SQL schema (`mods-config/sql/main/mysql/schema.sql`) as models on the `radius` bind.

Columns, types, defaults and index names follow the stock MySQL schema (and, on SQLite, the stock SQLite schema's
index names, which must be unique per file), so an operator may point `RADIUS_DATABASE_URL` at an existing
FreeRADIUS database and `flask radius check-schema` reports any difference. The key on a check/reply name covers
its first 32 characters on MySQL, as upstream does. Every table sits in the placeholder schema `RADIUS_SCHEMA`,
which the engines translate to the real place (see `isp/radius/binds.py`).

Times in `radacct` and `radpostauth` are what FreeRADIUS wrote: naive datetimes in the RADIUS database's
session time zone (see `isp/radius/__init__.py`), not our UTC columns.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CHAR, BigInteger, DateTime, Index, Integer, String, text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from isp.extensions import db
from isp.radius.binds import RADIUS_SCHEMA

BIND = "radius"
MYSQL = ("mysql", "mariadb")
SCHEMA = {"schema": RADIUS_SCHEMA, "sqlite_autoincrement": True}


def mysql_index(name: str, *columns: str, **kw: object) -> Index:
    """An index as upstream's MySQL schema names it (created only on MySQL/MariaDB)."""
    return Index(name, *columns, info={"dialects": MYSQL}, **kw).ddl_if(dialect=MYSQL)


def sqlite_index(name: str, *columns: str, **kw: object) -> Index:
    """An index as upstream's SQLite schema names it (index names are per database there, so they differ)."""
    return Index(name, *columns, info={"dialects": ("sqlite",)}, **kw).ddl_if(dialect="sqlite")


def both_index(name: str, *columns: str, **kw: object) -> Index:
    """An index both upstream schemas name alike."""
    return Index(name, *columns, info={"dialects": (*MYSQL, "sqlite")}, **kw)


# MySQL integer widths as upstream declares them; plain INTEGER elsewhere (SQLite needs INTEGER for autoincrement).
UINT11 = Integer().with_variant(mysql.INTEGER(11, unsigned=True), "mysql", "mariadb")
INT11 = Integer().with_variant(mysql.INTEGER(11), "mysql", "mariadb")
INT10 = Integer().with_variant(mysql.INTEGER(10), "mysql", "mariadb")
INT12 = Integer().with_variant(mysql.INTEGER(12), "mysql", "mariadb")
UINT12 = Integer().with_variant(mysql.INTEGER(12, unsigned=True), "mysql", "mariadb")
INT5 = Integer().with_variant(mysql.INTEGER(5), "mysql", "mariadb")
BIGINT21 = BigInteger().with_variant(mysql.BIGINT(21), "mysql", "mariadb").with_variant(Integer(), "sqlite")
BIGINT20 = BigInteger().with_variant(mysql.BIGINT(20), "mysql", "mariadb")
CHAR2 = CHAR(2)
TIMESTAMP6 = DateTime().with_variant(mysql.TIMESTAMP(fsp=6), "mysql", "mariadb")


def _text(length: int) -> Mapped[str]:
    """A NOT NULL string column that defaults to '' (the stock schema's usual column)."""
    return mapped_column(String(length), nullable=False, default="", server_default=text("''"))


def _op(default: str) -> Mapped[str]:
    """The operator column: `==` by default in check tables, `=` in reply tables, as upstream."""
    return mapped_column(CHAR2, nullable=False, default=default, server_default=text(f"'{default}'"))


class _Attributes:
    """What the four attribute tables share besides their name column (username or groupname) and `op`."""

    __bind_key__ = BIND
    id: Mapped[int] = mapped_column(UINT11, primary_key=True, autoincrement=True)
    attribute: Mapped[str] = _text(64)
    value: Mapped[str] = _text(253)


class RadCheck(_Attributes, db.Model):
    """Per-user check items: `Cleartext-Password`, `Expiration`, `Simultaneous-Use`, `Calling-Station-Id`…"""

    __tablename__ = "radcheck"
    __table_args__ = (
        mysql_index("username", "username", mysql_length={"username": 32}),
        sqlite_index("check_username", "username"),
        SCHEMA,
    )
    username: Mapped[str] = _text(64)
    op: Mapped[str] = _op("==")


class RadReply(_Attributes, db.Model):
    """Per-user reply items: `Framed-IP-Address` for a static address…"""

    __tablename__ = "radreply"
    __table_args__ = (
        mysql_index("username", "username", mysql_length={"username": 32}),
        sqlite_index("reply_username", "username"),
        SCHEMA,
    )
    username: Mapped[str] = _text(64)
    op: Mapped[str] = _op("=")


class RadGroupCheck(_Attributes, db.Model):
    """Per-group check items: a plan's `Simultaneous-Use`, the suspended group's `Auth-Type := Reject`."""

    __tablename__ = "radgroupcheck"
    __table_args__ = (
        mysql_index("groupname", "groupname", mysql_length={"groupname": 32}),
        sqlite_index("check_groupname", "groupname"),
        SCHEMA,
    )
    groupname: Mapped[str] = _text(64)
    op: Mapped[str] = _op("==")


class RadGroupReply(_Attributes, db.Model):
    """Per-group reply items: a plan's `Mikrotik-Rate-Limit`, `Acct-Interim-Interval`, `Framed-Pool`…"""

    __tablename__ = "radgroupreply"
    __table_args__ = (
        mysql_index("groupname", "groupname", mysql_length={"groupname": 32}),
        sqlite_index("reply_groupname", "groupname"),
        SCHEMA,
    )
    groupname: Mapped[str] = _text(64)
    op: Mapped[str] = _op("=")


class RadUserGroup(db.Model):
    """A user's groups, lowest priority number first."""

    __bind_key__ = BIND
    __tablename__ = "radusergroup"
    __table_args__ = (
        mysql_index("username", "username", mysql_length={"username": 32}),
        sqlite_index("usergroup_username", "username"),
        SCHEMA,
    )
    id: Mapped[int] = mapped_column(UINT11, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, default="", server_default=text("''"))
    groupname: Mapped[str] = mapped_column(String(64), nullable=False, default="", server_default=text("''"))
    priority: Mapped[int] = mapped_column(INT11, nullable=False, default=1, server_default=text("'1'"))


class RadAcct(db.Model):
    """One accounting session, written by FreeRADIUS from the routers' Start / Interim-Update / Stop."""

    __bind_key__ = BIND
    __tablename__ = "radacct"
    __table_args__ = (
        both_index("acctuniqueid", "acctuniqueid", unique=True),
        both_index("username", "username"),
        both_index("framedipaddress", "framedipaddress"),
        both_index("framedipv6address", "framedipv6address"),
        both_index("framedipv6prefix", "framedipv6prefix"),
        both_index("framedinterfaceid", "framedinterfaceid"),
        both_index("delegatedipv6prefix", "delegatedipv6prefix"),
        both_index("acctsessionid", "acctsessionid"),
        both_index("acctsessiontime", "acctsessiontime"),
        both_index("acctstarttime", "acctstarttime"),
        both_index("acctinterval", "acctinterval"),
        both_index("acctstoptime", "acctstoptime"),
        both_index("nasipaddress", "nasipaddress"),
        both_index("class", "class"),
        SCHEMA,
    )
    radacctid: Mapped[int] = mapped_column(BIGINT21, primary_key=True, autoincrement=True)
    acctsessionid: Mapped[str] = mapped_column(String(64), nullable=False, default="", server_default=text("''"))
    acctuniqueid: Mapped[str] = mapped_column(String(32), nullable=False, default="", server_default=text("''"))
    username: Mapped[str] = mapped_column(String(64), nullable=False, default="", server_default=text("''"))
    realm: Mapped[str | None] = mapped_column(String(64), default="", server_default=text("''"))
    nasipaddress: Mapped[str] = mapped_column(String(15), nullable=False, default="", server_default=text("''"))
    nasportid: Mapped[str | None] = mapped_column(String(32))
    nasporttype: Mapped[str | None] = mapped_column(String(32))
    acctstarttime: Mapped[datetime | None] = mapped_column(DateTime)
    acctupdatetime: Mapped[datetime | None] = mapped_column(DateTime)
    acctstoptime: Mapped[datetime | None] = mapped_column(DateTime)
    acctinterval: Mapped[int | None] = mapped_column(INT12)
    acctsessiontime: Mapped[int | None] = mapped_column(UINT12)
    acctauthentic: Mapped[str | None] = mapped_column(String(32))
    connectinfo_start: Mapped[str | None] = mapped_column(String(128))
    connectinfo_stop: Mapped[str | None] = mapped_column(String(128))
    acctinputoctets: Mapped[int | None] = mapped_column(BIGINT20)
    acctoutputoctets: Mapped[int | None] = mapped_column(BIGINT20)
    calledstationid: Mapped[str] = mapped_column(String(50), nullable=False, default="", server_default=text("''"))
    callingstationid: Mapped[str] = mapped_column(String(50), nullable=False, default="", server_default=text("''"))
    acctterminatecause: Mapped[str] = mapped_column(String(32), nullable=False, default="", server_default=text("''"))
    servicetype: Mapped[str | None] = mapped_column(String(32))
    framedprotocol: Mapped[str | None] = mapped_column(String(32))
    framedipaddress: Mapped[str] = mapped_column(String(15), nullable=False, default="", server_default=text("''"))
    framedipv6address: Mapped[str] = mapped_column(String(45), nullable=False, default="", server_default=text("''"))
    framedipv6prefix: Mapped[str] = mapped_column(String(45), nullable=False, default="", server_default=text("''"))
    framedinterfaceid: Mapped[str] = mapped_column(String(44), nullable=False, default="", server_default=text("''"))
    delegatedipv6prefix: Mapped[str] = mapped_column(String(45), nullable=False, default="", server_default=text("''"))
    class_: Mapped[str | None] = mapped_column("class", String(64))


class RadPostAuth(db.Model):
    """One authentication result (`Access-Accept` / `Access-Reject`), written by FreeRADIUS's post-auth."""

    __bind_key__ = BIND
    __tablename__ = "radpostauth"
    __table_args__ = (
        mysql_index("username", "username"), mysql_index("class", "class"),
        sqlite_index("radpostauth_username", "username"), sqlite_index("radpostauth_class", "class"), SCHEMA,
    )
    id: Mapped[int] = mapped_column(INT11, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, default="", server_default=text("''"))
    pass_: Mapped[str] = mapped_column("pass", String(64), nullable=False, default="", server_default=text("''"))
    reply: Mapped[str] = mapped_column(String(32), nullable=False, default="", server_default=text("''"))
    authdate: Mapped[datetime] = mapped_column(TIMESTAMP6, nullable=False, server_default=text("CURRENT_TIMESTAMP"))
    class_: Mapped[str | None] = mapped_column("class", String(64))


class Nas(db.Model):
    """A RADIUS client (one per radius-mode router): its tunnel address and shared secret."""

    __bind_key__ = BIND
    __tablename__ = "nas"
    __table_args__ = (both_index("nasname", "nasname"), SCHEMA)
    id: Mapped[int] = mapped_column(INT10, primary_key=True, autoincrement=True)
    nasname: Mapped[str] = mapped_column(String(128), nullable=False)
    shortname: Mapped[str | None] = mapped_column(String(32))
    type: Mapped[str | None] = mapped_column(String(30), default="other", server_default=text("'other'"))
    ports: Mapped[int | None] = mapped_column(INT5)
    secret: Mapped[str] = mapped_column(String(60), nullable=False, default="secret", server_default=text("'secret'"))
    server: Mapped[str | None] = mapped_column(String(64))
    community: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(String(200), default="RADIUS Client",
                                                    server_default=text("'RADIUS Client'"))


class NasReload(db.Model):
    """When a NAS last rebooted (Accounting-On/Off): sessions open before it are over."""

    __bind_key__ = BIND
    __tablename__ = "nasreload"
    __table_args__ = SCHEMA
    nasipaddress: Mapped[str] = mapped_column(String(15), primary_key=True)
    reloadtime: Mapped[datetime] = mapped_column(DateTime, nullable=False)
