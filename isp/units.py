"""Operator notation for durations, byte sizes and RouterOS rate limits: parse strictly, format tidily."""
from __future__ import annotations

import re
from decimal import Decimal

_DURATION_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"^(?:([0-9]{1,9})w)?(?:([0-9]{1,9})d)?(?:([0-9]{1,9})h)?(?:([0-9]{1,9})m)?(?:([0-9]{1,9})s)?\Z")
# RouterOS before 7 (and some fields still) print "01:22:53" or "2d01:22:53".
_CLOCK_RE = re.compile(r"^(?:([0-9]{1,9})d)?([0-9]{1,3}):([0-9]{2}):([0-9]{2})\Z")
_BYTES_RE = re.compile(r"^([0-9]{1,15}(?:\.[0-9]{1,6})?) *([kmgt]?)(i?b)?\Z", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
_RATE = r"[0-9]{1,12}(?:\.[0-9]{1,6})?[kKmMgG]?"
_PAIR = rf"{_RATE}(?:/{_RATE})?"
_TIME_PAIR = r"[0-9]{1,9}[smh]?(?:/[0-9]{1,9}[smh]?)?"
# rx[/tx] [burst-rx[/tx] [threshold-rx[/tx] [burst-time-rx[/tx] [priority [min-rx[/tx]]]]]]
_RATE_LIMIT_RE = re.compile(rf"^{_PAIR}(?: {_PAIR}(?: {_PAIR}(?: {_TIME_PAIR}(?: [1-8](?: {_PAIR})?)?)?)?)?\Z")


MAX_DURATION = 3650 * 86400  # ten years: fits a 32-bit column with room for extensions
MAX_BYTES = 1024 ** 5  # 1 PiB
MAX_RATE_LIMIT = 120  # the column's length


class UnitError(ValueError):
    """A value that does not follow the notation; the message says what was expected."""


def _shown(text: object) -> str:
    """A value quoted back in a message, cut short (a 10,000-character input is not echoed whole)."""
    value = str(text if text is not None else "")
    return value if len(value) <= 40 else value[:40] + "…"


def parse_duration(text: str | None, allow_zero: bool = False) -> int:
    """'30d', '12h', '1h30m', '1w2d', '90s' or a RouterOS clock '01:22:53' -> seconds."""
    raw = (text or "").strip().lower().replace(" ", "")
    if not raw:
        raise UnitError("Give a duration such as 30d, 12h or 1h30m.")
    if raw.isdigit():
        raise UnitError(f"'{_shown(text)}' needs a unit: s, m, h, d or w (e.g. {raw}h).")
    match = _DURATION_RE.match(raw)
    if match and any(match.groups()):
        seconds = sum(int(v) * size for v, size in zip(match.groups(), _DURATION_UNITS.values(), strict=True) if v)
    elif clock := _CLOCK_RE.match(raw):
        days, hours, minutes, secs = (int(v or 0) for v in clock.groups())
        if minutes > 59 or secs > 59:
            raise UnitError(f"'{_shown(text)}' is not a valid time.")
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    else:
        raise UnitError(f"'{_shown(text)}' is not a duration; use e.g. 30d, 12h, 1h30m or 45s.")
    if seconds == 0 and not allow_zero:
        raise UnitError("The duration must be longer than zero.")
    if seconds > MAX_DURATION:
        raise UnitError(f"'{_shown(text)}' is too long: at most {MAX_DURATION // 86400} days (10 years).")
    return seconds


_MILLIS_RE = re.compile(r"^(.*?)(\d{1,3})ms\Z")


def with_currency(amount: str, currency: str) -> str:
    """An amount with the operator's currency: a symbol sticks to it ('$5'), a code is spaced ('KES 5')."""
    currency = (currency or "").strip()
    if not currency:
        return amount
    return f"{currency} {amount}" if any(c.isalpha() for c in currency) else f"{currency}{amount}"


def router_duration(text: str | None) -> int:
    """A duration as a router prints it, in whole seconds rounded up ('887ms' is 1, '1m5s200ms' is 66).

    Blank or unparsable counts as zero (never guessed by position). Rounding up keeps a first login
    derived from it never later than the real one.
    """
    raw = (text or "").strip()
    extra = 0
    if millis := _MILLIS_RE.match(raw):
        raw, extra = millis.group(1), int(int(millis.group(2)) > 0)
        if not raw:
            return extra
    try:
        return parse_duration(raw, allow_zero=True) + extra
    except UnitError:
        return 0


def format_duration(seconds: int | None) -> str:
    """Seconds -> the compact RouterOS form '1w2d3h4m5s' ('0s' for zero)."""
    if not seconds:
        return "0s"
    out, left = [], int(seconds)
    for unit, size in _DURATION_UNITS.items():
        if left >= size:
            out.append(f"{left // size}{unit}")
            left %= size
    return "".join(out)


def parse_bytes(text: str | None) -> int:
    """'500M', '2G', '1.5GB', '750MiB' or plain bytes -> bytes (binary multiples, as RouterOS uses)."""
    raw = (text or "").strip()
    match = _BYTES_RE.match(raw)
    if not match:
        raise UnitError(f"'{_shown(text)}' is not a size; use e.g. 500M, 2G or 1.5G.")
    value = Decimal(match.group(1)) * _BYTE_UNITS[match.group(2).lower()]
    if value < 1:
        raise UnitError("The size must be at least one byte.")
    if value > MAX_BYTES:
        raise UnitError(f"'{_shown(text)}' is too large: at most 1024T (1 PiB).")
    return int(value)


def format_bytes(count: int | None) -> str:
    """Bytes -> '1.5 GiB', '500 MiB', '0 B'."""
    value = float(count or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" or value == int(value) else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB" if value != int(value) else f"{value:.0f} TiB"


def check_rate_limit(text: str | None) -> str:
    """Validate RouterOS rate-limit syntax ('2M/4M', '1M/2M 2M/4M 768k/1536k 16/16 8 512k/1M'); '' means none."""
    raw = " ".join((text or "").split())
    if len(raw) > MAX_RATE_LIMIT:
        raise UnitError(f"A rate limit is at most {MAX_RATE_LIMIT} characters.")
    if raw and not _RATE_LIMIT_RE.match(raw):
        raise UnitError(
            f"'{raw[:40]}' is not a RouterOS rate limit. Write rx/tx such as 2M/4M, optionally followed by "
            "burst rate, burst threshold, burst time, priority (1-8) and minimum rate, e.g. '2M/4M 4M/8M 1M/2M 16/16'."
        )
    return raw


MAX_MONEY = Decimal("9999999999.99")  # what Numeric(12, 2) holds
# ASCII digits only (no 1e9, 5_000 or other scripts' digits), optional sign, thousands commas in groups of 3,
# at most two decimals.
_MONEY_RE = re.compile(r"([+-]?)((?:[0-9]{1,3}(?:,[0-9]{3})+)|[0-9]+)(?:\.([0-9]{1,2}))?", re.ASCII)


def parse_money(text: object, maximum: Decimal = MAX_MONEY) -> Decimal:
    """'25', '25.5', '-3.75', '1,250.00' -> Decimal with two places; anything else is refused."""
    raw = str(text if text is not None else "").strip()
    match = _MONEY_RE.fullmatch(raw)
    if not match:
        if re.fullmatch(r"[+-]?[0-9]*\.[0-9]{3,}", raw, re.ASCII):
            raise UnitError("Amounts have at most two decimals.")
        raise UnitError(f"'{raw[:40]}' is not an amount; write e.g. 25 or 25.50.")
    sign, whole, cents = match.groups()
    value = Decimal(f"{sign}{whole.replace(',', '')}.{(cents or '').ljust(2, '0')}")
    if abs(value) > maximum:
        raise UnitError(f"The amount is too large (at most {maximum:,.2f}).")
    return value
