"""Cursor pagination on the primary key, newest first: stable however deep the walk and however rows are added.

    class VoucherQuery(PageArgs):
        state = ma.fields.Enum(VoucherState, by_value=True)

    @bp.arguments(VoucherQuery, location="query")
    @bp.response(200, page_schema(VoucherSchema))
    def get(self, args):
        stmt = select(Voucher).where(...filters in SQL...).options(selectinload(...))
        return paginate(stmt, Voucher.id, args)

The body is {"items": [...], "next_cursor": "1234" | null, "limit": 50}; the same next page is in a `Link` header.
Pass `cursor` back as is (it is the id of the last item: the next page holds smaller ids).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import marshmallow as ma
from flask import g, request
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from isp.extensions import db

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ID = 2**63 - 1


class PageArgs(ma.Schema):
    """limit and cursor; resource query schemas subclass this and add their filters."""

    class Meta:
        unknown = ma.EXCLUDE  # unknown query parameters are ignored, as web pages do

    limit = ma.fields.Integer(load_default=DEFAULT_LIMIT, validate=ma.validate.Range(1, MAX_LIMIT),
                              metadata={"description": f"Items per page, 1 to {MAX_LIMIT}"})
    cursor = ma.fields.String(load_default=None, validate=ma.validate.Regexp(r"^[0-9]{1,19}$"),
                              metadata={"description": "next_cursor from the previous page"})


_page_schemas: dict[type, type[ma.Schema]] = {}


def page_schema(item: type[ma.Schema]) -> type[ma.Schema]:
    """The page envelope for item (one class per item schema, so the OpenAPI components stay unique)."""
    if item not in _page_schemas:
        name = item.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item] = type(name, (ma.Schema,), {
            "__doc__": f"A page of {item.__name__.removesuffix('Schema')} items, newest first.",
            "items": ma.fields.List(ma.fields.Nested(item), required=True),
            "next_cursor": ma.fields.String(allow_none=True, required=True,
                                            metadata={"description": "Pass as ?cursor= for the next page; null at the end"}),
            "limit": ma.fields.Integer(required=True),
        })
    return _page_schemas[item]


def after_cursor(stmt: Select[Any], id_column: InstrumentedAttribute, args: dict[str, Any]) -> Select[Any]:
    """stmt limited to the page after args['cursor'], newest first, one extra row to know if more follow."""
    cursor = args.get("cursor")
    if cursor is not None:
        stmt = stmt.where(id_column < min(int(cursor), MAX_ID))
    return stmt.order_by(id_column.desc()).limit(args["limit"] + 1)


def page_of(rows: list[Any], args: dict[str, Any], id_of: Callable[[Any], int] = lambda row: row.id) -> dict[str, Any]:
    """The envelope for rows fetched by after_cursor (drops the extra row, sets next_cursor and the Link header)."""
    limit = args["limit"]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = str(id_of(rows[-1])) if more and rows else None
    if next_cursor is not None:
        query = {k: v for k, v in request.args.items(multi=False) if k != "cursor"}
        query["cursor"] = next_cursor
        g.api_link_next = f"<{request.path}?{urlencode(query)}>; rel=\"next\""
    return {"items": rows, "next_cursor": next_cursor, "limit": limit}


def paginate(stmt: Select[Any], id_column: InstrumentedAttribute, args: dict[str, Any]) -> dict[str, Any]:
    """One page of the ORM entities stmt selects (filters and eager loads already on stmt)."""
    rows = list(db.session.scalars(after_cursor(stmt, id_column, args)).unique())
    return page_of(rows, args)
