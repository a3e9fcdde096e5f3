"""Account notices about the organization itself: "your organization was suspended".

Like every account notice they go to the owner and the notification email
(tenants.notify.recipients.notice_recipients), one job per address, in its language.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from tenants.core.extensions import db
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import Organization, OrganizationStatus
from tenants.notify.emails import external_url, send_email_template
from tenants.notify.recipients import language_for, notice_recipients


def tell_suspended(org: Organization) -> None:
    """Record the suspension notice's jobs in the transaction that suspends."""
    for recipient in notice_recipients(org):
        enqueue("send_organization_suspended", organization_id=org.id, email=recipient.email)


@job("send_organization_suspended")
def deliver_organization_suspended(organization_id: str, email: str) -> None:
    """The suspension and its reason, to one address; nothing once reactivated."""
    org = db.session.get(Organization, organization_id)
    if org is None or org.status != OrganizationStatus.SUSPENDED:
        return
    language = language_for(email, org)
    reseller = org.reseller
    send_email_template(
        email,
        language,
        "organization_suspended",
        organization=org,
        provider=reseller.brand_name or reseller.name,
        reason=org.suspension_reason,
        suspended=format_datetime(
            org.suspended_at, "medium", tzinfo=ZoneInfo(org.timezone), locale=language
        ),
        link=external_url("auth.login"),
    )
