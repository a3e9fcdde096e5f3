"""API: automated campaigns — schedule, list, read, change, cancel; the reseller approves or
rejects (SPEC §4a, §7)."""

from __future__ import annotations

from typing import Any

from flask import Response

from reseller.api.core import done, endpoint
from reseller.api.schemas_campaigns import (
    Campaign,
    CampaignCreate,
    CampaignList,
    CampaignReject,
    CampaignUpdate,
)
from reseller.api.serializers import timestamp
from reseller.api.spec import ListQuery
from tenants.access import campaign_scoping, scoping
from tenants.access.actors import Actor
from tenants.campaigns import operations
from tenants.campaigns.listing import CampaignLine, campaign_line, campaign_lines
from tenants.contacts import pages
from tenants.core.errors import ValidationFailed
from tenants.models import Campaign as CampaignRow
from tenants.models import Organization

TAG = "Campaigns"
CAMPAIGNS = "/organizations/<org_id>/campaigns"
CAMPAIGN = f"{CAMPAIGNS}/<campaign_id>"
REFUSALS = {
    "name": "blank",
    "list_id": "not one of the organization's contact lists",
    "text": "longer than 10 SMS",
    "starts_at": "not in the future, or more than two years ahead",
    "until": "missing for a repeating campaign, before the start (or the next run) or two "
    "years after it, or no such day",
    "sender": "not up to 11 letters and digits nor a number",
    "account": "as for Send SMS",
}
RESERVING = (
    " The credits its next run needs (segments x the list's recipients who have not opted "
    "out) are reserved when the run is scheduled: the balance's `reserved_credits`, which no "
    "usage, message, transfer or withdrawal can take. 402 `insufficient_credits` when the "
    "available credits (held - reserved) cannot cover the first run: nothing is scheduled. "
    "A postpaid organization reserves nothing, but the next run's charge (price and tax), "
    "with those of its other campaigns' scheduled runs, must fit under the credit limit less "
    "the debt: 402 `insufficient_credits` otherwise. Each run accrues within the credit limit "
    "when it is sent."
)


def _campaign_out(line: CampaignLine) -> dict[str, Any]:
    c, upcoming, last = line.campaign, line.next_run, line.last_run
    report = line.report
    return {
        "id": c.id,
        "organization_id": c.organization_id,
        "name": c.name,
        "list_id": c.list_id,
        "text": c.text,
        "sender": c.sender,
        "account": c.account,
        "starts_at": timestamp(c.starts_at),
        "timezone": c.timezone,
        "repeat": c.repeat.value,
        "until": c.until.isoformat() if c.until else None,
        "status": c.status.value,
        "reserved_credits": line.reserved_credits,
        "next_run": None
        if upcoming is None
        else {
            "occurrence": upcoming.occurrence,
            "due_at": timestamp(upcoming.due_at),
            "reserved_credits": upcoming.reserved,
        },
        "last_run": None
        if last is None
        else {
            "occurrence": last.occurrence,
            "due_at": timestamp(last.due_at),
            "ran_at": timestamp(last.ran_at),
            "status": last.status.value,
            "reason": last.reason,
            "message_id": last.message_id,
            "report": None
            if report is None
            else {
                "sent": report.sent,
                "delivered": report.delivered,
                "failed": report.failed,
                "credits": report.credits,
            },
        },
        "rejection_reason": c.rejection_reason,
        "created_at": timestamp(c.created_at),
    }


def _campaign(actor: Actor, org_id: str, campaign_id: str) -> tuple[Organization, CampaignRow]:
    org = scoping.get_organization(actor, org_id)
    return org, campaign_scoping.get_campaign(actor, org, campaign_id)


def _given(body: Any) -> dict[str, Any]:
    """The fields the request carried (a PATCH changes only those)."""
    return {name: getattr(body, name) for name in body.model_fields_set}


@endpoint(
    CAMPAIGNS,
    "GET",
    summary="List campaigns",
    tag=TAG,
    query=ListQuery,
    response=CampaignList,
    refusals={"cursor": "a page link this list did not give"},
    description="Oldest first, each with its status, next run (and the credits reserved for "
    "it) and its last run's report.",
)
def list_campaigns(actor: Actor, org_id: str, query: ListQuery) -> Response:
    org = scoping.get_organization(actor, org_id)
    rows = campaign_scoping.campaigns_query(actor, org)
    page = pages.id_page(rows, CampaignRow.id, query.limit, query.cursor)
    data = [_campaign_out(line) for line in campaign_lines(page.items)]
    return done({"data": data, "next_cursor": page.next_cursor})


