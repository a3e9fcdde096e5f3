"""ledger entries: drop ix_ledger_entries_account_created and ix_ledger_entries_transaction, which nothing reads

No query reads postings by account or by transaction: an account's movements are listed as
its organization's (ix_ledger_entries_org_occurred_id, by kind and member), a reseller's by
when they happened or were recorded (ix_ledger_entries_reseller_occurred, _created), and a
transaction's postings are written together and never looked up by it. Credit accounts are
never deleted nor re-keyed, the only case in which the composite foreign key would look up
an account's postings. Each index was one more entry for every posting: two thousand a batch
of usage, written while it holds its accounts' locks (bench/README.md, B6).

Revision ID: b5d7f9a1c3e6
Revises: a3c5e7f9b1d4
Create Date: 2026-12-18 09:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "b5d7f9a1c3e6"
down_revision = "a3c5e7f9b1d4"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_ledger_entries_account_created": ["account_id", "created_at", "id"],
    "ix_ledger_entries_transaction": ["transaction_id"],
}


def upgrade():
    for name in INDEXES:
        op.drop_index(name, table_name="ledger_entries")


def downgrade():
    for name, columns in INDEXES.items():
        op.create_index(name, "ledger_entries", columns, unique=False)
