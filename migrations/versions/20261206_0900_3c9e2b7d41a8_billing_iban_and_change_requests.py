"""billing details' bank account (IBAN); client change requests

organizations gains billing_iban (an IBAN, stored compact; shown masked). change_requests
holds what an organization's admin asks the reseller to switch (individual user credits), at
most one pending per organization and kind.

Revision ID: 3c9e2b7d41a8
Revises: b7c4e9a1f2d3
Create Date: 2026-12-06 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = '3c9e2b7d41a8'
down_revision = 'b7c4e9a1f2d3'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade():
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billing_iban', sa.String(length=34), nullable=True))

    op.create_table('change_requests',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('reseller_id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.Enum('individual_credits', name='change_request_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'declined', name='change_request_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=True),
    sa.Column('requested_by_user_id', sa.String(length=32), nullable=False),
    sa.Column('requested_at', tenants.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by_user_id', sa.String(length=32), nullable=True),
    sa.Column('decided_at', tenants.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_change_requests_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_change_requests_organization_id_organizations')),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['users.id'], name=op.f('fk_change_requests_requested_by_user_id_users')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_change_requests_reseller_id_resellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_requests'))
    )
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.create_index('ix_change_requests_org_requested', ['organization_id', 'requested_at'], unique=False)
        batch_op.create_index('ix_change_requests_reseller_status', ['reseller_id', 'status'], unique=False)
        batch_op.create_index('uq_change_requests_one_pending', ['organization_id', 'kind'], unique=True, sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade():
    with op.batch_alter_table('change_requests', schema=None) as batch_op:
        batch_op.drop_index('uq_change_requests_one_pending', sqlite_where=PENDING, postgresql_where=PENDING)
        batch_op.drop_index('ix_change_requests_reseller_status')
        batch_op.drop_index('ix_change_requests_org_requested')

    op.drop_table('change_requests')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('billing_iban')
