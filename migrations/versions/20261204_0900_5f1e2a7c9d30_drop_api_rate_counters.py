"""drop api_rate_counters

API rate limiting moved to Flask-Limiter (a moving window in Redis, or in memory without
Redis): the database no longer counts requests per key and window.

Revision ID: 5f1e2a7c9d30
Revises: c61cff06fc51
Create Date: 2026-12-04 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5f1e2a7c9d30'
down_revision = 'c61cff06fc51'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table('api_rate_counters')


def downgrade():
    op.create_table('api_rate_counters',
    sa.Column('api_key_id', sa.String(length=32), nullable=False),
    sa.Column('window_start', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_api_rate_counters_api_key_id_api_keys')),
    sa.PrimaryKeyConstraint('api_key_id', 'window_start', name=op.f('pk_api_rate_counters'))
    )
