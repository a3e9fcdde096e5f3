"""A hot statement compiled once and sent as the driver's own SQL.

SQLAlchemy executes a Core statement by looking its compiled form up in a cache (hashing
the statement's cache key, a nested tuple as large as the statement), then building and
converting every parameter on each call. For the two statements of a single usage charge
(the API's busiest write: the reference's claim, the posting), that bookkeeping cost more
CPU than the rest of the request's SQL work (bench/README.md, B1). ``Prepared`` compiles
the statement once per dialect and, on each call, converts only the parameters that have a
conversion (enums, money, UTC times) and sends the SQL text with ``exec_driver_sql``:
the same statement and the same values as ``session.execute`` would send. Rows come back
as the driver reads them (strings for enums, ``Decimal`` for money on PostgreSQL), as a
list. On psycopg the statement goes straight to the connection's cursor: SQLAlchemy's
execution context and result metadata, built anew for every statement, were about 8 % of a
usage charge's CPU (bench/README.md, session 20).
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import namedtuple_row
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable

from tenants.core.extensions import db


class Prepared:
    """``statement`` (a Core statement), executed at the driver level in the session's
    transaction; compiled once per dialect."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple] = {}

    def _for(self, dialect) -> tuple[str, dict[str, Any], dict[str, Any], tuple[str, ...] | None]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            if compiled.escaped_bind_names:
                raise ValueError("Prepared takes parameters named without escaping")
            # The statement's own values (constants it binds), each parameter's conversion to
            # what the driver takes, and the parameters' order where the driver's are
            # positional (SQLite's ``?``).
            defaults = compiled.construct_params(_check=False)
            order = tuple(compiled.positiontup) if compiled.positional else None
            found = (compiled.string, defaults, dict(compiled._bind_processors), order)
            self._compiled[dialect.name] = found
        return found

    def execute(self, params: dict[str, Any]) -> list:
        """Run it with ``params`` (every parameter the statement names but its constants);
        its rows, each read by name or position (the columns named distinctly)."""
        connection = db.session.connection()
        sql, defaults, processors, order = self._for(connection.dialect)
        values = {**defaults, **params}
        for name, process in processors.items():
            values[name] = process(values[name])
        if order is not None:
            return connection.exec_driver_sql(sql, tuple(values[name] for name in order)).all()
        if connection.dialect.driver != "psycopg":
            return connection.exec_driver_sql(sql, values).all()
        return _on_psycopg(connection, sql, values)


def _on_psycopg(connection: Connection, sql: str, values: dict[str, Any]) -> list:
    """``sql`` on a psycopg cursor of the connection's own: what ``exec_driver_sql`` does,
    less its execution context and result metadata (built anew for every statement). The
    engine's cursor events still see the statement (tests count round trips with them), and
    a driver error is SQLAlchemy's, the pool's connection invalidated on a disconnect, as
    ``exec_driver_sql`` would leave them."""
    cursor = _cursor(connection, sql)
    events = connection._has_events or connection.engine._has_events
    try:
        if events:
            for fn in connection.dispatch.before_cursor_execute:
                sql, values = fn(connection, cursor, sql, values, None, False)
        cursor.execute(sql, values)
        if events:
            connection.dispatch.after_cursor_execute(connection, cursor, sql, values, None, False)
        return cursor.fetchall()
    except BaseException as error:
        _cursors_of(connection).pop(sql, None)
        cursor.close()
        connection._handle_dbapi_exception(error, sql, values, cursor, None)
        raise  # pragma: no cover - _handle_dbapi_exception raises


def _cursors_of(connection: Connection) -> dict:
    """The statements' cursors of the pooled connection: kept with it (its ``info``, which
    the pool empties when it closes or invalidates the connection)."""
    return connection.connection.info.setdefault("prepared_cursors", {})


def _cursor(connection: Connection, sql: str):
    """The connection's cursor for ``sql``, one a statement, kept across calls: psycopg
    keeps a cursor's adapters (each parameter's dumper, each column's loader) while the same
    query text comes back to it, and builds them anew for a new cursor: 90 -> 73 µs a
    statement the size of the usage charge's posting (bench/README.md, session 24). Its
    last rows are read already (``fetchall``); the next ``execute`` drops them."""
    cursors = _cursors_of(connection)
    dbapi_connection = connection.connection.dbapi_connection
    cursor = cursors.get(sql)
    if cursor is None or cursor.closed or cursor.connection is not dbapi_connection:
        cursor = cursors[sql] = dbapi_connection.cursor(row_factory=namedtuple_row)
    return cursor
