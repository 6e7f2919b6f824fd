"""RouterOS value formats: booleans, durations, byte sizes and rate pairs."""

from __future__ import annotations

import re

TRUE_WORDS = {"yes": "true", "true": "true", "no": "false", "false": "false"}

_DUR_PART = re.compile(r"(\d+(?:\.\d+)?)(w|d|h|ms|m|s)")
_DUR_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([kKMGT]?)$")
_SIZE_UNITS = {"": 1, "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}


def norm_bool(value: str) -> str | None:
    """Return 'true'/'false' for any RouterOS boolean spelling, else None."""
    return TRUE_WORDS.get(value.strip().lower())


def parse_duration(text: str) -> float | None:
    """Parse '1w2d3h4m5s', '300ms', '01:22:53', '1d 02:00:00' or bare seconds."""
    text = text.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    total = 0.0
    if ":" in text:
        # Older RouterOS printed '1d 01:22:53'; accept both halves.
        days, _, clock = text.rpartition(" ")
        if days:
            total = parse_duration(days) or 0.0
        parts = clock.split(":")
        if len(parts) != 3 or not all(p.replace(".", "", 1).isdigit() for p in parts):
            return None
        return total + int(parts[0]) * 3600 + int(parts[1]) * 60 + float(parts[2])
    pos = 0
    for match in _DUR_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _DUR_UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) else None


def format_duration(seconds: float) -> str:
    """Format seconds the RouterOS 7 way: '1w2d3h4m5s', '0s', '300ms'."""
    if 0 < seconds < 1:
        return "%dms" % round(seconds * 1000)
    rest = int(seconds)
    if rest <= 0:
        return "0s"
    out = []
    for unit in ("w", "d", "h", "m", "s"):
        size = _DUR_UNITS[unit]
        count, rest = divmod(rest, size)
        if count:
            out.append("%d%s" % (count, unit))
    return "".join(out)


def parse_size(text: str) -> int | None:
    """Parse a RouterOS size or rate ('2M', '512k', '1000') into an integer."""
    match = _SIZE.match(text.strip())
    if not match:
        return None
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


def parse_pair(text: str) -> tuple[int, int] | None:
    """Parse 'upload/download' (or a single value for both) into two integers."""
    first, sep, second = text.partition("/")
    a = parse_size(first)
    b = parse_size(second) if sep else a
    if a is None or b is None:
        return None
    return a, b


def parse_rate_limit(text: str) -> tuple[int, int] | None:
    """Return (rx, tx) bits per second from a rate-limit like '2M/4M 4M/8M ...'."""
    if not text.strip():
        return None
    return parse_pair(text.split()[0])


def as_number(text: str) -> float | None:
    """Return text as a number when it is one (int, float), else None."""
    try:
        return float(text)
    except ValueError:
        return None
