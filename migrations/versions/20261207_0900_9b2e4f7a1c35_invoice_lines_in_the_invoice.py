"""invoice lines kept in the invoice's row

An issued invoice's lines become part of its immutable document: one ``lines`` column on
``invoices`` (JSONB on PostgreSQL, JSON on SQLite), an array of records in their order
(``{"quantity", "unit_price", "amount", "item"?, "item_date"?, "tax_percent"?,
"description"?, "occurred_at"?, "reference"?}``, decimals as strings at the money scale),
instead of a table of rows with two foreign keys and two indexes. The monthly run writes
an invoice and its lines in one row (issue 17, B4).

Integrity moves into the invoice's row: the lines must sum to the subtotal (PostgreSQL: a
CHECK over the JSON; SQLite: a trigger) and neither the lines nor the subtotal of an issued
invoice can change (a trigger on both). The CHECK is validated when every existing invoice
passes it; otherwise it is left NOT VALID (new rows checked) and ``flask billing check-invoices``
names the invoices that do not add up.

Every existing line is moved, in (position, id) order; ``downgrade`` rebuilds the table from
the documents.

Revision ID: 9b2e4f7a1c35
Revises: a3d8f0c4e2b1
Create Date: 2026-12-07 09:00:00.000000

"""

import json
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import tenants.core.types


# revision identifiers, used by Alembic.
revision = "9b2e4f7a1c35"
down_revision = "a3d8f0c4e2b1"
branch_labels = None
depends_on = None

SCALE = Decimal("0.0001")  # the money columns' scale (SQLite keeps them as integers of it)

