"""An issued invoice's lines are part of its row (``invoices.lines``): written by the same
INSERT as the invoice and by nothing else, summing to its subtotal on every invoice
(receipts, monthly invoices at several rates), never changed afterwards — and the database
itself refuses an invoice whose lines do not add up, or a change to its lines or subtotal."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.billing import monthly_run
from tenants.core.extensions import db
from tenants.core.types import new_id
from tenants.invoices.integrity import invoices_not_adding_up
from tenants.jobs.outbox import commit
from tenants.models import Invoice, InvoiceKind, InvoiceLine
from tests.billing.conftest import clock, create_postpaid, reseller, use
from tests.invoices.test_receipts import buy, shop

__all__ = ["clock", "create_postpaid", "reseller", "shop"]  # fixtures, shared

OCTOBER_END = datetime(2026, 11, 2, tzinfo=UTC)
GUARD = "lines_sum_to_subtotal|lines must sum to the subtotal"
FROZEN = "lines and subtotal never change"


@contextmanager
def statements():
    """Every statement sent to the database while the block runs."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def _invoice_writes(seen: list[str]) -> list[str]:
    return [s for s in seen if re.match(r"(INSERT INTO|UPDATE|DELETE FROM) invoices\b", s)]


def _issue_everything(clock, create_postpaid, shop) -> None:
    """Receipts and monthly invoices: Spain (21 %) and Mexico (16 %), several days each,
    amounts whose per-line rounding matters (0.05 x odd credits)."""
    clock.now = OCTOBER_END
    spain = create_postpaid()
    mexico = create_postpaid(country="MX", currency="EUR", timezone="America/Mexico_City")
    for day, credits in ((3, 7), (3, 11), (9, 13), (21, 1), (31, 333)):
        use(spain, credits, at=datetime(2026, 10, day, 10, tzinfo=UTC))
        use(mexico, credits + 2, at=datetime(2026, 10, day, 12, tzinfo=UTC))
    buy(shop, 1001)
    buy(shop, 2500)
    result = monthly_run.run_monthly("2026-10", now=OCTOBER_END)
    assert result.invoiced == 2


def test_every_invoice_is_written_with_its_lines_and_they_sum_to_its_subtotal(
    clock, create_postpaid, shop, runner
):
    with statements() as seen:
        _issue_everything(clock, create_postpaid, shop)

    # No table of lines, and no statement writes lines apart from their invoice's INSERT.
    assert "invoice_lines" not in sa.inspect(db.engine).get_table_names()
    assert not [s for s in seen if re.search(r"\binvoice_lines\b", s)]
    writes = _invoice_writes(seen)
    inserts = [s for s in writes if s.startswith("INSERT")]
    assert len(inserts) == 3  # two receipts, one monthly batch
    for statement in inserts:
        columns = re.match(r"INSERT INTO invoices \(([^)]*)\)", statement).group(1)
        assert "lines" in [name.strip() for name in columns.split(",")]
    for statement in writes:
        if not statement.startswith("INSERT"):
            assert not re.search(r"\b(lines|subtotal)\s*=", statement), statement

    issued = list(db.session.scalars(sa.select(Invoice).order_by(Invoice.sequence)))
    assert [i.kind for i in issued].count(InvoiceKind.INVOICE) == 2
    for invoice in issued:
        assert invoice.lines, invoice.number
        assert sum((line.amount for line in invoice.lines), Decimal(0)) == invoice.subtotal
        assert invoice.subtotal + invoice.tax == invoice.total
    assert [len(i.lines) for i in issued if i.kind == InvoiceKind.INVOICE] == [4, 4]
    # What each writer stored (the monthly run builds its records in SQL on PostgreSQL) is
    # the canonical record of its line.
    for invoice_id, stored in db.session.execute(sa.text("SELECT id, lines FROM invoices")):
        stored = json.loads(stored) if isinstance(stored, str) else stored
        assert stored == [InvoiceLine.from_record(r).record() for r in stored], invoice_id
    assert list(invoices_not_adding_up(chunk=2)) == []

    result = runner.invoke(args=["billing", "check-invoices"])
    assert result.exit_code == 0, result.output
    assert "Every invoice's lines sum to its subtotal." in result.output


def _copy_of(invoice: Invoice, **changes) -> dict:
    """An invoice row like ``invoice`` (a receipt, so no (organization, period) clash) with
    its own id and number."""
    table = Invoice.__table__
    row = dict(
        db.session.execute(sa.select(table).where(table.c.id == invoice.id)).mappings().one()
    )
    sequence = row["sequence"] + 1000
    row.update(id=new_id("inv"), sequence=sequence, number=f"COPY-{sequence}", period=None)
    row.update(kind=InvoiceKind.RECEIPT, **changes)
    return row


def test_the_database_refuses_an_invoice_whose_lines_do_not_sum_to_its_subtotal(shop):
    receipt = buy(shop, 1001)
    table = Invoice.__table__
    db.session.execute(sa.insert(table), _copy_of(receipt))  # a faithful copy is accepted
    db.session.rollback()
    wrong = (
        _copy_of(receipt, subtotal=receipt.subtotal + Decimal("0.01")),
        _copy_of(receipt, lines=()),  # an invoice without its lines
        _copy_of(receipt, lines=receipt.lines + receipt.lines),
    )
    for row in wrong:
        with pytest.raises(sa.exc.DatabaseError, match=GUARD):
            db.session.execute(sa.insert(table), row)
        db.session.rollback()


def test_an_issued_invoices_lines_and_subtotal_never_change(shop):
    receipt = buy(shop, 1001)
    table = Invoice.__table__
    (line,) = receipt.lines
    doubled = replace(line, quantity=2002, amount=line.amount * 2)
    for values in (
        {"lines": (doubled,), "subtotal": receipt.subtotal * 2},  # still adding up
        {"lines": ()},
        {"subtotal": Decimal("1.00")},
    ):
        with pytest.raises(sa.exc.DatabaseError, match=FROZEN):
            db.session.execute(sa.update(table).where(table.c.id == receipt.id).values(**values))
        db.session.rollback()
    # Its status still moves (e.g. void), the lines stay as issued.
    db.session.execute(sa.update(table).where(table.c.id == receipt.id).values(status="void"))
    commit()
    db.session.expire_all()
    assert db.session.get(Invoice, receipt.id).lines == (line,)
