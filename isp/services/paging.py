"""Deep pages at the cost of page 1: a page's ids come off an index alone, then only those rows are read.

`SELECT * ... ORDER BY id DESC LIMIT 50 OFFSET 2450` makes InnoDB read 2,500 whole rows (and lets MariaDB
pick an index-merge intersection for two filters); `SELECT id ...` with the same filters walks a
(filter, id) index without touching the table, and the 50 rows are then fetched by primary key.
"""
from __future__ import annotations

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
        session, key = self._query_args["session"], self._query_args["key"]
        ids = self._page_ids()
        if not ids:
            return []
        rows = session.scalars(self._rows(ids)).unique()
        by_id = {getattr(row, key.key): row for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def _page_ids(self) -> list:
        """The page's ids, in order."""
        return list(self._query_args["session"].scalars(self._ids().limit(self.per_page).offset(self._query_offset)))

    def _rows(self, ids: list) -> Select:
        """The page's rows by primary key alone: the ids already passed every filter (and the reseller scope),
        so the filters, joins and order are not applied again; the select's loader options are kept."""
        stmt, key = self._query_args["select"], self._query_args["key"]
        described = stmt.column_descriptions
        if len(described) != 1 or described[0].get("entity") is None:
            return stmt.where(key.in_(ids)).order_by(None)
        return select(described[0]["entity"]).where(key.in_(ids)).options(*stmt._with_options)

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


def paginate(stmt: Select, key: InstrumentedAttribute, per_page: int) -> IdPagination:
    """Page `stmt` (its filters, order and loader options) by ids; the page number comes from the request."""
    return IdPagination(select=stmt, key=key, session=db.session(), page=requested_page(), per_page=per_page,
                        max_per_page=None, error_out=False)
