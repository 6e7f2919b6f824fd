"""CSV import of customers and their services (a dry run that writes nothing, then one transaction) and the export.

One format of ours (docs/import.md, and the table on /imports/), plus PHPNuxBill's customer exports and Mikhmon's
hotspot-user export recognised by their headers and mapped onto ours. `check` parses and validates the whole file
and lists every problem with its line and column; `run` re-runs `check` inside the caller's transaction and, only
when it is clean, writes everything set-based (multi-row inserts, account numbers reserved in one call) and queues
the router pushes. The export writes the same columns, so an export imports back.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import secrets
from calendar import monthrange
from collections import Counter as Tally
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import IO
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, case, insert, select, update
from sqlalchemy.exc import IntegrityError

from isp import crypto
from isp.extensions import db, redis_store
from isp.models import (
    AccountKind,
    Counter,
    Customer,
    CustomerEvent,
    CustomerStatus,
    EntryKind,
    LedgerAccount,
    LedgerEntry,
    PeriodUnit,
    Priority,
    Router,
    ServiceKind,
    ServicePlan,
    Subscription,
    SubscriptionState,
    User,
    service_plan_routers,
)
from isp.models.base import utcnow
from isp.services import audit, branding, ledger, numbering, provisioning, validators
from isp.services.csvout import FORMULA_START
from isp.services.errors import ServiceError
from isp.sqlutil import chunked

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 20_000
STASH_TTL = 30 * 60  # seconds a checked file waits for its confirmation
OPENING_MEMO = "import opening balance"

CUSTOMER_COLUMNS = ("account_no", "name", "phone", "phone2", "email", "address", "national_id", "location", "tags",
                    "notes", "status", "balance")
SERVICE_COLUMNS = ("kind", "username", "password", "plan", "router", "static_ip", "caller_id", "paid_until", "auto_renew")
COLUMNS = CUSTOMER_COLUMNS + SERVICE_COLUMNS
ALIASES = {"mac": "caller_id"}
# Text columns: (max length, multi-line allowed).
_TEXT = {"name": (120, False), "address": (255, False), "national_id": (64, False), "location": (255, False),
         "notes": (5000, True), "account_no": (32, False)}
_TRUE = {"yes", "y", "true", "1", "on"}
_FALSE = {"no", "n", "false", "0", "off"}
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,64}", re.ASCII)
_STASH = "isp:import:"


@dataclass(frozen=True)
class Column:
    """One column of our format, as the page and docs/import.md describe it."""

    name: str
    required: str
    accepted: str
    example: str


COLUMN_DOCS = (
    Column("account_no", "no", "Up to 32 characters. Kept when no customer has it yet, otherwise (or when blank) the "
           "next number is allocated. Lines with the same account_no are one customer.", "ISP-000123"),
    Column("name", "yes", "Customer's name, up to 120 characters. Lines without account_no and with the same name "
           "and phone are one customer.", "Jane Wanjiru"),
    Column("phone", "no", "7 to 15 digits; spaces and a leading + allowed.", "+254712345678"),
    Column("phone2", "no", "A second phone, same rules.", "0722000111"),
    Column("email", "no", "An email address.", "jane@example.com"),
    Column("address", "no", "Up to 255 characters, one line.", "Plot 12, Riverside"),
    Column("national_id", "no", "Up to 64 characters.", "12345678"),
    Column("location", "no", "GPS 'lat,lon' or free text, up to 255 characters.", "-1.2921,36.8219"),
    Column("tags", "no", "Words separated by commas or spaces: letters, digits, - and _.", "vip,fiber"),
    Column("notes", "no", "Free text, may span lines (quoted), up to 5,000 characters.", "Gate code 4411"),
    Column("status", "no (active)", "active, suspended or closed. A suspended customer's services are imported "
           "suspended; a closed customer cannot have services.", "active"),
    Column("balance", "no (0)", "Opening balance, two decimals at most, negative for debt. Posted once per customer as "
           "an adjustment 'import opening balance'.", "-500.00"),
    Column("kind", "for a service", "pppoe, hotspot or static. Leave every service column blank for a customer "
           "without a service.", "pppoe"),
    Column("username", "for a service", "1 to 64 letters, digits, '.', '_', '-', '@'; unique per kind.", "jane.w"),
    Column("password", "pppoe, hotspot", "The login password, up to 64 characters (kept encrypted).", "s3cret-pw"),
    Column("plan", "for a service", "A service plan's name (any case) of the same kind, sold on the router.", "Home 10M"),
    Column("router", "for a service", "A router's name (any case); the upload form can give one for every line "
           "that names none.", "core-1"),
    Column("static_ip", "static", "IPv4 host address, unique per router; optional for pppoe (remote address).", "10.20.0.15"),
    Column("caller_id", "no", "MAC lock (also accepted as column 'mac'), any common notation.", "AA:BB:CC:DD:EE:FF"),
    Column("paid_until", "no", "YYYY-MM-DD (paid through that whole day) or an ISO date and time; without an offset "
           "it is the operator's time zone. Blank: the service is imported pending.", "2026-06-30"),
    Column("auto_renew", "no (yes)", "yes/no, true/false, 1/0.", "yes"),
)


class ImportFileError(ServiceError):
    """The file as a whole cannot be read (size, encoding, header)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


