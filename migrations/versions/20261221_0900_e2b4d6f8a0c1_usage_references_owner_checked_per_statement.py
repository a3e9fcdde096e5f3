"""usage references: the organization and reseller a claim names checked once per statement instead of by foreign keys

Each claim ran two foreign-key checks of its own, each locking the organization's and the
reseller's rows (FOR KEY SHARE): 6.9 of the 11.7 ms a batch's 1,000 claims took, and a lock
on the organizations other batches were updating (bench/README.md, B6). The same rule is now
a trigger, and a stricter one: on PostgreSQL an AFTER INSERT ... FOR EACH STATEMENT trigger
checks a statement's new references (its transition table) in one anti-join: each names an
organization of its reseller. On SQLite a row trigger checks each reference as it comes.

What the keys also kept, triggers keep: a reference is never moved to another organization
or reseller, and an organization that references name is never deleted nor moved to another
id or reseller.

SQLite cannot drop a foreign key: usage_references is rebuilt (batch mode).

Revision ID: e2b4d6f8a0c1
Revises: d9f1b3c5e7a2
Create Date: 2026-12-21 09:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "e2b4d6f8a0c1"
down_revision = "d9f1b3c5e7a2"
branch_labels = None
depends_on = None

KEYS = (
    ("fk_usage_references_organization_id_organizations", "organizations", "organization_id"),
    ("fk_usage_references_reseller_id_resellers", "resellers", "reseller_id"),
)

# The text of tenants.models.usage_references' OWNER_KNOWN, OWNER_KEPT and REFERENCED_KEPT on
# this day.
PG_UP = (
    """CREATE OR REPLACE FUNCTION usage_references_owner_known() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (
                SELECT 1 FROM new_references AS r
                WHERE NOT EXISTS (
                    SELECT 1 FROM organizations AS o
                    WHERE o.id = r.organization_id AND o.reseller_id = r.reseller_id
                )
            ) THEN
                RAISE EXCEPTION 'a usage reference names no organization of its reseller'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql""",
    'CREATE TRIGGER usage_references_owner_known AFTER INSERT ON usage_references'
    ' REFERENCING NEW TABLE AS new_references FOR EACH STATEMENT EXECUTE FUNCTION'
    ' usage_references_owner_known()',
    """CREATE OR REPLACE FUNCTION usage_references_not_moved() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'usage references are never moved'
                USING ERRCODE = 'restrict_violation';
        END;
        $$ LANGUAGE plpgsql""",
    'CREATE TRIGGER usage_references_not_moved BEFORE UPDATE OF organization_id,'
    ' reseller_id ON usage_references FOR EACH ROW WHEN (OLD.organization_id IS'
    ' DISTINCT FROM NEW.organization_id OR OLD.reseller_id IS DISTINCT FROM'
    ' NEW.reseller_id) EXECUTE FUNCTION usage_references_not_moved()',
    """CREATE OR REPLACE FUNCTION organizations_references_kept() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM usage_references WHERE organization_id = OLD.id) THEN
                RAISE EXCEPTION
                    'an organization with usage references is never deleted nor re-keyed'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql""",
    'CREATE TRIGGER organizations_references_kept BEFORE DELETE ON organizations FOR'
    ' EACH ROW EXECUTE FUNCTION organizations_references_kept()',
    'CREATE TRIGGER organizations_references_not_rekeyed BEFORE UPDATE OF id,'
    ' reseller_id ON organizations FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id'
    ' OR OLD.reseller_id IS DISTINCT FROM NEW.reseller_id) EXECUTE FUNCTION'
    ' organizations_references_kept()',
)
SQLITE_UP = (
    'CREATE TRIGGER usage_references_owner_known BEFORE INSERT ON usage_references'
    ' WHEN NOT EXISTS (SELECT 1 FROM organizations WHERE id = NEW.organization_id AND'
    " reseller_id = NEW.reseller_id) BEGIN SELECT RAISE(ABORT, 'a usage reference"
    " names no organization of its reseller'); END",
    'CREATE TRIGGER usage_references_not_moved BEFORE UPDATE OF organization_id,'
    ' reseller_id ON usage_references WHEN OLD.organization_id IS NOT'
    ' NEW.organization_id OR OLD.reseller_id IS NOT NEW.reseller_id BEGIN SELECT'
    " RAISE(ABORT, 'usage references are never moved'); END",
    'CREATE TRIGGER organizations_references_kept BEFORE DELETE ON organizations WHEN'
    ' EXISTS (SELECT 1 FROM usage_references WHERE organization_id = OLD.id) BEGIN'
    " SELECT RAISE(ABORT, 'an organization with usage references is never deleted nor"
    " re-keyed'); END",
    'CREATE TRIGGER organizations_references_not_rekeyed BEFORE UPDATE OF id,'
    ' reseller_id ON organizations WHEN (OLD.id IS NOT NEW.id OR OLD.reseller_id IS'
    ' NOT NEW.reseller_id) AND EXISTS (SELECT 1 FROM usage_references WHERE'
    " organization_id = OLD.id) BEGIN SELECT RAISE(ABORT, 'an organization with usage"
    " references is never deleted nor re-keyed'); END",
)
TRIGGERS = (
    ("usage_references_owner_known", "usage_references"),
    ("usage_references_not_moved", "usage_references"),
    ("organizations_references_kept", "organizations"),
    ("organizations_references_not_rekeyed", "organizations"),
)
FUNCTIONS = (
    "usage_references_owner_known",
    "usage_references_not_moved",
    "organizations_references_kept",
)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name, _table, _column in KEYS:
            op.drop_constraint(name, "usage_references", type_="foreignkey")
        for statement in PG_UP:
            op.execute(statement)
        return
    with op.batch_alter_table("usage_references", recreate="always") as batch:
        for name, _table, _column in KEYS:
            batch.drop_constraint(name, type_="foreignkey")
    for statement in SQLITE_UP:
        op.execute(statement)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, table in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgresql else ""))
    if postgresql:
        for name in FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        for name, table, column in KEYS:
            op.create_foreign_key(
                name, "usage_references", table, [column], ["id"], postgresql_not_valid=True
            )
            op.execute(f"ALTER TABLE usage_references VALIDATE CONSTRAINT {name}")
        return
    with op.batch_alter_table("usage_references", recreate="always") as batch:
        for name, table, column in KEYS:
            batch.create_foreign_key(name, table, [column], ["id"])
