"""Automated campaigns (SPEC §4a): a text to a contact list, once or repeating, and its runs.

A campaign's next run holds the credits it needs **reserved** on the account it charges
(``credit_accounts.reserved``): available = held - reserved. One row per occurrence
(unique ``campaign_id, occurrence``) is what makes a run happen once, whatever the workers do.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type


class CampaignStatus(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"  # its reseller approves campaigns first
    SCHEDULED = "scheduled"  # a run is due (its credits reserved)
    RUNNING = "running"  # its last run was sent; the report waits for delivery
    DONE = "done"  # every run sent and reported
    CANCELLED = "cancelled"
    REJECTED = "rejected"


OPEN_STATUSES = (CampaignStatus.PENDING_APPROVAL, CampaignStatus.SCHEDULED)


class Repeat(enum.StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class RunStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waiting for its time; ``reserved`` credits held for it
    SENT = "sent"  # handed to the sending pipeline as a message (``message_id``)
    NOT_SENT = "not_sent"  # could not be covered or sent (``reason``); the owner was told
    CANCELLED = "cancelled"  # the campaign was cancelled or rejected before it ran


class RunRefusal(enum.StrEnum):
    """Why a run was not sent: a key, rendered in the reader's language."""

    INSUFFICIENT_CREDITS = "insufficient_credits"
    ORGANIZATION_INACTIVE = "organization_inactive"
    LIST_EMPTY = "list_empty"
    NOT_SENDABLE = "not_sendable"


class Campaign(db.Model):
    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_org_created", "organization_id", "created_at", "id"),
        Index("ix_campaigns_reseller_status", "reseller_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("cmp"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(200))
    # No foreign key: a list may be deleted under a campaign; its runs are then not sent.
    list_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(String(20))
    account: Mapped[str] = mapped_column(String(40))  # "system" or "member:<id>"
    # The first run, and the time zone its wall-clock time repeats in (the organization's
    # when it was scheduled): a daily 09:00 stays 09:00 across daylight-saving changes.
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    timezone: Mapped[str] = mapped_column(String(64))
    repeat: Mapped[Repeat] = mapped_column(enum_column_type(Repeat, "campaign_repeat"))
    until: Mapped[date | None] = mapped_column(Date())  # the last day a run may fall on (local)
    status: Mapped[CampaignStatus] = mapped_column(
        enum_column_type(CampaignStatus, "campaign_status")
    )
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_user_id: Mapped[str | None] = mapped_column(String(32))
    created_by_user_id: Mapped[str | None] = mapped_column(String(32))
    member_id: Mapped[str | None] = mapped_column(String(32))
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<Campaign {self.id} {self.status}>"


class CampaignRun(db.Model):
    """One occurrence of a campaign: created when it is scheduled, sent at most once."""

    __tablename__ = "campaign_runs"
    __table_args__ = (
        UniqueConstraint("campaign_id", "occurrence", name="uq_campaign_runs_occurrence"),
        Index("ix_campaign_runs_status_due", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("crn"))
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    occurrence: Mapped[int] = mapped_column(Integer)  # 0 for the first run
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[RunStatus] = mapped_column(enum_column_type(RunStatus, "campaign_run_status"))
    # Credits held for it on the campaign's account while it is scheduled (0: postpaid, or
    # not covered when scheduled — the run then tries at its time).
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    message_id: Mapped[str | None] = mapped_column(String(32))
    credits: Mapped[int] = mapped_column(BigInteger, default=0)  # charged when sent
    reason: Mapped[str | None] = mapped_column(String(40))  # a RunRefusal when not sent
    ran_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"<CampaignRun {self.campaign_id}#{self.occurrence} {self.status}>"
