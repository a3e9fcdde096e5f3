"""Many rows into a table in one statement or a few: the dialect's INSERT that can skip
rows already there, and on PostgreSQL ``COPY`` (rows formatted by psycopg in C).

A multi-row INSERT of 1,000 rows of 7 columns spent a third of a 100,000-row contact import in
psycopg's client-side conversion of its 7,000 placeholders (done again for every statement,
too long for its cache); COPY has no placeholders (bench/README.md, B5)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import JSON, Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tenants.core.extensions import db


def dialect_insert(table: Table):
    """The session's dialect's INSERT for ``table`` (it has ``on_conflict_do_nothing``)."""
    dialect = db.session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def insert_rows(table: Table, rows: list[dict], *, index_elements: Sequence[str] = ()) -> int:
    """Insert many rows (all with the same keys) in one statement or a few; with
    ``index_elements``, a row whose key is already there is skipped (ON CONFLICT DO NOTHING).
    How many rows were inserted.

    PostgreSQL: ``COPY … FROM STDIN``; with ``index_elements``, which COPY cannot do, COPY
    into a temporary table and one INSERT … SELECT … ON CONFLICT from it.
    Other databases: pages of multi-row VALUES (RETURNING makes SQLAlchemy page them,
    "insertmanyvalues")."""
    if not rows:
        return 0
    if db.session.get_bind().dialect.name != "postgresql":
        statement = dialect_insert(table)
        if index_elements:
            statement = statement.on_conflict_do_nothing(index_elements=list(index_elements))
        key = next(iter(table.primary_key.columns), None)
        statement = statement.returning(key if key is not None else next(iter(table.columns)))
        return len(db.session.execute(statement, rows).all())
    if not index_elements:
        copy_rows(table.name, table, rows)
        return len(rows)
    names, staging = ", ".join(rows[0]), f"{table.name}_staging"
    db.session.execute(
        text(
            f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS "
            f"SELECT {names} FROM {table.name} WITH NO DATA"
        )
    )
    copy_rows(staging, table, rows)
    inserted = db.session.execute(
        text(
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {staging} "
            f"ON CONFLICT ({', '.join(index_elements)}) DO NOTHING"
        )
    ).rowcount
    db.session.execute(text(f"DROP TABLE {staging}"))
    return inserted


def _processors(table: Table, names: list[str]) -> list:
    """Each column's bind processor (JSON: ``json.dumps``), None where there is none."""
    dialect = db.session.get_bind().dialect
    return [
        json.dumps
        if isinstance(table.c[name].type, JSON)
        else table.c[name].type.bind_processor(dialect)
        for name in names
    ]


def copy_rows(target: str, table: Table, rows: list[dict]) -> None:
    """PostgreSQL: COPY the rows into ``target`` (with ``table``'s columns and types), in
    the session's transaction."""
    names = list(rows[0])
    processors = _processors(table, names)
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY {target} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    value if process is None or value is None else process(value)
                    for process, value in zip(
                        processors, (row[name] for name in names), strict=True
                    )
                ]
            )
