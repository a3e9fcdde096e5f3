"""Two-step ownership transfers (SPEC §2): the owner asks a member, who accepts or declines
within a week; until then nothing changes and the owner may cancel."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type


class OwnershipTransferStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class OwnershipTransfer(db.Model):
    """One request: from the owner who asked to the member asked, until when, and how it
    ended (who ended it and when)."""

    __tablename__ = "ownership_transfers"
    __table_args__ = (
        # One request waits at a time per organization, enforced by the database.
        Index(
            "uq_ownership_transfers_one_pending",
            "organization_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_ownership_transfers_org_requested", "organization_id", "requested_at"),
        Index("ix_ownership_transfers_status_expires", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("own"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    from_member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    to_member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    status: Mapped[OwnershipTransferStatus] = mapped_column(
        enum_column_type(OwnershipTransferStatus, "ownership_transfer_status"),
        default=OwnershipTransferStatus.PENDING,
    )
    requested_by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_pending(self) -> bool:
        return self.status == OwnershipTransferStatus.PENDING

    def is_due(self, now: datetime | None = None) -> bool:
        """Whether a pending request's week is over (it expires when next looked at)."""
        return self.is_pending and self.expires_at <= (now or utcnow())

    def __repr__(self) -> str:
        return f"<OwnershipTransfer {self.id} {self.status}>"
