"""The API's objects for Send SMS: a message sent, listed and read, and the gateway's
delivery reports."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reseller.api.schemas import Id, Time
from reseller.api.schemas_credits import Account
from reseller.api.spec import ApiModel, ListQuery, integer, one_of, pattern, text
from tenants.messaging.operations import MAX_RECIPIENTS, MAX_TEXT
from tenants.messaging.reports import MAX_REPORTS
from tenants.models import MessageStatus, RecipientStatus

STATUSES = tuple(s.value for s in MessageStatus)
RECIPIENT_STATUSES = tuple(s.value for s in RecipientStatus)


class MessageCreate(ApiModel):
    to: list[
        text(
            40,
            description="An international number (+34…); without a country code, "
            "the organization's country",
        )
    ] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    text: text(
        MAX_TEXT,
        one_line=False,
        description="GSM-7: 160 characters in one SMS, 153 "
        "a part once split; any other character makes it UCS-2: 70, 67 a part",
    )
    sender: text(
        16,
        description="Default: the sender name in the organization's settings "
        "(up to 11 letters and digits, or a number)",
    ) = None
    account: Account = None


class MessageCounts(ApiModel):
    queued: integer(0, MAX_RECIPIENTS, description="Not handed to the gateway yet")
    sent: integer(0, MAX_RECIPIENTS, description="Handed over, no delivery report yet")
    delivered: integer(0, MAX_RECIPIENTS)
    failed: integer(0, MAX_RECIPIENTS, description="Their credits came back (a refund)")
    skipped: integer(0, MAX_RECIPIENTS, description="Opted out: not sent, not charged")


class MessageSent(ApiModel):
    id: Id
    status: Literal[STATUSES]  # type: ignore[valid-type]
    recipients: integer(0, MAX_RECIPIENTS, description="Recipients charged and sent to")
    segments: integer(1, 10, description="SMS per recipient")
    credits: integer(0, 10 * MAX_RECIPIENTS, description="Charged: segments times recipients")
    skipped: integer(0, MAX_RECIPIENTS, description="Opted-out recipients: not charged")
    encoding: Literal["gsm7", "ucs2"]


class MessageSummary(MessageSent):
    text: str = Field(max_length=MAX_TEXT)
    sender: str | None = Field(max_length=20)
    account: str = Field(max_length=48)
    refunded: integer(0, 10 * MAX_RECIPIENTS, description="Credits given back for failures")
    counts: MessageCounts
    created_at: Time


class Delivery(ApiModel):
    to: str = Field(max_length=32)
    status: Literal[RECIPIENT_STATUSES]  # type: ignore[valid-type]
    error: str | None = Field(max_length=200)
    sent_at: Time | None
    reported_at: Time | None


class MessageDetail(MessageSummary):
    deliveries: list[Delivery] = Field(max_length=MAX_RECIPIENTS, description="Each recipient")


class MessageList(ApiModel):
    data: list[MessageSummary] = Field(max_length=100)
    next_cursor: str | None = Field(max_length=1000)


class MessageQuery(ListQuery):
    status: one_of(STATUSES) = None
    campaign_id: Id = Field(
        None,
        description="Only the messages this campaign's runs sent (a campaign of the "
        "organization: another's is a 404)",
    )


class DeliveryReportIn(ApiModel):
    reference: str = Field(max_length=100, description="The reference we sent the message with")
    status: Literal["delivered", "failed"]
    error: str | None = Field(None, max_length=200)


class DeliveryReports(ApiModel):
    reports: list[DeliveryReportIn] = Field(max_length=MAX_REPORTS)


class DeliveryReportsApplied(ApiModel):
    applied: integer(0, MAX_REPORTS, description="Reports that changed a recipient")
    ignored: integer(0, MAX_REPORTS, description="Duplicates, late or unknown references")


class ReplyIn(ApiModel):
    """A message a handset sent to one of our addresses."""

    source: pattern(r"\+?[0-9]{6,15}", 16, description="The handset's number (E.164)", alias="from")
    to: text(21, required=False, description="The address it was sent to (the sender)") = None
    body: text(MAX_TEXT, one_line=False, required=False, description="Its text", alias="text")


class Replies(ApiModel):
    replies: list[ReplyIn] = Field(max_length=MAX_REPORTS)


class RepliesApplied(ApiModel):
    opted_out: integer(0, MAX_REPORTS, description="Numbers a STOP reply put on an opt-out list")
    ignored: integer(
        0, MAX_REPORTS, description="Other texts, repeated STOPs, numbers nobody sent to"
    )
