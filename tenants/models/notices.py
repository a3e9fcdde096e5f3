"""What the portal sent by SMS, and the card an organization saved for automatic top-ups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow


class SmsMessage(db.Model):
    """An SMS notification as handed to the gateway (the log gateway only records it)."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        Index("ix_sms_messages_created", "created_at", "id"),
        Index("ix_sms_messages_org", "organization_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("sms"))
    reseller_id: Mapped[str | None] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    to: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    gateway: Mapped[str] = mapped_column(String(20))
    # "logged" (log gateway), "sent" (accepted by the HTTP gateway)
    status: Mapped[str] = mapped_column(String(20))
    gateway_reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SavedPaymentMethod(db.Model):
    """The provider's token for a card saved at checkout; never the card number itself."""

    __tablename__ = "saved_payment_methods"
    __table_args__ = (Index("uq_saved_payment_methods_org", "organization_id", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pm"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    provider: Mapped[str] = mapped_column(String(20))
    token: Mapped[str] = mapped_column(String(100))
    last4: Mapped[str] = mapped_column(String(4))
    saved_by_user_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
