"""Buying credits: a quote, a pending purchase, payment, then credits and receipt once.

A pending purchase nobody pays expires: after ``PURCHASE_PENDING_MAX_MINUTES`` it can no
longer be paid, and the hourly ``expire_pending_purchases`` job marks it declined with the
reason ``expired`` (the status column's CHECK allows no new value without a migration).
An expired purchase is never credited: paying it is refused before the provider is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from tenants.access import scoping
from tenants.access.actors import SYSTEM, Actor
from tenants.access.policy import Permission, WhileActing, can, refuse_while_acting
from tenants.audit import log as audit
from tenants.core.checks import collect_field_errors
from tenants.core.errors import Conflict, Forbidden, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import ledger, receipts
from tenants.credits import operations as credits
from tenants.credits.accounts import require_manage_account
from tenants.credits.payments import PaymentResult, provider_for
from tenants.invoices import amounts
from tenants.invoices import documents as invoices
from tenants.jobs.registry import job
from tenants.models import (
    AccountKind,
    EntryType,
    InvoiceItem,
    InvoiceKind,
    Organization,
    Purchase,
    PurchaseStatus,
)
from tenants.models.ledger import AccountRef
from tenants.resellers import pricing
from tenants.wholesale import operations as wholesale


class PriceNotSet(Conflict):
    code = "price_not_set"
    default_message = _l("No price is set for this currency yet. Please contact your provider.")


class PaymentDeclined(Conflict):
    code = "payment_declined"
    status = 402
    default_message = _l("The payment was declined.")


class PurchaseExpired(Conflict):
    code = "purchase_expired"
    default_message = _l(
        "This purchase expired before it was paid. Nothing was charged; please start again."
    )


# The decline reason of a pending purchase that expired unpaid (a code, shown translated).
EXPIRED = "expired"
# A second "Continue to payment" this soon after the first reuses its pending purchase.
REUSE_WINDOW = timedelta(minutes=10)
# The job marks a purchase expired this long after it stopped being payable, so a payment
# already in flight when the age is reached finishes first (its claim is still PENDING).
EXPIRY_GRACE = timedelta(minutes=5)


def pending_max_age() -> timedelta:
    return timedelta(minutes=int(current_app.config.get("PURCHASE_PENDING_MAX_MINUTES", 1440)))


def is_expired(purchase: Purchase, now: datetime | None = None) -> bool:
    """Expired: marked so by the job, or still pending past the age (the job comes later)."""
    if purchase.status == PurchaseStatus.DECLINED:
        return purchase.decline_reason == EXPIRED
    if purchase.status == PurchaseStatus.PENDING:
        return purchase.created_at < (now or utcnow()) - pending_max_age()
    return False


def decline_text(purchase: Purchase) -> str:
    """Why a purchase cannot be paid (declined or expired), in the current language."""
    if is_expired(purchase):
        return str(PurchaseExpired.default_message)
    return purchase.decline_reason or str(PaymentDeclined.default_message)


def shown_status(purchase: Purchase) -> str:
    """The status a person reads: pending, paid, declined or expired."""
    return EXPIRED if is_expired(purchase) else purchase.status.value


def recent_purchases(actor: Actor, org: Organization, limit: int = 10) -> list[Purchase]:
    """The organization's latest purchases this actor may follow (a member: their own)."""
    query = scoping.purchases_query(actor, org)
    query = query.order_by(Purchase.created_at.desc(), Purchase.id.desc()).limit(limit)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class Quote:
    credits: int
    currency: str
    unit_price: Decimal
    subtotal: Decimal
    tax_percent: Decimal
    tax: Decimal
    total: Decimal


def quote(org: Organization, credit_count: int) -> Quote:
    """What ``credit_count`` credits cost this organization, tax included."""
    credit_count = credits.clean_credits(credit_count)
    unit = pricing.unit_price(org.reseller_id, org.currency, org.pricing_model)
    if unit is None:
        raise PriceNotSet()
    tax_percent = pricing.tax_percent(org.reseller_id, org.country)
    # The receipt's one line: its amount, its tax (tenants.invoices.amounts, as every invoice).
    line = amounts.line_amount(credit_count, unit, org.currency)
    result = amounts.totals_per_rate({tax_percent: line}, org.currency)
    return Quote(
        credit_count, org.currency, unit, result.subtotal, tax_percent, result.tax, result.total
    )


