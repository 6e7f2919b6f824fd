"""The CSV import's format: our columns, reading a file safely, and mapping PHPNuxBill's and Mikhmon's exports onto ours.

`parse(data)` reads the bytes (size, line and encoding caps), recognises the format by its header and returns our
columns per line plus the problems only the mapping can see. Validation against plans, routers and the database is
isp.services.import_checks; writing is isp.services.importer. docs/import.md describes every column and mapping.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import IO

from isp.services.csvout import FORMULA_START
from isp.services.errors import ServiceError

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 20_000

CUSTOMER_COLUMNS = ("account_no", "name", "phone", "phone2", "email", "address", "national_id", "location", "tags",
                    "notes", "status", "balance")
SERVICE_COLUMNS = ("kind", "username", "password", "plan", "router", "static_ip", "caller_id", "paid_until", "auto_renew")
COLUMNS = CUSTOMER_COLUMNS + SERVICE_COLUMNS
ALIASES = {"mac": "caller_id"}


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
    Column("username", "for a service", "1 to 64 letters, digits, '.', '_', '-', '@'; unique across all services.", "jane.w"),
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


@dataclass
class Problem:
    """One reason a line cannot be imported (or a notice about it)."""

    line: int
    column: str
    message: str


@dataclass
class Parsed:
    """A file read and mapped onto our columns, with what the mapping refused or left out."""

    format: str
    count: int
    lines: list[Line] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


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


def _cells(no: int, header: list[str], cells: list[str], parsed: Parsed, spill: bool = False) -> dict[str, str] | None:
    """The row as {column: value}; a row whose cell count differs from the header is one problem."""
    if spill and len(cells) > len(header):  # Mikhmon joins cells with bare commas: extra ones belong to the comment
        cells = cells[:len(header) - 1] + [",".join(cells[len(header) - 1:])]
    if len(cells) != len(header):
        parsed.problems.append(Problem(no, "", f"The line has {len(cells)} cells, the header has {len(header)}."))
        return None
    return dict(zip(header, cells, strict=True))


def _getter(raw: dict[str, str]):
    """cell(key): the row's cell, trimmed ('' when the column is absent)."""
    return lambda key: raw.get(key, "").strip()


def _ours(header: list[str], rows: list[tuple[int, list[str]]], parsed: Parsed) -> list[Line]:
    """Our own columns, in any order; an unknown column refuses the file (a typo would otherwise be dropped)."""
    cols = [ALIASES.get(h, h) for h in header]
    unknown = [h for h in cols if h not in COLUMNS]
    if unknown:
        raise ImportFileError(f"Unknown column(s): {', '.join(unknown)}. The columns are: {', '.join(COLUMNS)}.")
    return [Line(no, raw) for no, cells in rows if (raw := _cells(no, cols, cells, parsed)) is not None]


PNB_STATUS = {"active": "active", "on": "active", "off": "active", "inactive": "active", "": "",
              "suspended": "suspended", "banned": "suspended", "disabled": "suspended", "limited": "suspended",
              "closed": "closed"}
PNB_COLUMNS = {"id", "username", "fullname", "address", "phonenumber", "email", "balance", "service_type", "namebp",
               "routers", "status", "expiration", "time", "password", "pppoe_username", "pppoe_password", "pppoe_ip",
               "coordinates", "auto_renewal"}


def _phpnuxbill(header: list[str], rows: list[tuple[int, list[str]]], parsed: Parsed) -> list[Line]:
    """PHPNuxBill's customer list / prepaid-users export; a service only where a plan (namebp) is given."""
    own = set(COLUMNS) - PNB_COLUMNS
    parsed.ignored_columns = [h for h in header if h not in PNB_COLUMNS and h not in own]
    lines = []
    for no, cells in rows:
        raw = _cells(no, header, cells, parsed)
        if raw is None:
            continue
        g = _getter(raw)
        status = PNB_STATUS.get(g("status").lower())
        if status is None:
            parsed.problems.append(Problem(no, "status", f"PHPNuxBill status '{g('status')[:40]}' has no equivalent "
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
                parsed.problems.append(Problem(no, "service_type", f"service_type '{g('service_type')[:40]}' does not "
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


def _mikhmon(header: list[str], rows: list[tuple[int, list[str]]], parsed: Parsed) -> list[Line]:
    """Mikhmon's hotspot-user export (or a /ip/hotspot/user print): each user a hotspot service of its own customer."""
    own = set(COLUMNS) - MIK_COLUMNS
    parsed.ignored_columns = [h for h in header if h not in MIK_COLUMNS and h not in own]
    if not any(h in header for h in MIK_LOGIN):
        raise ImportFileError("The Mikhmon export has no Username (or name) column.")
    lines = []
    for no, cells in rows:
        raw = _cells(no, header, cells, parsed, spill=header[-1] == "comment")
        if raw is None:
            continue
        g = _getter(raw)
        limits = [f"{k.replace('_', ' ')} {g(k)}" for k in MIK_LIMITS if g(k) not in ("", "0", "0s")]
        if limits:
            parsed.problems.append(Problem(no, "time_limit", f"A user with a limit ({', '.join(limits)}) is a voucher, "
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


def parse(data: bytes) -> Parsed:
    """Read a CSV file and map its lines onto our columns (format recognised by the header)."""
    header, rows = read(data)
    fmt = detect(header)
    parsed = Parsed(fmt, len(rows))
    parsed.lines = MAPPERS[fmt](header, rows, parsed)
    return parsed
