"""organization line-start search

The Customer app's search (B2): search_text's second and third lines and the rest of it
(without the first character of each line) as stored generated columns, btree ranges of the
three lines' prefixes that hold search_name and id, and a trigram index of the rest --
see SEARCH_LINES_DDL in tenants/models/organizations.py and _line_start_matches in
tenants/organizations/listing.py. PostgreSQL only (it rewrites the organizations table once);
nothing on SQLite, whose search reads search_text as before.

Revision ID: 7b1e4c2d9a05
Revises: 9b2e4f7a1c35
Create Date: 2026-12-07 10:00:00.000000

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "7b1e4c2d9a05"
down_revision = "9b2e4f7a1c35"
branch_labels = None
depends_on = None


# As SEARCH_LINES_DDL says today (copied: a migration does not change with the model).
STATEMENTS = (
    r"""ALTER TABLE organizations
    ADD COLUMN search_line2 varchar(700)
        GENERATED ALWAYS AS (split_part(search_text, E'\n', 2)) STORED,
    ADD COLUMN search_line3 varchar(700)
        GENERATED ALWAYS AS (split_part(search_text, E'\n', 3)) STORED,
    ADD COLUMN search_rest varchar(700) GENERATED ALWAYS AS (
        CASE WHEN search_text LIKE E'%\n%\n%\n%' THEN search_text
             ELSE regexp_replace(search_text, E'(^|\n)[^\n]', E'\\1', 'g') END
    ) STORED""",
    "CREATE INDEX ix_organizations_search_name_prefix ON organizations"
    " (reseller_id, search_name text_pattern_ops) INCLUDE (id, status)",
    "CREATE INDEX ix_organizations_search_line2_prefix ON organizations"
    " (reseller_id, search_line2 text_pattern_ops) INCLUDE (search_name, id, status)",
    "CREATE INDEX ix_organizations_search_line3_prefix ON organizations"
    " (reseller_id, search_line3 text_pattern_ops) INCLUDE (search_name, id, status)",
    "CREATE INDEX ix_organizations_search_rest_trgm ON organizations"
    " USING gin (search_rest gin_trgm_ops)",
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for index in (
        "ix_organizations_search_rest_trgm",
        "ix_organizations_search_line3_prefix",
        "ix_organizations_search_line2_prefix",
        "ix_organizations_search_name_prefix",
    ):
        op.execute(f"DROP INDEX IF EXISTS {index}")
    for column in ("search_rest", "search_line3", "search_line2"):
        op.execute(f"ALTER TABLE organizations DROP COLUMN IF EXISTS {column}")
