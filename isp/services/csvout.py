"""The one CSV writer for every export: cells a spreadsheet would run as formulas are neutralised."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator

# A spreadsheet treats a cell starting with these as a formula (tab and CR too, per OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER_RE = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def cell(value: object) -> object:
    """A value safe to open in a spreadsheet: text that could start a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in FORMULA_START and not NUMBER_RE.fullmatch(value):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose rows are neutralised cell by cell."""

    def __init__(self, out: io.TextIOBase) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[object]) -> None:
        """Write one row."""
        self._writer.writerow([cell(v) for v in row])


def render(header: Iterable[object], rows: Iterable[Iterable[object]]) -> str:
    """A whole CSV document as a string."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


def stream(header: Iterable[object], rows: Iterable[Iterable[object]], chunk: int = 65536) -> Iterator[str]:
    """The same document in chunks of about `chunk` characters, for a streamed response."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if out.tell() > chunk:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
