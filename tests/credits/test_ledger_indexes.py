"""The ledger's listing indexes hold movements only (the holding accounts' postings,
``balance_after`` set: migration d9f1b3c5e7a2): every reader of movements must say so, or
PostgreSQL cannot use them and reads the whole table. Each reader's statements, planned
with sequential scans priced out, read ledger_entries through an index."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import chart, movements, reseller_log, statements
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import EntryType
from tenants.models.ledger import SYSTEM_ACCOUNT
from tenants.resellers import dashboards
from tests.conftest import staff_actor

pytestmark = pytest.mark.postgres_only


def _ledger_statements(call) -> list[tuple[str, object]]:
    """The statements reading ledger_entries that ``call()`` runs, with their parameters."""
    seen: list[tuple[str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if "ledger_entries" in statement and statement.lstrip().upper().startswith(
            ("SELECT", "WITH")
        ):
            seen.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return seen


def _plan(statement: str, parameters) -> str:
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {statement}", parameters)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_every_reader_of_movements_reads_them_through_an_index(
    create_reseller, create_organization, create_reseller_staff
):
    reseller = create_reseller()
    org = create_organization(reseller)
    credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, 50, entry_type=EntryType.PURCHASE)
    commit()
    credits.record_usage(SYSTEM, org, credits=3, reference="r1")
    commit()
    staff = staff_actor(reseller, create_reseller_staff(reseller))
    now = utcnow()
    readers = {
        "movements": lambda: movements.list_movements(staff, org),
        "movements of an account": lambda: movements.list_movements(
            staff, org, account="system", since=now - timedelta(days=3)
        ),
        "reseller log": lambda: db.session.execute(
            reseller_log.reseller_log_query(staff).limit(50)
        ).all(),
        "statement": lambda: list(
            statements.credit_statement(staff, org, now - timedelta(days=30), now).stream()
        ),
        "chart": lambda: chart.daily_series(org),
        "dashboard": lambda: dashboards.daily_credits(staff),
        "platform dashboard": lambda: dashboards.daily_credits(SYSTEM),
    }
    for name, call in readers.items():
        found = _ledger_statements(call)
        assert found, name
        for statement, parameters in found:
            plan = _plan(statement, parameters)
            assert "Seq Scan on ledger_entries" not in plan, f"{name}:\n{plan}"
            assert "ix_ledger_entries_" in plan, f"{name}:\n{plan}"
        db.session.rollback()
