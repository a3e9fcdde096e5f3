"""The API's objects for batch usage: up to 1,000 events in, one result per event out."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reseller.api.schemas import Id
from reseller.api.schemas_credits import Account, CreditCount
from reseller.api.spec import ApiModel, integer, moment, text
from tenants.billing.usage import MAX_BATCH, EventStatus


class UsageEvent(ApiModel):
    organization_id: Id = Field(
        description="A reseller key: any of its organizations; an organization key: its own"
    )
    credits: CreditCount
    account: Account = None
    reference: text(description="The sending platform's reference, charged once")
    occurred_at: moment(
        description="When the SMS were sent (default now); late events up to 35 days old"
    ) = None


class UsageBatch(ApiModel):
    events: list[UsageEvent] = Field(max_length=MAX_BATCH)


class UsageEventError(ApiModel):
    code: str = Field(max_length=200, description="The code the single endpoint would answer")
    message: str = Field(max_length=1000, description="In the Accept-Language")


class UsageEventResult(ApiModel):
    index: integer(0, MAX_BATCH - 1, description="The event's position in `events`")
    status: Literal[tuple(s.value for s in EventStatus)]  # type: ignore[valid-type]
    entry_id: Id | None = Field(
        None, description="The usage's ledger entry: the first charge's for a duplicate"
    )
    error: UsageEventError | None = Field(None, description="Why the event was refused")


class UsageBatchResult(ApiModel):
    results: list[UsageEventResult] = Field(max_length=MAX_BATCH)
    accepted: integer(0, MAX_BATCH)
    duplicates: integer(0, MAX_BATCH)
    refused: integer(0, MAX_BATCH)
