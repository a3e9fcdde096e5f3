"""usage references charged once per organization

A usage reference is charged once per organization: ``usage_references`` holds one row per
(organization, reference) with the id of its first ledger entry; its primary key is the
unique index a repeat meets.

Existing ledgers may already hold a reference charged more than once (before this
revision a repeat was charged again). The backfill keeps the FIRST usage per (organization,
reference) — the earliest ``created_at``, then the smallest entry id — as the one a repeat
now answers with; the later ones stay in the ledger as they are (it is append-only) and
claim nothing, so the migration never fails on them. Only the entry of the charged account
(system pool or member, the one the API answered with) is taken, never its counter-posting.

Revision ID: 2b8c757b62f4
Revises: 28cddac43cbe
Create Date: 2026-12-04 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = '2b8c757b62f4'
down_revision = '28cddac43cbe'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('usage_references',
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('reseller_id', sa.String(length=32), nullable=False),
    sa.Column('entry_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', tenants.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_usage_references_organization_id_organizations')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_usage_references_reseller_id_resellers')),
    sa.PrimaryKeyConstraint('organization_id', 'reference', name=op.f('pk_usage_references'))
    )
    _backfill_first_usage_per_reference()


def _backfill_first_usage_per_reference():
    op.execute(
        """
        INSERT INTO usage_references
            (organization_id, reference, reseller_id, entry_id, created_at)
        SELECT organization_id, reference, reseller_id, id, created_at
        FROM (
            SELECT organization_id, reference, reseller_id, id, created_at,
                   ROW_NUMBER() OVER (
                       PARTITION BY organization_id, reference ORDER BY created_at, id
                   ) AS position
            FROM ledger_entries
            WHERE type = 'usage'
              AND account_kind IN ('system', 'member')
              AND reference IS NOT NULL
        ) AS usage_entries
        WHERE position = 1
        """
    )


def downgrade():
    op.drop_table('usage_references')
