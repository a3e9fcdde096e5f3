"""Many rows into a table in one statement or a few: the dialect's INSERT that can skip
rows already there, and on PostgreSQL ``COPY`` (rows formatted by psycopg in C); many rows
updated each to its own values in one statement (``update_rows``).

A multi-row INSERT of 1,000 rows of 7 columns spent a third of a 100,000-row contact import in
psycopg's client-side conversion of its 7,000 placeholders (done again for every statement,
too long for its cache); COPY has no placeholders (bench/README.md, B5)."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Enum,
    Integer,
    Numeric,
    String,
    Table,
    any_,
    bindparam,
    cast,
    column,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.types import NullType

from tenants.core.extensions import db


def pg_array(values: Iterable[Any]) -> str:
    """``values`` as one PostgreSQL array literal (``{"a","b",NULL}``), for a parameter the
    statement casts (``CAST(:ids AS text[])``): every element quoted and escaped, dates and
    times in ISO form, None as NULL. psycopg adapts a Python list element by element in
    Python (about 2 µs each); a batch of usage passed a dozen arrays of 600 values, an
    eighth of its CPU (bench/README.md, B6). One string is adapted at once; arrays of plain
    integers, or of strings with no quote or backslash (ids), are joined at once."""
    values = list(values)
    kinds = set(map(type, values))
    if kinds == {int}:
        return "{" + ",".join(map(str, values)) + "}"
    if kinds == {str}:
        joined = "".join(values)
        if '"' not in joined and "\\" not in joined:
            return '{"' + '","'.join(values) + '"}'
    if kinds <= _BARE:  # numbers and days are written without quotes, None as NULL
        return "{" + ",".join("NULL" if v is None else _bare(v) for v in values) + "}"
    return _pg_array_of_any(values)


# Element types an array literal holds unquoted (nothing in their text needs escaping).
_BARE = {int, Decimal, date, type(None)}


def _bare(value: int | Decimal | date) -> str:
    return value.isoformat() if type(value) is date else str(value)


def _pg_array_of_any(values: list[Any]) -> str:
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, date):
            text_ = value.isoformat()
        elif isinstance(value, dict | list):
            text_ = json.dumps(value)
        else:
            text_ = str(value)
        parts.append('"' + text_.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"


def _literal(name: str | None, values: Iterable[Any]):
    """pg_array(values) as a parameter of no SQL type (no ``::VARCHAR`` rendered), so the
    CAST around it gives the parameter its array type: PostgreSQL reads the literal as that
    array, and plans with its values (a VARCHAR cast to an array is not folded: the monthly
    run's grouping, planned for an array of unknown size, took twice as long)."""
    return bindparam(name, pg_array(values), type_=NullType())


def one_of(column, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``, the array one
    parameter (pg_array): an IN of a thousand placeholders costs more to render, adapt and
    parse (psycopg caches no statement of more than 50) than the database takes to answer."""
    values = list(values)
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(cast(_literal(None, values), ARRAY(String)))
    return column.in_(values)


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


def insert_new(
    table: Table,
    rows: list[dict],
    *,
    index_elements: Sequence[str],
    returning: Sequence[str],
    values: dict | None = None,
) -> list[Any]:
    """Insert the rows whose ``index_elements`` are not there yet (ON CONFLICT DO NOTHING),
    each with ``values`` too (the columns all of them share), and answer the ``returning``
    columns of those inserted, in one statement: on PostgreSQL ``INSERT … SELECT … FROM
    unnest(<one array per column that varies>)``, no staging table, and the new rows'
    columns come back without reading the table again; elsewhere a multi-row VALUES. A row
    another transaction inserted first is left out of the answer."""
    if not rows:
        return []
    statement = _insert_of(table, rows, values or {})
    statement = statement.on_conflict_do_nothing(index_elements=list(index_elements))
    return db.session.execute(statement.returning(*(table.c[n] for n in returning))).all()


def binary_types(table: Table, names: Sequence[str]) -> list[str]:
    """The PostgreSQL types a binary ``COPY`` of ``table``'s columns ``names`` sends (for
    psycopg's ``Copy.set_types``): whole numbers as int8, decimals as numeric, times as
    timestamptz, the rest (text, enums kept as VARCHAR) as text. A binary COPY of typed rows
    is formatted by psycopg in C with no per-value lookup: 2,000 ledger postings in 7 to 14 ms
    against 38 ms as text (bench/README.md, B6)."""
    kinds = []
    for name in names:
        kind = table.c[name].type
        kind = getattr(kind, "impl_instance", kind)  # a TypeDecorator: what it stores
        if isinstance(kind, Integer):
            kinds.append("int8")
        elif isinstance(kind, Numeric):
            kinds.append("numeric")
        elif isinstance(kind, DateTime):
            kinds.append("timestamptz")
        else:
            kinds.append("text")
    return kinds


def _processors(table: Table, names: list[str]) -> list:
    """Each column's bind processor (JSON: ``json.dumps``), None where there is none."""
    dialect = db.session.get_bind().dialect
    return [
        json.dumps
        if isinstance(table.c[name].type, JSON)
        else table.c[name].type.bind_processor(dialect)
        for name in names
    ]


def copy_rows(target: str, table: Table, rows: list[dict], *, connection=None) -> None:
    """PostgreSQL: COPY the rows into ``target`` (with ``table``'s columns and types), in
    the session's transaction (or ``connection``'s, a SQLAlchemy Connection)."""
    names = list(rows[0])
    processors = _processors(table, names)
    connection = connection if connection is not None else db.session.connection()
    cursor = connection.connection.driver_connection.cursor()
    quote = connection.dialect.identifier_preparer.quote  # a column named "to"
    values = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    # Only the columns with a processor (enums, JSON, times) are converted, each row's
    # others passed as they are: 100,000 rows of a message's recipients a campaign run.
    converted = [(i, process) for i, process in enumerate(processors) if process is not None]
    with cursor.copy(f"COPY {target} ({', '.join(map(quote, names))}) FROM STDIN") as copy:
        for row in rows:
            out = values(row)
            if converted:
                out = list(out)
                for i, process in converted:
                    if out[i] is not None:
                        out[i] = process(out[i])
            copy.write_row(out)


def update_rows(
    table: Table, key: str, rows: list[dict], *, where: Sequence = (), values: dict | None = None
) -> int:
    """Update many rows, each found by its ``key`` column and set to its own values (the
    other keys of its dict, the same keys in every row), plus ``values`` for all of them,
    where ``where`` also holds. How many rows changed.

    PostgreSQL: one ``UPDATE … FROM unnest(<one array per column>)`` — a statement and two
    or three parameters for a thousand rows, where one UPDATE a row cost a round trip each
    (bench/README.md, B5 campaign). Other databases: the UPDATE executed once a row
    (executemany)."""
    if not rows:
        return 0
    names = list(rows[0])
    others = [name for name in names if name != key]
    fixed = dict(values or {})
    if db.session.get_bind().dialect.name == "postgresql":
        source = _unnested(table, names, rows)
        statement = (
            update(table)
            .where(table.c[key] == source.c[key], *where)
            .values({**{name: source.c[name] for name in others}, **fixed})
        )
        return db.session.execute(statement).rowcount
    statement = (
        update(table)
        .where(table.c[key] == bindparam("bulk_key"), *where)
        .values({**{name: bindparam(f"bulk_{name}") for name in others}, **fixed})
    )
    params = [
        {"bulk_key": row[key], **{f"bulk_{name}": row[name] for name in others}} for row in rows
    ]
    return db.session.connection().execute(statement, params).rowcount


def upsert_adding(
    table: Table, keys: Sequence[str], rows: list[dict], adding: Sequence[str]
) -> None:
    """Insert many rows (the same keys in each), a row whose ``keys`` are already there
    adding its ``adding`` columns to that row's (``credits = credits + excluded.credits``),
    in one statement; rows locked in the order given.

    PostgreSQL: ``INSERT … SELECT … FROM unnest(<one array per column>) ON CONFLICT … DO
    UPDATE`` — the same statement text however many rows, so SQLAlchemy's and psycopg's
    statement caches keep it (a multi-row VALUES of 600 rows was compiled and parsed again
    each time: a third of a batch usage request's CPU, bench/README.md B6). Other databases:
    one multi-row VALUES."""
    statement = upsert_adding_statement(table, keys, rows, adding)
    if statement is not None:
        db.session.execute(statement)


def upsert_adding_statement(
    table: Table, keys: Sequence[str], rows: list[dict], adding: Sequence[str]
):
    """The statement upsert_adding executes (None for no rows), to build ahead of time."""
    if not rows:
        return None
    statement = _insert_of(table, rows, {})
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + statement.excluded[name] for name in adding},
    )


