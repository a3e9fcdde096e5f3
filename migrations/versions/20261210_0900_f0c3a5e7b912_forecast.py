"""forecast: daily usage totals, the organizations' 7-day sums, days left and alert setting

The forecast (SPEC §4) reads per-organization daily totals (usage_days) kept by the usage
paths, never the ledger. Organizations gain the window's sums, the stored generated column
forecast_days_left computed from them and the balance, the alert setting, and an index of
days left in the Customer app's forecast order. Existing usage is not back-filled: the
forecast starts with the usage recorded from now on (an organization shows "—" until then).
On PostgreSQL adding the generated column rewrites the organizations table (a few seconds
at 100,000 organizations); on SQLite it is added VIRTUAL (see upgrade).

Revision ID: f0c3a5e7b912
Revises: 8e3f1a6b2d47
Create Date: 2026-12-10 09:00:00

"""
from alembic import op
import sqlalchemy as sa

import tenants.core.types

# As tenants.models.organizations has them at this revision.
FORECAST_DAYS_LEFT_SQL = (
    "COALESCE(CASE WHEN pricing_model = 'prepaid' THEN"
    " CASE WHEN forecast_usage_7d > 0 THEN total_credits * 7 / forecast_usage_7d END"
    " ELSE CASE WHEN forecast_charge_7d > 0 THEN"
    " CASE WHEN credit_limit > debt THEN CAST((credit_limit - debt) * 70000 AS BIGINT)"
    " / CAST(forecast_charge_7d * 10000 AS BIGINT) ELSE 0 END END END, 1000000000000000)"
)


# revision identifiers, used by Alembic.
revision = "f0c3a5e7b912"
down_revision = "8e3f1a6b2d47"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "usage_days",
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reseller_id", sa.String(length=32), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("charged", tenants.core.types.Money(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"]),
        sa.ForeignKeyConstraint(["reseller_id"], ["resellers.id"]),
        sa.PrimaryKeyConstraint("organization_id", "day"),
    )
    # SQLite can add a generated column with ALTER TABLE only as VIRTUAL (computed when
    # read: the same values, indexable); rebuilding the table instead is not possible since
    # SQLAlchemy misreads its generated low_balance column. PostgreSQL stores it (a rewrite
    # of the table: a few seconds at 100,000 organizations).
    stored = op.get_bind().dialect.name != "sqlite"
    op.add_column(
        "organizations",
        sa.Column("forecast_usage_7d", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "organizations",
        sa.Column(
            "forecast_charge_7d", tenants.core.types.Money(), server_default="0", nullable=False
        ),
    )
    op.add_column(
        "organizations",
        sa.Column(
            "forecast_days_left",
            sa.BigInteger(),
            sa.Computed(FORECAST_DAYS_LEFT_SQL, persisted=stored),
            nullable=True,
        ),
    )
    op.add_column("organizations", sa.Column("forecast_alert_days", sa.Integer(), nullable=True))
    op.create_index(
        "ix_organizations_reseller_forecast",
        "organizations",
        ["reseller_id", "forecast_days_left", "id"],
        unique=False,
    )


def downgrade():
    op.drop_index("ix_organizations_reseller_forecast", table_name="organizations")
    for column in (
        "forecast_alert_days",
        "forecast_days_left",
        "forecast_charge_7d",
        "forecast_usage_7d",
    ):
        op.drop_column("organizations", column)
    op.drop_table("usage_days")
