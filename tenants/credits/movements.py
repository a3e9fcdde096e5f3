"""Reading the ledger: movements of the accounts an actor may manage, logs, CSV rows, chart.

Only holding-account postings are movements (``balance_after`` is set on them); the
counter-account side of each transaction is bookkeeping nobody reads. Every query starts
from an organization reached through tenants.access.scoping, or from the reseller's organizations
as scoping lists them, so another tenant's entries never appear.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    ColumnElement,
    Numeric,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import aliased

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.core import paging
from tenants.core.errors import Forbidden, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits.ledger import parse_account
from tenants.models import (
    AccountKind,
    CreditAccount,
    EntryType,
    LedgerEntry,
    Member,
    Organization,
    User,
)
from tenants.models.ledger import AccountRef

LOG_DAYS = 30
MAX_PAGE_SIZE = 200
CSV_BATCH = 1000

ENTRY_TYPE_LABELS = {
    EntryType.PURCHASE: _l("Purchase"),
    EntryType.AUTO_TOP_UP: _l("Automatic top-up"),
    EntryType.TRANSFER_IN: _l("Transfer in"),
    EntryType.TRANSFER_OUT: _l("Transfer out"),
    EntryType.USAGE: _l("Usage"),
    EntryType.WITHDRAWAL: _l("Withdrawal"),
    EntryType.ADJUSTMENT: _l("Adjustment"),
    EntryType.PAYMENT: _l("Payment"),
    EntryType.INVOICE: _l("Invoice"),
}


def entry_type_label(value) -> str:
    try:
        return str(ENTRY_TYPE_LABELS[EntryType(value)])
    except ValueError:
        return str(value)


# -- who may see which accounts --------------------------------------------------------------


def sees_every_account(actor: Actor) -> bool:
    """Admins, reseller staff and platform staff read every account of an organization."""
    return can(actor, Permission.MANAGE_CREDITS) or actor.is_platform


def _visible_accounts(actor: Actor, org: Organization):
    """The WHERE clause limiting postings to the holding accounts the actor may manage."""
    holding = LedgerEntry.balance_after.is_not(None)
    if sees_every_account(actor):
        return holding
    if actor.member_id and actor.organization_id == org.id:
        return and_(
            holding,
            LedgerEntry.account_kind == AccountKind.MEMBER,
            LedgerEntry.member_id == actor.member_id,
        )
    return false()


def may_see_account(actor: Actor, org: Organization, ref: AccountRef) -> bool:
    if sees_every_account(actor):
        return True
    return (
        ref.kind == AccountKind.MEMBER
        and ref.member_id == actor.member_id
        and actor.organization_id == org.id
    )


def _clean_types(types) -> list[EntryType]:
    cleaned = []
    for value in types or ():
        try:
            cleaned.append(EntryType(value))
        except ValueError as error:
            raise ValidationFailed(fields={"type": str(_l("Unknown movement type."))}) from error
    return cleaned


def _account_filter(actor: Actor, org: Organization, account):
    if account in (None, ""):
        return None
    ref = account if isinstance(account, AccountRef) else _parse_any_account(org, account)
    if not may_see_account(actor, org, ref):
        raise Forbidden()
    return and_(LedgerEntry.account_kind == ref.kind, LedgerEntry.member_id == ref.member_id)


def _parse_any_account(org: Organization, value) -> AccountRef:
    """Like credits.parse_account, but also the accounts of members removed since."""
    if isinstance(value, str) and value.startswith("member:"):
        return AccountRef(AccountKind.MEMBER, value.split(":", 1)[1][:40])
    return parse_account(org, value)


def _common_filters(query: Select, *, types, since, until, q) -> Select:
    types = _clean_types(types)
    if types:
        query = query.where(LedgerEntry.type.in_(types))
    if since is not None:
        query = query.where(LedgerEntry.created_at >= since)
    if until is not None:
        query = query.where(LedgerEntry.created_at < until)
    if q:
        needle = str(q).strip()[:100].lower()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(LedgerEntry.reference).like(f"%{escaped}%", escape="\\"))
    return query


def movements_query(
    actor: Actor,
    org: Organization,
    *,
    types=None,
    account=None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
) -> Select:
    """Movements of the organization's holding accounts the actor may manage, newest first."""
    org = scoping.get_organization(actor, org.id, include_deleted=True)
    query = select(LedgerEntry).where(
        LedgerEntry.organization_id == org.id,
        LedgerEntry.reseller_id == org.reseller_id,
        _visible_accounts(actor, org),
    )
    account_clause = _account_filter(actor, org, account)
    if account_clause is not None:
        query = query.where(account_clause)
    query = _common_filters(query, types=types, since=since, until=until, q=q)
    return query.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())


