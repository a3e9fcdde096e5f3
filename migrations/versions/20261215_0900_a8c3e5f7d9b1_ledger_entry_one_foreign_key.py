"""ledger entry, one foreign key: an entry's account, organization and reseller checked as one

A ledger entry repeats its account's organization and reseller. It had a foreign key for
each of the three, so the database checked three rows for every posting (and took a key
share lock on the reseller's and the organization's row each time); batch usage writes two
thousand postings under its accounts' locks, and those checks were a third of that COPY
(bench/README.md, B6). Now one composite foreign key, (account_id, organization_id,
reseller_id) to the account's (id, organization_id, reseller_id), unique by a new index:
one row checked a posting, and an entry whose organization or reseller is not its
account's is refused, which the three keys allowed. The account's own keys still tie it to
its organization and reseller.

PostgreSQL: the new key is added NOT VALID and then validated (the ledger is read, not
locked against writes). SQLite: the table is rebuilt (batch mode), and its immutability
triggers, which go with the old table, are created again.

Revision ID: a8c3e5f7d9b1
Revises: d2a6c8e4f1b7
Create Date: 2026-12-15 09:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "a8c3e5f7d9b1"
down_revision = "d2a6c8e4f1b7"
branch_labels = None
depends_on = None

UNIQUE = "ux_credit_accounts_id_owner"
KEY = "fk_ledger_entries_account_owner"
OLD_KEYS = (
    ("fk_ledger_entries_reseller_id_resellers", "resellers", ["reseller_id"]),
    ("fk_ledger_entries_organization_id_organizations", "organizations", ["organization_id"]),
    ("fk_ledger_entries_account_id_credit_accounts", "credit_accounts", ["account_id"]),
)
SQLITE_TRIGGERS = (
    "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END",
    "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END",
)


def _sqlite_triggers() -> None:
    for name in ("ledger_entries_no_update", "ledger_entries_no_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade():
    op.create_index(
        UNIQUE, "credit_accounts", ["id", "organization_id", "reseller_id"], unique=True
    )
    columns = ["account_id", "organization_id", "reseller_id"]
    referred = ["id", "organization_id", "reseller_id"]
    if op.get_bind().dialect.name == "postgresql":
        for name, _table, _columns in OLD_KEYS:
            op.drop_constraint(name, "ledger_entries", type_="foreignkey")
        op.create_foreign_key(
            KEY, "ledger_entries", "credit_accounts", columns, referred, postgresql_not_valid=True
        )
        op.execute(f"ALTER TABLE ledger_entries VALIDATE CONSTRAINT {KEY}")
        return
    with op.batch_alter_table("ledger_entries", recreate="always") as batch:
        for name, _table, _columns in OLD_KEYS:
            batch.drop_constraint(name, type_="foreignkey")
        batch.create_foreign_key(KEY, "credit_accounts", columns, referred)
    _sqlite_triggers()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(KEY, "ledger_entries", type_="foreignkey")
        for name, table, columns in OLD_KEYS:
            op.create_foreign_key(name, "ledger_entries", table, columns, ["id"])
    else:
        with op.batch_alter_table("ledger_entries", recreate="always") as batch:
            batch.drop_constraint(KEY, type_="foreignkey")
            for name, table, columns in OLD_KEYS:
                batch.create_foreign_key(name, table, columns, ["id"])
        _sqlite_triggers()
    op.drop_index(UNIQUE, table_name="credit_accounts")
