"""Payments received from postpaid organizations, and the open invoices they settle."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.billing.postpaid import _debt_expression, _lock_account, _store_debt, ensure_account
from tenants.core.errors import NotPostpaid, OrganizationClosed, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import round_money, utcnow
from tenants.core.validation import clean_text, read_decimal
from tenants.credits import operations as credits
from tenants.credits.operations import SYSTEM_ACCOUNT, Posting
from tenants.models import (
    EntryType,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Organization,
    OrganizationStatus,
    Payment,
    PostpaidAccount,
    PricingModel,
)


def clean_amount(value, currency: str, field: str = "amount") -> Decimal:
    """A positive amount with at most the currency's decimals."""
    amount = read_decimal(value)
    if amount is None:
        raise ValidationFailed(fields={field: str(_l("Enter an amount, e.g. 12.50."))})
    if amount <= 0:
        raise ValidationFailed(fields={field: str(_l("Enter an amount greater than zero."))})
    places = get_currency_precision(currency)
    if amount != round_money(amount, currency):
        raise ValidationFailed(fields={field: str(_l("Use at most %(n)d decimals.", n=places))})
    return amount


def _settle_open_invoices(organization_id: str, unpaid: Decimal) -> list[Invoice]:
    """Mark open invoices paid, oldest first, while the payments received cover them."""
    open_invoices = list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == organization_id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status == InvoiceStatus.OPEN,
            )
            .order_by(Invoice.issued_at, Invoice.sequence)
        )
    )
    covered = sum((inv.total for inv in open_invoices), Decimal(0)) - unpaid
    settled = []
    now = utcnow()
    for invoice in open_invoices:
        if invoice.total > covered:
            break
        covered -= invoice.total
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = now
        settled.append(invoice)
    db.session.flush()
    return settled


def record_payment(
    actor: Actor, org: Organization, amount, reference: str | None = None
) -> Payment:
    """Record money received from a postpaid organization (reseller staff and keys)."""
    require(actor, Permission.RECORD_PAYMENTS)
    amount = clean_amount(amount, org.currency)
    reference = clean_text(reference, "reference", max_length=200, required=False)
    if org.pricing_model != PricingModel.POSTPAID:
        raise NotPostpaid()
    if org.status == OrganizationStatus.DELETED:
        raise OrganizationClosed()
    ensure_account(org)
    account = _lock_account(org.id)
    if amount > account.debt:
        raise ValidationFailed(
            fields={
                "amount": str(
                    _l(
                        "This is more than the organization owes (%(debt)s).",
                        debt=_format_money(account.debt, org.currency),
                    )
                )
            }
        )
    to_invoices = min(amount, account.invoiced_unpaid)
    ahead = amount - to_invoices
    unpaid, debt, unbilled_credits = db.session.execute(
        update(PostpaidAccount)
        .where(PostpaidAccount.organization_id == org.id)
        .values(
            invoiced_unpaid=PostpaidAccount.invoiced_unpaid - to_invoices,
            paid_ahead=PostpaidAccount.paid_ahead + ahead,
            updated_at=utcnow(),
        )
        .returning(
            PostpaidAccount.invoiced_unpaid, _debt_expression(), PostpaidAccount.unbilled_credits
        )
        .execution_options(synchronize_session=False)
    ).one()
    settled = _settle_open_invoices(org.id, unpaid) if to_invoices else []
    _store_debt(org, debt)
    payment = Payment(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        amount=amount,
        currency=org.currency,
        reference=reference,
        actor_user_id=actor.user_id,
        real_user_id=actor.real_user_id,
        api_key_id=actor.api_key_id,
    )
    db.session.add(payment)
    db.session.flush()
    credits.post_transaction(
        actor,
        org,
        [Posting(SYSTEM_ACCOUNT, 0, EntryType.PAYMENT)],
        amount=amount,
        reference=reference or payment.id,
        postpaid_balance=-unbilled_credits,
    )
    audit.record(
        actor,
        "payment.recorded",
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="payment",
        target_id=payment.id,
        changes={
            "amount": [None, str(amount)],
            "debt": [str(account.debt), str(debt)],
            "invoices_paid": [None, [inv.number for inv in settled]],
        },
    )
    db.session.flush()
    return payment


def _format_money(amount: Decimal, currency: str) -> str:
    from flask_babel import format_currency

    return format_currency(amount, currency)
