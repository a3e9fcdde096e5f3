"""A hot statement compiled once and sent as the driver's own SQL.

SQLAlchemy executes a Core statement by looking its compiled form up in a cache (hashing
the statement's cache key, a nested tuple as large as the statement), then building and
converting every parameter on each call. For the two statements of a single usage charge
(the API's busiest write: the reference's claim, the posting), that bookkeeping cost more
CPU than the rest of the request's SQL work (bench/README.md, B1). ``Prepared`` compiles
the statement once per dialect and, on each call, converts only the parameters that have a
conversion (enums, money, UTC times) and sends the SQL text with ``exec_driver_sql``:
the same statement and the same values as ``session.execute`` would send. Rows come back
as the driver reads them (strings for enums, ``Decimal`` for money on PostgreSQL).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import CursorResult
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

    def execute(self, params: dict[str, Any]) -> CursorResult:
        """Run it with ``params`` (every parameter the statement names but its constants)."""
        connection = db.session.connection()
        sql, defaults, processors, order = self._for(connection.dialect)
        values = {**defaults, **params}
        for name, process in processors.items():
            values[name] = process(values[name])
        if order is not None:
            return connection.exec_driver_sql(sql, tuple(values[name] for name in order))
        return connection.exec_driver_sql(sql, values)
