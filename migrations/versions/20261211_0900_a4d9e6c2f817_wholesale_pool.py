"""wholesale pool: each reseller's pool, its lots, the draws and their daily totals

SPEC §4b: every credit a customer receives (and every credit of postpaid usage) comes out of
its reseller's wholesale pool, which the platform fills in lots (credits, unit cost,
currency). ``wholesale_pools`` holds one row per reseller (never below zero),
``wholesale_lots`` the lots with what remains of each (first in, first out),
``wholesale_draws`` which lot each credit a customer received came from (the margin
report's cost), ``wholesale_days`` the credits drawn per UTC day (the pool's forecast).

Existing resellers get a pool holding an opening-balance lot (cost 0) of what their
customers hold now — prepaid credits in every account plus the credits of postpaid usage
not yet invoiced — so that on the day pools begin nothing in use is refused: the customers
can buy again, and postpaid customers use again, as much as they hold or used this month.
The lot's currency is the one most of the reseller's organizations use (EUR without any).

Revision ID: a4d9e6c2f817
Revises: f5c21fcea44c
Create Date: 2026-12-11 09:00:00.000000

"""

from collections import Counter
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = "a4d9e6c2f817"
down_revision = "f5c21fcea44c"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "wholesale_pools",
        sa.Column("reseller_id", sa.String(length=32), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("low_balance_threshold", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("updated_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("credits >= 0", name=op.f("ck_wholesale_pools_pool_not_negative")),
        sa.CheckConstraint(
            "low_balance_threshold >= 0",
            name=op.f("ck_wholesale_pools_pool_threshold_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_wholesale_pools_reseller_id_resellers")
        ),
        sa.PrimaryKeyConstraint("reseller_id", name=op.f("pk_wholesale_pools")),
    )
    op.create_table(
        "wholesale_lots",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reseller_id", sa.String(length=32), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("unit_cost", tenants.core.types.Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("opening_balance", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.String(length=32), nullable=True),
        sa.CheckConstraint("credits >= 0", name=op.f("ck_wholesale_lots_lot_credits_not_negative")),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= credits",
            name=op.f("ck_wholesale_lots_lot_remaining_in_range"),
        ),
        sa.CheckConstraint("unit_cost >= 0", name=op.f("ck_wholesale_lots_lot_cost_not_negative")),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_wholesale_lots_reseller_id_resellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wholesale_lots")),
    )
    op.create_index(
        "ix_wholesale_lots_reseller_created",
        "wholesale_lots",
        ["reseller_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "wholesale_draws",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reseller_id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("lot_id", sa.String(length=32), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["wholesale_lots.id"], name=op.f("fk_wholesale_draws_lot_id_wholesale_lots")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_wholesale_draws_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_wholesale_draws_reseller_id_resellers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wholesale_draws")),
    )
    op.create_index("ix_wholesale_draws_lot", "wholesale_draws", ["lot_id"], unique=False)
    op.create_index(
        "ix_wholesale_draws_reseller_created",
        "wholesale_draws",
        ["reseller_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "wholesale_days",
        sa.Column("reseller_id", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reseller_id"], ["resellers.id"], name=op.f("fk_wholesale_days_reseller_id_resellers")
        ),
        sa.PrimaryKeyConstraint("reseller_id", "day", name=op.f("pk_wholesale_days")),
    )
    _opening_lots()


def _opening_lots():
    """A pool per existing reseller holding an opening-balance lot of what its customers
    hold (prepaid credits) and have used and not yet been invoiced for (postpaid)."""
    bind = op.get_bind()
    held = dict(
        bind.execute(
            sa.text(
                "SELECT reseller_id, COALESCE(SUM(balance), 0) FROM credit_accounts"
                " WHERE kind IN ('system', 'member') GROUP BY reseller_id"
            )
        ).all()
    )
    unbilled = dict(
        bind.execute(
            sa.text(
                "SELECT reseller_id, COALESCE(SUM(unbilled_credits), 0) FROM postpaid_accounts"
                " GROUP BY reseller_id"
            )
        ).all()
    )
    currencies: dict[str, Counter] = {}
    for reseller_id, currency, count in bind.execute(
        sa.text(
            "SELECT reseller_id, currency, COUNT(*) FROM organizations"
            " GROUP BY reseller_id, currency"
        )
    ):
        currencies.setdefault(reseller_id, Counter())[currency] = count
    now = datetime.now(timezone.utc)
    pools, lots = [], []
    for (reseller_id,) in bind.execute(sa.text("SELECT id FROM resellers ORDER BY id")):
        credits = max(int(held.get(reseller_id) or 0) + int(unbilled.get(reseller_id) or 0), 0)
        counted = currencies.get(reseller_id)
        currency = sorted(counted.items(), key=lambda c: (-c[1], c[0]))[0][0] if counted else "EUR"
        pools.append(
            {"reseller_id": reseller_id, "credits": credits, "low_balance_threshold": 0,
             "updated_at": now}
        )
        lots.append(
            {"id": tenants.core.types.new_id("lot"), "reseller_id": reseller_id, "credits": credits,
             "remaining": credits, "unit_cost": 0, "currency": currency,
             "opening_balance": True, "created_at": now, "created_by_user_id": None}
        )
    if pools:
        meta = sa.MetaData()
        pool_table = sa.Table(
            "wholesale_pools", meta,
            sa.Column("reseller_id", sa.String), sa.Column("credits", sa.BigInteger),
            sa.Column("low_balance_threshold", sa.BigInteger),
            sa.Column("updated_at", tenants.core.types.UTCDateTime(timezone=True)),
        )
        lot_table = sa.Table(
            "wholesale_lots", meta,
            sa.Column("id", sa.String), sa.Column("reseller_id", sa.String),
            sa.Column("credits", sa.BigInteger), sa.Column("remaining", sa.BigInteger),
            sa.Column("unit_cost", tenants.core.types.Money()),
            sa.Column("currency", sa.String), sa.Column("opening_balance", sa.Boolean),
            sa.Column("created_at", tenants.core.types.UTCDateTime(timezone=True)),
            sa.Column("created_by_user_id", sa.String),
        )
        op.bulk_insert(pool_table, pools)
        op.bulk_insert(lot_table, lots)


def downgrade():
    op.drop_table("wholesale_days")
    op.drop_index("ix_wholesale_draws_reseller_created", table_name="wholesale_draws")
    op.drop_index("ix_wholesale_draws_lot", table_name="wholesale_draws")
    op.drop_table("wholesale_draws")
    op.drop_index("ix_wholesale_lots_reseller_created", table_name="wholesale_lots")
    op.drop_table("wholesale_lots")
    op.drop_table("wholesale_pools")
