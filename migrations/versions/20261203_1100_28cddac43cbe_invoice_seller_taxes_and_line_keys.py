"""invoice seller, taxes per rate and line keys

Tax invoices that add up and name the seller: the reseller gets its seller details (legal
name, address, tax number, country); each invoice keeps the seller as issued and its tax per
rate ([{"percent", "base", "tax"}]); each line is stored as a key (``item``) and the date it
needs, with its tax rate, its text rendered in the reader's language. Lines issued before
keep their text in ``description``, which new lines leave NULL.

Nothing is backfilled: an invoice whose ``seller`` or ``taxes`` is NULL reads as one rate
(its tax_percent, subtotal and tax) and the reseller's current name; a line whose
``tax_percent`` is NULL has its invoice's (tenants.invoices.reading).

Revision ID: 28cddac43cbe
Revises: 8dde3d659b54
Create Date: 2026-12-04 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = '28cddac43cbe'
down_revision = '8dde3d659b54'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resellers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('legal_address', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('tax_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=True))

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seller', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('taxes', sa.JSON(), nullable=True))

    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('item', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('item_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('tax_percent', tenants.core.types.Money(precision=12, scale=4), nullable=True))
        batch_op.alter_column('description', existing_type=sa.String(length=300), nullable=True)


def downgrade():
    # Lines issued with a key get the key as their text again (the column was NOT NULL).
    op.execute("UPDATE invoice_lines SET description = item WHERE description IS NULL")
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.alter_column('description', existing_type=sa.String(length=300), nullable=False)
        batch_op.drop_column('tax_percent')
        batch_op.drop_column('item_date')
        batch_op.drop_column('item')

    # Plain DROP COLUMN (SQLite >= 3.35 too): a batch copy of these tables, which others
    # reference, would trip SQLite's foreign keys.
    for column in ('taxes', 'seller'):
        op.drop_column('invoices', column)
    for column in ('country', 'tax_id', 'legal_address', 'legal_name'):
        op.drop_column('resellers', column)
