"""name index carries days left: the Customer app's name index INCLUDEs forecast_days_left and status

PostgreSQL only. "Runs out within N days" in name order walks this index and checks the
filter on the index entries alone (an index-only scan; tenants.organizations.listing
_ids_first) instead of reading the row of every organization it skips. The key columns do
not change, so every other use of the index is as before; days left is already indexed
(ix_organizations_reseller_forecast), so no update that was HOT stops being HOT.

Revision ID: d2a6c8e4f1b7
Revises: b7e3d1a9c524
Create Date: 2026-12-14 09:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "d2a6c8e4f1b7"
down_revision = "b7e3d1a9c524"
branch_labels = None
depends_on = None

NAME = "ix_organizations_reseller_search_name"
COLUMNS = ["reseller_id", "search_name", "id"]


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="organizations")
    op.create_index(
        NAME,
        "organizations",
        COLUMNS,
        postgresql_include=["forecast_days_left", "status"],
    )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="organizations")
    op.create_index(NAME, "organizations", COLUMNS)
