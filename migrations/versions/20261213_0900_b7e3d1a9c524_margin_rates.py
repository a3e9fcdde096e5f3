"""margin rates: the month's rates a reseller enters for its margin report

SPEC §4b: revenue in a currency other than the reseller's lots' is converted at the month's
rate the reseller enters, or marked as not converted. ``wholesale_margin_rates`` holds one
rate per reseller, month (``YYYY-MM``) and currency: 1 unit of the currency = ``rate`` of
the lots' currency. Nothing to fill in: a month without rates shows its other currencies as
not converted.

Revision ID: b7e3d1a9c524
Revises: a4d9e6c2f817
Create Date: 2026-12-13 09:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = "b7e3d1a9c524"
down_revision = "a4d9e6c2f817"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "wholesale_margin_rates",
        sa.Column("reseller_id", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", tenants.core.types.Money(), nullable=False),
        sa.Column("updated_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rate > 0", name=op.f("ck_wholesale_margin_rates_margin_rate_positive")),
        sa.ForeignKeyConstraint(
            ["reseller_id"],
            ["resellers.id"],
            name=op.f("fk_wholesale_margin_rates_reseller_id_resellers"),
        ),
        sa.PrimaryKeyConstraint(
            "reseller_id", "period", "currency", name=op.f("pk_wholesale_margin_rates")
        ),
    )


def downgrade():
    op.drop_table("wholesale_margin_rates")
