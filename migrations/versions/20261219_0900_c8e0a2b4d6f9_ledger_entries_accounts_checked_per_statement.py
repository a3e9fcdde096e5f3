"""ledger entries: the account an entry names checked once per statement instead of by a foreign key; credit accounts never deleted nor re-keyed

The composite foreign key (account_id, organization_id, reseller_id) to the account's own
checked every posting by a query of its own: 10 of the 27 ms a batch of usage took to COPY
its 2,000 postings, under its accounts' locks (bench/README.md, B6). The same rule is now a
trigger: on PostgreSQL an AFTER INSERT ... FOR EACH STATEMENT trigger checks a statement's
new entries (its transition table) against credit_accounts in one anti-join, for a COPY or
a multi-row INSERT alike; on SQLite a row trigger checks each entry as it comes. An entry
whose account is not one of its organization and reseller is refused, as before.

The key also refused deleting or re-keying an account that entries name. Accounts never are
(nothing deletes one; their ids and owners never change): two triggers refuse both for
every account. ux_credit_accounts_id_owner, the key's referenced unique index, goes with it.

SQLite cannot drop a foreign key: ledger_entries is rebuilt (batch mode), and its
immutability triggers, which go with the old table, are created again.

Revision ID: c8e0a2b4d6f9
Revises: b5d7f9a1c3e6
Create Date: 2026-12-19 09:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "c8e0a2b4d6f9"
down_revision = "b5d7f9a1c3e6"
branch_labels = None
depends_on = None

UNIQUE = "ux_credit_accounts_id_owner"
KEY = "fk_ledger_entries_account_owner"
COLUMNS = ["account_id", "organization_id", "reseller_id"]
REFERRED = ["id", "organization_id", "reseller_id"]

# The text of tenants.models.ledger's ACCOUNTS_KNOWN and ACCOUNTS_KEPT on this day.
PG_UP = (
    """CREATE OR REPLACE FUNCTION ledger_entries_accounts_known() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (
                SELECT 1 FROM new_entries AS e
                WHERE NOT EXISTS (
                    SELECT 1 FROM credit_accounts AS a
                    WHERE a.id = e.account_id
                      AND a.organization_id = e.organization_id
                      AND a.reseller_id = e.reseller_id
                )
            ) THEN
                RAISE EXCEPTION 'a ledger entry names no account of its organization'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER ledger_entries_accounts_known AFTER INSERT ON ledger_entries"
    " REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT"
    " EXECUTE FUNCTION ledger_entries_accounts_known()",
    """CREATE OR REPLACE FUNCTION credit_accounts_kept() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'credit accounts are never deleted nor re-keyed'
                USING ERRCODE = 'restrict_violation';
        END;
        $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER credit_accounts_not_deleted BEFORE DELETE ON credit_accounts"
    " FOR EACH ROW EXECUTE FUNCTION credit_accounts_kept()",
    "CREATE TRIGGER credit_accounts_not_rekeyed"
    " BEFORE UPDATE OF id, organization_id, reseller_id ON credit_accounts FOR EACH ROW"
    " WHEN (OLD.id IS DISTINCT FROM NEW.id"
    " OR OLD.organization_id IS DISTINCT FROM NEW.organization_id"
    " OR OLD.reseller_id IS DISTINCT FROM NEW.reseller_id)"
    " EXECUTE FUNCTION credit_accounts_kept()",
)
PG_DOWN = (
    "DROP TRIGGER IF EXISTS ledger_entries_accounts_known ON ledger_entries",
    "DROP FUNCTION IF EXISTS ledger_entries_accounts_known()",
    "DROP TRIGGER IF EXISTS credit_accounts_not_deleted ON credit_accounts",
    "DROP TRIGGER IF EXISTS credit_accounts_not_rekeyed ON credit_accounts",
    "DROP FUNCTION IF EXISTS credit_accounts_kept()",
)
SQLITE_ACCOUNT_KNOWN = (
    "CREATE TRIGGER ledger_entries_account_known BEFORE INSERT ON ledger_entries"
    " WHEN NOT EXISTS (SELECT 1 FROM credit_accounts WHERE id = NEW.account_id"
    " AND organization_id = NEW.organization_id AND reseller_id = NEW.reseller_id)"
    " BEGIN SELECT RAISE(ABORT, 'a ledger entry names no account of its organization');"
    " END"
)
SQLITE_KEPT = (
    "CREATE TRIGGER credit_accounts_not_deleted BEFORE DELETE ON credit_accounts"
    " BEGIN SELECT RAISE(ABORT, 'credit accounts are never deleted nor re-keyed'); END",
    "CREATE TRIGGER credit_accounts_not_rekeyed"
    " BEFORE UPDATE OF id, organization_id, reseller_id ON credit_accounts"
    " WHEN OLD.id IS NOT NEW.id OR OLD.organization_id IS NOT NEW.organization_id"
    " OR OLD.reseller_id IS NOT NEW.reseller_id"
    " BEGIN SELECT RAISE(ABORT, 'credit accounts are never deleted nor re-keyed'); END",
)
SQLITE_IMMUTABLE = (
    "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END",
    "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END",
)
SQLITE_TRIGGERS = (
    "ledger_entries_no_update",
    "ledger_entries_no_delete",
    "ledger_entries_account_known",
    "credit_accounts_not_deleted",
    "credit_accounts_not_rekeyed",
)


def _drop_sqlite_triggers() -> None:
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(KEY, "ledger_entries", type_="foreignkey")
        op.drop_index(UNIQUE, table_name="credit_accounts")
        for statement in PG_UP:
            op.execute(statement)
        return
    _drop_sqlite_triggers()
    with op.batch_alter_table("ledger_entries", recreate="always") as batch:
        batch.drop_constraint(KEY, type_="foreignkey")
    op.drop_index(UNIQUE, table_name="credit_accounts")
    for statement in (*SQLITE_IMMUTABLE, SQLITE_ACCOUNT_KNOWN, *SQLITE_KEPT):
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_DOWN:
            op.execute(statement)
        op.create_index(UNIQUE, "credit_accounts", REFERRED, unique=True)
        op.create_foreign_key(
            KEY, "ledger_entries", "credit_accounts", COLUMNS, REFERRED, postgresql_not_valid=True
        )
        op.execute(f"ALTER TABLE ledger_entries VALIDATE CONSTRAINT {KEY}")
        return
    _drop_sqlite_triggers()
    op.create_index(UNIQUE, "credit_accounts", REFERRED, unique=True)
    with op.batch_alter_table("ledger_entries", recreate="always") as batch:
        batch.create_foreign_key(KEY, "credit_accounts", COLUMNS, REFERRED)
    for statement in SQLITE_IMMUTABLE:
        op.execute(statement)
