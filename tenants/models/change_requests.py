"""Client change requests (seed 001: individual user credits is "a configuration changed on
request"): an organization's admin asks, the reseller approves or declines."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type


class ChangeRequestKind(enum.StrEnum):
    """What is asked for; each kind is one configuration the reseller switches."""

    INDIVIDUAL_CREDITS = "individual_credits"  # individual user credits on


class ChangeRequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"


class ChangeRequest(db.Model):
    """One request: who asked, when and why; who answered, when, and why when declined."""

    __tablename__ = "change_requests"
    __table_args__ = (
        # One request of a kind waits at a time per organization, enforced by the database.
        Index(
            "uq_change_requests_one_pending",
            "organization_id",
            "kind",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_change_requests_org_requested", "organization_id", "requested_at"),
        Index("ix_change_requests_reseller_status", "reseller_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("chr"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[ChangeRequestKind] = mapped_column(
        enum_column_type(ChangeRequestKind, "change_request_kind")
    )
    status: Mapped[ChangeRequestStatus] = mapped_column(
        enum_column_type(ChangeRequestStatus, "change_request_status"),
        default=ChangeRequestStatus.PENDING,
    )
    message: Mapped[str | None] = mapped_column(String(1000))
    requested_by_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_reason: Mapped[str | None] = mapped_column(String(1000))

    @property
    def is_pending(self) -> bool:
        return self.status == ChangeRequestStatus.PENDING

    def __repr__(self) -> str:
        return f"<ChangeRequest {self.id} {self.kind} {self.status}>"
