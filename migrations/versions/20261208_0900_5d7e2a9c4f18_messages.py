"""messages

Send SMS (tenants.messaging): a message per send and a row per recipient with its delivery
status and our unique gateway reference; the ledger's type check accepts ``message`` (the
charge) and ``refund`` (a failed recipient's credits given back).

Revision ID: 5d7e2a9c4f18
Revises: c4f7a2e9d1b3
Create Date: 2026-12-08 09:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import tenants.core.types


# revision identifiers, used by Alembic.
revision = "5d7e2a9c4f18"
down_revision = "c4f7a2e9d1b3"
branch_labels = None
depends_on = None

OLD_ENTRY_TYPES = (
    "purchase",
    "auto_top_up",
    "transfer_in",
    "transfer_out",
    "usage",
    "withdrawal",
    "adjustment",
    "payment",
    "payment_void",
    "invoice",
)
ENTRY_TYPES = (*OLD_ENTRY_TYPES, "message", "refund")
CHECK = "ck_ledger_entries_entry_type"
SQLITE_TRIGGERS = (
    "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END",
    "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END",
)


def _entry_types(types) -> None:
    """Replace the check on ledger_entries.type (as c61cff06fc51 does: SQLite rebuilds the
    table, which drops its immutability triggers, made again)."""
    condition = "type IN (" + ", ".join(f"'{name}'" for name in types) + ")"
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("ledger_entries", recreate="always") as batch_op:
            batch_op.drop_constraint(op.f(CHECK), type_="check")
            batch_op.create_check_constraint(op.f(CHECK), condition)
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    else:
        op.drop_constraint(op.f(CHECK), "ledger_entries", type_="check")
        op.create_check_constraint(op.f(CHECK), "ledger_entries", condition)


def upgrade():
    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reseller_id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=32), nullable=True),
        sa.Column("actor_user_id", sa.String(length=32), nullable=True),
        sa.Column("api_key_id", sa.String(length=32), nullable=True),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("sender", sa.String(length=20), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(length=10), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.BigInteger(), nullable=False),
        sa.Column("postpaid", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued", "sending", "sent", "done",
                name="message_status", native_enum=False, create_constraint=True, length=20,
            ),
            nullable=False,
        ),
        sa.Column("entry_id", sa.String(length=32), nullable=True),
        sa.Column("request_key", sa.String(length=100), nullable=True),
        sa.Column("created_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tenants.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_messages_organization_id_organizations")),
        sa.ForeignKeyConstraint(["reseller_id"], ["resellers.id"], name=op.f("fk_messages_reseller_id_resellers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("organization_id", "request_key", name="uq_messages_request_key"),
    )
    op.create_index(
        "ix_messages_org_created", "messages", ["organization_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "message_recipients",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued", "sending", "sent", "delivered", "failed",
                name="recipient_status", native_enum=False, create_constraint=True, length=20,
            ),
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("gateway_id", sa.String(length=100), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("refunded", sa.Boolean(), nullable=False),
        sa.Column("sent_at", tenants.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported_at", tenants.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_message_recipients_message_id_messages")),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], name=op.f("fk_message_recipients_organization_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_recipients")),
        sa.UniqueConstraint("reference", name="uq_message_recipients_reference"),
    )
    op.create_index(
        "ix_message_recipients_message_status",
        "message_recipients",
        ["message_id", "status"],
        unique=False,
    )
    _entry_types(ENTRY_TYPES)


def downgrade():
    _entry_types(OLD_ENTRY_TYPES)
    op.drop_index("ix_message_recipients_message_status", table_name="message_recipients")
    op.drop_table("message_recipients")
    op.drop_index("ix_messages_org_created", table_name="messages")
    op.drop_table("messages")
