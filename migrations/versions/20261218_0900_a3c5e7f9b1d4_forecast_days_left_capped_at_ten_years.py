"""forecast days left stored up to ten years: forecast_days_left counts days up to 3,651

The stored, indexed forecast_days_left (the Customer app's forecast order and its "runs out
within N days" filter, at most 3,650) now holds days left counted up to FORECAST_DAYS_CAP
(3,651, "more than ten years"); the exact number is computed from the row's other columns
where it is shown (Organization.forecast_days). Stored exactly, it changed with nearly every
usage of an organization with years of credit, which made every usage's UPDATE of the
organization's row a non-HOT update: a new entry in each of the table's ten indexes, two of
them trigram GIN (bench/README.md, B6). PostgreSQL before 17 cannot change a generated
column's expression, so the column is dropped and added again with its two indexes (the
forecast order's, and the name index that INCLUDEs it on PostgreSQL), which rewrites the
organizations table as the forecast migrations did. SQLite has it VIRTUAL (see the forecast
migration), dropped and added again VIRTUAL.

Revision ID: a3c5e7f9b1d4
Revises: f2b4d6e8a0c1
Create Date: 2026-12-18 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a3c5e7f9b1d4"
down_revision = "f2b4d6e8a0c1"
branch_labels = None
depends_on = None

CAP = 3651


def _capped(days: str) -> str:
    return f"CASE WHEN {days} < {CAP} THEN {days} ELSE {CAP} END"


# As tenants.models.organizations has them at this revision: the new expression, and the
# one it replaces (for downgrade).
FORECAST_DAYS_LEFT_SQL = (
    "COALESCE(CASE WHEN pricing_model = 'prepaid' THEN"
    " CASE WHEN forecast_usage_7d > 0 THEN CASE WHEN total_credits > reserved_credits"
    f" THEN {_capped('(total_credits - reserved_credits) * 7 / forecast_usage_7d')}"
    " ELSE 0 END END"
    " ELSE CASE WHEN forecast_charge_7d > 0 THEN CASE WHEN credit_limit > debt THEN "
    + _capped(
        "CAST((credit_limit - debt) * 70000 AS BIGINT) / CAST(forecast_charge_7d * 10000 AS BIGINT)"
    )
    + " ELSE 0 END END END, 1000000000000000)"
)
PREVIOUS_FORECAST_DAYS_LEFT_SQL = (
    "COALESCE(CASE WHEN pricing_model = 'prepaid' THEN"
    " CASE WHEN forecast_usage_7d > 0 THEN CASE WHEN total_credits > reserved_credits"
    " THEN (total_credits - reserved_credits) * 7 / forecast_usage_7d ELSE 0 END END"
    " ELSE CASE WHEN forecast_charge_7d > 0 THEN"
    " CASE WHEN credit_limit > debt THEN CAST((credit_limit - debt) * 70000 AS BIGINT)"
    " / CAST(forecast_charge_7d * 10000 AS BIGINT) ELSE 0 END END END, 1000000000000000)"
)

FORECAST_INDEX = "ix_organizations_reseller_forecast"
NAME_INDEX = "ix_organizations_reseller_search_name"


def _replace_days_left(expression: str) -> None:
    """forecast_days_left computed by ``expression``, with the indexes that carry it: stored
    on PostgreSQL, VIRTUAL on SQLite (whose ALTER TABLE adds no stored generated column)."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.drop_index(FORECAST_INDEX, table_name="organizations")
    if postgresql:
        op.drop_index(NAME_INDEX, table_name="organizations")
    op.drop_column("organizations", "forecast_days_left")
    op.add_column(
        "organizations",
        sa.Column(
            "forecast_days_left",
            sa.BigInteger(),
            sa.Computed(expression, persisted=op.get_bind().dialect.name != "sqlite"),
            nullable=True,
        ),
    )
    op.create_index(
        FORECAST_INDEX, "organizations", ["reseller_id", "forecast_days_left", "id"], unique=False
    )
    if postgresql:
        op.create_index(
            NAME_INDEX,
            "organizations",
            ["reseller_id", "search_name", "id"],
            postgresql_include=["forecast_days_left", "status"],
        )


def upgrade():
    _replace_days_left(FORECAST_DAYS_LEFT_SQL)


def downgrade():
    _replace_days_left(PREVIOUS_FORECAST_DAYS_LEFT_SQL)
