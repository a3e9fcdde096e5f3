"""two-step ownership transfers

ownership_transfers holds what an organization's owner asks a member (to become the owner):
pending for a week, then accepted, declined, cancelled or expired; at most one pending per
organization.

Revision ID: 5d2a8c4f1e67
Revises: 7b1e4c2d9a05
Create Date: 2026-12-08 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = '5d2a8c4f1e67'
down_revision = '7b1e4c2d9a05'
branch_labels = None
depends_on = None

PENDING = sa.text("status = 'pending'")


def upgrade():
    op.create_table('ownership_transfers',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('reseller_id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('from_member_id', sa.String(length=32), nullable=False),
    sa.Column('to_member_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('pending', 'accepted', 'declined', 'cancelled', 'expired', name='ownership_transfer_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('requested_by_user_id', sa.String(length=32), nullable=False),
    sa.Column('requested_at', tenants.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', tenants.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_by_user_id', sa.String(length=32), nullable=True),
    sa.Column('ended_at', tenants.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['ended_by_user_id'], ['users.id'], name=op.f('fk_ownership_transfers_ended_by_user_id_users')),
    sa.ForeignKeyConstraint(['from_member_id'], ['members.id'], name=op.f('fk_ownership_transfers_from_member_id_members')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ownership_transfers_organization_id_organizations')),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['users.id'], name=op.f('fk_ownership_transfers_requested_by_user_id_users')),
    sa.ForeignKeyConstraint(['reseller_id'], ['resellers.id'], name=op.f('fk_ownership_transfers_reseller_id_resellers')),
    sa.ForeignKeyConstraint(['to_member_id'], ['members.id'], name=op.f('fk_ownership_transfers_to_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ownership_transfers'))
    )
    with op.batch_alter_table('ownership_transfers', schema=None) as batch_op:
        batch_op.create_index('ix_ownership_transfers_org_requested', ['organization_id', 'requested_at'], unique=False)
        batch_op.create_index('ix_ownership_transfers_status_expires', ['status', 'expires_at'], unique=False)
        batch_op.create_index('uq_ownership_transfers_one_pending', ['organization_id'], unique=True, sqlite_where=PENDING, postgresql_where=PENDING)


def downgrade():
    with op.batch_alter_table('ownership_transfers', schema=None) as batch_op:
        batch_op.drop_index('uq_ownership_transfers_one_pending', sqlite_where=PENDING, postgresql_where=PENDING)
        batch_op.drop_index('ix_ownership_transfers_status_expires')
        batch_op.drop_index('ix_ownership_transfers_org_requested')

    op.drop_table('ownership_transfers')
