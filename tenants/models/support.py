"""Login-as support sessions: which staff member acted as which member, why, and until when."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type
from tenants.models.organizations import Member, Organization
from tenants.models.users import User


class SupportSessionEnd(enum.StrEnum):
    RETURNED = "returned"  # the staff member pressed "Return to my account"
    EXPIRED = "expired"  # the time limit passed
    LOGOUT = "logout"  # the staff member logged out while acting
    REVOKED = "revoked"  # the member, the organization or the staff role went away


class SupportMode(enum.StrEnum):
    """What a support session may do (SPEC §5). Sessions started before modes existed could
    change anything: the migration gives them ``change``; new sessions default to ``view``."""

    VIEW = "view"  # look only: every change is refused (tenants.access.policy)
    CHANGE = "change"  # make changes: the organization's admins are emailed at the start


class SupportSession(db.Model):
    """One login-as: kept for ever, so the customer and the reseller can see what was done."""

    __tablename__ = "support_sessions"
    __table_args__ = (
        Index("ix_support_sessions_org_started", "organization_id", "started_at"),
        Index("ix_support_sessions_reseller_started", "reseller_id", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("sup"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    staff_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    mode: Mapped[SupportMode] = mapped_column(
        enum_column_type(SupportMode, "support_mode"),
        default=SupportMode.VIEW,
        server_default=SupportMode.VIEW.value,
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[SupportSessionEnd | None] = mapped_column(
        enum_column_type(SupportSessionEnd, "support_session_end")
    )
    ip: Mapped[str | None] = mapped_column(String(64))

    organization: Mapped[Organization] = relationship()
    member: Mapped[Member] = relationship()
    staff_user: Mapped[User] = relationship()

    @property
    def is_open(self) -> bool:
        return self.ended_at is None
