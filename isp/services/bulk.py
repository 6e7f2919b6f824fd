"""One multi-row INSERT for thousands of rows that differ in a few columns.

SQLAlchemy converts every value of every row through its column type; for a batch of
10,000 vouchers that is most of the time spent. Here the columns shared by all rows are
converted once, only the varying ones per row, and the driver's executemany does the
rest (pymysql folds it into multi-row INSERTs). Public type APIs only, so each dialect
still formats its own values.
"""
from __future__ import annotations

from sqlalchemy import Dialect, Table

from isp.extensions import db


def _processor(table: Table, column: str, dialect: Dialect):
    return table.c[column].type.dialect_impl(dialect).bind_processor(dialect)


def insert_rows(table: Table, constant: dict, varying: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT len(rows) rows: `constant` values in every row, plus `varying` columns from each tuple."""
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    shared = []
    for column, value in constant.items():
        process = _processor(table, column, dialect)
        shared.append(process(value) if process is not None else value)
    processors = [_processor(table, column, dialect) for column in varying]
    quote = dialect.identifier_preparer.quote
    columns = [*constant, *varying]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = "INSERT INTO %s (%s) VALUES (%s)" % (quote(table.name), ", ".join(quote(c) for c in columns),
                                              ", ".join([mark] * len(columns)))
    head = tuple(shared)
    if any(processors):
        params = [head + tuple(p(v) if p is not None else v for p, v in zip(processors, row, strict=True)) for row in rows]
    else:
        params = [head + tuple(row) for row in rows]
    connection.exec_driver_sql(sql, params)
