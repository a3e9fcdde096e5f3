"""the outbox owns a job until it is done; job runner heartbeats

queued_jobs gains started_at/heartbeat_at (a worker runs it now) and failed_at (it gave up);
job_runner_beats records that the parts of ``flask jobs worker`` are alive.

Revision ID: b7c4e9a1f2d3
Revises: 5e7a1c2d9b40
Create Date: 2026-12-05 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = 'b7c4e9a1f2d3'
down_revision = '5e7a1c2d9b40'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('queued_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_at', tenants.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('heartbeat_at', tenants.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_at', tenants.core.types.UTCDateTime(timezone=True), nullable=True))

    op.create_table('job_runner_beats',
    sa.Column('id', sa.String(length=200), nullable=False),
    sa.Column('part', sa.String(length=20), nullable=False),
    sa.Column('host', sa.String(length=120), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('beat_at', tenants.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runner_beats'))
    )
    with op.batch_alter_table('job_runner_beats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_runner_beats_part'), ['part'], unique=False)


def downgrade():
    with op.batch_alter_table('job_runner_beats', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_runner_beats_part'))

    op.drop_table('job_runner_beats')
    with op.batch_alter_table('queued_jobs', schema=None) as batch_op:
        batch_op.drop_column('failed_at')
        batch_op.drop_column('heartbeat_at')
        batch_op.drop_column('started_at')
