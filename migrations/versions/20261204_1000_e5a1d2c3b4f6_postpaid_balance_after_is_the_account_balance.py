"""postpaid balance_after is the account's balance

A postpaid organization's movements (usage, invoices, payments) carried minus the credits
not yet invoiced as their ``balance_after``, while the account they are posted to holds 0
credits and the balance shows 0. ``balance_after`` is now the account's balance: 0 for
every postpaid movement (tenants.credits.ledger.POSTPAID_BALANCE).

The rows written before are set to 0: exactly those with a negative ``balance_after`` (a
prepaid account is never below 0, so no prepaid row is touched). Ledger entries are
immutable; only this derived display column of those rows changes, with the immutability
trigger lifted for this one statement inside the migration's transaction. The old numbers
are not restored on downgrade (the code before this revision reads either).

Revision ID: e5a1d2c3b4f6
Revises: 5f1e2a7c9d30
Create Date: 2026-12-04 10:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e5a1d2c3b4f6'
down_revision = '5f1e2a7c9d30'
branch_labels = None
depends_on = None

FIX = "UPDATE ledger_entries SET balance_after = 0 WHERE balance_after < 0"
SQLITE_NO_UPDATE = (
    "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END"
)


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_immutable")
        op.execute(FIX)
        op.execute("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_immutable")
    elif dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        op.execute(FIX)
        op.execute(SQLITE_NO_UPDATE)
    else:
        op.execute(FIX)


def downgrade():
    pass
