"""tenants.core.prepared.Prepared: a statement compiled once and sent at the driver level
writes and reads what ``session.execute`` of the same statement does — its constants, and
parameters that need converting (enums, money, UTC times) — in the session's transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, insert, literal_column, select

from tenants.core.extensions import db
from tenants.core.prepared import Prepared
from tenants.models import Organization, OrganizationStatus


def test_the_same_rows_as_session_execute(app, create_organization):
    org = create_organization()
    db.session.commit()
    query = select(
        Organization.id, Organization.status, Organization.debt, Organization.created_at
    ).where(
        Organization.id == bindparam("organization"),
        Organization.status != OrganizationStatus.DELETED,  # a constant it binds
        Organization.debt >= bindparam("least", type_=Organization.debt.type),
        Organization.created_at < bindparam("before", type_=Organization.created_at.type),
    )
    params = {
        "organization": org.id,
        # Found only if converted as the column type does: rounded to the money scale (0),
        # and on SQLite scaled to an integer.
        "least": Decimal("0.00004"),
        "before": datetime(2999, 1, 1, tzinfo=UTC),
    }
    expected = db.session.execute(query, params).one()
    prepared = Prepared(query)
    for _ in range(3):  # compiled once, used again
        [row] = prepared.execute(params)
        assert row.id == expected.id and row.status == expected.status == OrganizationStatus.ACTIVE
        assert row.created_at is not None
    assert prepared.execute({**params, "organization": "org_none"}) == []
    with pytest.raises(ValueError):  # a naive time is refused, as by the column type
        prepared.execute({**params, "before": datetime(2999, 1, 1)})


def test_it_writes_in_the_sessions_transaction(app, create_organization):
    from tenants.models import UsageDay

    table = UsageDay.__table__
    statement = Prepared(
        insert(table).values(
            organization_id=bindparam("org"),
            reseller_id=bindparam("reseller"),
            day=literal_column("CURRENT_DATE"),
            credits=bindparam("credits"),
            charged=bindparam("charged", type_=table.c.charged.type),
        )
    )
    org = create_organization()
    db.session.commit()
    statement.execute(
        {"org": org.id, "reseller": org.reseller_id, "credits": 3, "charged": Decimal("1.5")}
    )
    assert db.session.scalar(select(table.c.credits).where(table.c.organization_id == org.id)) == 3
    db.session.rollback()
    assert (
        db.session.scalar(select(table.c.credits).where(table.c.organization_id == org.id)) is None
    )


def test_a_refused_statement_is_sqlalchemy_s_error_and_the_session_goes_on(
    app, create_organization
):
    """A driver's error comes out as SQLAlchemy's (what the request's error handlers and
    is_outage know), and the session rolls back and goes on as after session.execute."""
    from sqlalchemy import exc

    from tenants.models import UsageDay

    table = UsageDay.__table__
    org = create_organization()
    db.session.commit()
    duplicate = Prepared(
        insert(table).values(
            organization_id=bindparam("org"),
            reseller_id=bindparam("reseller"),
            day=literal_column("CURRENT_DATE"),
            credits=1,
            charged=0,
        )
    )
    params = {"org": org.id, "reseller": org.reseller_id}
    duplicate.execute(params)
    db.session.commit()
    with pytest.raises(exc.IntegrityError):
        duplicate.execute(params)  # the same organization and day again
    db.session.rollback()
    assert db.session.scalar(select(table.c.credits).where(table.c.organization_id == org.id)) == 1


def test_the_engine_s_cursor_events_see_it(app, create_organization):
    from sqlalchemy import event

    org = create_organization()
    db.session.commit()
    org_id = org.id  # read now: the object is expired after the commit
    seen: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        Prepared(select(Organization.name).where(Organization.id == bindparam("o"))).execute(
            {"o": org_id}
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert len(seen) == 1 and "FROM organizations" in seen[0]


@pytest.mark.postgres_only
def test_a_statement_keeps_its_cursor_on_a_connection(app, create_organization):
    """On psycopg a statement runs on one cursor of its pooled connection, call after call
    (the cursor keeps the parameters' and columns' adapters); a connection the pool
    invalidated gets a new one, and the statement still answers."""
    from sqlalchemy import event

    org = create_organization()
    db.session.commit()
    org_id = org.id
    cursors: list = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        cursors.append(cursor)

    query = Prepared(select(Organization.name).where(Organization.id == bindparam("o")))
    event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        for _ in range(3):
            assert [row.name for row in query.execute({"o": org_id})] == [org.name]
        db.session.connection().invalidate()
        db.session.rollback()
        assert [row.name for row in query.execute({"o": org_id})] == [org.name]
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
    assert cursors[0] is cursors[1] is cursors[2]
    assert cursors[3] is not cursors[0] and not cursors[3].closed