def start_purchase(
    actor: Actor,
    org: Organization,
    *,
    credit_count: int,
    account,
    payment_method: str,
    language: str = "en",
    automatic: bool = False,
    reuse_pending: bool = False,
) -> Purchase:
    """Record a pending purchase with its amounts and the billing details it will carry.

    With ``reuse_pending`` (the portal's "Continue to payment", which a double click or a
    reload posts twice) the same person's pending purchase of the same credits, account,
    payment method and amounts started within ``REUSE_WINDOW`` is returned instead of a
    second one; the organization's row is locked meanwhile so two posts at once find it.
    """
    checked = collect_field_errors(
        {
            "account": lambda: ledger.parse_account(org, account),
            "provider": lambda: provider_for(payment_method),
            "credits": lambda: credits.clean_credits(credit_count),
        }
    )
    ref, provider = checked["account"], checked["provider"]
    if ref.kind == AccountKind.SYSTEM and not can(actor, Permission.MANAGE_CREDITS):
        raise Forbidden(_l("Only administrators can buy credits for the system pool."))
    require_manage_account(actor, ref)
    if not provider.allowed_for(actor):
        raise ValidationFailed(
            fields={"payment_method": str(_l("This payment method is not available to you."))}
        )
    credits.require_prepaid_and_usable(org)
    wholesale.require_available(org.reseller_id, checked["credits"])
    amounts = quote(org, credit_count)
    if reuse_pending and not automatic:
        existing = _open_duplicate(actor, org, ref.label, provider.name, amounts)
        if existing is not None:
            return existing
    purchase = Purchase(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        account=ref.label,
        credits=amounts.credits,
        payment_method=provider.name,
        automatic=automatic,
        currency=amounts.currency,
        unit_price=amounts.unit_price,
        subtotal=amounts.subtotal,
        tax_percent=amounts.tax_percent,
        tax=amounts.tax,
        total=amounts.total,
        billing=invoices.billing_snapshot(org),
        created_by_user_id=actor.user_id,
        real_user_id=actor.real_user_id,
        api_key_id=actor.api_key_id,
        language=language,
    )
    db.session.add(purchase)
    db.session.flush()
    return purchase


def _open_duplicate(
    actor: Actor, org: Organization, account: str, payment_method: str, amounts: Quote
) -> Purchase | None:
    # Serializes the check with another start for this organization.
    ledger.lock_for_movement(org)
    now = utcnow()
    since = max(now - REUSE_WINDOW, now - pending_max_age())
    return db.session.scalar(
        select(Purchase)
        .where(
            Purchase.organization_id == org.id,
            Purchase.reseller_id == org.reseller_id,
            Purchase.status == PurchaseStatus.PENDING,
            Purchase.automatic.is_(False),
            Purchase.account == account,
            Purchase.credits == amounts.credits,
            Purchase.payment_method == payment_method,
            Purchase.currency == amounts.currency,
            Purchase.total == amounts.total,
            Purchase.created_by_user_id == actor.user_id,
            Purchase.real_user_id == actor.real_user_id,
            Purchase.api_key_id == actor.api_key_id,
            Purchase.created_at >= since,
        )
        .order_by(Purchase.created_at.desc(), Purchase.id.desc())
        .limit(1)
    )


def pay(actor: Actor, purchase: Purchase, details: dict | None = None) -> Purchase:
    """Charge through the provider; on success apply credits and issue the receipt, once.

    Paying a purchase that is already paid (double submit, reload, retried callback) returns
    it unchanged; a declined payment changes nothing but the purchase's status.
    """
    if purchase.status == PurchaseStatus.PAID:
        return purchase
    if is_expired(purchase):
        raise PurchaseExpired()
    if purchase.status == PurchaseStatus.DECLINED:
        raise PaymentDeclined(purchase.decline_reason or PaymentDeclined.default_message)
    provider = provider_for(purchase.payment_method)
    if not provider.allowed_for(actor):
        raise Forbidden()
    if (details or {}).get("card_token") is not None:  # a saved card: never during login-as
        refuse_while_acting(actor, WhileActing.USE_SAVED_CARD)
    _hold_for_charge(purchase)
    result = provider.charge(purchase, details or {})
    if not result.approved:
        _decline(actor, purchase, result)
        return purchase
    return complete(actor, purchase, result.reference)


def _hold_for_charge(purchase: Purchase) -> None:
    """Before the card is charged, lock what applying its credits changes, in the ledger's
    order (tenants.credits.ledger): its accounts created, the account locked, then the
    organization's row and the reseller's pool, refused (402) when it cannot cover them.
    Held until the caller's commit, so nothing can draw the pool empty between this check
    and ``complete``: a card charged always gets its credits. Providers answer in the
    request (offline, the sandbox, a saved card's token)."""
    org = db.session.get(Organization, purchase.organization_id)
    ref = ledger.parse_account(org, purchase.account)
    ledger.account_ids(org, [ref, AccountRef(AccountKind.PURCHASES)])  # before any lock
    ledger.lock_balances(org, [ref])
    ledger.lock_for_movement(org)
    wholesale.hold_for_payment(purchase.reseller_id, purchase.credits)


