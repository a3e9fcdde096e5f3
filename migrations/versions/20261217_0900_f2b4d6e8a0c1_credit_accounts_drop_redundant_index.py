"""credit accounts: drop ix_credit_accounts_org_kind, a prefix of uq_credit_accounts_owner

(organization_id, kind) is the start of the unique (organization_id, kind, member_id), which
answers every query the smaller index did (an organization's accounts, of a kind). Each new
account wrote both; the monthly run creates two per organization the first time it
invoices one (B4: 20,000 for 10,000 organizations; bench/README.md).

Revision ID: f2b4d6e8a0c1
Revises: e1f3a5c7b9d2
Create Date: 2026-12-17 09:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = "f2b4d6e8a0c1"
down_revision = "e1f3a5c7b9d2"
branch_labels = None
depends_on = None

NAME = "ix_credit_accounts_org_kind"


def upgrade():
    op.drop_index(NAME, table_name="credit_accounts")


def downgrade():
    op.create_index(NAME, "credit_accounts", ["organization_id", "kind"], unique=False)
