"""The emails of an ownership transfer (tenants.organizations.ownership): one job tells one of
the two people a step, in their own language."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from tenants.core.extensions import db
from tenants.jobs.registry import job
from tenants.models import Member, Organization, OwnershipTransfer, Reseller
from tenants.notify.emails import external_url, recipient_language, send_email_template
from tenants.organizations.ownership import TRANSFER_DAYS, link_token

STEPS = ("started", "accepted", "declined", "cancelled", "expired")


@job("send_ownership_transfer_email")
def deliver_ownership_transfer_email(transfer_id: str, member_id: str, step: str) -> None:
    """Tell one of the two people a step of a request, in their language: the member asked
    (started: with the link; cancelled; expired) or the owner who asked (accepted, declined,
    cancelled, expired)."""
    transfer = db.session.get(OwnershipTransfer, transfer_id)
    member = db.session.get(Member, member_id)
    if transfer is None or member is None or step not in STEPS:
        return
    if step == "started" and not transfer.is_pending:
        return  # answered or cancelled before the email left: its link would not work
    org = db.session.get(Organization, transfer.organization_id)
    reseller = db.session.get(Reseller, org.reseller_id)
    recipient = member.user
    language = recipient_language(recipient, reseller)
    asked = db.session.get(Member, transfer.to_member_id).user
    owner = db.session.get(Member, transfer.from_member_id).user
    if step == "started":
        link = external_url("ownership.answer", token=link_token(transfer))
    else:
        link = external_url("members.index", org_id=org.id)
    send_email_template(
        recipient.email,
        language,
        "ownership_transfer",
        step=step,
        recipient=recipient,
        organization=org,
        asked=asked,
        owner=owner,
        to_asked=member.id == transfer.to_member_id,
        link=link,
        expires=format_datetime(
            transfer.expires_at, "medium", tzinfo=ZoneInfo(org.timezone), locale=language
        ),
        days=TRANSFER_DAYS,
    )
