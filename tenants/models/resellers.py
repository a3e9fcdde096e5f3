"""Resellers and their staff."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type
from tenants.models.users import User


class ResellerStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class ResellerRole(enum.StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


class Reseller(db.Model):
    __tablename__ = "resellers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rsl"))
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    brand_name: Mapped[str | None] = mapped_column(String(200))
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    status: Mapped[ResellerStatus] = mapped_column(
        enum_column_type(ResellerStatus, "reseller_status"), default=ResellerStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    # The seller on its tax invoices and receipts (EU VAT Directive art. 226): legal name
    # (else ``name``), address (several lines), tax number, country (ISO 3166).
    legal_name: Mapped[str | None] = mapped_column(String(200))
    legal_address: Mapped[str | None] = mapped_column(String(1000))
    tax_id: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    # Email the organization's owner when support staff start a login-as session.
    notify_owner_on_support_session: Mapped[bool] = mapped_column(
        default=True, server_default=true()
    )
    # Its customers' campaigns wait for its approval before they run (SPEC §4a).
    campaigns_need_approval: Mapped[bool] = mapped_column(default=False, server_default=false())

    @property
    def is_active(self) -> bool:
        return self.status == ResellerStatus.ACTIVE

    def __repr__(self) -> str:
        return f"<Reseller {self.slug}>"


class ResellerStaff(db.Model):
    """A reseller admin or agent."""

    __tablename__ = "reseller_staff"
    __table_args__ = (UniqueConstraint("reseller_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rst"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[ResellerRole] = mapped_column(enum_column_type(ResellerRole, "reseller_role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    reseller: Mapped[Reseller] = relationship()
    user: Mapped[User] = relationship()
