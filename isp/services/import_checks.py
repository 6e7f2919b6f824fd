"""The CSV import's checks: every line validated (shared field validators), grouped into customers, and compared with
plans, routers and what the database already holds. Reads only; problems are collected, never raised one by one.
"""
from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from isp.extensions import db
from isp.models import (
    Customer,
    CustomerStatus,
    PeriodUnit,
    Router,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
    Voucher,
    service_plan_routers,
)
from isp.services import ledger, validators
from isp.services.errors import ServiceError
from isp.services.import_format import SERVICE_COLUMNS, Line, Problem
from isp.sqlutil import chunked

_TEXT = {"name": (120, False), "address": (255, False), "national_id": (64, False), "location": (255, False),
         "notes": (5000, True), "account_no": (32, False)}
_LABELS = {"account_no": "Account number", "national_id": "National ID"}
# Shared validators for the other customer columns: each takes (value, field) and raises ServiceError.
_FIELDS = {"phone": validators.phone, "phone2": validators.phone, "email": validators.email, "tags": validators.tags}
_TRUE = {"yes", "y", "true", "1", "on"}
_FALSE = {"no", "n", "false", "0", "off"}
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


@dataclass
class Options:
    """What the upload form adds to the file: a router for lines naming none, and name mappings."""

    router: str = ""
    plan_map: dict[str, str] = field(default_factory=dict)
    router_map: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready."""
        return {"router": self.router, "plan_map": self.plan_map, "router_map": self.router_map}

    @classmethod
    def from_dict(cls, data: dict) -> Options:
        """Back from as_dict()."""
        return cls(str(data.get("router", "")), dict(data.get("plan_map", {})), dict(data.get("router_map", {})))


def parse_mapping(text: str | None, field_name: str) -> dict[str, str]:
    """'Their name = Our name' lines (blank lines and '#' comments skipped) as {their name casefolded: our name}."""
    mapping: dict[str, str] = {}
    for number, raw in enumerate((text or "").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        theirs, sep, ours = line.partition("=")
        if not sep or not theirs.strip() or not ours.strip():
            raise ServiceError(f"Line {number}: write 'their name = our name'.", field=field_name)
        mapping[theirs.strip().casefold()] = ours.strip()
    return mapping


@dataclass
class ServiceDraft:
    """A validated service line."""

    line: int
    kind: ServiceKind
    username: str
    password: str
    plan_id: int
    router_id: int
    static_ip: str | None
    caller_id: str
    paid_until: datetime | None
    period_start: datetime | None
    auto_renew: bool
    state: SubscriptionState = SubscriptionState.pending


@dataclass
class CustomerDraft:
    """A customer gathered from one or more lines."""

    line: int
    values: dict[str, object]
    lines: list[int] = field(default_factory=list)
    services: list[ServiceDraft] = field(default_factory=list)
    keep_account: bool = False


@dataclass
class Refs:
    """Plans, routers and who sells what, read once per check; the operator's options and time zone."""

    plans: dict[str, ServicePlan]
    routers: dict[str, Router]
    sold: set[tuple[int, int]]
    options: Options
    tz: ZoneInfo
    format: str

    @classmethod
    def load(cls, options: Options, fmt: str) -> Refs:
        """Read the reference tables (a few rows each)."""
        plans = {p.name.casefold(): p for p in db.session.scalars(select(ServicePlan))}
        routers = {r.name.casefold(): r for r in db.session.scalars(select(Router))}
        sold = set(db.session.execute(select(service_plan_routers.c.plan_id, service_plan_routers.c.router_id)).tuples())
        return cls(plans, routers, sold, options, ZoneInfo(current_app.config["ISP_TIMEZONE"]), fmt)

    def router_name(self, router_id: int) -> str:
        """A router's name by id."""
        return next((r.name for r in self.routers.values() if r.id == router_id), str(router_id))


