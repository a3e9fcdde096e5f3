"""Automatic top-up: buy the set quantity with the saved card when the system pool drops below
the level, once per crossing; a failure is recorded and told, never retried in a loop.

The crossing is detected by the ledger (tenants.credits.alerts.balance_changed), which records one
``auto_top_up`` job in the transaction that crossed. The job buys through the ordinary
purchase flow (``automatic=True``, so the credits come in as AUTO_TOP_UP with a receipt).
A decline, the monthly cap, a missing card or price: the job records the failure, emails the
owner and the reseller's admins, and returns normally so RQ does not retry it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM, Actor
from tenants.access.policy import Permission, WhileActing, refuse_while_acting, require
from tenants.audit import log as audit
from tenants.core.errors import DomainError, Forbidden, ResellerCreditsExhausted
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import ledger, purchases
from tenants.credits.payments import card_details, provider_for
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import (
    Organization,
    Purchase,
    PurchaseStatus,
    SavedPaymentMethod,
    User,
)
from tenants.notify.emails import external_url, recipient_language, send_email_template
from tenants.notify.recipients import language_for, owner_user, reseller_admins


class TopUpFailure(enum.StrEnum):
    DECLINED = "declined"
    CAP_REACHED = "cap_reached"
    NO_SAVED_CARD = "no_saved_card"
    PRICE_NOT_SET = "price_not_set"
    NOT_AVAILABLE = "not_available"


# Why a top-up failed, as the emails say it (the monthly limit's text counts: failure_text).
FAILURE_TEXTS = {
    TopUpFailure.DECLINED: _l("The saved card was declined."),
    TopUpFailure.NO_SAVED_CARD: _l("No card is saved for automatic top-ups."),
    TopUpFailure.PRICE_NOT_SET: _l("No credit price is set for the organization's currency."),
    TopUpFailure.NOT_AVAILABLE: _l("The organization cannot buy credits at the moment."),
}


# -- the saved card ---------------------------------------------------------------------------


def saved_card(org: Organization) -> SavedPaymentMethod | None:
    return db.session.scalar(
        select(SavedPaymentMethod).where(SavedPaymentMethod.organization_id == org.id)
    )


def _refuse_during_support(actor: Actor) -> None:
    refuse_while_acting(actor, WhileActing.CHANGE_SAVED_CARD)


def save_card(actor: Actor, org: Organization, details: dict) -> SavedPaymentMethod:
    """Keep the card's token (from the provider) for automatic top-ups; replaces any other."""
    require(actor, Permission.MANAGE_CREDITS)
    _refuse_during_support(actor)
    provider = provider_for("sandbox")
    token, last4 = provider.tokenize(details)
    method = saved_card(org)
    if method is None:
        method = SavedPaymentMethod(reseller_id=org.reseller_id, organization_id=org.id)
        db.session.add(method)
    method.provider, method.token, method.last4 = provider.name, token, last4
    method.saved_by_user_id = actor.user_id
    method.created_at = utcnow()
    db.session.flush()
    audit.record_on(
        actor,
        org,
        "payment_method.saved",
        {"card": [None, f"•••• {last4}"]},
    )
    return method


@dataclass(frozen=True)
class SavedCard:
    """The saved card as the settings page shows it."""

    last4: str
    brand: str | None
    exp_month: int | None
    exp_year: int | None
    saved_at: datetime


def describe_saved_card(org: Organization) -> SavedCard | None:
    method = saved_card(org)
    if method is None:
        return None
    details = card_details(method.provider, method.token)
    return SavedCard(
        last4=method.last4,
        brand=details.brand,
        exp_month=details.exp_month,
        exp_year=details.exp_year,
        saved_at=method.created_at,
    )


@dataclass(frozen=True)
class RemovedCard:
    last4: str
    auto_top_up_disabled: bool  # it was on: without a card it could only fail


def remove_card(actor: Actor, org: Organization) -> RemovedCard | None:
    """Forget the saved card (None if there was none). Automatic top-up, an organization
    setting, is switched off by organizations.operations.remove_saved_card, which calls this."""
    require(actor, Permission.MANAGE_CREDITS)
    _refuse_during_support(actor)
    method = saved_card(org)
    if method is None:
        return None
    last4 = method.last4
    db.session.delete(method)
    db.session.flush()
    audit.record_on(
        actor,
        org,
        "payment_method.removed",
        {"card": [f"•••• {last4}", None]},
    )
    return RemovedCard(last4=last4, auto_top_up_disabled=False)


def pay_with_saved_card(actor: Actor, purchase: Purchase) -> Purchase:
    """Pay a pending purchase with the organization's saved card (never during login-as)."""
    _refuse_during_support(actor)
    org = db.session.get(Organization, purchase.organization_id)
    method = saved_card(org)
    if method is None:
        raise Forbidden(_l("No card is saved for this organization."))
    return purchases.pay(actor, purchase, {"card_token": method.token})


# -- the monthly limit ----------------------------------------------------------------------

