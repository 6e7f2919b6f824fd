"""Numbers where they enter through URLs: ids bounded to what a 32-bit key column holds."""
from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**31 - 1  # the largest value an INTEGER primary key holds on MariaDB


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` that matches only 0..MAX_ID: a larger id is a 404, never a database overflow (500)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def parse_id(value: object) -> int | None:
    """An id from a query string or form: ASCII digits within 1..MAX_ID, otherwise None."""
    raw = str(value or "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    number = int(raw)
    return number if 1 <= number <= MAX_ID else None


def init_numbers(app: Flask) -> None:
    """Make every `<int:...>` URL variable bounded (registered before the blueprints' rules are built)."""
    app.url_map.converters["int"] = BoundedIntConverter