def _decline(actor: Actor, purchase: Purchase, result: PaymentResult) -> None:
    claimed = db.session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id, Purchase.status == PurchaseStatus.PENDING)
        .values(
            status=PurchaseStatus.DECLINED,
            decline_reason=result.decline_reason,
            completed_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(purchase)
    if claimed:
        audit.record(
            _system_actor_for(purchase),
            "purchase.declined",
            reseller_id=purchase.reseller_id,
            organization_id=purchase.organization_id,
            target_type="purchase",
            target_id=purchase.id,
            # The provider's reason stays on the purchase: it is its text, not a key.
            changes={"status": [PurchaseStatus.PENDING.value, PurchaseStatus.DECLINED.value]},
            support_session_id=actor.support_session_id,
        )


def _system_actor_for(purchase: Purchase) -> Actor:
    return Actor(
        user_id=purchase.created_by_user_id,
        real_user_id=purchase.real_user_id,
        api_key_id=purchase.api_key_id,
    )


def complete(actor: Actor, purchase: Purchase, reference: str | None) -> Purchase:
    """Apply a successful payment exactly once: the PENDING→PAID update is the claim."""
    claimed = db.session.execute(
        update(Purchase)
        .where(Purchase.id == purchase.id, Purchase.status == PurchaseStatus.PENDING)
        .values(status=PurchaseStatus.PAID, provider_reference=reference, completed_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(purchase)
    if not claimed:
        return purchase
    org = db.session.get(Organization, purchase.organization_id)
    ref = ledger.parse_account(org, purchase.account)
    entry_type = EntryType.AUTO_TOP_UP if purchase.automatic else EntryType.PURCHASE
    credits.add_credits(
        _system_actor_for(purchase),
        org,
        ref,
        purchase.credits,
        entry_type=entry_type,
        amount=purchase.total,
        reference=purchase.id,
    )
    receipt = invoices.issue_invoice(
        org,
        kind=InvoiceKind.RECEIPT,
        lines=[
            {
                "item": InvoiceItem.SMS_CREDITS,  # its text is rendered in the reader's language
                "quantity": purchase.credits,
                "unit_price": purchase.unit_price,
                "tax_percent": purchase.tax_percent,
                "reference": purchase.id,
            }
        ],
        billing=purchase.billing,
        language=purchase.language,
        paid=True,
    )
    purchase.receipt_id = receipt.id
    db.session.flush()
    receipts.send_receipt(purchase)
    audit.record(
        actor,
        "purchase.paid",
        reseller_id=purchase.reseller_id,
        organization_id=purchase.organization_id,
        target_type="purchase",
        target_id=purchase.id,
        changes={
            "credits": [None, purchase.credits],
            "total": [None, audit.money(purchase.total, purchase.currency)],
        },
    )
    return purchase


# -- expiry of pending purchases nobody paid ----------------------------------------------

EXPIRE_BATCH = 500


@job("expire_pending_purchases")
def expire_pending_purchases(now: datetime | None = None) -> int:
    """Mark every pending purchase past the age (and the grace) expired; how many were.

    Each row is claimed by a conditional PENDING→DECLINED update, like a payment claims it,
    so a purchase is either paid or expired, never both, and a second run changes nothing.
    """
    now = now or utcnow()
    cutoff = now - pending_max_age() - EXPIRY_GRACE
    expired = 0
    while True:
        rows = db.session.execute(
            select(Purchase.id, Purchase.reseller_id, Purchase.organization_id)
            .where(Purchase.status == PurchaseStatus.PENDING, Purchase.created_at < cutoff)
            .order_by(Purchase.created_at, Purchase.id)
            .limit(EXPIRE_BATCH)
        ).all()
        for purchase_id, reseller_id, organization_id in rows:
            claimed = db.session.execute(
                update(Purchase)
                .where(Purchase.id == purchase_id, Purchase.status == PurchaseStatus.PENDING)
                .values(status=PurchaseStatus.DECLINED, decline_reason=EXPIRED, completed_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed:
                expired += 1
                audit.record(
                    SYSTEM,
                    "purchase.expired",
                    reseller_id=reseller_id,
                    organization_id=organization_id,
                    target_type="purchase",
                    target_id=purchase_id,
                    changes={"status": [PurchaseStatus.PENDING.value, EXPIRED]},
                )
        db.session.flush()
        if len(rows) < EXPIRE_BATCH:
            return expired
