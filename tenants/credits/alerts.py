"""Low-balance alerts: one email and one SMS when the organization's total crosses the
threshold downwards; and the automatic top-up's ask, when the system pool crosses its level.

The ledger calls ``total_changed`` when a movement changes the organization's total credits
(system pool + member accounts), under the organization's row lock and in the same
transaction; moves between its own accounts leave the total alone. A movement alerts only
when it *crosses* (total before above the threshold, after at or below it): the lock
serializes the organization's movements, so exactly one transaction crosses, and the alert
re-arms by itself once a purchase lifts the total back above the threshold. A close-out
withdrawal (the reseller emptying the organization to close it) does not alert at all: the
ledger is told so (``post_transaction(alert=False)``).

``balance_changed`` is called for each holding account a movement changes, under that
account's row lock: the same crossing rule asks for an automatic top-up of the system pool
(tenants.credits.topups).
"""

from __future__ import annotations

from flask_babel import force_locale, format_decimal, ngettext
from flask_babel import gettext as _

from tenants.core.extensions import db
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import (
    AccountKind,
    Member,
    Organization,
    PricingModel,
    User,
)
from tenants.models.ledger import AccountRef
from tenants.notify.emails import external_url, send_email_template
from tenants.notify.recipients import language_for, owner_user
from tenants.notify.sms import send_sms


def crossed_down(before: int, after: int, level: int) -> bool:
    return before > level >= after


def _warns_low(org: Organization) -> bool:
    return bool(org.low_balance_alert)


def _tops_up(org: Organization) -> bool:
    return bool(org.auto_top_up_enabled) and org.auto_top_up_credits > 0


def watched(org: Organization) -> bool:
    """Whether a lower total or system pool may alert or top up: a prepaid organization
    with the low-balance alert or the automatic top-up on (a batch asks only those)."""
    return org.pricing_model == PricingModel.PREPAID and (_warns_low(org) or _tops_up(org))


def total_changed(org: Organization, before: int, after: int) -> None:
    """Record the alert's jobs when the organization's total crosses its threshold."""
    if after >= before or org.pricing_model != PricingModel.PREPAID:
        return
    if _warns_low(org) and crossed_down(before, after, org.low_balance_threshold):
        kwargs = {
            "organization_id": org.id,
            "balance": after,
            "threshold": org.low_balance_threshold,
        }
        enqueue("send_low_balance_email", **kwargs)
        if org.notification_mobile:
            enqueue("send_low_balance_sms", **kwargs)


def balance_changed(org: Organization, ref, before: int, after: int) -> None:
    """Record the automatic top-up's job when the system pool drops below its level."""
    if after >= before or org.pricing_model != PricingModel.PREPAID:
        return
    if (
        ref.kind == AccountKind.SYSTEM
        and _tops_up(org)
        # "drops below the level": before >= level > after
        and crossed_down(before + 1, after + 1, org.auto_top_up_below)
    ):
        enqueue("auto_top_up", organization_id=org.id, balance=after)


# -- who is told, in which language ---------------------------------------------------------


def alert_recipient(org: Organization) -> tuple[str | None, User | None]:
    """The alert email, else the notification email, else the owner."""
    owner = owner_user(org)
    email = org.alert_email or org.notification_email or (owner.email if owner else None)
    return email, owner


def account_name(org: Organization, account: str | None) -> str | None:
    """None for the organization's total; ``system`` is the system pool; a member account
    is named after its member (alerts queued before the total was watched name one)."""
    if account is None:
        return None
    ref = AccountRef.parse(account)
    if ref is not None and ref.kind == AccountKind.MEMBER:
        member = db.session.get(Member, ref.member_id)
        if member is not None and member.organization_id == org.id:
            return _("the credits account of %(name)s", name=member.user.name or member.user.email)
    return _("the system pool")


# -- deliveries: run by jobs ----------------------------------------------------------------


@job("send_low_balance_email")
def deliver_low_balance_email(
    organization_id: str, balance: int, threshold: int, account: str | None = None
) -> None:
    org = db.session.get(Organization, organization_id)
    if org is None:
        return
    email, owner = alert_recipient(org)
    if not email:
        return
    language = language_for(email, org, owner)
    with force_locale(language):
        name = account_name(org, account)
    send_email_template(
        email,
        language,
        "low_balance_alert",
        organization=org,
        account_name=name,
        balance=balance,
        threshold=threshold,
        link=external_url("credits.purchase", org_id=org.id),
    )


@job("send_low_balance_sms")
def deliver_low_balance_sms(
    organization_id: str, balance: int, threshold: int, account: str | None = None
) -> None:
    org = db.session.get(Organization, organization_id)
    if org is None or not org.notification_mobile:
        return
    owner = owner_user(org)
    email, _owner = alert_recipient(org)
    language = language_for(email, org, owner) if email else "en"
    with force_locale(language):
        name = account_name(org, account)
        values = {
            "org": org.name,
            "balance": format_decimal(balance),
            "threshold": format_decimal(threshold),
        }
        if name is None:
            text = ngettext(
                "%(org)s: %(balance)s SMS credit left (alert at %(threshold)s).",
                "%(org)s: %(balance)s SMS credits left (alert at %(threshold)s).",
                balance,
                **values,
            )
        else:
            text = ngettext(
                "%(org)s: %(balance)s SMS credit left in %(account)s (alert at %(threshold)s).",
                "%(org)s: %(balance)s SMS credits left in %(account)s (alert at %(threshold)s).",
                balance,
                account=name,
                **values,
            )
    send_sms(org.notification_mobile, text, organization=org)
