"""Messages an organization sends (Send SMS, the API) and each recipient's delivery."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type


class MessageStatus(enum.StrEnum):
    QUEUED = "queued"  # accepted and charged; the workers hand it to the gateway
    SENDING = "sending"  # some recipients handed over, not all
    SENT = "sent"  # every recipient handed over; delivery reports pending
    DONE = "done"  # every recipient delivered or failed


class RecipientStatus(enum.StrEnum):
    QUEUED = "queued"
    # Marked, with its reference, before the hand-over: a worker that crashed there hands it
    # over again with the same reference, which the gateway takes once.
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


FINAL_STATUSES = (RecipientStatus.DELIVERED, RecipientStatus.FAILED)


class Message(db.Model):
    """One text sent to many recipients, charged once when accepted."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_org_created", "organization_id", "created_at", "id"),
        UniqueConstraint("organization_id", "request_key", name="uq_messages_request_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("msg"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    # Who sent it: the member (portal, login-as) or nobody (staff, API keys).
    member_id: Mapped[str | None] = mapped_column(String(32))
    actor_user_id: Mapped[str | None] = mapped_column(String(32))
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(40))  # "system" or "member:<id>"
    sender: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(10))  # "gsm7" or "ucs2"
    segments: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[int] = mapped_column(Integer)  # charged recipients (opted-out skipped)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    credits: Mapped[int] = mapped_column(BigInteger)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    postpaid: Mapped[bool] = mapped_column(default=False)
    status: Mapped[MessageStatus] = mapped_column(
        enum_column_type(MessageStatus, "message_status"), default=MessageStatus.QUEUED
    )
    entry_id: Mapped[str | None] = mapped_column(String(32))  # the charge's ledger entry
    # The sender's key for the request (a double click, an API retry): one message per key.
    request_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MessageRecipient(db.Model):
    """One recipient of a message: its status from the gateway's delivery reports."""

    __tablename__ = "message_recipients"
    __table_args__ = (
        Index("ix_message_recipients_message_status", "message_id", "status"),
        UniqueConstraint("reference", name="uq_message_recipients_reference"),
        # A reply (STOP) names only the number: the latest message to it says whose it is.
        Index("ix_message_recipients_number", "number", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("rcp"))
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[RecipientStatus] = mapped_column(
        enum_column_type(RecipientStatus, "recipient_status"), default=RecipientStatus.QUEUED
    )
    # Ours, unique, given to the gateway with the message and named by its delivery reports.
    reference: Mapped[str] = mapped_column(String(40), default=lambda: new_id("ref"))
    gateway_id: Mapped[str | None] = mapped_column(String(100))  # the gateway's own id
    error: Mapped[str | None] = mapped_column(String(200))
    refunded: Mapped[bool] = mapped_column(default=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SmppPart(db.Model):
    """One part (submit_sm) of a message handed to the SMPP gateway: what it remembers.

    Written, committed, before the part is submitted: a reference handed over again (a
    worker that crashed mid-batch) is not submitted again. ``smsc_message_id`` is the id the
    SMSC answered with, which its delivery receipts name."""

    __tablename__ = "smpp_parts"
    __table_args__ = (
        Index("ix_smpp_parts_reference", "reference"),
        UniqueConstraint("smsc_message_id", name="uq_smpp_parts_smsc_message_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("smp"))
    reference: Mapped[str] = mapped_column(String(40))
    part: Mapped[int] = mapped_column(Integer)  # 1 … parts
    parts: Mapped[int] = mapped_column(Integer)
    smsc_message_id: Mapped[str | None] = mapped_column(String(65))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