@endpoint(
    CAMPAIGNS,
    "POST",
    summary="Schedule a campaign",
    tag=TAG,
    body=CampaignCreate,
    response=Campaign,
    status=201,
    errors=(402, 403, 409),
    refusals=REFUSALS,
    description="A text to a contact list at a time, once or repeating (daily, weekly, "
    "monthly) until a day, at the same wall-clock time in the organization's timezone "
    "(a monthly run on the 31st falls on the last day of shorter months). Status "
    "`pending_approval` when the reseller approves its customers' campaigns first, else "
    "`scheduled`." + RESERVING,
)
def create_campaign(actor: Actor, org_id: str, body: CampaignCreate) -> Response:
    org = scoping.get_organization(actor, org_id)
    created = operations.create_campaign(actor, org, **_given(body))
    return done(_campaign_out(campaign_line(created)), 201)


@endpoint(CAMPAIGN, "GET", summary="Read a campaign", tag=TAG, response=Campaign)
def get_campaign(actor: Actor, org_id: str, campaign_id: str) -> Response:
    _org, campaign = _campaign(actor, org_id, campaign_id)
    return done(_campaign_out(campaign_line(campaign)))


@endpoint(
    CAMPAIGN,
    "PATCH",
    summary="Change a campaign",
    tag=TAG,
    body=CampaignUpdate,
    response=Campaign,
    errors=(402, 403, 409),
    refusals={
        **REFUSALS,
        "starts_at": "not in the future, two years ahead, or changed after the first run "
        "(start and repeat then stay as they are)",
    },
    description="While it is scheduled or pending approval; an empty body is refused (422). "
    "Its next run's reservation is "
    "made again for what it now costs (402 when short: nothing changes). With approval "
    "required, a change waits for approval again. 409 `campaign_closed` once it has ended.",
)
def update_campaign(actor: Actor, org_id: str, campaign_id: str, body: CampaignUpdate) -> Response:
    org, campaign = _campaign(actor, org_id, campaign_id)
    if not body.model_fields_set:
        raise ValidationFailed()  # a change names what it changes (an empty body is a slip)
    operations.update_campaign(actor, org, campaign, **_given(body))
    return done(_campaign_out(campaign_line(campaign)))


@endpoint(
    CAMPAIGN,
    "DELETE",
    summary="Cancel a campaign",
    tag=TAG,
    response=Campaign,
    errors=(403, 409),
    description="Its next run is not sent and the credits reserved for it are available at "
    "once; the campaign stays listed as `cancelled`. 409 `campaign_closed` once it has ended.",
)
def cancel_campaign(actor: Actor, org_id: str, campaign_id: str) -> Response:
    org, campaign = _campaign(actor, org_id, campaign_id)
    operations.cancel_campaign(actor, org, campaign)
    return done(_campaign_out(campaign_line(campaign)))


@endpoint(
    f"{CAMPAIGN}/approve",
    "POST",
    summary="Approve a campaign",
    tag=TAG,
    response=Campaign,
    errors=(403, 409),
    reseller_only=True,
    description="A `pending_approval` campaign is `scheduled` (its run "
    "is sent at once when its time has passed) and the organization's notification email "
    "is told. 409 `not_pending_approval` otherwise.",
)
def approve_campaign(actor: Actor, org_id: str, campaign_id: str) -> Response:
    org, campaign = _campaign(actor, org_id, campaign_id)
    operations.approve_campaign(actor, org, campaign)
    return done(_campaign_out(campaign_line(campaign)))


@endpoint(
    f"{CAMPAIGN}/reject",
    "POST",
    summary="Reject a campaign",
    tag=TAG,
    body=CampaignReject,
    response=Campaign,
    errors=(403, 409),
    reseller_only=True,
    description="The campaign is `rejected`, its reserved credits are "
    "available at once, and the organization's notification email is told the reason. "
    "409 `not_pending_approval` unless it is pending approval.",
)
def reject_campaign(actor: Actor, org_id: str, campaign_id: str, body: CampaignReject) -> Response:
    org, campaign = _campaign(actor, org_id, campaign_id)
    operations.reject_campaign(actor, org, campaign, reason=body.reason)
    return done(_campaign_out(campaign_line(campaign)))
