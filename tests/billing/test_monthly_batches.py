"""The monthly run in several batches: prepared side by side on two connections
(PostgreSQL), issued one after the other in the organizations' order, numbers never skipping,
a failing batch failing only its own organizations."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, literal_column, select, table

from tenants.billing import monthly_batch, monthly_run
from tenants.core.extensions import db
from tenants.models import BillingRun, Invoice, InvoiceKind, LedgerEntry, PostpaidAccount
from tests.billing.conftest import use
from tests.conftest import using_postgres


def _invoices() -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice).where(Invoice.kind == InvoiceKind.INVOICE).order_by(Invoice.sequence)
        )
    )


def _preparing_threads(monkeypatch) -> set[str]:
    """The names of the threads that prepare batches, as the run goes."""
    names: set[str] = set()
    prepare = monthly_batch._prepare_batch

    def recorded(*args, **kwargs):
        names.add(threading.current_thread().name)
        return prepare(*args, **kwargs)

    monkeypatch.setattr(monthly_run, "_prepare_batch", recorded)
    return names


def test_batches_are_numbered_in_the_organizations_order_without_gaps(
    clock, create_postpaid, monkeypatch
):
    orgs = [create_postpaid() for _ in range(7)]
    for credits, org in enumerate(orgs, start=10):
        use(org, credits, at=datetime(2026, 10, 26, tzinfo=UTC))
    idle = create_postpaid()  # no usage: closed without an invoice
    threads = _preparing_threads(monkeypatch)

    result = monthly_run.run_monthly("2026-10", now=clock.now, batch_size=2)

    assert (result.invoiced, result.skipped, result.failed) == (7, 0, 0)
    invoices = _invoices()
    assert [i.sequence for i in invoices] == list(range(1, 8))
    # The numbers follow the organizations' order, whichever connection prepared them.
    assert [i.organization_id for i in invoices] == sorted(o.id for o in orgs)
    credits = {o.id: c for c, o in enumerate(orgs, start=10)}
    assert [sum(line.quantity for line in i.lines) for i in invoices] == [
        credits[i.organization_id] for i in invoices
    ]
    references = db.session.scalars(
        select(LedgerEntry.reference).where(LedgerEntry.type == "invoice")
    ).all()
    assert sorted(references) == sorted(2 * [i.number for i in invoices])
    run = db.session.scalars(select(BillingRun)).one()
    assert (run.invoiced, run.total, run.progress, run.status) == (7, 7, 7, "finished")
    closed = db.session.scalars(select(PostpaidAccount.closed_period)).all()
    assert set(closed) == {"2026-10"} and idle.id not in {i.organization_id for i in invoices}
    # Four batches: two connections side by side on PostgreSQL, one on SQLite.
    assert len(threads) == (2 if using_postgres() else 1)


def test_a_failing_batch_fails_only_its_organization_and_the_rest_stay_gapless(
    clock, create_postpaid, monkeypatch
):
    orgs = sorted((create_postpaid() for _ in range(6)), key=lambda org: org.id)
    for org in orgs:
        use(org, 10, at=datetime(2026, 10, 26, tzinfo=UTC))
    broken = orgs[2]  # the first of the second batch
    snapshot = monthly_batch.invoices.billing_snapshot

    def billing_snapshot(row):
        if row.id == broken.id:
            raise RuntimeError("billing details unreadable")
        return snapshot(row)

    monkeypatch.setattr(monthly_batch.invoices, "billing_snapshot", billing_snapshot)

    result = monthly_run.run_monthly("2026-10", now=clock.now, batch_size=2)

    assert (result.invoiced, result.failed) == (5, 1)
    invoices = _invoices()
    assert [i.sequence for i in invoices] == [1, 2, 3, 4, 5]
    assert [i.organization_id for i in invoices] == [o.id for o in orgs if o is not broken]
    run = db.session.scalars(select(BillingRun)).one()
    assert (run.invoiced, run.failed, run.progress, run.status) == (5, 1, 6, "finished")
    assert run.last_error.startswith(broken.id) and "billing details unreadable" in run.last_error
    # The failed organization's month stays open, its charges unbilled, for the next run.
    account = db.session.get(PostpaidAccount, broken.id)
    db.session.refresh(account)
    assert account.closed_period != "2026-10" and account.unbilled_credits == 10
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.type == "invoice", LedgerEntry.organization_id == broken.id)
        )
        == 0
    )

    monkeypatch.setattr(monthly_batch.invoices, "billing_snapshot", snapshot)
    again = monthly_run.run_monthly("2026-10", now=clock.now, batch_size=2)

    assert (again.invoiced, again.failed) == (1, 0)
    assert [i.sequence for i in _invoices()] == [1, 2, 3, 4, 5, 6]


def test_a_long_months_lines_are_stored_compressed_with_lz4_where_the_server_has_it(
    clock, create_postpaid
):
    org = create_postpaid()
    clock.now = datetime(2026, 11, 2, 12, tzinfo=UTC)  # October's usage is not yet too late
    for day in range(1, 32):  # a line a day: about 4 KB of lines, stored compressed
        use(org, day, at=datetime(2026, 10, day, 12, tzinfo=UTC))

    monthly_run.run_monthly("2026-10", now=clock.now)

    (invoice,) = _invoices()
    assert len(invoice.lines) == 31 and invoice.subtotal == sum(li.amount for li in invoice.lines)
    if using_postgres():
        has_lz4 = db.session.scalar(
            select(func.bool_or(literal_column("'lz4' = ANY(enumvals)")))
            .select_from(table("pg_settings"))
            .where(literal_column("name") == "default_toast_compression")
        )
        method = db.session.scalar(
            select(func.pg_column_compression(Invoice.lines)).where(Invoice.id == invoice.id)
        )
        assert method == ("lz4" if has_lz4 else "pglz")
        # The setting was the batch's own: the session's default is untouched.
        assert db.session.scalar(select(func.current_setting("default_toast_compression"))) == (
            "pglz"
        )


def test_one_connection_when_so_configured(app, clock, create_postpaid, monkeypatch):
    orgs = [create_postpaid() for _ in range(5)]
    for org in orgs:
        use(org, 10, at=datetime(2026, 10, 26, tzinfo=UTC))
    monkeypatch.setitem(app.config, "BILLING_RUN_CONNECTIONS", 1)
    threads = _preparing_threads(monkeypatch)

    result = monthly_run.run_monthly("2026-10", now=clock.now, batch_size=2)

    assert (result.invoiced, result.failed) == (5, 0)
    assert [i.sequence for i in _invoices()] == [1, 2, 3, 4, 5]
    assert threads == {threading.current_thread().name}
