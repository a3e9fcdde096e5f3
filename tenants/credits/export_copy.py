"""The movements CSV written by PostgreSQL itself (``COPY … TO STDOUT``), byte for byte the
Python path's."""

from __future__ import annotations

import enum
from collections.abc import Iterator

from flask_babel import gettext
from sqlalchemy import (
    ColumnElement,
    Lateral,
    Numeric,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    extract,
    func,
    literal_column,
    null,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import aliased

from tenants.core.replica import reading_engine
from tenants.credits.export_cells import (
    as_text,
    cell,
    member_account,
    static_cell,
    template,
)
from tenants.credits.export_rows import MovementRows
from tenants.credits.movements import RECORDED_APART, account_label, entry_type_label
from tenants.models import AccountKind, EntryType, LedgerEntry, Member, Organization, User

# -- the CSV written by PostgreSQL ------------------------------------------------------------
#
# The download of 1,000,000 movements built row by row in Python (ORM rows, timezone
# conversion, labels, csv module) runs at a few percent of what ``COPY`` does. On PostgreSQL
# the server writes the CSV instead: ``COPY (SELECT …) TO STDOUT WITH (FORMAT csv)`` over the
# same filtered, ordered query, with the dates, labels (in the request's language, passed as
# literals) and formula-escaping done in SQL, byte for byte what the Python path writes
# (tests/credits/test_movements_copy.py compares both). SQLite keeps the Python path.

COPY_FLUSH_ROWS = 2000
DATE_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS'  # + the UTC offset, as isoformat(timespec="seconds")


def _currency_places() -> tuple[dict[str, int], int]:
    """Babel's minor units (what round_money uses): the currencies that differ from the
    default, and the default."""
    from babel.core import get_global

    fractions = get_global("currency_fractions")
    default = fractions["DEFAULT"][0]
    return {code: info[0] for code, info in fractions.items() if info[0] != default}, default


def _local_text(local, utc) -> ColumnElement:
    """A local time (``local``, the same instant as ``utc``) as isoformat writes it, with its
    UTC offset."""
    return func.to_char(local, DATE_FORMAT) + case(
        (local < utc, as_text("-") + func.to_char(utc - local, "HH24:MI")),
        else_=as_text("+") + func.to_char(local - utc, "HH24:MI"),
    )


def _time_cells(rows: MovementRows, entry) -> tuple[ColumnElement, ColumnElement, Lateral | None]:
    """The date cell (when it happened), the recorded-at cell (empty unless recorded apart:
    movements.recorded_apart) and the lateral conversion they read when timezones differ."""
    seconds_apart = func.abs(extract("epoch", entry.created_at - entry.occurred_at))
    apart = seconds_apart >= literal_column(str(int(RECORDED_APART.total_seconds())))
    if rows.timezone:  # the session's TimeZone is set to it: to_char's TZH:TZM is the offset
        offset_format = DATE_FORMAT + "TZH:TZM"
        recorded = case((apart, func.to_char(entry.created_at, offset_format)), else_=null())
        return func.to_char(entry.occurred_at, offset_format), recorded, None
    # Customers in several timezones: convert each row in its organization's.
    zone = func.coalesce(func.nullif(Organization.timezone, ""), "UTC")
    times = (
        select(
            func.timezone(zone, entry.occurred_at).label("local"),
            func.timezone("UTC", entry.occurred_at).label("utc"),
            func.timezone(zone, entry.created_at).label("recorded_local"),
            func.timezone("UTC", entry.created_at).label("recorded_utc"),
        )
        .where(Organization.id == entry.organization_id)
        .offset(0)  # a fence: each conversion runs once a row, not once a use
        .lateral("times")
    )
    when = _local_text(times.c.local, times.c.utc)
    recorded = case(
        (apart, _local_text(times.c.recorded_local, times.c.recorded_utc)), else_=null()
    )
    return when, recorded, times


class _Joins:
    """The rows a cell reads besides the movement -- the member's and the users' names, the
    organization's -- each LEFT JOINed once, when a cell first asks for it.

    Joins rather than correlated subqueries: a query with a correlated subquery in its
    SELECT list is computed by the leader alone, one row at a time after the parallel scan
    and sort; with joins PostgreSQL computes every cell in its parallel workers (see the B3
    figures in bench/README.md). Each join matches at most one row (a primary key), so the
    rows are the movements' rows."""

    def __init__(self) -> None:
        self.outer: list[tuple] = []  # (table, ON clause), in join order
        self._made: dict[str, tuple] = {}

    def _join(self, target, onclause) -> None:
        self.outer.append((target, onclause))

    def member_user(self, entry) -> tuple:
        """The member of a member account and its user (all columns NULL without one)."""
        if "member" not in self._made:
            member, user = aliased(Member), aliased(User)
            self._join(member, and_(member.id == entry.member_id, entry.member_id != ""))
            self._join(user, user.id == member.user_id)
            self._made["member"] = (member, user)
        return self._made["member"]

    def doer_real(self, entry) -> tuple:
        """The user who made the movement, if they have a name, and the person logged in as
        them (all columns NULL without one)."""
        if "doer" not in self._made:
            doer, real = aliased(User), aliased(User)
            self._join(
                doer, and_(doer.id == entry.actor_user_id, func.nullif(doer.name, "").is_not(None))
            )
            self._join(real, and_(real.id == entry.real_user_id, doer.id.is_not(None)))
            self._made["doer"] = (doer, real)
        return self._made["doer"]

    def organization(self, entry):
        if "organization" not in self._made:
            org = aliased(Organization)
            self._join(org, org.id == entry.organization_id)
            self._made["organization"] = org
        return self._made["organization"]


def _account_cell(entry, joins: _Joins, formula_starts) -> ColumnElement:
    """The account's label: the system pool, or the member's (by name while they exist)."""
    _member, member_user = joins.member_user(entry)
    member_name = func.coalesce(func.nullif(member_user.name, ""), entry.member_id)
    named_member = case(
        (member_user.id.is_not(None), member_account(formula_starts, member_name)),
    )
    return case(
        (
            type_coerce(entry.account_kind, String) == AccountKind.SYSTEM.value,
            static_cell(account_label(AccountKind.SYSTEM), formula_starts),
        ),
        else_=func.coalesce(
            named_member,
            member_account(formula_starts, entry.member_id),
        ),
    )


def _done_by_cell(entry, joins: _Joins, formula_starts) -> ColumnElement:
    """Who made the movement: a person (``real as name`` during login-as), an API key, or
    the system."""
    doer, real = joins.doer_real(entry)
    doer_name, real_name = func.nullif(doer.name, ""), func.nullif(real.name, "")
    done_by_user = case(
        (
            and_(real_name.is_not(None), doer_name.is_not(None)),
            template("%(real)s as %(name)s", formula_starts, real=real.name, name=doer.name),
        ),
        else_=cell(doer_name, formula_starts),
    )
    return func.coalesce(
        case((and_(entry.actor_user_id.is_not(None), doer.id.is_not(None)), done_by_user)),
        case(
            (
                func.nullif(entry.api_key_id, "").is_not(None),
                static_cell(gettext("API key"), formula_starts),
            ),
            else_=static_cell(gettext("System"), formula_starts),
        ),
    )


def _amount_cell(entry, formula_starts) -> ColumnElement:
    """The amount without its sign's quote, rounded to the currency's minor units."""
    places_of, default_places = _currency_places()
    places = case(places_of, value=entry.currency, else_=default_places) if places_of else None
    rounded = func.round(func.abs(type_coerce(entry.amount, Numeric)), places)
    return case(
        (or_(entry.amount.is_(None), func.nullif(entry.currency, "").is_(None)), null()),
        (
            type_coerce(entry.amount, Numeric) < 0,
            static_cell("-", formula_starts) + cast(rounded, Text),
        ),
        else_=cast(rounded, Text),
    )


def _csv_select(rows: MovementRows, *, with_organization: bool, formula_starts) -> Select:
    """The SELECT whose rows, as COPY writes them, are the CSV lines of ``rows`` (its
    ``columns``, in order)."""
    query = rows.query
    if query._limit_clause is None and query._offset_clause is None:
        # Without its ORDER BY the subquery is pulled up into the statement (a subquery
        # with one is planned apart and its rows computed by the leader alone); the
        # statement orders the rows the same way.
        query = query.order_by(None)
    movements = query.subquery()
    entry = aliased(LedgerEntry, movements)
    joins = _Joins()
    when, recorded, times = _time_cells(rows, entry)
    types = case(
        {t.value: static_cell(entry_type_label(t), formula_starts) for t in EntryType},
        value=type_coerce(entry.type, String),
        else_=type_coerce(entry.type, String),
    )
    columns = rows.columns
    cells = {
        "date": lambda: when,
        "type": lambda: types,
        "account": lambda: _account_cell(entry, joins, formula_starts),
        "credits": lambda: entry.credits,
        "balance_after": lambda: entry.balance_after,
        "amount": lambda: _amount_cell(entry, formula_starts),
        "currency": lambda: cell(entry.currency, formula_starts),
        "reference": lambda: cell(entry.reference, formula_starts),
        "done_by": lambda: _done_by_cell(entry, joins, formula_starts),
        "recorded_at": lambda: recorded,
    }
    selected = [cells[column]() for column in columns]
    if with_organization:
        org = joins.organization(entry)
        selected.insert(0, cell(org.name, formula_starts))
    statement = select(*selected).select_from(movements)
    for target, onclause in joins.outer:
        statement = statement.outerjoin(target, onclause)
    if times is not None:
        statement = statement.join(times, true())
    return statement.order_by(entry.occurred_at.desc(), entry.id.desc())


def _bound(statement: Select, dialect) -> tuple[str, dict]:
    """The statement's SQL with ``%(name)s`` placeholders and its parameters, converted as
    SQLAlchemy would bind them; psycopg merges them client-side (COPY takes no bind
    parameters) and quotes each as a literal."""
    compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors
    params = {}
    for name, value in compiled.construct_params().items():
        processor = processors.get(name) or processors.get(name.rsplit("_", 1)[0])
        if processor is not None:
            value = processor(value)
        if isinstance(value, enum.Enum):
            value = value.value
        params[name] = value
    return compiled.string, params


def copy_csv(
    rows, *, with_organization: bool = False, formula_starts: tuple[str, ...]
) -> Iterator[bytes] | None:
    """The CSV lines of ``rows`` (after the header) written by PostgreSQL, as UTF-8 chunks
    of COPY_FLUSH_ROWS lines ending in CRLF like the csv module's; None when the rows must
    be written in Python (SQLite, or not a movements query).

    Runs on its own pooled connection, closed (rolled back, back to the pool) when the
    generator ends or is closed — a client leaving mid-download cancels the COPY.
    """
    if not isinstance(rows, MovementRows):
        return None
    # The replica inside a read-replica block (tenants.core.replica), else the primary.
    engine = reading_engine()
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
        return None
    statement = _csv_select(
        rows, with_organization=with_organization, formula_starts=formula_starts
    )
    sql, params = _bound(statement, engine.dialect)
    return _copy_chunks(engine, sql, params, rows.timezone)


def _copy_chunks(engine, sql: str, params: dict, timezone: str | None) -> Iterator[bytes]:
    """Run the COPY on a connection of its own and yield its rows in chunks.

    The rows are read with libpq's blocking PQgetCopyData, one C call a row: psycopg's
    ``Copy`` iterator goes through Python generators for every row, which alone made the
    download slower than half of ``psql \\copy``. If the generator is closed before the end
    (the client went away), the connection is discarded rather than drained: the server
    ends the COPY when it can no longer write.
    """
    import psycopg
    from psycopg import pq

    connection = engine.connect()
    done = False
    try:
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            # No JIT: the subplans' estimates would have it compile for seconds (48 s
            # measured at 100,000 rows) a query that runs in a fraction of that.
            cursor.execute("SELECT set_config('jit', 'off', true)")
            # The ordering of a large export sorts in memory rather than in files on disk.
            cursor.execute("SELECT set_config('work_mem', '32MB', true)")
            # A download abandoned without closing its generator must not hold the
            # connection (and its table locks) for ever.
            cursor.execute("SELECT set_config('idle_in_transaction_session_timeout', '5min', true)")
            if timezone:
                cursor.execute("SELECT set_config('TimeZone', %s, true)", (timezone,))
        # COPY takes no bind parameters: psycopg merges them client-side, each quoted as a
        # literal for this connection.
        statement = psycopg.ClientCursor(raw).mogrify(
            f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')", params
        )
        pgconn = raw.pgconn
        pgconn.send_query(statement.encode(raw.info.encoding))
        while pgconn.flush():
            pass
        started = pgconn.get_result()
        if started is None or started.status != pq.ExecStatus.COPY_OUT:
            raise psycopg.errors.error_from_result(started, encoding=raw.info.encoding)
        lines: list = []
        while True:
            size, data = pgconn.get_copy_data(0)
            if size < 0:
                break
            # One message a row, ending in "\n" (quoted line breaks inside a cell stay as
            # they are): the csv module ends rows with "\r\n".
            lines.append(data[:-1])
            if len(lines) >= COPY_FLUSH_ROWS:
                lines.append(b"")
                yield b"\r\n".join(lines)
                lines = []
        while (result := pgconn.get_result()) is not None:
            if result.status != pq.ExecStatus.COMMAND_OK:
                raise psycopg.errors.error_from_result(result, encoding=raw.info.encoding)
        done = True
    finally:
        if not done:
            connection.invalidate()
        connection.close()
    # The connection is back in the pool before the last chunk waits on the client.
    if lines:
        lines.append(b"")
        yield b"\r\n".join(lines)
