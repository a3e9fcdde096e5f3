"""ledger entries: the listing indexes hold movements only (balance_after set); ix_ledger_entries_reseller_created dropped

Every reader of the two listing indexes asks for movements, the holding accounts' postings
(balance_after set): the movement lists, logs, statements and CSV (tenants.access.scoping
.visible_accounts), the credits chart and the dashboards, which now count usage on its
holding side (minus the same credits: each usage, message and refund moves credits between
a holding account and the usage counter-account only). The counter-account half of the
postings is left out of both indexes (partial indexes).

ix_ledger_entries_reseller_created served the dashboards' bound on when an entry was
recorded; they now bound when it happened, on ix_ledger_entries_reseller_occurred.

A posting adds two index entries instead of four, a batch of usage two thousand fewer while
it holds its accounts' locks (bench/README.md, B6).

Revision ID: d9f1b3c5e7a2
Revises: c8e0a2b4d6f9
Create Date: 2026-12-20 09:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "d9f1b3c5e7a2"
down_revision = "c8e0a2b4d6f9"
branch_labels = None
depends_on = None

MOVEMENT = "balance_after IS NOT NULL"
LISTING = {
    "ix_ledger_entries_org_occurred_id": ["organization_id", "occurred_at", "id"],
    "ix_ledger_entries_reseller_occurred": ["reseller_id", "occurred_at", "id"],
}


def upgrade():
    op.drop_index("ix_ledger_entries_reseller_created", table_name="ledger_entries")
    for name, columns in LISTING.items():
        op.drop_index(name, table_name="ledger_entries")
        op.create_index(
            name,
            "ledger_entries",
            columns,
            unique=False,
            postgresql_where=sa.text(MOVEMENT),
            sqlite_where=sa.text(MOVEMENT),
        )


def downgrade():
    for name, columns in LISTING.items():
        op.drop_index(name, table_name="ledger_entries")
        op.create_index(name, "ledger_entries", columns, unique=False)
    op.create_index(
        "ix_ledger_entries_reseller_created",
        "ledger_entries",
        ["reseller_id", "created_at"],
        unique=False,
    )
