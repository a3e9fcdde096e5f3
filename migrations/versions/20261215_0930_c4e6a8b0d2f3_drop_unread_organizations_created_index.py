"""drop ix_organizations_reseller_created: an index nothing reads, written by every usage

No query orders or filters organizations by creation time (the Customer app's list sorts by
name or by days left). Every usage charge rewrites its organization's row, and that row
update is not HOT (days left, which it changes, is indexed), so each index of the table
gets a new entry: one fewer to write a charge, single or in a batch (bench/README.md, B6).

Revision ID: c4e6a8b0d2f3
Revises: a8c3e5f7d9b1
Create Date: 2026-12-15 09:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "c4e6a8b0d2f3"
down_revision = "a8c3e5f7d9b1"
branch_labels = None
depends_on = None

NAME = "ix_organizations_reseller_created"


def upgrade():
    op.drop_index(NAME, table_name="organizations")


def downgrade():
    op.create_index(NAME, "organizations", ["reseller_id", "created_at", "id"])
