"""Deep pages at the cost of page 1: a page's ids come off an index alone, then only those rows are read.

`SELECT * ... ORDER BY id DESC LIMIT 50 OFFSET 2450` makes InnoDB read 2,500 whole rows (and lets MariaDB
pick an index-merge intersection for two filters); `SELECT id ...` with the same filters walks a
(filter, id) index without touching the table, and the 50 rows are then fetched by primary key.
"""
from __future__ import annotations

from typing import Any

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import Select

from isp.extensions import db, requested_page

MAX_OFFSET = 10_000_000  # a page beyond this is empty rather than a database error
COUNT_UP_TO = 10_000     # counted exactly up to here (or 10 pages past the current one); beyond: "more than"


class IdPagination(SelectPagination):
    """`db.paginate` for a select of one entity ordered by its primary key (`key`)."""

    def _ids(self) -> Select:
        return self._query_args["select"].with_only_columns(self._query_args["key"])

    def _query_items(self) -> list:
        if self._query_offset > MAX_OFFSET:
            return []
        return load_rows(self._query_args["select"], self._query_args["key"], self._page_ids())

    def _page_ids(self) -> list:
        """The page's ids, in order."""
        return list(self._query_args["session"].scalars(self._ids().limit(self.per_page).offset(self._query_offset)))

    def _rows(self, ids: list) -> Select:
        return rows_by_ids(self._query_args["select"], self._query_args["key"], ids)

    @property
    def next_args(self) -> dict:
        """Query arguments of the Next link as a keyset boundary (see KeysetPage): the page after this one's last
        item, whichever way this page was reached."""
        return keyset_args(self, "after")

    @property
    def prev_args(self) -> dict:
        """Query arguments of the Previous link as a keyset boundary: the page before this one's first item."""
        return keyset_args(self, "before")

    more_than: int | None = None
    """Set when the count stopped early: at least this many items (the pager says "more than")."""

    def _query_count(self) -> int:
        """COUNT(*) over at most COUNT_UP_TO ids (or ten pages past this one): the cost of a count never grows
        with the table, and Next stays available as far as there are items."""
        limit = min(max(COUNT_UP_TO, self._query_offset + 10 * self.per_page), MAX_OFFSET)
        ids = self._ids().order_by(None).limit(limit + 1).subquery()
        total = self._query_args["session"].execute(select(func.count()).select_from(ids)).scalar() or 0
        if total > limit:
            self.more_than = limit
        return total


def rows_by_ids(stmt: Select, key: InstrumentedAttribute, ids: list) -> Select:
    """The page's rows by primary key alone: the ids already passed every filter (and the reseller scope),
    so the filters, joins and order are not applied again; the select's loader options are kept."""
    described = stmt.column_descriptions
    if len(described) != 1 or described[0].get("entity") is None:
        return stmt.where(key.in_(ids)).order_by(None)
    return select(described[0]["entity"]).where(key.in_(ids)).options(*stmt._with_options)


def load_rows(stmt: Select, key: InstrumentedAttribute, ids: list) -> list:
    """The rows of `ids`, in that order (one IN query; a row deleted meanwhile is left out)."""
    if not ids:
        return []
    by_id = {getattr(row, key.key): row for row in db.session.scalars(rows_by_ids(stmt, key, ids)).unique()}
    return [by_id[i] for i in ids if i in by_id]


def keyset_args(page: IdPagination | KeysetPage, direction: str) -> dict:
    """{"after": last id, "page": n + 1} or {"before": first id, "page": n - 1}: a link that seeks from the
    boundary instead of counting rows off from the top, so its cost does not grow with how deep it is."""
    if not page.items:
        return {"page": 1}
    if direction == "after":
        return {"after": page.items[-1].id, "page": page.page + 1}
    return {"before": page.items[0].id, "page": max(page.page - 1, 1)}


class KeysetPage:
    """A page reached from a boundary id (`?after=` the previous page's last id, `?before=` the next page's first),
    newest first by id: `WHERE id < :after ORDER BY id DESC LIMIT n` seeks on a (filter, id) index, so page 50
    costs what page 1 costs; an OFFSET reads and throws away every page before it.

    The same face as IdPagination for templates (items, page, per_page, has_prev/has_next, total, pages,
    more_than, next_args/prev_args). `page` is the number carried in the link: a label, not a position the query
    uses (rows inserted or deleted meanwhile shift what "page 50" holds; the boundary does not move). `total`
    is `(page - 1) * per_page` plus the items from this page's first on, counted up to a cap (`more_than` past it).
    """

    def __init__(self, items: list, *, page: int, per_page: int, has_prev: bool, has_next: bool,
                 remaining: int, more_than: int | None = None) -> None:
        self.items, self.per_page, self.has_prev, self.has_next = items, per_page, has_prev, has_next
        # The label follows what is there: no newer item means page 1, newer ones mean at least page 2.
        self.page = 1 if not has_prev else max(page, 2)
        before = (self.page - 1) * per_page
        self.total = before + remaining
        self.more_than = before + more_than if more_than is not None else None
        self.first = before + 1 if items else 0
        self.last = before + len(items)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def prev_num(self) -> int:
        return max(self.page - 1, 1)

    @property
    def next_num(self) -> int:
        return self.page + 1

    next_args = IdPagination.next_args
    prev_args = IdPagination.prev_args


def past(stmt: Select, key: Any, after: int | None = None, before: int | None = None) -> Select:
    """`stmt` limited to the ids past a keyset boundary: below `after`, or above `before` (a range on the index)."""
    if after is not None:
        stmt = stmt.where(key < after)
    if before is not None:
        stmt = stmt.where(key > before)
    return stmt


def bounded(stmt: Select, key: Any, after: int | None = None, before: int | None = None) -> Select:
    """`past()` plus the order a keyset page reads in: newest first, or upward from `before` (`take` turns
    that page round)."""
    return past(stmt, key, after, before).order_by(None).order_by(key.asc() if before is not None else key.desc())


def take(ids: Select, per_page: int, upward: bool = False) -> tuple[list, bool]:
    """One keyset page of a `bounded()` id select: (the ids newest first, whether more lie beyond the page in
    the direction read). One id more than the page is read to know."""
    got = list(db.session.scalars(ids.limit(per_page + 1)))
    more = len(got) > per_page
    got = got[:per_page]
    return (got[::-1] if upward else got), more


def paginate(stmt: Select, key: InstrumentedAttribute, per_page: int) -> IdPagination:
    """Page `stmt` (its filters, order and loader options) by ids; the page number comes from the request."""
    return IdPagination(select=stmt, key=key, session=db.session(), page=requested_page(), per_page=per_page,
                        max_per_page=None, error_out=False)