def names(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return (shown + ", …") if len(items) > limit else (shown or "none yet")


def when(raw: str, tz: ZoneInfo, column: str = "paid_until") -> datetime | None:
    """A paid-until moment in UTC: a bare date means through the end of that day, a naive time is the operator's."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        bare = _DATE_RE.fullmatch(raw)
        parsed = datetime.combine(date.fromisoformat(raw), time(0)) if bare else datetime.fromisoformat(raw)
    except ValueError:
        raise ServiceError(f"'{raw[:40]}' is not a date: write YYYY-MM-DD or YYYY-MM-DD HH:MM.", column) from None
    if not 2000 <= parsed.year <= 2100:
        raise ServiceError(f"{raw[:40]} is out of range (years 2000 to 2100).", column)
    local = parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    return (local + timedelta(days=1) if bare else local).astimezone(UTC)


def _flag(raw: str, column: str) -> bool:
    low = raw.strip().lower()
    if not low or low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ServiceError(f"'{raw[:40]}' is not yes or no.", column)


def period_start(paid_until: datetime, plan: ServicePlan, tz: ZoneInfo) -> datetime:
    """The start of the period that ends at `paid_until`: N calendar months (operator's calendar) or N days earlier."""
    if plan.period_unit == PeriodUnit.day:
        return paid_until - timedelta(days=plan.period_count)
    local = paid_until.astimezone(tz)
    months = local.year * 12 + local.month - 1 - plan.period_count
    year, month = divmod(months, 12)
    day = min(local.day, monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day).astimezone(UTC)


_HINTS = {
    ("phpnuxbill", "password"): " PHPNuxBill's export has no passwords: add a password column.",
    ("mikhmon", "router"): " Mikhmon's export has no router: choose one on the upload form.",
    ("phpnuxbill", "router"): " Choose one on the upload form, or map PHPNuxBill's router names to ours.",
}


class _LineCheck:
    """Runs the checks of one line and keeps every problem (not only the first)."""

    def __init__(self, line: Line, refs: Refs) -> None:
        self.line, self.refs, self.problems = line, refs, []

    def text(self, key: str) -> str:
        """The cell, trimmed."""
        return (self.line.values.get(key) or "").strip()

    def fail(self, column: str, message: str) -> None:
        """Record a problem (with a hint for the file's format)."""
        self.problems.append(Problem(self.line.no, column, message + _HINTS.get((self.refs.format, column), "")))

    def run(self, column: str, check: object) -> object:
        """check(); a ServiceError becomes a problem on `column` and None is returned."""
        try:
            return check()  # type: ignore[operator]
        except ServiceError as err:
            self.fail(column, err.message)
            return None

    def customer(self) -> dict[str, object]:
        """The customer columns, cleaned ('' or None where blank; blank cells skip their check)."""
        values: dict[str, object] = {}
        for key, (limit, multiline) in _TEXT.items():
            raw = self.line.values.get(key) or ""
            values[key] = self.run(key, partial(validators.text, raw, key, limit, label=_LABELS.get(key),
                                                multiline=multiline)) if raw.strip() else ""
        for key, check in _FIELDS.items():
            raw = self.text(key)
            values[key] = self.run(key, partial(check, raw, key)) if raw else ""
        status = self.text("status").lower()
        if status and status not in {s.value for s in CustomerStatus}:
            self.fail("status", f"'{self.text('status')[:40]}' is not a status: active, suspended or closed.")
        values["status"] = status
        balance = self.text("balance")
        values["balance"] = self.run("balance", partial(ledger.parse_money, balance, "balance", allow_negative=True,
                                                        allow_zero=True)) if balance else None
        return values

    def _lookup(self, column: str, name: str, mapping: dict[str, str], table: dict, what: str) -> object:
        mapped = mapping.get(name.casefold(), name)
        found = table.get(mapped.casefold())
        if found is None:
            via = f" (mapped from '{name[:40]}')" if mapped != name else ""
            known = names(sorted(x.name for x in table.values()))
            self.fail(column, f"No {what} is named '{mapped[:40]}'{via}. Known: {known}.")
        return found

    def service(self) -> tuple[ServiceDraft | None, dict]:
        """The service columns as a draft (None if absent or bad) and the parts that identify it, for duplicates."""
        t, refs, before = self.text, self.refs, len(self.problems)
        password = self.line.values.get("password") or ""
        if not (password or any(t(k) for k in SERVICE_COLUMNS)):
            return None, {}
        ident: dict = {}
        kind = {k.value: k for k in ServiceKind}.get(t("kind").lower())
        if kind is None:
            self.fail("kind", "A service needs a kind: pppoe, hotspot or static." if not t("kind")
                      else f"'{t('kind')[:40]}' is not a kind: pppoe, hotspot or static.")
        ident["kind"] = kind
        ident["username"] = self.run("username", lambda: validators.username(t("username")))
        if kind in (ServiceKind.pppoe, ServiceKind.hotspot) and not password.strip():
            self.fail("password", f"A {kind.label} login needs a password.")
        elif len(password) > 64 or re.search(r"[\x00-\x1f\x7f]", password):
            self.fail("password", "The password is at most 64 characters, without control characters.")
        plan = router = None
        if not t("plan"):
            self.fail("plan", "A service needs a plan.")
        else:
            plan = self._lookup("plan", t("plan"), refs.options.plan_map, refs.plans, "service plan")
        if plan is not None and kind is not None and plan.kind != kind:
            self.fail("plan", f"Plan '{plan.name}' is a {plan.kind.label} plan, not {kind.label}.")
        router_name = t("router") or refs.options.router
        if not router_name:
            self.fail("router", "A service needs a router.")
        else:
            router = self._lookup("router", router_name, refs.options.router_map, refs.routers, "router")
        if plan is not None and router is not None and (plan.id, router.id) not in refs.sold:
            self.fail("router", f"Plan '{plan.name}' is not sold on router '{router.name}' (it is sold on "
                      f"{names([r.name for r in plan.routers])}).")
        ident["router_id"] = router.id if router is not None else None
        ident["static_ip"] = self.run("static_ip", lambda: validators.ipv4(t("static_ip"), required=kind == ServiceKind.static))
        caller_id = self.run("caller_id", lambda: validators.mac(t("caller_id")))
        paid_until = self.run("paid_until", lambda: when(t("paid_until"), refs.tz))
        auto_renew = self.run("auto_renew", lambda: _flag(t("auto_renew"), "auto_renew"))
        if len(self.problems) > before:
            return None, ident
        return ServiceDraft(self.line.no, kind, ident["username"], password, plan.id, router.id, ident["static_ip"],
                            caller_id or "", paid_until, period_start(paid_until, plan, refs.tz) if paid_until else None,
                            bool(auto_renew)), ident


def _same(value: object) -> object:
    """What two lines must agree on: text compares without case ('Bob' and 'bob' are one customer)."""
    return value.casefold() if isinstance(value, str) else value


def gather(lines: list[Line], problems: list[Problem], refs: Refs) -> list[CustomerDraft]:
    """Validate every line and group lines into customers; problems (and in-file duplicates) go on `problems`."""
    groups: dict[tuple, CustomerDraft] = {}
    usernames: dict[str, int] = {}
    addresses: dict[tuple, int] = {}
    for line in lines:
        check = _LineCheck(line, refs)
        values = check.customer()
        draft, ident = check.service()
        if ident.get("kind") and ident.get("username"):
            key = ident["username"].casefold()
            if key in usernames:
                check.fail("username", f"'{ident['username']}' is also on line {usernames[key]} "
                           f"(usernames are unique across all services).")
            usernames.setdefault(key, line.no)
        if ident.get("router_id") and ident.get("static_ip"):
            key = (ident["router_id"], ident["static_ip"])
            if key in addresses:
                check.fail("static_ip", f"{ident['static_ip']} is also on line {addresses[key]} for router "
                           f"'{refs.router_name(ident['router_id'])}'.")
            addresses.setdefault(key, line.no)
        if check.problems:
            problems.extend(check.problems)
            continue
        account = str(values["account_no"] or "")
        key = (("account", account.casefold()) if account else ("group", line.group) if line.group
               else ("person", str(values["name"]).casefold(), values["phone"]))
        customer = groups.get(key)
        if customer is None:
            customer = groups[key] = CustomerDraft(line.no, values)
        else:
            clashes = [k for k, v in values.items() if v not in ("", None) and customer.values[k] not in ("", None)
                       and _same(customer.values[k]) != _same(v)]
            for k in clashes:
                problems.append(Problem(line.no, k, f"Differs from line {customer.line} for the same customer "
                                               f"('{str(customer.values[k])[:40]}' there)."))
            if clashes:
                continue
            customer.values.update({k: v for k, v in values.items() if v not in ("", None)})
        customer.lines.append(line.no)
        if draft is not None:
            customer.services.append(draft)
    for customer in groups.values():
        if not customer.values["name"]:
            problems.append(Problem(customer.line, "name", "Name is required (on a customer's first line)."))
        status = customer.values["status"] or "active"
        for service in customer.services:
            if status == "closed":
                problems.append(Problem(service.line, "status", "A closed customer cannot have services."))
            service.state = (SubscriptionState.pending if service.paid_until is None else
                             SubscriptionState.suspended if status == "suspended" else SubscriptionState.active)
    return list(groups.values())


def check_db(customers: list[CustomerDraft], problems: list[Problem], notices: list[Problem], refs: Refs) -> None:
    """Usernames (and voucher codes, for hotspot logins), static IPs and account numbers already in the database
    (indexed IN lookups, in chunks)."""
    services = [s for c in customers for s in c.services]
    taken: dict[str, ServiceKind] = {}  # one namespace: a RADIUS user name has no kind
    for chunk in chunked(sorted({s.username for s in services})):
        rows = db.session.execute(select(Subscription.kind, Subscription.username).where(Subscription.username.in_(chunk)))
        taken.update((name.casefold(), kind) for kind, name in rows)
    codes: set[str] = set()  # a login may not be a voucher code (the router or FreeRADIUS holds both as users)
    for chunk in chunked(sorted({s.username for s in services})):
        codes.update(code.casefold() for code in db.session.scalars(select(Voucher.code).where(Voucher.code.in_(chunk))))
    used: set[tuple] = set()
    for chunk in chunked(sorted({s.static_ip for s in services if s.static_ip})):
        used.update(db.session.execute(select(Subscription.router_id, Subscription.static_ip)
                                       .where(Subscription.static_ip.in_(chunk))).tuples())
    for s in services:
        if s.username.casefold() in taken:
            problems.append(Problem(s.line, "username", f"'{s.username}' is already used by a "
                                    f"{taken[s.username.casefold()].label} service."))
        elif s.username.casefold() in codes:
            problems.append(Problem(s.line, "username", f"'{s.username}' is a voucher code; choose another username."))
        if s.static_ip and (s.router_id, s.static_ip) in used:
            problems.append(Problem(s.line, "static_ip", f"{s.static_ip} is already used on router "
                                           f"'{refs.router_name(s.router_id)}'."))
    wanted = sorted({str(c.values["account_no"]) for c in customers if c.values["account_no"]})
    existing: set[str] = set()
    for chunk in chunked(wanted):
        rows = db.session.scalars(select(Customer.account_no).where(Customer.account_no.in_(chunk)))
        existing.update(a.casefold() for a in rows)
    for c in customers:
        account = str(c.values["account_no"] or "")
        c.keep_account = bool(account) and account.casefold() not in existing
        if account and not c.keep_account:
            notices.append(Problem(c.line, "account_no", f"{account} belongs to another customer already: "
                                          "this customer gets the next free number."))

