"""auto top-up monthly limit

Each organization sets how many automatic top-ups it allows a calendar month (SPEC §4,
``auto_top_up.monthly_limit``). Until now the platform's AUTO_TOP_UP_MONTHLY_CAP (default 10)
was the only limit: every organization starts at 10, and the platform's setting stays the
ceiling.

Revision ID: a3d8f0c4e2b1
Revises: a3d9f1c7e2b5
Create Date: 2026-12-06 10:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a3d8f0c4e2b1"
down_revision = "a3d9f1c7e2b5"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "auto_top_up_monthly_limit", sa.Integer(), server_default="10", nullable=False
            )
        )


def downgrade():
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("auto_top_up_monthly_limit")
