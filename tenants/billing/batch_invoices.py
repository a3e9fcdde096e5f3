"""The monthly run's invoices written with their lines: one row each, the lines part of it.

The lines of an invoice are an element of its row (``invoices.lines``, see
tenants.models.billing), made from the batch's days table (tenants.billing.batch_tables).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, text

from tenants.billing.batch_tables import _days_table
from tenants.core.bulk import copy_rows, insert_rows
from tenants.core.extensions import db
from tenants.models import Invoice, InvoiceItem, InvoiceLine

# The lines of one (organization, month) of the days table as InvoiceLine records, a day
# a line in order, written as JSON text and cast once to jsonb: the values are a date (in
# ISO form whatever the DateStyle), an integer and numerics (no quote or backslash can
# occur), and building the text is about a third cheaper than
# jsonb_agg(jsonb_build_object(…)) (measured on B4's 30,000 lines a batch).
_LINES_DOCUMENT = """
    ('[' || string_agg(
        concat('{{"item":"{item}","item_date":"', to_char(d.day, 'YYYY-MM-DD'),
               '","quantity":', d.credits,
               ',"unit_price":"', d.unit_price, '","amount":"', d.line_amount,
               '","tax_percent":"', d.tax_percent, '"}}'),
        ',' ORDER BY d.day, d.unit_price, d.tax_percent) || ']')::jsonb
"""


def _insert_invoices(rows: list[dict]) -> None:
    """Insert the batch's invoices, each with its lines in the same row and the same
    statement (lines are never written apart from their invoice): a day of usage at one
    price and rate a line, in order of day, price and rate, stored as a key and its day
    (its text is rendered in the reader's language), its amount rounded half-up.

    PostgreSQL: the invoices' own columns copied (COPY) into a temporary table, then one
    INSERT … SELECT from it, the lines aggregated from the days table (``string_agg``)
    beside them; a CHECK refuses an invoice whose lines do not sum to its subtotal. Other
    databases (SQLite): the lines built in Python from the days table."""
    if not rows:
        return
    invoices = Invoice.__table__
    if db.session.get_bind().dialect.name != "postgresql":
        lines = _day_lines()
        insert_rows(
            invoices,
            [
                {**row, "lines": lines.get((row["organization_id"], row["period"]), ())}
                for row in rows
            ],
        )
        return
    names = list(rows[0])
    db.session.execute(
        text(
            f"CREATE TEMPORARY TABLE billing_run_invoices ON COMMIT DROP AS "
            f"SELECT {', '.join(names)} FROM invoices WITH NO DATA"
        )
    )
    copy_rows("billing_run_invoices", invoices, rows)
    document = _LINES_DOCUMENT.format(item=InvoiceItem.SMS_USAGE.value)
    db.session.execute(
        text(
            f"""
            INSERT INTO invoices ({", ".join(names)}, lines)
            SELECT {", ".join(f"i.{name}" for name in names)},
                   coalesce(l.lines, '[]'::jsonb)
            FROM billing_run_invoices AS i
            LEFT JOIN (
                SELECT d.organization_id, d.period, {document} AS lines
                FROM {_days_table.name} AS d
                GROUP BY d.organization_id, d.period
            ) AS l ON l.organization_id = i.organization_id AND l.period = i.period
            """
        )
    )
    db.session.execute(text("DROP TABLE billing_run_invoices"))


def _day_lines() -> dict[tuple[str, str], list[InvoiceLine]]:
    """The lines of the days table, ``{(organization id, month): [line, …]}`` in order."""
    days = _days_table
    lines: dict[tuple[str, str], list[InvoiceLine]] = defaultdict(list)
    for row in db.session.execute(
        select(days).order_by(
            days.c.organization_id,
            days.c.period,
            days.c.day,
            days.c.unit_price,
            days.c.tax_percent,
        )
    ):
        lines[(row.organization_id, row.period)].append(
            InvoiceLine(
                item=InvoiceItem.SMS_USAGE.value,
                item_date=row.day,
                quantity=row.credits,
                unit_price=row.unit_price,
                amount=row.line_amount,
                tax_percent=row.tax_percent,
            )
        )
    return lines