# The most an organization may allow (the API's schema states it too); the platform's
# AUTO_TOP_UP_MONTHLY_CAP may set a lower ceiling.
MONTHLY_LIMIT_MAX = 100


def monthly_limit_ceiling() -> int:
    """The most automatic top-ups a month an organization may allow on this platform."""
    return min(current_app.config["AUTO_TOP_UP_MONTHLY_CAP"], MONTHLY_LIMIT_MAX)


def monthly_limit(org: Organization) -> int:
    """How many automatic top-ups the organization gets a calendar month: its own limit,
    lowered by the platform's ceiling if that was lowered after it was set."""
    return min(org.auto_top_up_monthly_limit, monthly_limit_ceiling())


# -- the job --------------------------------------------------------------------------------


def automatic_top_ups_this_month(org: Organization) -> int:
    zone = ZoneInfo(org.timezone or "UTC")
    local = utcnow().astimezone(zone)
    start = datetime(local.year, local.month, 1, tzinfo=zone)
    return db.session.scalar(
        select(func.count())
        .select_from(Purchase)
        .where(
            Purchase.organization_id == org.id,
            Purchase.automatic.is_(True),
            Purchase.status == PurchaseStatus.PAID,
            Purchase.created_at >= start,
        )
    )


@job("auto_top_up")
def run_auto_top_up(organization_id: str, balance: int | None = None) -> Purchase | None:
    """Buy ``auto_top_up_credits`` for the system pool; on failure, record and tell."""
    org = db.session.get(Organization, organization_id)
    if org is None or not org.auto_top_up_enabled or org.auto_top_up_credits <= 0:
        return None
    if ledger.balance(org).system_credits >= org.auto_top_up_below:
        return None  # already lifted (a purchase or another top-up came first)
    method = saved_card(org)
    if method is None:
        _failed(org, TopUpFailure.NO_SAVED_CARD)
        return None
    if automatic_top_ups_this_month(org) >= monthly_limit(org):
        _failed(org, TopUpFailure.CAP_REACHED)
        return None
    owner = owner_user(org)
    try:
        purchase = purchases.start_purchase(
            SYSTEM,
            org,
            credit_count=org.auto_top_up_credits,
            account="system",
            payment_method=method.provider,
            language=language_for(owner.email, org, owner) if owner else "en",
            automatic=True,
        )
    except purchases.PriceNotSet:
        _failed(org, TopUpFailure.PRICE_NOT_SET)
        return None
    except DomainError:
        _failed(org, TopUpFailure.NOT_AVAILABLE)
        return None
    try:
        # A savepoint: a pool emptied since the purchase started leaves it pending, unpaid.
        with db.session.begin_nested():
            purchases.pay(SYSTEM, purchase, {"card_token": method.token})
    except ResellerCreditsExhausted:
        _failed(org, TopUpFailure.NOT_AVAILABLE, purchase)
        return purchase
    if purchase.status != PurchaseStatus.PAID:
        _failed(org, TopUpFailure.DECLINED, purchase)
    return purchase


def _failed(org: Organization, reason: TopUpFailure, purchase: Purchase | None = None) -> None:
    audit.record(
        SYSTEM,
        "auto_top_up.failed",
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="purchase" if purchase else "organization",
        target_id=purchase.id if purchase else org.id,
        changes={"failure": [None, reason.value]},  # a key: tenants.audit.labels
    )
    # One job per person: a retried delivery never emails the others twice.
    owner = owner_user(org)
    people = {p.id: p for p in [*([owner] if owner else []), *reseller_admins(org.reseller_id)]}
    for user_id in people:
        enqueue(
            "send_auto_top_up_failed",
            organization_id=org.id,
            user_id=user_id,
            reason=reason.value,
            purchase_id=purchase.id if purchase else None,
        )


def failure_text(reason: TopUpFailure, cap: int) -> str:
    """Why a top-up failed, in the current language; ``cap``: the monthly limit."""
    if reason is TopUpFailure.CAP_REACHED:
        return ngettext(
            "The monthly limit of %(num)s automatic top-up was reached.",
            "The monthly limit of %(num)s automatic top-ups was reached.",
            cap,
        )
    return str(FAILURE_TEXTS[reason])


@job("send_auto_top_up_failed")
def deliver_auto_top_up_failed(
    organization_id: str, user_id: str, reason: str, purchase_id: str | None = None
) -> None:
    """Tell one person (the owner or a reseller admin) in their own language."""
    org = db.session.get(Organization, organization_id)
    person = db.session.get(User, user_id)
    if org is None or person is None:
        return
    owner = owner_user(org)
    language = recipient_language(person, org.reseller)
    cap = monthly_limit(org)
    with force_locale(language):
        explanation = failure_text(TopUpFailure(reason), cap)
    is_owner = owner is not None and person.id == owner.id
    send_email_template(
        person.email,
        language,
        "auto_top_up_failed",
        user=person,
        organization_name=org.name,
        credits=org.auto_top_up_credits,
        explanation=explanation,
        is_owner=is_owner,
        link=external_url("credits.purchase", org_id=org.id) if is_owner else None,
    )
