"""Operator notation for durations, byte sizes and RouterOS rate limits: parse strictly, format tidily."""
from __future__ import annotations

import re

_DURATION_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# RouterOS before 7 (and some fields still) print "01:22:53" or "2d01:22:53".
_CLOCK_RE = re.compile(r"^(?:(\d+)d)?(\d{1,3}):(\d{2}):(\d{2})$")
_BYTES_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}
_RATE = r"\d+(?:\.\d+)?[kKmMgG]?"
_PAIR = rf"{_RATE}(?:/{_RATE})?"
_TIME_PAIR = r"\d+[smh]?(?:/\d+[smh]?)?"
# rx[/tx] [burst-rx[/tx] [threshold-rx[/tx] [burst-time-rx[/tx] [priority [min-rx[/tx]]]]]]
_RATE_LIMIT_RE = re.compile(rf"^{_PAIR}(?: {_PAIR}(?: {_PAIR}(?: {_TIME_PAIR}(?: [1-8](?: {_PAIR})?)?)?)?)?$")


class UnitError(ValueError):
    """A value that does not follow the notation; the message says what was expected."""


def parse_duration(text: str | None, allow_zero: bool = False) -> int:
    """'30d', '12h', '1h30m', '1w2d', '90s' or a RouterOS clock '01:22:53' -> seconds."""
    raw = (text or "").strip().lower().replace(" ", "")
    if not raw:
        raise UnitError("Give a duration such as 30d, 12h or 1h30m.")
    if raw.isdigit():
        raise UnitError(f"'{text}' needs a unit: s, m, h, d or w (e.g. {raw}h).")
    match = _DURATION_RE.match(raw)
    if match and any(match.groups()):
        seconds = sum(int(v) * size for v, size in zip(match.groups(), _DURATION_UNITS.values()) if v)
    elif clock := _CLOCK_RE.match(raw):
        days, hours, minutes, secs = (int(v or 0) for v in clock.groups())
        if minutes > 59 or secs > 59:
            raise UnitError(f"'{text}' is not a valid time.")
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    else:
        raise UnitError(f"'{text}' is not a duration; use e.g. 30d, 12h, 1h30m or 45s.")
    if seconds == 0 and not allow_zero:
        raise UnitError("The duration must be longer than zero.")
    return seconds


def router_duration(text: str | None) -> int:
    """A duration as a router prints it; blank or unparsable counts as zero (never guessed by position)."""
    try:
        return parse_duration(text, allow_zero=True)
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
        raise UnitError(f"'{text}' is not a size; use e.g. 500M, 2G or 1.5G.")
    value = float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()]
    if value < 1:
        raise UnitError("The size must be at least one byte.")
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
    if raw and not _RATE_LIMIT_RE.match(raw):
        raise UnitError(
            f"'{text}' is not a RouterOS rate limit. Write rx/tx such as 2M/4M, optionally followed by "
            "burst rate, burst threshold, burst time, priority (1-8) and minimum rate, e.g. '2M/4M 4M/8M 1M/2M 16/16'."
        )
    return raw