class ImportRefused(ServiceError):
    """The real run found problems (something changed since the dry run): nothing was written."""

    def __init__(self, report: Report) -> None:
        super().__init__(f"Nothing was imported: {len(report.problems)} problems were found.", field="file")
        self.report = report


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
class Problem:
    """One reason a line cannot be imported (or a notice about it)."""

    line: int
    column: str
    message: str


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
class Report:
    """What a dry run found: counts, every problem, notices, and the drafts a clean run writes."""

    filename: str = ""
    format: str = "isp"
    lines: int = 0
    customers: list[CustomerDraft] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing stops the import."""
        return not self.problems and bool(self.customers)

    @property
    def customer_count(self) -> int:
        """Customers the import creates."""
        return len(self.customers)

    @property
    def service_count(self) -> int:
        """Services the import creates."""
        return sum(len(c.services) for c in self.customers)

    @property
    def states(self) -> dict[str, int]:
        """Services per state they are imported in."""
        return dict(Tally(s.state.value for c in self.customers for s in c.services))

    @property
    def balances(self) -> tuple[int, Decimal]:
        """(customers with an opening balance, their sum)."""
        amounts = [c.values["balance"] for c in self.customers if c.values.get("balance")]
        return len(amounts), sum(amounts, Decimal("0.00"))

    @property
    def bad_lines(self) -> int:
        """Lines with at least one problem."""
        return len({p.line for p in self.problems})


FORMAT_NAMES = {"isp": "this panel's format", "phpnuxbill": "PHPNuxBill customer export", "mikhmon": "Mikhmon user export"}


# -- reading ------------------------------------------------------------------


def read_upload(stream: IO[bytes]) -> bytes:
    """The uploaded file's bytes, refused beyond MAX_BYTES."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it and import the parts.")
    return data


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ImportFileError("The file is empty.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError("The file is UTF-16: save it as 'CSV UTF-8' and upload it again.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ImportFileError(f"The file is not UTF-8 (byte 0x{data[err.start]:02x} on line {line}): save it as "
                              "'CSV UTF-8' in your spreadsheet and upload it again.") from None
    if "\x00" in text:
        raise ImportFileError("The file holds NUL bytes: it is not a CSV text file.")
    return text


def _delimiter(first_line: str) -> str:
    """The header's delimiter: comma, semicolon (PHPNuxBill's list export) or tab, whichever splits it most."""
    return max((",", ";", "\t"), key=lambda d: len(next(csv.reader([first_line], delimiter=d), [])))


def _clean(cell: str) -> str:
    """A cell as typed: our export's formula guard (a leading apostrophe before = + - @) is taken off again."""
    if cell[:1] == "'" and cell[1:2] in FORMULA_START:
        return cell[1:]
    return cell


def read(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(normalised header, [(line number, cells)]) of a CSV file; blank lines are skipped."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]), strict=True)
    try:
        header = next(reader)
        rows: list[tuple[int, list[str]]] = []
        start = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                if len(rows) >= MAX_LINES:
                    raise ImportFileError(f"The file has more than {MAX_LINES:,} lines: split it and import the parts.")
                rows.append((start, [_clean(c) for c in cells]))
            start = reader.line_num + 1
    except csv.Error as err:
        raise ImportFileError(f"Line {reader.line_num}: the CSV is malformed ({err}).") from None
    names = [re.sub(r"[\s-]+", "_", h.strip().lower()) for h in header]
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    if dupes:
        raise ImportFileError(f"The header repeats a column: {', '.join(dupes)}.")
    if not rows:
        raise ImportFileError("The file has a header but no lines to import.")
    return names, rows


# -- formats: each maps a row onto our columns --------------------------------


@dataclass
class Line:
    """One data line in our columns, with the format's own customer key (e.g. PHPNuxBill's id)."""

    no: int
    values: dict[str, str]
    group: str = ""


def _cells(no: int, header: list[str], cells: list[str], report: Report, spill: bool = False) -> dict[str, str] | None:
    """The row as {column: value}; a row whose cell count differs from the header is one problem."""
    if spill and len(cells) > len(header):  # Mikhmon joins cells with bare commas: extra ones belong to the comment
        cells = cells[:len(header) - 1] + [",".join(cells[len(header) - 1:])]
    if len(cells) != len(header):
        report.problems.append(Problem(no, "", f"The line has {len(cells)} cells, the header has {len(header)}."))
        return None
    return dict(zip(header, cells, strict=True))


def _getter(raw: dict[str, str]):
    """cell(key): the row's cell, trimmed ('' when the column is absent)."""
    return lambda key: raw.get(key, "").strip()


def _ours(header: list[str], rows: list[tuple[int, list[str]]], report: Report) -> list[Line]:
    cols = [ALIASES.get(h, h) for h in header]
    unknown = [h for h in cols if h not in COLUMNS]
    if unknown:
        raise ImportFileError(f"Unknown column(s): {', '.join(unknown)}. The columns are: {', '.join(COLUMNS)}.")
    return [Line(no, raw) for no, cells in rows if (raw := _cells(no, cols, cells, report)) is not None]


PNB_STATUS = {"active": "active", "on": "active", "off": "active", "inactive": "active", "": "",
              "suspended": "suspended", "banned": "suspended", "disabled": "suspended", "limited": "suspended",
              "closed": "closed"}
PNB_COLUMNS = {"id", "username", "fullname", "address", "phonenumber", "email", "balance", "service_type", "namebp",
               "routers", "status", "expiration", "time", "password", "pppoe_username", "pppoe_password", "pppoe_ip",
               "coordinates", "auto_renewal"}


def _phpnuxbill(header: list[str], rows: list[tuple[int, list[str]]], report: Report) -> list[Line]:
    """PHPNuxBill's customer list / prepaid-users export; a service only where a plan (namebp) is given."""
    own = set(COLUMNS) - PNB_COLUMNS
    report.ignored_columns = [h for h in header if h not in PNB_COLUMNS and h not in own]
    lines = []
    for no, cells in rows:
        raw = _cells(no, header, cells, report)
        if raw is None:
            continue
        g = _getter(raw)
        status = PNB_STATUS.get(g("status").lower())
        if status is None:
            report.problems.append(Problem(no, "status", f"PHPNuxBill status '{g('status')[:40]}' has no equivalent "
                                           "(Active, Inactive, on, off, Suspended, Banned, Disabled, Limited)."))
            continue
        v = {"name": g("fullname"), "address": " ".join(g("address").split()), "location": g("coordinates"),
             "phone": "" if g("phonenumber") == "0" else g("phonenumber"),
             "email": "" if g("email") in ("0", "1") else g("email"),  # PHPNuxBill's column defaults
             "balance": g("balance"), "status": status, "notes": f"PHPNuxBill customer id {g('id')}" if g("id") else ""}
        plan = g("plan") or g("namebp")
        if plan:
            kind = {"pppoe": "pppoe", "hotspot": "hotspot"}.get(g("service_type").lower(), "")
            if not kind and not g("kind"):
                report.problems.append(Problem(no, "service_type", f"service_type '{g('service_type')[:40]}' does not "
                                               "say PPPoE or Hotspot: add a kind column."))
                continue
            pppoe = (g("kind") or kind) == "pppoe"
            expires = g("expiration")
            v.update(kind=kind, plan=plan, router=g("routers"), auto_renew=g("auto_renewal"),
                     username=(pppoe and g("pppoe_username")) or g("username"),
                     password=(pppoe and raw.get("pppoe_password", "")) or raw.get("password", ""),
                     static_ip=g("pppoe_ip") if pppoe else "",
                     paid_until=f"{expires} {g('time')}".strip() if expires and not expires.startswith("0000") else "")
        v.update({k: raw[k] for k in own if raw.get(k, "").strip()})  # our own columns, added by hand, win
        lines.append(Line(no, v, group="pnb:" + (g("id") or g("username")).casefold()))
    return lines


MIK_LOGIN = ("username", "name", "user")
MIK_LIMITS = ("time_limit", "data_limit", "limit_uptime", "limit_bytes_total")
MIK_COLUMNS = {*MIK_LOGIN, *MIK_LIMITS, "password", "profile", "comment", "mac_address", "disabled"}


def _mikhmon(header: list[str], rows: list[tuple[int, list[str]]], report: Report) -> list[Line]:
    """Mikhmon's hotspot-user export (or a /ip/hotspot/user print): each user a hotspot service of its own customer."""
    own = set(COLUMNS) - MIK_COLUMNS
    report.ignored_columns = [h for h in header if h not in MIK_COLUMNS and h not in own]
    if not any(h in header for h in MIK_LOGIN):
        raise ImportFileError("The Mikhmon export has no Username (or name) column.")
    lines = []
    for no, cells in rows:
        raw = _cells(no, header, cells, report, spill=header[-1] == "comment")
        if raw is None:
            continue
        g = _getter(raw)
        limits = [f"{k.replace('_', ' ')} {g(k)}" for k in MIK_LIMITS if g(k) not in ("", "0", "0s")]
        if limits:
            report.problems.append(Problem(no, "time_limit", f"A user with a limit ({', '.join(limits)}) is a voucher, "
                                           "not a subscription: leave it out or clear the limit."))
            continue
        login = next((g(k) for k in MIK_LOGIN if g(k)), "")
        v = {"name": login, "kind": "hotspot", "username": login, "password": raw.get("password", ""),
             "plan": g("profile"), "caller_id": g("mac_address"),
             "status": "suspended" if g("disabled").lower() in ("true", "yes") else "",
             "notes": f"Mikhmon comment: {g('comment')}" if g("comment") else ""}
        v.update({k: raw[k] for k in own if raw.get(k, "").strip()})
        lines.append(Line(no, v, group="mik:" + login.casefold()))
    return lines


def detect(header: list[str]) -> str:
    """Which format a header is: 'phpnuxbill', 'mikhmon' or 'isp' (ours)."""
    cols = set(header)
    if cols & {"fullname", "namebp", "phonenumber"}:
        return "phpnuxbill"
    if "profile" in cols:
        return "mikhmon"
    if "name" in cols:
        return "isp"
    raise ImportFileError("The header is not one we know: our columns start with account_no, name, … (see the table "
                          "below); PHPNuxBill's have username, fullname, …; Mikhmon's have Username, Password, Profile.")


MAPPERS = {"isp": _ours, "phpnuxbill": _phpnuxbill, "mikhmon": _mikhmon}


# -- validation -----------------------------------------------------------------


@dataclass
class _Refs:
    """Plans, routers and who sells what, read once per check; the operator's options and time zone."""

    plans: dict[str, ServicePlan]
    routers: dict[str, Router]
    sold: set[tuple[int, int]]
    options: Options
    tz: ZoneInfo
    format: str

    @classmethod
    def load(cls, options: Options, fmt: str) -> _Refs:
        """Read the reference tables (a few rows each)."""
        plans = {p.name.casefold(): p for p in db.session.scalars(select(ServicePlan))}
        routers = {r.name.casefold(): r for r in db.session.scalars(select(Router))}
        sold = set(db.session.execute(select(service_plan_routers.c.plan_id, service_plan_routers.c.router_id)).tuples())
        return cls(plans, routers, sold, options, ZoneInfo(current_app.config["ISP_TIMEZONE"]), fmt)

    def router_name(self, router_id: int) -> str:
        """A router's name by id."""
        return next((r.name for r in self.routers.values() if r.id == router_id), str(router_id))


def _names(items: list[str], limit: int = 8) -> str:
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

    def __init__(self, line: Line, refs: _Refs) -> None:
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
        """The customer columns, cleaned ('' or None where blank)."""
        t = self.text
        values: dict[str, object] = {}
        for key, (limit, multiline) in _TEXT.items():
            raw = self.line.values.get(key) or ""
            label = {"account_no": "Account number", "national_id": "National ID"}.get(key)
            values[key] = self.run(key, lambda raw=raw, key=key, limit=limit, multiline=multiline, label=label:
                                   validators.text(raw, key, limit, label=label, multiline=multiline))
        values["phone"] = self.run("phone", lambda: validators.phone(t("phone"), "phone"))
        values["phone2"] = self.run("phone2", lambda: validators.phone(t("phone2"), "phone2"))
        values["email"] = self.run("email", lambda: validators.email(t("email")))
        values["tags"] = self.run("tags", lambda: validators.tags(t("tags")))
        status = t("status").lower()
        if status and status not in {s.value for s in CustomerStatus}:
            self.fail("status", f"'{t('status')[:40]}' is not a status: active, suspended or closed.")
        values["status"] = status
        values["balance"] = self.run("balance", lambda: ledger.parse_money(t("balance"), "balance", allow_negative=True,
                                                                           allow_zero=True) if t("balance") else None)
        return values

    def _lookup(self, column: str, name: str, mapping: dict[str, str], table: dict, what: str) -> object:
        mapped = mapping.get(name.casefold(), name)
        found = table.get(mapped.casefold())
        if found is None:
            via = f" (mapped from '{name[:40]}')" if mapped != name else ""
            known = _names(sorted(x.name for x in table.values()))
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
                      f"{_names([r.name for r in plan.routers])}).")
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


def _gather(lines: list[Line], report: Report, refs: _Refs) -> list[CustomerDraft]:
    """Validate every line and group lines into customers; problems (and in-file duplicates) go on the report."""
    groups: dict[tuple, CustomerDraft] = {}
    usernames: dict[tuple, int] = {}
    addresses: dict[tuple, int] = {}
    for line in lines:
        check = _LineCheck(line, refs)
        values = check.customer()
        draft, ident = check.service()
        if ident.get("kind") and ident.get("username"):
            key = (ident["kind"], ident["username"].casefold())
            if key in usernames:
                check.fail("username", f"'{ident['username']}' is also on line {usernames[key]} "
                           f"({ident['kind'].label} usernames are unique).")
            usernames.setdefault(key, line.no)
        if ident.get("router_id") and ident.get("static_ip"):
            key = (ident["router_id"], ident["static_ip"])
            if key in addresses:
                check.fail("static_ip", f"{ident['static_ip']} is also on line {addresses[key]} for router "
                           f"'{refs.router_name(ident['router_id'])}'.")
            addresses.setdefault(key, line.no)
        if check.problems:
            report.problems.extend(check.problems)
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
                report.problems.append(Problem(line.no, k, f"Differs from line {customer.line} for the same customer "
                                               f"('{str(customer.values[k])[:40]}' there)."))
            if clashes:
                continue
            customer.values.update({k: v for k, v in values.items() if v not in ("", None)})
        customer.lines.append(line.no)
        if draft is not None:
            customer.services.append(draft)
    for customer in groups.values():
        if not customer.values["name"]:
            report.problems.append(Problem(customer.line, "name", "Name is required (on a customer's first line)."))
        status = customer.values["status"] or "active"
        for service in customer.services:
            if status == "closed":
                report.problems.append(Problem(service.line, "status", "A closed customer cannot have services."))
            service.state = (SubscriptionState.pending if service.paid_until is None else
                             SubscriptionState.suspended if status == "suspended" else SubscriptionState.active)
    return list(groups.values())


def _check_db(report: Report, refs: _Refs) -> None:
    """Usernames, static IPs and account numbers already in the database (indexed IN lookups, in chunks)."""
    services = [s for c in report.customers for s in c.services]
    taken: set[tuple] = set()
    for chunk in chunked(sorted({s.username for s in services})):
        rows = db.session.execute(select(Subscription.kind, Subscription.username).where(Subscription.username.in_(chunk)))
        taken.update((kind, name.casefold()) for kind, name in rows)
    used: set[tuple] = set()
    for chunk in chunked(sorted({s.static_ip for s in services if s.static_ip})):
        used.update(db.session.execute(select(Subscription.router_id, Subscription.static_ip)
                                       .where(Subscription.static_ip.in_(chunk))).tuples())
    for s in services:
        if (s.kind, s.username.casefold()) in taken:
            report.problems.append(Problem(s.line, "username", f"'{s.username}' is already used by a {s.kind.label} service."))
        if s.static_ip and (s.router_id, s.static_ip) in used:
            report.problems.append(Problem(s.line, "static_ip", f"{s.static_ip} is already used on router "
                                           f"'{refs.router_name(s.router_id)}'."))
    wanted = sorted({str(c.values["account_no"]) for c in report.customers if c.values["account_no"]})
    existing: set[str] = set()
    for chunk in chunked(wanted):
        rows = db.session.scalars(select(Customer.account_no).where(Customer.account_no.in_(chunk)))
        existing.update(a.casefold() for a in rows)
    for c in report.customers:
        account = str(c.values["account_no"] or "")
        c.keep_account = bool(account) and account.casefold() not in existing
        if account and not c.keep_account:
            report.notices.append(Problem(c.line, "account_no", f"{account} belongs to another customer already: "
                                          "this customer gets the next free number."))
    report.problems.sort(key=lambda p: p.line)


def check(data: bytes, options: Options, filename: str = "") -> Report:
    """The dry run: read, map and validate the whole file against the database; writes nothing."""
    header, rows = read(data)
    report = Report(filename=(filename or "upload.csv")[:120], format=detect(header), lines=len(rows))
    lines = MAPPERS[report.format](header, rows, report)
    refs = _Refs.load(options, report.format)
    report.customers = _gather(lines, report, refs)
    _check_db(report, refs)
    return report


# -- the real run ---------------------------------------------------------------


def run(data: bytes, options: Options, actor: User | None, filename: str = "") -> Report:
    """Check the file again inside the caller's transaction and, only when clean, write it all (flushes, never commits).

    A problem found now (say a username taken since the dry run) raises ImportRefused with the report; a collision
    the checks could not see (a concurrent insert) raises ServiceError. Either way the caller rolls everything back.
    """
    report = check(data, options, filename)
    if not report.ok:
        raise ImportRefused(report)
    try:
        _write(report, actor, hashlib.sha256(data).hexdigest())
    except IntegrityError:
        raise ServiceError("Nothing was imported: another change took one of these usernames, static IPs or account "
                           "numbers while the import ran. Upload the file again to see which.", field="file") from None
    return report


def _ids(column: object, key: object, values: list) -> dict:
    """{key value: id column} for rows whose `key` is in `values` (chunked IN lookups)."""
    found: dict = {}
    for chunk in chunked(values):
        found.update(db.session.execute(select(key, column).where(key.in_(chunk))).tuples().all())  # type: ignore[union-attr]
    return found


def _floor_account_counter(kept: list[str]) -> None:
    """Move the account-number sequence past kept numbers written in its own format, so no sign-up collides later."""
    settings = branding.get()
    pattern = re.compile(re.escape(settings.account_prefix) + r"([0-9]+)")
    values = [int(m.group(1)) for a in kept if (m := pattern.fullmatch(a))
              and numbering.format_account(int(m.group(1)), settings) == a]
    if not values:
        return
    floor = max(values)
    if db.session.scalar(select(Counter.value).where(Counter.name == "customer")) is None:
        try:
            with db.session.begin_nested():
                db.session.add(Counter(name="customer", value=0))
        except IntegrityError:
            pass  # a concurrent sign-up created it
    # Always matches the row, so it is locked until commit whether or not it moves.
    db.session.execute(update(Counter).where(Counter.name == "customer")
                       .values(value=case((Counter.value < floor, floor), else_=Counter.value)),
                       execution_options={"synchronize_session": False})


def _write(report: Report, actor: User | None, digest: str) -> None:
    """Multi-row inserts: customers, their ledger accounts, opening balances, services, timeline; one audit entry."""
    now, actor_id, drafts = utcnow(), actor.id if actor else None, report.customers
    _floor_account_counter([str(c.values["account_no"]) for c in drafts if c.keep_account])
    fresh = sum(1 for c in drafts if not c.keep_account)
    numbers = iter(numbering.account_numbers(fresh) if fresh else [])
    accounts = [str(c.values["account_no"]) if c.keep_account else next(numbers) for c in drafts]
    text = ("name", "phone", "phone2", "email", "address", "national_id", "location", "tags", "notes")
    db.session.execute(insert(Customer), [
        {**{k: c.values[k] or "" for k in text}, "account_no": account, "created_by_id": actor_id, "created_at": now,
         "updated_at": now, "status": CustomerStatus(c.values["status"] or "active")}
        for c, account in zip(drafts, accounts, strict=True)])
    by_account = _ids(Customer.id, Customer.account_no, accounts)
    customer_ids = [by_account[a] for a in accounts]
    balances = [c.values["balance"] or Decimal("0.00") for c in drafts]
    db.session.execute(insert(LedgerAccount), [
        {"kind": AccountKind.customer, "customer_id": cid, "balance": amount, "created_at": now}
        for cid, amount in zip(customer_ids, balances, strict=True)])
    opening = [(cid, amount) for cid, amount in zip(customer_ids, balances, strict=True) if amount]
    if opening:
        account_ids = _ids(LedgerAccount.id, LedgerAccount.customer_id, [cid for cid, _ in opening])
        db.session.execute(insert(LedgerEntry), [
            {"account_id": account_ids[cid], "kind": EntryKind.adjustment, "amount": amount, "balance_after": amount,
             "memo": OPENING_MEMO, "idem_key": f"import-opening:{cid}", "created_by_id": actor_id, "created_at": now}
            for cid, amount in opening])
    services = [
        {"customer_id": cid, "kind": s.kind, "username": s.username, "plan_id": s.plan_id, "router_id": s.router_id,
         "password_encrypted": crypto.encrypt(s.password) if s.password else "", "static_ip": s.static_ip,
         "caller_id": s.caller_id, "state": s.state, "started_at": s.period_start, "period_start": s.period_start,
         "paid_until": s.paid_until, "auto_renew": s.auto_renew, "state_changed_at": now, "created_at": now,
         "updated_at": now}
        for c, cid in zip(drafts, customer_ids, strict=True) for s in c.services]
    if services:
        db.session.execute(insert(Subscription), services)
    db.session.execute(insert(CustomerEvent), [
        {"customer_id": cid, "kind": "import", "actor_id": actor_id, "at": now,
         "summary": f"Imported from {report.filename}, line{'s' if len(c.lines) > 1 else ''} "
                    f"{_names([str(n) for n in c.lines], 10)} ({len(c.services)} service{'' if len(c.services) == 1 else 's'})."}
        for c, cid in zip(drafts, customer_ids, strict=True)])
    count, total = report.balances
    states = ", ".join(f"{n} {s}" for s, n in sorted(report.states.items())) or "none"
    audit.record(actor, "customers.import", f"file:{report.filename}"[:128],
                 f"{report.customer_count} customers, {report.service_count} services ({states}); opening balances on "
                 f"{count} accounts, total {total:.2f}; {FORMAT_NAMES[report.format]}; sha256 {digest[:16]}")
    db.session.flush()
    served = (SubscriptionState.active, SubscriptionState.suspended)
    sync_ids: list[int] = []
    for chunk in chunked(customer_ids):
        sync_ids += db.session.scalars(select(Subscription.id).where(Subscription.customer_id.in_(chunk),
                                                                     Subscription.state.in_(served)))
    if sync_ids:
        provisioning.sync_many(sorted(sync_ids), Priority.normal)


# -- the file between the dry run and the confirmation ---------------------------


@dataclass
class Stashed:
    """A checked file waiting for its confirmation (kept in Redis, bound to the user who uploaded it)."""

    token: str
    data: bytes
    filename: str
    options: Options


def stash(data: bytes, filename: str, options: Options, user_id: int) -> str:
    """Keep the file server-side for STASH_TTL seconds; returns the random token the confirm form carries."""
    token = secrets.token_urlsafe(24)
    meta = {"user_id": user_id, "filename": filename, "options": options.as_dict(), "sha256": hashlib.sha256(data).hexdigest()}
    pipe = redis_store.client.pipeline()
    pipe.hset(_STASH + token, mapping={"data": data, "meta": json.dumps(meta)})
    pipe.expire(_STASH + token, STASH_TTL)
    pipe.execute()
    return token


def unstash(token: str | None, user_id: int) -> Stashed | None:
    """The stashed file if the token is one of this user's and the content is intact; None otherwise."""
    if not token or not _TOKEN_RE.fullmatch(token):
        return None
    found = redis_store.client.hgetall(_STASH + token)
    if not found or b"meta" not in found or b"data" not in found:
        return None
    meta = json.loads(found[b"meta"])
    data = found[b"data"]
    if meta.get("user_id") != user_id or hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        return None
    return Stashed(token, data, str(meta.get("filename", "")), Options.from_dict(meta.get("options", {})))


def claim(token: str) -> bool:
    """Take the token's run lock (a second click on Import waits out the first instead of racing it)."""
    return bool(redis_store.client.set(_STASH + token + ":running", b"1", nx=True, ex=600))


def release(token: str, done: bool) -> None:
    """Give the run lock back; a finished import also forgets the file."""
    keys = [_STASH + token + ":running"] + ([_STASH + token] if done else [])
    redis_store.client.delete(*keys)


# -- export -----------------------------------------------------------------------

_CUSTOMER_FIELDS = (Customer.account_no, Customer.name, Customer.phone, Customer.phone2, Customer.email, Customer.address,
                    Customer.national_id, Customer.location, Customer.tags, Customer.notes, Customer.status,
                    LedgerAccount.balance)


def export_scope(user: User) -> int | None:
    """Whose customers `user` may export: a reseller's id (their own only), None for staff (all)."""
    return user.id if user.has_role("reseller") else None


def _scoped(stmt: object, reseller_id: int | None) -> object:
    if reseller_id is not None:
        return stmt.where(Customer.reseller_id == reseller_id)  # type: ignore[attr-defined]
    return stmt


def _customer_cells(row: tuple) -> list:
    *text, status, balance = row
    return [*text, status.value, f"{balance if balance is not None else Decimal('0.00'):.2f}"]


def export_customers(reseller_id: int | None) -> Iterator[list]:
    """Rows of customers.csv (CUSTOMER_COLUMNS), in id order, streamed in slices; `reseller_id` from export_scope."""
    stmt = (select(*_CUSTOMER_FIELDS).outerjoin(LedgerAccount, LedgerAccount.customer_id == Customer.id)
            .order_by(Customer.id))
    for row in db.session.execute(_scoped(stmt, reseller_id).execution_options(yield_per=1000)):  # type: ignore[attr-defined]
        yield _customer_cells(tuple(row))


def export_services(reseller_id: int | None, passwords: bool = False) -> Iterator[list]:
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
    for row in db.session.execute(_scoped(stmt, reseller_id).execution_options(yield_per=1000)):  # type: ignore[attr-defined]
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


def record_password_export(actor: User) -> None:
    """Audit a services export that carries passwords (who and when; never the passwords themselves)."""
    audit.record(actor, "subscriptions.export_passwords", "services.csv", "services exported with their passwords")
