"""forecast window start: the first day of the window an organization's 7-day sums were read for

A usage charge adds its credits to the stored sums in place when the window has not slid
since they were read (tenants.credits.ledger_one: the charge's one statement), instead of
re-reading the window in a second statement. NULL (every existing organization): the next
usage re-reads the window and stores its start.

Revision ID: c4d8e2f6a1b3
Revises: b7c3e9a1d524
Create Date: 2026-12-11 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c4d8e2f6a1b3"
down_revision = "b7c3e9a1d524"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("organizations", sa.Column("forecast_window_start", sa.Date(), nullable=True))


def downgrade():
    op.drop_column("organizations", "forecast_window_start")
