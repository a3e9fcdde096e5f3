"""movements are listed and filtered by when they happened (occurred_at)

The organization's and the reseller's movement lists order by (occurred_at, id) and their
date filters bound occurred_at: the organization's index gains the id (keyset pages), the
reseller gets one on occurred_at, and the organization's created_at index, which no list
reads any more, goes (the ledger's inserts keep the same number of index entries).

Revision ID: 3c8d5e1a7b92
Revises: 3c9e2b7d41a8
Create Date: 2026-12-06 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3c8d5e1a7b92'
down_revision = '3c9e2b7d41a8'
branch_labels = None
depends_on = None


def upgrade():
    # Plain index operations (no batch mode): on SQLite a batch would copy the table and
    # lose the triggers that keep ledger entries immutable.
    op.create_index(
        'ix_ledger_entries_org_occurred_id',
        'ledger_entries',
        ['organization_id', 'occurred_at', 'id'],
        unique=False,
    )
    op.create_index(
        'ix_ledger_entries_reseller_occurred',
        'ledger_entries',
        ['reseller_id', 'occurred_at', 'id'],
        unique=False,
    )
    op.drop_index('ix_ledger_entries_org_occurred', table_name='ledger_entries')
    op.drop_index('ix_ledger_entries_org_created', table_name='ledger_entries')


def downgrade():
    op.create_index(
        'ix_ledger_entries_org_created',
        'ledger_entries',
        ['organization_id', 'created_at', 'id'],
        unique=False,
    )
    op.create_index(
        'ix_ledger_entries_org_occurred',
        'ledger_entries',
        ['organization_id', 'occurred_at'],
        unique=False,
    )
    op.drop_index('ix_ledger_entries_reseller_occurred', table_name='ledger_entries')
    op.drop_index('ix_ledger_entries_org_occurred_id', table_name='ledger_entries')
