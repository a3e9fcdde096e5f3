"""campaigns

Automated campaigns (SPEC §4a): ``campaigns`` and their runs (``campaign_runs``, one row per
occurrence: unique ``campaign_id, occurrence``), credits reserved for scheduled runs
(``credit_accounts.reserved``, never above the balance; ``organizations.reserved_credits``,
their sum for the Customer app's list), the reseller's "campaigns need
approval" setting, and jobs that run at a time (``queued_jobs.run_at``, RQ's scheduler).

The CHECK ``reserved >= 0 AND reserved <= balance`` is added on PostgreSQL; on SQLite a new
database gets it from the models, an upgraded one relies on the conditional UPDATEs (adding
a CHECK there means rebuilding the ledger's busiest table).

Revision ID: b7c3e9a1d524
Revises: f0c3a5e7b912
Create Date: 2026-12-10 09:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = "b7c3e9a1d524"
down_revision = "f0c3a5e7b912"
branch_labels = None
depends_on = None

RESERVED_CHECK = "ck_credit_accounts_reserved_within_balance"


def upgrade():
    with op.batch_alter_table("credit_accounts", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("reserved", sa.BigInteger(), server_default="0", nullable=False)
        )
    if op.get_bind().dialect.name == "postgresql":
        op.create_check_constraint(
            op.f(RESERVED_CHECK), "credit_accounts", "reserved >= 0 AND reserved <= balance"
        )
    with op.batch_alter_table("organizations", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("reserved_credits", sa.BigInteger(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("resellers", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column(
                "campaigns_need_approval",
                sa.Boolean(),
                server_default=sa.text("false"),
                nullable=False,
            )
        )
    with op.batch_alter_table("queued_jobs", schema=None, recreate="never") as batch_op:
        batch_op.add_column(
            sa.Column("run_at", tenants.core.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reseller_id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("list_id", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sender", sa.String(length=20), nullable=True),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("starts_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "repeat",
            sa.Enum(
                "none", "daily", "weekly", "monthly",
                name="campaign_repeat", native_enum=False, create_constraint=True, length=20,
            ),
            nullable=False,
        ),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending_approval", "scheduled", "running", "done", "cancelled", "rejected",
                name="campaign_status", native_enum=False, create_constraint=True, length=20,
            ),
            nullable=False,
        ),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("decided_at", tenants.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.String(length=32), nullable=True),
        sa.Column("created_by_user_id", sa.String(length=32), nullable=True),
        sa.Column("member_id", sa.String(length=32), nullable=True),
        sa.Column("api_key_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_campaigns_organization_id_organizations")),
        sa.ForeignKeyConstraint(["reseller_id"], ["resellers.id"], name=op.f("fk_campaigns_reseller_id_resellers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(
        "ix_campaigns_org_created", "campaigns", ["organization_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_campaigns_reseller_status", "campaigns", ["reseller_id", "status"], unique=False
    )
    op.create_table(
        "campaign_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("due_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "scheduled", "sent", "not_sent", "cancelled",
                name="campaign_run_status", native_enum=False, create_constraint=True, length=20,
            ),
            nullable=False,
        ),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=True),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("ran_at", tenants.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported_at", tenants.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_runs_campaign_id_campaigns")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_campaign_runs_organization_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_runs")),
        sa.UniqueConstraint("campaign_id", "occurrence", name="uq_campaign_runs_occurrence"),
    )
    op.create_index(
        "ix_campaign_runs_status_due", "campaign_runs", ["status", "due_at"], unique=False
    )


def downgrade():
    op.drop_index("ix_campaign_runs_status_due", table_name="campaign_runs")
    op.drop_table("campaign_runs")
    op.drop_index("ix_campaigns_reseller_status", table_name="campaigns")
    op.drop_index("ix_campaigns_org_created", table_name="campaigns")
    op.drop_table("campaigns")
    with op.batch_alter_table("queued_jobs", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("run_at")
    with op.batch_alter_table("resellers", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("campaigns_need_approval")
    with op.batch_alter_table("organizations", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("reserved_credits")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f(RESERVED_CHECK), "credit_accounts", type_="check")
    with op.batch_alter_table("credit_accounts", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("reserved")
