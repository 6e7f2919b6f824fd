"""Small SQL helpers shared by every layer: IN lists in chunks."""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
IN_CHUNK = 500  # values per IN (...) list: well under SQLite's and MariaDB's parameter limits


def chunked(values: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """Consecutive slices of `values`, each at most `size` long (an IN list, a job's worth of ids)."""
    items: Sequence[T] = values if isinstance(values, Sequence) else list(values)
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