PG_INTEGRITY = (
    """
    CREATE OR REPLACE FUNCTION invoice_lines_amount(lines jsonb) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(sum((line ->> 'amount')::numeric), 0)
        FROM jsonb_array_elements(lines) AS line
    $$
    """,
    "ALTER TABLE invoices ADD CONSTRAINT ck_invoices_lines_sum_to_subtotal "
    "CHECK (invoice_lines_amount(lines) = subtotal) NOT VALID",
    """
    CREATE OR REPLACE FUNCTION invoice_lines_immutable() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'an issued invoice''s lines and subtotal never change';
    END;
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER invoices_lines_immutable BEFORE UPDATE OF lines, subtotal ON invoices "
    "FOR EACH ROW WHEN (OLD.lines IS DISTINCT FROM NEW.lines "
    "OR OLD.subtotal IS DISTINCT FROM NEW.subtotal) "
    "EXECUTE FUNCTION invoice_lines_immutable()",
)
SQLITE_INTEGRITY = (
    """
    CREATE TRIGGER invoices_lines_sum BEFORE INSERT ON invoices
    WHEN (SELECT coalesce(sum(CAST(round(CAST(json_extract(line.value, '$.amount') AS REAL)
                                         * 10000) AS INTEGER)), 0)
          FROM json_each(NEW.lines) AS line) IS NOT NEW.subtotal
    BEGIN SELECT RAISE(ABORT, 'invoice lines must sum to the subtotal'); END
    """,
    """
    CREATE TRIGGER invoices_lines_immutable BEFORE UPDATE OF lines, subtotal ON invoices
    WHEN OLD.lines IS NOT NEW.lines OR OLD.subtotal IS NOT NEW.subtotal
    BEGIN SELECT RAISE(ABORT, 'an issued invoice''s lines and subtotal never change'); END
    """,
)

LINE_COLUMNS = (
    "quantity",
    "unit_price",
    "amount",
    "item",
    "item_date",
    "tax_percent",
    "description",
    "occurred_at",
    "reference",
)


def _money_text(value) -> str | None:
    """An SQLite money integer (units of SCALE) as the record's text."""
    if value is None:
        return None
    return format((Decimal(int(value)) * SCALE).quantize(SCALE), "f")


def _sqlite_record(row) -> dict:
    record = {
        "quantity": int(row.quantity),
        "unit_price": _money_text(row.unit_price),
        "amount": _money_text(row.amount),
        "item": row.item,
        "item_date": str(row.item_date) if row.item_date is not None else None,
        "tax_percent": _money_text(row.tax_percent),
        "description": row.description,
        "occurred_at": datetime.fromisoformat(str(row.occurred_at)).replace(tzinfo=UTC).isoformat()
        if row.occurred_at is not None
        else None,
        "reference": row.reference,
    }
    return {key: value for key, value in record.items() if value is not None}


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.add_column(
            "invoices",
            sa.Column(
                "lines", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")
            ),
        )
        op.execute(
            """
            UPDATE invoices AS i SET lines = l.lines
            FROM (
                SELECT invoice_id,
                       jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                           'quantity', quantity,
                           'unit_price', unit_price::text,
                           'amount', amount::text,
                           'item', item,
                           'item_date', item_date,
                           'tax_percent', tax_percent::text,
                           'description', description,
                           'occurred_at', to_char(occurred_at AT TIME ZONE 'UTC',
                                                  'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
                           'reference', reference))
                           ORDER BY position, id) AS lines
                FROM invoice_lines GROUP BY invoice_id
            ) AS l
            WHERE l.invoice_id = i.id
            """
        )
        op.alter_column("invoices", "lines", server_default=None)
    else:
        # SQLite adds a NOT NULL column only with a default (its copy of a table others
        # reference would trip its foreign keys, so no batch recreate).
        op.add_column(
            "invoices", sa.Column("lines", sa.JSON(), nullable=False, server_default="[]")
        )
        lines = defaultdict(list)
        for row in bind.execute(
            sa.text(
                f"SELECT invoice_id, {', '.join(LINE_COLUMNS)} FROM invoice_lines "
                "ORDER BY invoice_id, position, id"
            )
        ):
            lines[row.invoice_id].append(_sqlite_record(row))
        if lines:
            bind.execute(
                sa.text("UPDATE invoices SET lines = :lines WHERE id = :id"),
                [{"id": key, "lines": json.dumps(value)} for key, value in lines.items()],
            )

    op.drop_index("ix_invoice_lines_invoice", table_name="invoice_lines")
    op.drop_table("invoice_lines")

    if bind.dialect.name == "postgresql":
        for statement in PG_INTEGRITY:
            op.execute(statement)
        wrong = bind.scalar(
            sa.text("SELECT count(*) FROM invoices WHERE invoice_lines_amount(lines) <> subtotal")
        )
        if not wrong:
            op.execute("ALTER TABLE invoices VALIDATE CONSTRAINT ck_invoices_lines_sum_to_subtotal")
    else:
        for statement in SQLITE_INTEGRITY:
            op.execute(statement)


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS invoices_lines_immutable ON invoices")
        op.execute("DROP FUNCTION IF EXISTS invoice_lines_immutable()")
        op.execute(
            "ALTER TABLE invoices DROP CONSTRAINT IF EXISTS ck_invoices_lines_sum_to_subtotal"
        )
        op.execute("DROP FUNCTION IF EXISTS invoice_lines_amount(jsonb)")
    else:
        op.execute("DROP TRIGGER IF EXISTS invoices_lines_immutable")
        op.execute("DROP TRIGGER IF EXISTS invoices_lines_sum")

    op.create_table(
        "invoice_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("invoice_id", sa.String(length=32), nullable=False),
        sa.Column("reseller_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=40), nullable=True),
        sa.Column("item_date", sa.Date(), nullable=True),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", tenants.core.types.Money(precision=12, scale=4), nullable=False),
        sa.Column("amount", tenants.core.types.Money(precision=12, scale=4), nullable=False),
        sa.Column("tax_percent", tenants.core.types.Money(precision=12, scale=4), nullable=True),
        sa.Column("occurred_at", tenants.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_lines_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_invoice_lines_reseller_id_resellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_lines")),
    )
    op.create_index("ix_invoice_lines_invoice", "invoice_lines", ["invoice_id", "position"])

    if bind.dialect.name == "postgresql":
        op.execute(
            """
            INSERT INTO invoice_lines (invoice_id, reseller_id, position, item, item_date,
                description, quantity, unit_price, amount, tax_percent, occurred_at, reference)
            SELECT i.id, i.reseller_id, l.n - 1, l.line ->> 'item',
                   (l.line ->> 'item_date')::date, l.line ->> 'description',
                   (l.line ->> 'quantity')::bigint, (l.line ->> 'unit_price')::numeric,
                   (l.line ->> 'amount')::numeric, (l.line ->> 'tax_percent')::numeric,
                   (l.line ->> 'occurred_at')::timestamptz, l.line ->> 'reference'
            FROM invoices AS i
            CROSS JOIN LATERAL jsonb_array_elements(i.lines) WITH ORDINALITY AS l(line, n)
            ORDER BY i.id, l.n
            """
        )
    else:
        rows = []
        for invoice_id, reseller_id, lines in bind.execute(
            sa.text("SELECT id, reseller_id, lines FROM invoices ORDER BY id")
        ):
            for position, line in enumerate(json.loads(lines or "[]")):
                occurred = line.get("occurred_at")
                rows.append(
                    {
                        "invoice_id": invoice_id,
                        "reseller_id": reseller_id,
                        "position": position,
                        "item": line.get("item"),
                        "item_date": line.get("item_date"),
                        "description": line.get("description"),
                        "quantity": int(line["quantity"]),
                        "unit_price": _scaled(line["unit_price"]),
                        "amount": _scaled(line["amount"]),
                        "tax_percent": _scaled(line.get("tax_percent")),
                        "occurred_at": datetime.fromisoformat(occurred)
                        .astimezone(UTC)
                        .replace(tzinfo=None)
                        .isoformat(sep=" ")
                        if occurred
                        else None,
                        "reference": line.get("reference"),
                    }
                )
        if rows:
            bind.execute(
                sa.text(
                    "INSERT INTO invoice_lines (invoice_id, reseller_id, position, item, "
                    "item_date, description, quantity, unit_price, amount, tax_percent, "
                    "occurred_at, reference) VALUES (:invoice_id, :reseller_id, :position, "
                    ":item, :item_date, :description, :quantity, :unit_price, :amount, "
                    ":tax_percent, :occurred_at, :reference)"
                ),
                rows,
            )
    # Plain DROP COLUMN (SQLite >= 3.35 too), as the columns added to invoices before.
    op.drop_column("invoices", "lines")


def _scaled(text: str | None) -> int | None:
    """A record's decimal text as an SQLite money integer (units of SCALE)."""
    if text is None:
        return None
    return int(Decimal(text) / SCALE)
