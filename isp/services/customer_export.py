"""Customers and their services as CSV in the import's own columns (an export imports back), streamed."""
from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import Select, and_, select

from isp import crypto
from isp.extensions import db
from isp.models import Customer, LedgerAccount, Router, ServicePlan, Subscription, SubscriptionState, User
from isp.services import customers
from isp.services.import_format import SERVICE_COLUMNS

_CUSTOMER_FIELDS = (Customer.account_no, Customer.name, Customer.phone, Customer.phone2, Customer.email, Customer.address,
                    Customer.national_id, Customer.location, Customer.tags, Customer.notes, Customer.status,
                    LedgerAccount.balance)


def export_scope(user: User) -> User | None:
    """Whose customers `user` may export: the user, whose reach customers.scoped decides (a reseller their own, and
    none once their right to sell is withdrawn); None means every customer (the admin's audited password export)."""
    return user


def _scoped(stmt: Select, scope: User | None) -> Select:
    return stmt if scope is None else customers.scoped(stmt, scope)


def _customer_cells(row: tuple) -> list:
    *text, status, balance = row
    return [*text, status.value, f"{balance if balance is not None else Decimal('0.00'):.2f}"]


def export_customers(scope: User | None) -> Iterator[list]:
    """Rows of customers.csv (CUSTOMER_COLUMNS), in id order, streamed in slices; `scope` from export_scope."""
    stmt = (select(*_CUSTOMER_FIELDS).outerjoin(LedgerAccount, LedgerAccount.customer_id == Customer.id)
            .order_by(Customer.id))
    for row in db.session.execute(_scoped(stmt, scope).execution_options(yield_per=1000)):
        yield _customer_cells(tuple(row))


def export_services(scope: User | None, passwords: bool = False) -> Iterator[list]:
    """Rows of services.csv (COLUMNS): one per service, one per customer without any; terminated services left out.

    Passwords only when `passwords` (an admin's explicit, audited choice); otherwise the column stays empty.
    """
    tz = ZoneInfo(current_app.config["ISP_TIMEZONE"])
    stmt = (select(*_CUSTOMER_FIELDS, Subscription.kind, Subscription.username, Subscription.password_encrypted,
                   ServicePlan.name.label("plan_name"), Router.name.label("router_name"), Subscription.static_ip,
                   Subscription.caller_id, Subscription.paid_until, Subscription.auto_renew)
            .select_from(Customer)
            .outerjoin(LedgerAccount, LedgerAccount.customer_id == Customer.id)
            .outerjoin(Subscription, and_(Subscription.customer_id == Customer.id,
                                          Subscription.state != SubscriptionState.terminated))
            .outerjoin(ServicePlan, ServicePlan.id == Subscription.plan_id)
            .outerjoin(Router, Router.id == Subscription.router_id)
            .order_by(Customer.id, Subscription.id))
    for row in db.session.execute(_scoped(stmt, scope).execution_options(yield_per=1000)):
        cells = tuple(row)
        customer = _customer_cells(cells[:len(_CUSTOMER_FIELDS)])
        kind, username, secret, plan, router, static_ip, caller_id, paid_until, auto_renew = cells[len(_CUSTOMER_FIELDS):]
        if kind is None:
            yield customer + [""] * len(SERVICE_COLUMNS)
            continue
        password = crypto.decrypt(secret) if passwords and secret else ""
        yield customer + [kind.value, username, password, plan, router, static_ip or "", caller_id,
                          paid_until.astimezone(tz).isoformat(timespec="seconds") if paid_until else "",
                          "yes" if auto_renew else "no"]


def sample_rows() -> list[list[str]]:
    """A small example file in our format (two customers, three services)."""
    return [
        ["", "Jane Wanjiru", "+254712345678", "", "jane@example.com", "Plot 12, Riverside", "", "-1.2921,36.8219",
         "vip", "", "active", "0.00", "pppoe", "jane.w", "s3cret-pw", "Home 10M", "core-1", "", "", "2026-06-30", "yes"],
        ["", "Jane Wanjiru", "+254712345678", "", "", "", "", "", "", "", "", "", "static", "jane-office", "",
         "Office 20M", "core-1", "10.20.0.15", "AA:BB:CC:DD:EE:FF", "2026-06-30", "yes"],
        ["ISP-000900", "Kamau Stores", "0722000111", "", "", "Market street", "", "", "", "Pays monthly", "active",
         "-500.00", "hotspot", "kamau", "pw-kamau-1", "Hotspot Day", "core-1", "", "", "", "no"],
    ]