def _insert_of(table: Table, rows: list[dict], shared: dict):
    """The dialect's INSERT of ``rows`` (the same keys in each), each with the ``shared``
    columns too, for an ON CONFLICT clause: on PostgreSQL ``INSERT … SELECT … FROM
    unnest(<one array per column that varies>)`` (the same text however many rows, kept by
    the statement caches), the shared values bound once; elsewhere a multi-row VALUES."""
    names = list(rows[0])
    if db.session.get_bind().dialect.name == "postgresql":
        source = _unnested(table, names, rows)
        constants = [bindparam(f"bulk_{n}", v, type_=table.c[n].type) for n, v in shared.items()]
        return pg_insert(table).from_select([*names, *shared], select(*source.c, *constants))
    return sqlite_insert(table).values([{**row, **shared} for row in rows])


def _unnested(table: Table, names: list[str], rows: list[dict]):
    """PostgreSQL: ``unnest`` of one array parameter a column, as a derived table of the
    rows with ``table``'s column names and types."""
    dialect = db.session.get_bind().dialect
    arrays = []
    for name in names:
        kind = _plain(table, name)
        values = [row[name] for row in rows]
        process = kind.bind_processor(dialect)  # what an ARRAY of the type does to each
        if process is not None:
            values = [None if value is None else process(value) for value in values]
        arrays.append(cast(_literal(f"bulk_{name}", values), ARRAY(kind)))
    return (
        func.unnest(*arrays)
        .table_valued(*(column(name, _plain(table, name)) for name in names))
        .render_derived(name="bulk_rows")
    )


def _plain(table: Table, name: str):
    """The column's type as an array's element: enums (VARCHAR with a CHECK) as VARCHAR."""
    kind = table.c[name].type
    return String() if isinstance(kind, Enum) else kind
