"""forecast on available credits: prepaid days left count total credits less reserved

Prepaid days left become (total_credits - reserved_credits) * 7 / the window's usage, never
below 0: credits reserved for scheduled campaign runs are not there to spend
(tenants.credits.forecast). The stored generated column forecast_days_left gets the new
expression: PostgreSQL before 17 cannot change a generated column's expression, so the
column (and its index) is dropped and added again, which rewrites the organizations table
as the forecast migration did (a few seconds at 100,000 organizations). SQLite has it
VIRTUAL (added by ALTER TABLE, see the forecast migration), dropped and added again VIRTUAL.

Revision ID: f5c21fcea44c
Revises: c4d8e2f6a1b3
Create Date: 2026-12-12 09:00:00

"""
from alembic import op
import sqlalchemy as sa

# As tenants.models.organizations has them at this revision: the new expression, and the
# one it replaces (the forecast migration's, for downgrade).
FORECAST_DAYS_LEFT_SQL = (
    "COALESCE(CASE WHEN pricing_model = 'prepaid' THEN"
    " CASE WHEN forecast_usage_7d > 0 THEN CASE WHEN total_credits > reserved_credits"
    " THEN (total_credits - reserved_credits) * 7 / forecast_usage_7d ELSE 0 END END"
    " ELSE CASE WHEN forecast_charge_7d > 0 THEN"
    " CASE WHEN credit_limit > debt THEN CAST((credit_limit - debt) * 70000 AS BIGINT)"
    " / CAST(forecast_charge_7d * 10000 AS BIGINT) ELSE 0 END END END, 1000000000000000)"
)
PREVIOUS_FORECAST_DAYS_LEFT_SQL = (
    "COALESCE(CASE WHEN pricing_model = 'prepaid' THEN"
    " CASE WHEN forecast_usage_7d > 0 THEN total_credits * 7 / forecast_usage_7d END"
    " ELSE CASE WHEN forecast_charge_7d > 0 THEN"
    " CASE WHEN credit_limit > debt THEN CAST((credit_limit - debt) * 70000 AS BIGINT)"
    " / CAST(forecast_charge_7d * 10000 AS BIGINT) ELSE 0 END END END, 1000000000000000)"
)


# revision identifiers, used by Alembic.
revision = "f5c21fcea44c"
down_revision = "c4d8e2f6a1b3"
branch_labels = None
depends_on = None


def _replace_days_left(expression: str) -> None:
    """forecast_days_left computed by ``expression``, with its index: stored on PostgreSQL,
    VIRTUAL on SQLite (whose ALTER TABLE adds no stored generated column)."""
    stored = op.get_bind().dialect.name != "sqlite"
    op.drop_index("ix_organizations_reseller_forecast", table_name="organizations")
    op.drop_column("organizations", "forecast_days_left")
    op.add_column(
        "organizations",
        sa.Column(
            "forecast_days_left",
            sa.BigInteger(),
            sa.Computed(expression, persisted=stored),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_organizations_reseller_forecast",
        "organizations",
        ["reseller_id", "forecast_days_left", "id"],
        unique=False,
    )


def upgrade():
    _replace_days_left(FORECAST_DAYS_LEFT_SQL)


def downgrade():
    _replace_days_left(PREVIOUS_FORECAST_DAYS_LEFT_SQL)