def reseller_movements_query(
    actor: Actor,
    *,
    types=None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
) -> Select:
    """Movements of every customer of the actor's reseller (reseller staff only)."""
    if not actor.is_reseller_staff or not actor.reseller_id:
        raise Forbidden()
    customers = scoping.organizations_query(actor, include_deleted=True).with_only_columns(
        Organization.id
    )
    query = select(LedgerEntry).where(
        LedgerEntry.reseller_id == actor.reseller_id,
        LedgerEntry.organization_id.in_(customers),
        LedgerEntry.balance_after.is_not(None),
    )
    query = _common_filters(query, types=types, since=since, until=until, q=q)
    return query.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())


def last_days(days: int = LOG_DAYS) -> datetime:
    return utcnow() - timedelta(days=days)


# -- keyset pagination ----------------------------------------------------------------------


@dataclass(frozen=True)
class MovementPage:
    entries: list[LedgerEntry]
    older_cursor: str | None
    newer_cursor: str | None


MOVEMENT_CURSOR = paging.Cursor((paging.choice("older", "newer"), paging.MOMENT, paging.TEXT))


def _encode_cursor(direction: str, entry: LedgerEntry) -> str:
    return MOVEMENT_CURSOR.encode(direction, entry.created_at, entry.id)


def page_of(query: Select, *, limit: int = 50, cursor: str | None = None) -> MovementPage:
    """One page of a newest-first movements query, keyset on (created_at, id)."""
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    if not cursor:
        rows = list(db.session.scalars(query.limit(limit + 1)))
        more = len(rows) > limit
        rows = rows[:limit]
        return MovementPage(rows, _encode_cursor("older", rows[-1]) if more else None, None)
    direction, moment, ident = MOVEMENT_CURSOR.decode(cursor)
    if direction == "older":
        rows = list(
            db.session.scalars(
                query.where(
                    or_(
                        LedgerEntry.created_at < moment,
                        and_(LedgerEntry.created_at == moment, LedgerEntry.id < ident),
                    )
                ).limit(limit + 1)
            )
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return MovementPage(
            rows,
            _encode_cursor("older", rows[-1]) if more and rows else None,
            _encode_cursor("newer", rows[0]) if rows else None,
        )
    ascending = query.order_by(None).order_by(LedgerEntry.created_at.asc(), LedgerEntry.id.asc())
    rows = list(
        db.session.scalars(
            ascending.where(
                or_(
                    LedgerEntry.created_at > moment,
                    and_(LedgerEntry.created_at == moment, LedgerEntry.id > ident),
                )
            ).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = list(reversed(rows[:limit]))
    return MovementPage(
        rows,
        _encode_cursor("older", rows[-1]) if rows else None,
        _encode_cursor("newer", rows[0]) if more and rows else None,
    )


def list_movements(
    actor: Actor, org: Organization, *, limit: int = 50, cursor: str | None = None, **filters
) -> tuple[list[LedgerEntry], str | None]:
    """A page of movements and the cursor of the next (older) page, or None at the end."""
    page = page_of(movements_query(actor, org, **filters), limit=limit, cursor=cursor)
    return page.entries, page.older_cursor


# -- names shown next to movements ----------------------------------------------------------


def member_names(org: Organization) -> dict[str, str]:
    """Every member's name, removed members included (their movements stay in history)."""
    rows = db.session.execute(
        select(Member.id, User.name)
        .join(User, User.id == Member.user_id)
        .where(Member.organization_id == org.id, Member.reseller_id == org.reseller_id)
    )
    return dict(rows.all())


def user_names(user_ids) -> dict[str, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def account_label(kind, member_id: str | None, names: dict[str, str]) -> str:
    if kind == AccountKind.SYSTEM:
        return str(_l("System Credits"))
    return str(_l("User Credits: %(name)s", name=names.get(member_id or "", member_id or "")))


# -- CSV rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MovementRow:
    created_at: datetime
    type: EntryType
    account_kind: AccountKind
    member_id: str
    credits: int
    balance_after: int | None
    amount: object
    currency: str | None
    reference: str | None
    actor_name: str | None
    real_user_name: str | None
    api_key_id: str | None
    member_name: str | None
    organization_name: str | None
    organization_timezone: str | None


def _row_query(query: Select) -> Select:
    """The movements query as plain columns with the names joined in (no ORM objects)."""
    movements = query.subquery()
    entry = aliased(LedgerEntry, movements)
    doer = aliased(User)
    real = aliased(User)
    member_user = aliased(User)
    return (
        select(
            entry.created_at,
            entry.type,
            entry.account_kind,
            entry.member_id,
            entry.credits,
            entry.balance_after,
            entry.amount,
            entry.currency,
            entry.reference,
            doer.name,
            real.name,
            entry.api_key_id,
            member_user.name,
            Organization.name,
            Organization.timezone,
        )
        .join(Organization, Organization.id == entry.organization_id)
        .outerjoin(doer, doer.id == entry.actor_user_id)
        .outerjoin(real, real.id == entry.real_user_id)
        .outerjoin(Member, and_(Member.id == entry.member_id, entry.member_id != ""))
        .outerjoin(member_user, member_user.id == Member.user_id)
        .order_by(entry.created_at.desc(), entry.id.desc())
    )


def iter_movement_rows(query: Select) -> MovementRows:
    """A movements query's rows for the CSV and the print report (see MovementRows)."""
    return MovementRows(query)


def _stream_rows(query: Select) -> Iterator[MovementRow]:
    """Stream a movements query in batches (server-side cursor on PostgreSQL): any size,
    constant memory."""
    result = db.session.execute(
        _row_query(query).execution_options(yield_per=CSV_BATCH, stream_results=True)
    )
    try:
        for row in result:
            yield MovementRow(*row)
    finally:
        result.close()


class MovementRows:
    """The CSV and print rows of a movements query.

    Iterating yields MovementRow objects (streamed, any size). The query is kept so the CSV
    download can have PostgreSQL write the file itself (``copy_csv``).
    """

    def __init__(self, query: Select, *, timezone: str | None = None):
        self.query = query
        self.timezone = timezone  # every row's organization timezone, when they share one

    def __iter__(self) -> Iterator[MovementRow]:
        return _stream_rows(self.query)


def iter_organization_rows(
    actor: Actor, org: Organization, *, since: datetime | None = None, **filters
) -> MovementRows:
    query = movements_query(actor, org, since=since, **filters)
    return MovementRows(query, timezone=org.timezone or "UTC")


def iter_reseller_rows(actor: Actor, *, since: datetime | None = None, **filters) -> MovementRows:
    query = reseller_movements_query(actor, since=since, **filters)
    zones = db.session.scalars(
        scoping.organizations_query(actor, include_deleted=True)
        .with_only_columns(func.coalesce(func.nullif(Organization.timezone, ""), "UTC"))
        .order_by(None)
        .distinct()
        .limit(2)
    ).all()
    return MovementRows(query, timezone=zones[0] if len(zones) == 1 else None)


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
_SENTINEL = re.compile(r"\x00(\w+)\x00")


def _as_text(value) -> ColumnElement:
    return literal(str(value), String)


def _starts_formula(expr, formula_starts) -> ColumnElement:
    return func.left(expr, 1).in_(list(formula_starts))


def _cell(expr, formula_starts) -> ColumnElement:
    """csv_cell in SQL: a leading formula character gets a quote; empty text is NULL (COPY
    quotes an empty string, the csv module does not)."""
    return case(
        (_starts_formula(expr, formula_starts), _as_text("'") + expr),
        else_=func.nullif(expr, ""),
    )


def _static_cell(text: str, formula_starts) -> ColumnElement:
    if not text:
        return null()
    return _as_text("'" + text if text.startswith(formula_starts) else text)


def _template(message: str, formula_starts, **names) -> ColumnElement:
    """The translated ``message`` with each ``%(name)s`` replaced by a SQL expression, as a
    CSV cell."""
    text = gettext(message, **{key: f"\x00{key}\x00" for key in names})
    parts = _SENTINEL.split(text)  # literal, name, literal, name, …, literal
    pieces = [
        _as_text(part) if i % 2 == 0 else type_coerce(names[part], String)
        for i, part in enumerate(parts)
        if i % 2 or part
    ]
    if not pieces:
        return null()
    expr = pieces[0]
    for piece in pieces[1:]:
        expr = expr + piece
    if parts[0]:  # starts with fixed text: whether it needs the quote is known now
        return _as_text("'") + expr if parts[0].startswith(formula_starts) else expr
    return _cell(expr, formula_starts)


def _currency_places() -> tuple[dict[str, int], int]:
    """Babel's minor units (what round_money uses): the currencies that differ from the
    default, and the default."""
    from babel.core import get_global

    fractions = get_global("currency_fractions")
    default = fractions["DEFAULT"][0]
    return {code: info[0] for code, info in fractions.items() if info[0] != default}, default


def _csv_select(rows: MovementRows, *, with_organization: bool, formula_starts) -> Select:
    """The SELECT whose rows, as COPY writes them, are the CSV lines of ``rows``."""
    movements = rows.query.subquery()
    entry = aliased(LedgerEntry, movements)

    if rows.timezone:  # the session's TimeZone is set to it: to_char's TZH:TZM is the offset
        when = func.to_char(entry.created_at, DATE_FORMAT + "TZH:TZM")
        times = None
    else:  # customers in several timezones: convert each row in its organization's
        zone = func.coalesce(func.nullif(Organization.timezone, ""), "UTC")
        times = (
            select(
                func.timezone(zone, entry.created_at).label("local"),
                func.timezone("UTC", entry.created_at).label("utc"),
            )
            .where(Organization.id == entry.organization_id)
            .offset(0)  # a fence: each conversion runs once a row, not once a use
            .lateral("times")
        )
        local, utc = times.c.local, times.c.utc
        when = func.to_char(local, DATE_FORMAT) + case(
            (local < utc, _as_text("-") + func.to_char(utc - local, "HH24:MI")),
            else_=_as_text("+") + func.to_char(local - utc, "HH24:MI"),
        )

    types = case(
        {t.value: _static_cell(entry_type_label(t), formula_starts) for t in EntryType},
        value=type_coerce(entry.type, String),
        else_=type_coerce(entry.type, String),
    )

    member_user = aliased(User)
    member_name = func.coalesce(func.nullif(member_user.name, ""), entry.member_id)
    named_member = (
        select(_template("User Credits: %(name)s", formula_starts, name=member_name))
        .select_from(Member)
        .join(member_user, member_user.id == Member.user_id)
        .where(Member.id == entry.member_id, entry.member_id != "")
        .scalar_subquery()
    )
    account = case(
        (
            type_coerce(entry.account_kind, String) == AccountKind.SYSTEM.value,
            _static_cell(gettext("System Credits"), formula_starts),
        ),
        else_=func.coalesce(
            named_member,
            _template("User Credits: %(name)s", formula_starts, name=entry.member_id),
        ),
    )

    doer, real = aliased(User), aliased(User)
    doer_name, real_name = func.nullif(doer.name, ""), func.nullif(real.name, "")
    done_by_user = (
        select(
            case(
                (
                    and_(real_name.is_not(None), doer_name.is_not(None)),
                    _template(
                        "%(real)s as %(name)s", formula_starts, real=real.name, name=doer.name
                    ),
                ),
                else_=_cell(doer_name, formula_starts),
            )
        )
        .select_from(doer)
        .outerjoin(real, real.id == entry.real_user_id)
        .where(doer.id == entry.actor_user_id, doer_name.is_not(None))
        .scalar_subquery()
    )
    done_by = func.coalesce(
        case((entry.actor_user_id.is_not(None), done_by_user)),
        case(
            (
                func.nullif(entry.api_key_id, "").is_not(None),
                _static_cell(gettext("API key"), formula_starts),
            ),
            else_=_static_cell(gettext("System"), formula_starts),
        ),
    )

    places_of, default_places = _currency_places()
    places = case(places_of, value=entry.currency, else_=default_places) if places_of else None
    rounded = func.round(func.abs(type_coerce(entry.amount, Numeric)), places)
    amount = case(
        (or_(entry.amount.is_(None), func.nullif(entry.currency, "").is_(None)), null()),
        (
            type_coerce(entry.amount, Numeric) < 0,
            _static_cell("-", formula_starts) + cast(rounded, Text),
        ),
        else_=cast(rounded, Text),
    )

    cells = [
        when,
        types,
        account,
        entry.credits,
        entry.balance_after,
        amount,
        _cell(entry.currency, formula_starts),
        _cell(entry.reference, formula_starts),
        done_by,
    ]
    if with_organization:
        cells.insert(
            0,
            select(_cell(Organization.name, formula_starts))
            .where(Organization.id == entry.organization_id)
            .scalar_subquery(),
        )
    statement = select(*cells).select_from(movements)
    if times is not None:
        statement = statement.join(times, true())
    return statement.order_by(entry.created_at.desc(), entry.id.desc())


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
    engine = db.engine
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


# -- the 30-day chart -----------------------------------------------------------------------


@dataclass(frozen=True)
class DayPoint:
    day: date
    balance: int  # the system pool at the end of the day
    usage: int  # credits used that day, every account


def daily_series(org: Organization, days: int = LOG_DAYS) -> list[DayPoint]:
    """Per local day (organization's timezone): the system pool's closing balance and usage.

    One grouped query over the window: each posting falls into the day it happened
    (``occurred_at``: a late-reported SMS counts on the day it was sent); the closing
    balance of a day is today's balance minus what the pool moved after that day.
    """
    days = max(1, min(int(days), 366))
    zone = ZoneInfo(org.timezone)
    today = utcnow().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    starts = [datetime.combine(first + timedelta(days=i), time(), tzinfo=zone) for i in range(days)]
    bucket = case(
        *[(LedgerEntry.occurred_at < start, i - 1) for i, start in enumerate(starts[1:], 1)],
        else_=days - 1,
    )
    is_system = LedgerEntry.account_kind == AccountKind.SYSTEM
    is_usage = LedgerEntry.type == EntryType.USAGE
    # Bucket in a subquery, group outside: PostgreSQL would not match two copies of the
    # CASE with their own bound parameters between SELECT and GROUP BY.
    postings = (
        select(
            bucket.label("bucket"),
            case((is_system, LedgerEntry.credits), else_=0).label("pool"),
            case((is_usage, -LedgerEntry.credits), else_=0).label("used"),
        )
        .where(
            LedgerEntry.organization_id == org.id,
            LedgerEntry.reseller_id == org.reseller_id,
            LedgerEntry.balance_after.is_not(None),
            LedgerEntry.occurred_at >= starts[0],
        )
        .subquery()
    )
    rows = db.session.execute(
        select(postings.c.bucket, func.sum(postings.c.pool), func.sum(postings.c.used)).group_by(
            postings.c.bucket
        )
    ).all()
    moved = [0] * days
    used = [0] * days
    for index, pool_delta, usage in rows:
        moved[int(index)] = int(pool_delta or 0)
        used[int(index)] = int(usage or 0)
    current = db.session.scalar(
        select(func.coalesce(func.sum(CreditAccount.balance), 0)).where(
            CreditAccount.organization_id == org.id,
            CreditAccount.kind == AccountKind.SYSTEM,
        )
    )
    closing = int(current or 0)
    points = []
    for i in reversed(range(days)):
        points.append(DayPoint(first + timedelta(days=i), closing, used[i]))
        closing -= moved[i]
    return list(reversed(points))
