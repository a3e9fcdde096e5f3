"""Usage references: the claim that makes a reference charged once per organization, and
what the database checks of it in place of foreign keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, utcnow
from tenants.models.base import created_with
from tenants.models.organizations import Organization


class UsageReference(db.Model):
    """A usage reference an organization was charged for, once: its primary key is the unique
    index that makes a repeat (single or batch, any time later) charge nothing.

    Inserted in the same transaction as the charge and before it, with the id its first
    ledger entry is then written with (hence no foreign key to that entry): a refused usage
    rolls back with its claim, so the sender may retry the reference. Its organization and
    reseller are checked by the database (OWNER_KNOWN), not by foreign keys.
    """

    __tablename__ = "usage_references"

    organization_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reference: Mapped[str] = mapped_column(String(200), primary_key=True)
    reseller_id: Mapped[str] = mapped_column(String(32))
    entry_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# A reference names an organization of its reseller, checked by the database. Not foreign
# keys: each claim ran two checks of its own, each locking the organization's and the
# reseller's rows (FOR KEY SHARE) -- 6.9 of the 11.7 ms a batch's 1,000 claims took, and a
# lock beside every other batch's update of the same organizations (bench/README.md, B6).
# PostgreSQL checks a statement's new references in one anti-join after it; SQLite checks
# each row as it comes. What the keys also kept is kept by OWNER_KEPT (a reference is never
# moved to another organization or reseller) and REFERENCED_KEPT (an organization that
# references name is never deleted nor moved to another id or reseller). Created here for
# create_all and by migration e2b4d6f8a0c1, which holds the same text.
OWNER_KNOWN = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION usage_references_owner_known() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (
                SELECT 1 FROM new_references AS r
                WHERE NOT EXISTS (
                    SELECT 1 FROM organizations AS o
                    WHERE o.id = r.organization_id AND o.reseller_id = r.reseller_id
                )
            ) THEN
                RAISE EXCEPTION 'a usage reference names no organization of its reseller'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql""",
        "CREATE TRIGGER usage_references_owner_known AFTER INSERT ON usage_references"
        " REFERENCING NEW TABLE AS new_references FOR EACH STATEMENT"
        " EXECUTE FUNCTION usage_references_owner_known()",
    ),
    "sqlite": (
        "CREATE TRIGGER usage_references_owner_known BEFORE INSERT ON usage_references"
        " WHEN NOT EXISTS (SELECT 1 FROM organizations WHERE id = NEW.organization_id"
        " AND reseller_id = NEW.reseller_id)"
        " BEGIN SELECT RAISE(ABORT, 'a usage reference names no organization of its reseller');"
        " END",
    ),
}
OWNER_KEPT = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION usage_references_not_moved() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'usage references are never moved'
                USING ERRCODE = 'restrict_violation';
        END;
        $$ LANGUAGE plpgsql""",
        "CREATE TRIGGER usage_references_not_moved"
        " BEFORE UPDATE OF organization_id, reseller_id ON usage_references FOR EACH ROW"
        " WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id"
        " OR OLD.reseller_id IS DISTINCT FROM NEW.reseller_id)"
        " EXECUTE FUNCTION usage_references_not_moved()",
    ),
    "sqlite": (
        "CREATE TRIGGER usage_references_not_moved"
        " BEFORE UPDATE OF organization_id, reseller_id ON usage_references"
        " WHEN OLD.organization_id IS NOT NEW.organization_id"
        " OR OLD.reseller_id IS NOT NEW.reseller_id"
        " BEGIN SELECT RAISE(ABORT, 'usage references are never moved'); END",
    ),
}
REFERENCED_KEPT = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION organizations_references_kept() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM usage_references WHERE organization_id = OLD.id) THEN
                RAISE EXCEPTION
                    'an organization with usage references is never deleted nor re-keyed'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            IF TG_OP = 'DELETE' THEN
                RETURN OLD;
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql""",
        "CREATE TRIGGER organizations_references_kept BEFORE DELETE ON organizations"
        " FOR EACH ROW EXECUTE FUNCTION organizations_references_kept()",
        "CREATE TRIGGER organizations_references_not_rekeyed"
        " BEFORE UPDATE OF id, reseller_id ON organizations FOR EACH ROW"
        " WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.reseller_id IS DISTINCT FROM NEW.reseller_id)"
        " EXECUTE FUNCTION organizations_references_kept()",
    ),
    "sqlite": (
        "CREATE TRIGGER organizations_references_kept BEFORE DELETE ON organizations"
        " WHEN EXISTS (SELECT 1 FROM usage_references WHERE organization_id = OLD.id)"
        " BEGIN SELECT RAISE(ABORT,"
        " 'an organization with usage references is never deleted nor re-keyed'); END",
        "CREATE TRIGGER organizations_references_not_rekeyed"
        " BEFORE UPDATE OF id, reseller_id ON organizations"
        " WHEN (OLD.id IS NOT NEW.id OR OLD.reseller_id IS NOT NEW.reseller_id)"
        " AND EXISTS (SELECT 1 FROM usage_references WHERE organization_id = OLD.id)"
        " BEGIN SELECT RAISE(ABORT,"
        " 'an organization with usage references is never deleted nor re-keyed'); END",
    ),
}
# Each with its table (the bodies name the other table only when they run: either table may
# be created first, no foreign key orders them any more).
created_with(UsageReference.__table__, OWNER_KNOWN)
created_with(UsageReference.__table__, OWNER_KEPT)
created_with(Organization.__table__, REFERENCED_KEPT)
