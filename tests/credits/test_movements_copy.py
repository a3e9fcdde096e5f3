"""The CSV written by PostgreSQL's COPY is byte for byte the one the Python path writes.

On PostgreSQL ``movements_csv_response`` has the database write the rows
(``export_copy.copy_csv``); on SQLite, and whenever it is given plain rows, Python writes them.
Both are compared here over rows meant to trip one or the other: both languages, timezones
with daylight saving time and half-hour offsets, instants on either side of a DST change,
cells starting with a formula character, commas, quotes, line breaks, non-ASCII text, empty
and missing values, amounts in currencies with 0, 2 and 3 decimals, removed members,
log-in-as and API-key movements.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_babel import refresh
from sqlalchemy import insert

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.core.types import new_id
from tenants.credits import export_copy, export_rows, movements
from tenants.credits.export import FORMULA_STARTS, movements_csv_response
from tenants.jobs.outbox import commit
from tenants.models import AccountKind, CreditAccount, EntryType, LedgerEntry
from tests.conftest import member_actor, staff_actor
from tests.credits.conftest import fund

pytestmark = pytest.mark.postgres_only

AWKWARD_TEXT = [
    '=HYPERLINK("http://evil")',
    "+34 600",
    "-5",
    "@SUM(A1)",
    "\ttab first",
    "\rcarriage first",
    'quote " inside, and a comma',
    "two\nlines",
    "crlf\r\ninside",
    "Zoë Ñandú — 東京 🚀",
    "",
    None,
    " leading space",
    "trailing space ",
    "plain-ref",
    '"',
    ",",
    "\\.",
    "'already quoted",
]


RECORDED_LATER = [
    timedelta(0),
    timedelta(seconds=30),
    timedelta(seconds=59, microseconds=999_999),
    timedelta(minutes=1),
    timedelta(minutes=-1),
    timedelta(seconds=61),
    timedelta(days=13, hours=5),
    timedelta(minutes=-2, microseconds=1),
    timedelta(hours=12),
]


class PlainRows:
    """Rows as a list (the Python path writes them) that keep the columns they are for."""

    def __init__(self, rows):
        self.columns = rows.columns
        self.rows = list(rows)

    def __iter__(self):
        return iter(self.rows)


def _system_account(org) -> CreditAccount:
    return db.session.scalar(
        sa.select(CreditAccount).where(
            CreditAccount.organization_id == org.id, CreditAccount.kind == AccountKind.SYSTEM
        )
    )


def _seed(org, members, users, api_key_id: str, moments: list[datetime]) -> None:
    """A row for every combination worth checking, written straight into the ledger."""
    account = _system_account(org)
    amounts = [
        (None, None),
        (Decimal("12.3456"), "EUR"),
        (Decimal("-12.3450"), "EUR"),
        (Decimal("-0.0040"), "EUR"),
        (Decimal("0.0050"), "EUR"),
        (Decimal("2.5000"), "JPY"),
        (Decimal("-2.5000"), "JPY"),
        (Decimal("1234.5678"), "KWD"),
        (Decimal("99.9950"), "USD"),
        (Decimal("5.0000"), ""),
        (Decimal("0.0000"), "CLF"),
    ]
    doers = [
        (None, None, None),
        (None, None, api_key_id),
        (None, None, ""),
        (users[0].id, None, None),
        (users[1].id, users[2].id, None),
        (users[3].id, users[0].id, None),
        (users[2].id, None, api_key_id),
        ("usr_gone", None, None),
        ("usr_gone", users[1].id, None),
    ]
    accounts = [(AccountKind.SYSTEM, "")] + [(AccountKind.MEMBER, m.id) for m in members]
    accounts.append((AccountKind.MEMBER, "mem_removed_long_ago"))
    accounts.append((AccountKind.MEMBER, ""))
    rows = []
    types = list(EntryType)
    for i, moment in enumerate(moments):
        kind, member_id = accounts[i % len(accounts)]
        amount, currency = amounts[i % len(amounts)]
        actor, real, key = doers[i % len(doers)]
        rows.append(
            {
                "id": new_id("ent"),
                "transaction_id": new_id("txn"),
                "reseller_id": org.reseller_id,
                "organization_id": org.id,
                "account_id": account.id,
                "account_kind": kind,
                "member_id": member_id,
                "type": types[i % len(types)],
                "credits": (i * 37 % 2001) - 1000,
                "balance_after": None if i % 13 == 5 else i * 11 - 300,
                "amount": amount,
                "currency": currency,
                "reference": AWKWARD_TEXT[i % len(AWKWARD_TEXT)],
                "occurred_at": moment,
                # Recorded at once, a little later, or (late usage) days later: the
                # "Recorded at" cell is filled from one minute apart, either way.
                "created_at": moment + RECORDED_LATER[i % len(RECORDED_LATER)],
                "actor_user_id": actor,
                "real_user_id": real,
                "api_key_id": key,
            }
        )
    db.session.execute(insert(LedgerEntry), rows)
    commit()


def _moments(count: int) -> list[datetime]:
    """Instants around the 2026 DST changes (Europe on 29 March and 25 October, America on
    8 March and 1 November) and elsewhere, with microseconds to truncate, all distinct."""
    edges = [
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
        datetime(2026, 3, 8, 5, 30, tzinfo=UTC),
        datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
    ]
    out = []
    for i in range(count):
        edge = edges[i % len(edges)]
        out.append(edge + timedelta(seconds=(i // len(edges)) * 7 - 21, microseconds=999_999 - i))
    return out


def _lines(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _body(response) -> bytes:
    return b"".join(c.encode() if isinstance(c, str) else c for c in response.response)


def _both(app, language: str, make_rows, *, with_organization=False) -> tuple[bytes, bytes]:
    """(COPY's CSV, Python's CSV) of the same rows in ``language``."""
    bodies = []
    for by_copy in (True, False):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            refresh()
            rows = make_rows()
            copied = export_copy.copy_csv(
                rows, with_organization=with_organization, formula_starts=FORMULA_STARTS
            )
            assert copied is not None  # PostgreSQL: the COPY path is available
            copied.close()
            if not by_copy:
                rows = PlainRows(rows)  # plain rows: the Python path
            response = movements_csv_response(rows, "x.csv", with_organization=with_organization)
            bodies.append(_body(response))
        refresh()
    return bodies[0], bodies[1]


@pytest.fixture
def ledger(app, create_reseller, create_organization, create_member, create_user):
    reseller = create_reseller(name="Reseller Ñ")
    names = ["=Mallory", 'Zoë "Z" Ñandú, Jr.', "Line\nBreak", "", "@at", "-minus", "Ada"]
    zones = ["Europe/Madrid", "America/St_Johns", "Asia/Kolkata", "America/New_York"]
    orgs = []
    for n, zone in enumerate(zones):
        org = create_organization(reseller, name=f"Org {n}")
        # Straight into the rows: names the forms would refuse still reach the CSV.
        org.name = ["+Plus Org", 'Acme, "Inc"', "", "Ünïcode"][n]
        org.timezone = zone
        org.individual_user_credits = True
        commit()
        fund(org, 10)
        members = [create_member(org, name=f"Member {i}") for i in range(len(names))]
        users = [create_user(name=f"User {i}") for i in range(4)]
        for person, name in zip([m.user for m in members] + users, names + names[:4], strict=True):
            person.name = name
        commit()
        _seed(org, members, users, f"key_{uuid.uuid4().hex[:8]}", _moments(140 + n))
        orgs.append(org)
    return reseller, orgs


@pytest.mark.parametrize("language", ["en", "es"])
def test_copy_writes_the_organization_csv_byte_for_byte(app, ledger, language):
    _reseller, orgs = ledger
    for org in orgs:
        copied, python = _both(
            app, language, lambda o=org: export_rows.iter_organization_rows(SYSTEM, o)
        )
        assert python.count(b"\r\n") > 130
        assert copied == python


@pytest.mark.parametrize("language", ["en", "es"])
def test_copy_writes_the_reseller_csv_byte_for_byte_across_timezones(
    app, ledger, create_reseller_staff, language
):
    reseller, orgs = ledger
    staff = create_reseller_staff(reseller)
    actor = staff_actor(reseller, staff)

    def every_row():
        rows = export_rows.iter_movement_rows(
            movements.reseller_movements_query(actor, since=datetime(2025, 1, 1, tzinfo=UTC))
        )
        assert rows.timezone is None  # several timezones: converted row by row in SQL
        return rows

    copied, python = _both(app, language, every_row, with_organization=True)
    assert copied.count(b"\r\n+Plus Org") == 0 and copied.count(b"'+Plus Org") > 100
    assert copied == python

    # One timezone for every customer: converted by the session's TimeZone instead.
    for org in orgs:
        org.timezone = "America/St_Johns"
    commit()

    def shared_zone():
        rows = export_rows.iter_reseller_rows(actor, since=datetime(2025, 1, 1, tzinfo=UTC))
        assert rows.timezone == "America/St_Johns"
        return rows

    copied, python = _both(app, language, shared_zone, with_organization=True)
    assert copied == python


@pytest.mark.parametrize("language", ["en", "es"])
def test_copy_writes_the_postpaid_log_columns_byte_for_byte(app, ledger, language):
    _reseller, orgs = ledger
    for org in orgs:

        def postpaid_rows(o=org):
            return export_rows.MovementRows(
                movements.movements_query(SYSTEM, o),
                timezone=o.timezone,
                columns=export_rows.POSTPAID_CSV_COLUMNS,
            )

        copied, python = _both(app, language, postpaid_rows)
        header = _lines(python)[0]
        assert len(header) == len(export_rows.POSTPAID_CSV_COLUMNS) == 8
        assert copied == python


def test_the_recorded_time_is_written_only_when_a_minute_or_more_apart(app, ledger):
    _reseller, orgs = ledger
    with app.test_request_context("/"):
        rows = list(export_rows.iter_organization_rows(SYSTEM, orgs[0]))
        body = _body(movements_csv_response(rows, "x.csv"))
    lines = _lines(body)[1:]
    assert len(lines) == len(rows)
    for row, line in zip(rows, lines, strict=True):
        apart = abs(row.created_at - row.occurred_at) >= timedelta(minutes=1)
        assert bool(line[-1]) == apart, (row.occurred_at, row.created_at, line[-1])
    assert any(line[-1] for line in lines) and not all(line[-1] for line in lines)


def test_copy_keeps_the_filters_and_the_visibility(app, ledger, create_member):
    from tenants.models import Member

    _reseller, orgs = ledger
    org = orgs[0]
    member = db.session.scalar(sa.select(Member).where(Member.organization_id == org.id).limit(1))
    member_only = member_actor(member)
    cases = [
        (SYSTEM, {"types": ["usage", "purchase"]}),
        (SYSTEM, {"account": "system"}),
        (SYSTEM, {"account": f"member:{member.id}"}),
        (SYSTEM, {"q": 'quote " INSIDE'}),
        (SYSTEM, {"q": "%_\\"}),
        (
            SYSTEM,
            {
                "since": datetime(2026, 3, 8, 6, 59, tzinfo=UTC),
                "until": datetime(2026, 3, 29, 1, 0, 10, tzinfo=UTC),
            },
        ),
        (member_only, {}),
    ]
    for actor, filters in cases:
        copied, python = _both(
            app, "es", lambda a=actor, f=filters: export_rows.iter_organization_rows(a, org, **f)
        )
        assert copied == python, filters


def test_the_copy_path_is_taken_on_postgres_and_closes_its_connection_midway(app, ledger):
    _reseller, orgs = ledger
    org = orgs[0]
    _seed(
        org,
        [],
        _four_users(),
        "key_x",
        [datetime(2026, 5, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(5000)],
    )
    pool = db.engine.pool
    with app.test_request_context("/"):
        chunks = export_copy.copy_csv(
            export_rows.iter_organization_rows(SYSTEM, org), formula_starts=FORMULA_STARTS
        )
        before = pool.checkedout()  # the session's own connection, if building the query used it
        try:
            first = next(chunks)
            assert len(_lines(first)) == export_copy.COPY_FLUSH_ROWS
            assert pool.checkedout() == before + 1
        finally:
            chunks.close()  # the client went away: its connection is dropped, not drained
        assert pool.checkedout() == before
        for _ in range(100):  # the server notices within moments
            busy = db.session.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY (%' "
                    "AND pid <> pg_backend_pid()"
                )
            )
            db.session.rollback()
            if not busy:
                break
            time.sleep(0.1)
        assert busy == 0
        # And the whole download still works afterwards on the same pool.
        response = movements_csv_response(export_rows.iter_organization_rows(SYSTEM, org), "x.csv")
        expected = 1 + len(list(export_rows.iter_organization_rows(SYSTEM, org)))  # + header
        assert len(_lines(_body(response))) == expected


def _four_users():
    from tenants.models import User

    return list(db.session.scalars(sa.select(User).limit(4)))


def _plan(rows, *, with_organization: bool = False) -> str:
    """PostgreSQL's plan of the COPY's SELECT when told to run in a parallel worker whatever
    can (``debug_parallel_query``): a Gather on top means the whole statement can."""
    import psycopg

    statement = export_copy._csv_select(
        rows, with_organization=with_organization, formula_starts=FORMULA_STARTS
    )
    sql, params = export_copy._bound(statement, db.engine.dialect)
    raw = db.session.connection().connection.driver_connection
    setting = "debug_parallel_query" if raw.info.server_version >= 160000 else "force_parallel_mode"
    db.session.execute(sa.text(f"SET LOCAL {setting} = on"))
    if rows.timezone:
        db.session.execute(
            sa.text("SELECT set_config('TimeZone', :zone, true)"), {"zone": rows.timezone}
        )
    plan = db.session.execute(
        sa.text(psycopg.ClientCursor(raw).mogrify(f"EXPLAIN {sql}", params))
    ).scalars()
    text = "\n".join(plan)
    db.session.rollback()
    return text


def test_the_cells_are_computed_in_the_parallel_workers(app, ledger, create_reseller_staff):
    """No correlated subquery in the SELECT (names come through LEFT JOINs) and the rows'
    own query not planned apart (no ORDER BY of its own): the whole statement may run in
    parallel workers, so they compute the cells and the leader only merges and writes the
    rows (B3). Each shape of the organization's and the reseller's CSV."""
    reseller, orgs = ledger
    actor = staff_actor(reseller, create_reseller_staff(reseller))
    with app.test_request_context("/", headers={"Accept-Language": "es"}):
        refresh()
        for org in orgs:
            org.timezone = "Europe/Madrid"
        commit()
        for rows, with_organization in (
            (export_rows.iter_organization_rows(SYSTEM, orgs[0]), False),
            (export_rows.iter_organization_rows(SYSTEM, orgs[0], q="quote"), False),
            (export_rows.iter_reseller_rows(actor), True),
        ):
            plan = _plan(rows, with_organization=with_organization)
            assert "SubPlan" not in plan, plan
            assert plan.startswith("Gather"), plan
    refresh()
