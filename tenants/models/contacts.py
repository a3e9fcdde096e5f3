"""Contacts (SPEC §4a): an organization's lists of recipients, its opt-out list, and the
imports that fill them with the rows they rejected (the downloadable report)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type

# E.164: a plus and at most 15 digits.
MOBILE_LENGTH = 16


class OptOutSource(enum.StrEnum):
    """How a number came on the opt-out list."""

    MANUAL = "manual"  # added by hand (portal or API)
    IMPORT = "import"  # a CSV of numbers
    STOP_REPLY = "stop_reply"  # the person answered STOP


class ImportKind(enum.StrEnum):
    CONTACTS = "contacts"
    OPT_OUTS = "opt_outs"


class ContactList(db.Model):
    """A named list of recipients of one organization."""

    __tablename__ = "contact_lists"
    __table_args__ = (Index("ix_contact_lists_org_name", "organization_id", "name", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cl"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<ContactList {self.id} {self.name!r}>"


class Contact(db.Model):
    """One recipient of a list: a name (optional) and a mobile in E.164, once per list."""

    __tablename__ = "contacts"
    __table_args__ = (
        # Dedupe within the list by mobile, enforced by the database (imports insert
        # with ON CONFLICT DO NOTHING and count the rest as duplicates).
        UniqueConstraint("list_id", "mobile", name="uq_contacts_list_mobile"),
        Index("ix_contacts_list_id", "list_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ct"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    list_id: Mapped[str] = mapped_column(ForeignKey("contact_lists.id"))
    name: Mapped[str | None] = mapped_column(String(200))
    mobile: Mapped[str] = mapped_column(String(MOBILE_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.mobile}>"


class OptOut(db.Model):
    """A number the organization must not send to (STOP replies or added by hand)."""

    __tablename__ = "opt_outs"
    __table_args__ = (
        UniqueConstraint("organization_id", "mobile", name="uq_opt_outs_org_mobile"),
        Index("ix_opt_outs_org_created", "organization_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("opt"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    mobile: Mapped[str] = mapped_column(String(MOBILE_LENGTH))
    source: Mapped[OptOutSource] = mapped_column(enum_column_type(OptOutSource, "opt_out_source"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<OptOut {self.mobile} {self.source}>"


class ContactImport(db.Model):
    """One CSV import (into a list, or into the opt-out list) and what it counted."""

    __tablename__ = "contact_imports"
    __table_args__ = (Index("ix_contact_imports_org_created", "organization_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cim"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    list_id: Mapped[str | None] = mapped_column(ForeignKey("contact_lists.id"))
    kind: Mapped[ImportKind] = mapped_column(enum_column_type(ImportKind, "contact_import_kind"))
    added: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<ContactImport {self.id} +{self.added} ={self.duplicates} x{self.rejected}>"


class ImportRejection(db.Model):
    """A row an import refused: its number in the file, why (a reason key, rendered in the
    reader's language) and the row as it was (cut to a readable length)."""

    __tablename__ = "contact_import_rejections"
    __table_args__ = (Index("ix_contact_import_rejections_import_row", "import_id", "row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    import_id: Mapped[str] = mapped_column(ForeignKey("contact_imports.id"))
    row: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40))
    content: Mapped[str] = mapped_column(String(500), default="")
