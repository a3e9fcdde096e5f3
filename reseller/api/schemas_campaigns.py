"""The API's objects for automated campaigns: a campaign scheduled, changed and read, with
its next run (the credits reserved for it) and its last run's report."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reseller.api.schemas import Credits, Id, NextCursor, Time
from reseller.api.schemas_credits import Account, AccountLabel
from reseller.api.spec import ApiModel, moment, one_of, pattern, text
from tenants.campaigns.plans import MAX_NAME, MAX_REASON
from tenants.messaging.operations import MAX_TEXT
from tenants.models import CampaignStatus, Repeat, RunRefusal, RunStatus

STATUSES = tuple(s.value for s in CampaignStatus)
REPEATS = tuple(r.value for r in Repeat)
RUN_STATUSES = tuple(s.value for s in RunStatus)
REFUSALS = tuple(r.value for r in RunRefusal)
DAY = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
Until = pattern(
    DAY,
    10,
    description="Repeating campaigns (required): the last day a run may fall on, YYYY-MM-DD "
    "in the organization's timezone",
    examples=["2027-06-30"],
)
StartsAt = moment(
    description="When the first run is sent: ISO 8601 with its zone; it repeats at the same "
    "wall-clock time in the organization's timezone",
    examples=["2027-01-15T09:00:00+01:00"],
)
CampaignName = text(MAX_NAME)
CampaignText = text(
    MAX_TEXT,
    one_line=False,
    description="The SMS, as for Send SMS (GSM-7: 160 a single SMS, 153 a part; UCS-2: 70, 67)",
)
Sender = text(
    16,
    description="Default: the sender name in the organization's settings when each run is sent",
)
RepeatValue = one_of(REPEATS, description="none (once), daily, weekly or monthly")


class CampaignCreate(ApiModel):
    name: CampaignName
    list_id: Id = Field(description="A contact list of the organization")
    text: CampaignText
    starts_at: StartsAt
    repeat: RepeatValue = "none"
    until: Until = None
    sender: Sender = None
    account: Account = None


class CampaignUpdate(ApiModel):
    name: CampaignName = None
    list_id: Id = None
    text: CampaignText = None
    starts_at: StartsAt = None
    repeat: RepeatValue = None
    until: Until = None
    sender: Sender = None


class CampaignReject(ApiModel):
    reason: text(MAX_REASON, one_line=False, description="Told to the organization")


class RunReport(ApiModel):
    sent: Credits = Field(description="Recipients handed to the gateway")
    delivered: Credits
    failed: Credits = Field(description="Their credits came back (a refund)")
    credits: Credits = Field(description="Charged, less the refunds")


class NextRun(ApiModel):
    occurrence: int = Field(ge=0, description="0 for the first run")
    due_at: Time
    reserved_credits: Credits = Field(
        description="Held for this run (prepaid); 0 when not covered when it was scheduled "
        "(it tries at its time) or postpaid"
    )


class LastRun(ApiModel):
    occurrence: int = Field(ge=0)
    due_at: Time
    ran_at: Time | None
    status: Literal[RUN_STATUSES]  # type: ignore[valid-type]
    reason: Literal[REFUSALS] | None = Field(  # type: ignore[valid-type]
        description="Why it was not sent"
    )
    message_id: Id | None
    report: RunReport | None


class Campaign(ApiModel):
    id: Id
    organization_id: Id
    name: str = Field(max_length=MAX_NAME)
    list_id: Id
    text: str = Field(max_length=MAX_TEXT)
    sender: str | None = Field(max_length=20)
    account: AccountLabel
    starts_at: Time
    timezone: str = Field(max_length=64, description="Where its wall-clock time repeats")
    repeat: RepeatValue
    until: str | None = Field(max_length=10)
    status: Literal[STATUSES]  # type: ignore[valid-type]
    reserved_credits: Credits = Field(description="Held now for its next run")
    next_run: NextRun | None
    last_run: LastRun | None
    rejection_reason: str | None = Field(max_length=MAX_REASON)
    created_at: Time


class CampaignList(ApiModel):
    data: list[Campaign] = Field(max_length=200)
    next_cursor: NextCursor
