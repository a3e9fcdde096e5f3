"""smpp parts

The SMPP gateway's memory of what it submitted (a part per submit_sm, with the SMSC's id
its delivery receipts name), and an index to find the latest message to a number (a STOP
reply names only the number).

Revision ID: 8e3f1a6b2d47
Revises: 5d7e2a9c4f18
Create Date: 2026-12-09 09:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = "8e3f1a6b2d47"
down_revision = "5d7e2a9c4f18"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "smpp_parts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("smsc_message_id", sa.String(length=65), nullable=True),
        sa.Column("submitted_at", tenants.core.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smpp_parts")),
        sa.UniqueConstraint("smsc_message_id", name="uq_smpp_parts_smsc_message_id"),
    )
    op.create_index("ix_smpp_parts_reference", "smpp_parts", ["reference"], unique=False)
    op.create_index(
        "ix_message_recipients_number", "message_recipients", ["number", "id"], unique=False
    )


def downgrade():
    op.drop_index("ix_message_recipients_number", table_name="message_recipients")
    op.drop_index("ix_smpp_parts_reference", table_name="smpp_parts")
    op.drop_table("smpp_parts")
