"""The audit trail: who changed what, when, with the fields before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_org_created", "organization_id", "created_at"),
        Index("ix_audit_entries_reseller_created", "reseller_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("aud"))
    reseller_id: Mapped[str | None] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    actor_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    # The staff member really at the keyboard during a login-as support session.
    real_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    # The login-as support session the change was made in (its "what was changed" list).
    support_session_id: Mapped[str | None] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
