"""support session mode

A support session is started in a mode (SPEC §5): ``view`` (look only, the default) or
``change``. The sessions already recorded were started before modes existed, when every
session could change anything: they become ``change``, so their history reads true. New rows
default to ``view`` (the server default is switched once the old rows are filled).

Revision ID: 5e7a1c2d9b40
Revises: e5a1d2c3b4f6
Create Date: 2026-12-04 10:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e7a1c2d9b40'
down_revision = 'e5a1d2c3b4f6'
branch_labels = None
depends_on = None

MODE = sa.Enum(
    'view', 'change', name='support_mode', native_enum=False, create_constraint=True, length=20
)


def upgrade():
    with op.batch_alter_table('support_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mode', MODE, server_default='change', nullable=False))
    with op.batch_alter_table('support_sessions', schema=None) as batch_op:
        batch_op.alter_column(
            'mode', existing_type=MODE, existing_nullable=False, server_default='view'
        )


def downgrade():
    with op.batch_alter_table('support_sessions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_support_sessions_support_mode'), type_='check')
        batch_op.drop_column('mode')
