"""member invitations: when sent, in which language, revocable

members gains invited_at (the invitation in force was last sent then; NULL: none pending),
invitation_language and invitation_serial (bumped when an invitation is revoked or withdrawn,
so the links sent before stop working). Members invited before, who have portal access and
never set a password, have their invitation pending from the day they were added.

Revision ID: a3d9f1c7e2b5
Revises: 3c8d5e1a7b92
Create Date: 2026-12-06 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = 'a3d9f1c7e2b5'
down_revision = '3c8d5e1a7b92'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invited_at', tenants.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('invitation_language', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('invitation_serial', sa.Integer(), server_default='0', nullable=False))
    op.get_bind().execute(
        sa.text(
            "UPDATE members SET invited_at = created_at"
            " WHERE removed_at IS NULL AND portal_access = :yes"
            " AND user_id IN (SELECT id FROM users WHERE password_hash IS NULL)"
        ),
        {"yes": True},
    )


def downgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('invitation_serial')
        batch_op.drop_column('invitation_language')
        batch_op.drop_column('invited_at')
