"""The monthly run's invoices written with their lines: one row each, the lines part of it.

The lines of an invoice are an element of its row (``invoices.lines``, see
tenants.models.billing), made from the batch's days table (tenants.billing.batch_tables).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, text

from tenants.billing.batch_tables import _days_table
from tenants.core.bulk import copy_rows, insert_rows, pg_array
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


_STAGED = "billing_run_invoices"  # the batch's invoices before their numbers
_STAGED_LINES = "billing_run_lines"  # their lines documents, by (organization, month)


def stage_invoices(rows: list[dict]) -> None:
    """PostgreSQL: the batch's invoices (``rows``: their own columns, not yet numbered) and
    their lines documents kept in temporary tables (dropped at the commit) for
    ``insert_invoices``, which writes them once numbered; the lines are a day of usage at
    one price and rate a line, in order of day, price and rate, stored as a key and its day
    (its text is rendered in the reader's language), the amount rounded half-up. Done
    before the numbers are taken so that the reseller's numbers are held the shortest time
    (tenants.billing.monthly_run). Other databases: nothing (insert_invoices does it all)."""
    if not rows or db.session.get_bind().dialect.name != "postgresql":
        return
    names = list(rows[0])
    db.session.execute(
        text(
            f"CREATE TEMPORARY TABLE {_STAGED} ON COMMIT DROP AS "
            f"SELECT {', '.join(names)} FROM invoices WITH NO DATA"
        )
    )
    copy_rows(_STAGED, Invoice.__table__, rows)
    document = _LINES_DOCUMENT.format(item=InvoiceItem.SMS_USAGE.value)
    db.session.execute(
        text(
            f"CREATE TEMPORARY TABLE {_STAGED_LINES} ON COMMIT DROP AS"
            f" SELECT d.organization_id, d.period, {document} AS lines"
            f" FROM {_days_table.name} AS d GROUP BY d.organization_id, d.period"
        )
    )


def insert_invoices(rows: list[dict]) -> None:
    """Insert the batch's invoices (``rows``, now numbered), each with its lines in the same
    row and the same statement (lines are never written apart from their invoice); a CHECK
    refuses an invoice whose lines do not sum to its subtotal.

    PostgreSQL: one INSERT … SELECT of the rows staged by ``stage_invoices``, their numbers
    passed as arrays beside them. Other databases (SQLite): the lines built in Python from
    the days table."""
    if not rows:
        return
    if db.session.get_bind().dialect.name != "postgresql":
        lines = _day_lines()
        insert_rows(
            Invoice.__table__,
            [
                {**row, "lines": lines.get((row["organization_id"], row["period"]), ())}
                for row in rows
            ],
        )
        return
    names = [name for name in rows[0] if name not in ("sequence", "number")]
    db.session.execute(
        text(
            f"""
            INSERT INTO invoices ({", ".join(names)}, sequence, number, lines)
            SELECT {", ".join(f"i.{name}" for name in names)}, n.sequence, n.number,
                   coalesce(l.lines, '[]'::jsonb)
            FROM {_STAGED} AS i
            JOIN unnest(CAST(:ids AS text[]), CAST(:sequences AS bigint[]),
                        CAST(:numbers AS text[])) AS n(id, sequence, number) ON n.id = i.id
            LEFT JOIN {_STAGED_LINES} AS l
              ON l.organization_id = i.organization_id AND l.period = i.period
            """
        ),
        {
            "ids": pg_array(row["id"] for row in rows),
            "sequences": pg_array(row["sequence"] for row in rows),
            "numbers": pg_array(row["number"] for row in rows),
        },
    )
    db.session.execute(text(f"DROP TABLE {_STAGED}, {_STAGED_LINES}"))


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
