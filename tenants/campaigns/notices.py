"""Campaign notices to the organization (seed 003: "campaign reports, approvals and
rejections"): approved, rejected (with the reason), a run not sent (and why), and each run's
report (sent, delivered, failed, credits).

Like every account notice they go to the owner and the notification email
(tenants.notify.recipients.notice_recipients), one job per address, in its language.

The other way: when a campaign is submitted for approval (scheduled, or changed, while its
reseller approves campaigns first), each of the reseller's admins is asked to decide — one
job per admin and submission, in the admin's own language (``ask_for_approval``).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tenants.campaigns.listing import run_report
from tenants.core.extensions import db
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    Organization,
    Reseller,
    RunRefusal,
    RunStatus,
    User,
)
from tenants.notify.emails import external_url, recipient_language, send_email_template
from tenants.notify.recipients import language_for, notice_recipients, reseller_admins

APPROVED = "approved"
REJECTED = "rejected"
NOT_SENT = "not_sent"
REPORT = "report"
KINDS = (APPROVED, REJECTED, NOT_SENT, REPORT)

# Why a run was not sent, as the email and the pages say it.
REFUSAL_LABELS = {
    RunRefusal.INSUFFICIENT_CREDITS: _l("There were not enough credits to cover it."),
    RunRefusal.ORGANIZATION_INACTIVE: _l("The organization was suspended or closed."),
    RunRefusal.LIST_EMPTY: _l("Its list had no one to send to."),
    RunRefusal.NOT_SENDABLE: _l("Its account or list can no longer be used."),
}


def refusal_label(reason: str | None) -> str:
    try:
        return str(REFUSAL_LABELS[RunRefusal(reason)])
    except ValueError:
        return ""


def tell(org: Organization, campaign: Campaign, kind: str, run: CampaignRun | None = None) -> None:
    """Record the notice's jobs (one per address) in the current transaction."""
    for recipient in notice_recipients(org):
        enqueue(
            "send_campaign_notice",
            campaign_id=campaign.id,
            kind=kind,
            run_id=run.id if run is not None else None,
            email=recipient.email,
        )


@job("send_campaign_notice")
def deliver_campaign_notice(
    campaign_id: str, kind: str, email: str, run_id: str | None = None
) -> None:
    """One campaign notice to one address, in its language."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or kind not in KINDS:
        return
    org = db.session.get(Organization, campaign.organization_id)
    run = db.session.get(CampaignRun, run_id) if run_id else None
    language = language_for(email, org)
    zone = ZoneInfo(campaign.timezone)
    when = run.due_at if run is not None else campaign.starts_at
    send_email_template(
        email,
        language,
        "campaign_notice",
        kind=kind,
        campaign=campaign,
        organization=org,
        run=run,
        report=run_report(run) if run is not None and kind == REPORT else None,
        reason=refusal_label(run.reason) if run is not None else "",
        when=format_datetime(when, "medium", tzinfo=zone, locale=language),
        link=external_url("campaigns.index", org_id=org.id),
    )


def ask_for_approval(org: Organization, campaign: Campaign) -> None:
    """Record, in the current transaction, one job per reseller admin asking them to approve
    or reject the campaign just submitted: a retried delivery never emails the others twice,
    and a submission that is rolled back asks no one."""
    for admin in reseller_admins(org.reseller_id):
        enqueue("send_campaign_approval_request", campaign_id=campaign.id, user_id=admin.id)


@job("send_campaign_approval_request")
def deliver_approval_request(campaign_id: str, user_id: str) -> None:
    """One reseller admin is asked to decide on a pending campaign, in their language; nothing
    is sent once it has been decided (or cancelled) meanwhile."""
    campaign = db.session.get(Campaign, campaign_id)
    person = db.session.get(User, user_id)
    if campaign is None or person is None or campaign.status != CampaignStatus.PENDING_APPROVAL:
        return
    org = db.session.get(Organization, campaign.organization_id)
    language = recipient_language(person, db.session.get(Reseller, campaign.reseller_id))
    upcoming = db.session.scalar(
        select(CampaignRun.due_at).where(
            CampaignRun.campaign_id == campaign.id, CampaignRun.status == RunStatus.SCHEDULED
        )
    )
    send_email_template(
        person.email,
        language,
        "campaign_approval_request",
        user=person,
        campaign=campaign,
        organization=org,
        when=format_datetime(
            upcoming or campaign.starts_at,
            "medium",
            tzinfo=ZoneInfo(campaign.timezone),
            locale=language,
        ),
        link=external_url("campaigns.detail", org_id=org.id, campaign_id=campaign.id),
        pending_link=external_url("customers.pending_campaigns"),
    )
