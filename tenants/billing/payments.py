"""Payments received from postpaid organizations, the open invoices they settle, and their
void (a reversing entry that puts the amount back on the debt)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.billing.postpaid import (
    _debt_expression,
    _lock_account,
    _store_debt,
    ensure_account,
    organization_debt,
)
from tenants.core.errors import (
    Conflict,
    NotPostpaid,
    OrganizationClosed,
    PaymentAlreadyVoid,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import currency_places, round_money, utcnow
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
    PaymentStatus,
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
    places = currency_places(currency)
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


@dataclass(frozen=True)
class PaymentDraft:
    """A payment checked and not yet recorded: what the confirmation step shows."""

    amount: Decimal
    currency: str
    reference: str | None
    debt: Decimal


def _require_open_postpaid(org: Organization) -> None:
    if org.pricing_model != PricingModel.POSTPAID:
        raise NotPostpaid()
    if org.status == OrganizationStatus.DELETED:
        raise OrganizationClosed()


def _require_within_debt(amount: Decimal, debt: Decimal, currency: str) -> None:
    if amount > debt:
        message = _l(
            "This is more than the organization owes (%(debt)s).",
            debt=_format_money(debt, currency),
        )
        raise ValidationFailed(fields={"amount": str(message)})


def _clean_payment(
    actor: Actor, org: Organization, amount, reference
) -> tuple[Decimal, str | None]:
    require(actor, Permission.RECORD_PAYMENTS)
    amount = clean_amount(amount, org.currency)
    reference = clean_text(reference, "reference", max_length=200, required=False)
    _require_open_postpaid(org)
    return amount, reference


def review_payment(
    actor: Actor, org: Organization, amount, reference: str | None = None
) -> PaymentDraft:
    """What record_payment would record, with the same checks, recording nothing: the
    portal shows it, formatted, for the reader to confirm (the debt is checked again then)."""
    amount, reference = _clean_payment(actor, org, amount, reference)
    debt = organization_debt(org)
    _require_within_debt(amount, debt, org.currency)
    return PaymentDraft(amount, org.currency, reference, debt)


def record_payment(
    actor: Actor, org: Organization, amount, reference: str | None = None
) -> Payment:
    """Record money received from a postpaid organization (reseller staff and keys)."""
    amount, reference = _clean_payment(actor, org, amount, reference)
    ensure_account(org)
    account = _lock_account(org.id)
    _require_within_debt(amount, account.debt, org.currency)
    to_invoices = min(amount, account.invoiced_unpaid)
    ahead = amount - to_invoices
    unpaid, debt = db.session.execute(
        update(PostpaidAccount)
        .where(PostpaidAccount.organization_id == org.id)
        .values(
            invoiced_unpaid=PostpaidAccount.invoiced_unpaid - to_invoices,
            paid_ahead=PostpaidAccount.paid_ahead + ahead,
            updated_at=utcnow(),
        )
        .returning(PostpaidAccount.invoiced_unpaid, _debt_expression())
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
        postpaid=True,
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


# -- void ----------------------------------------------------------------------------------


def _reopen_invoices(organization_id: str, unpaid: Decimal) -> list[Invoice]:
    """Open again the invoices paid last, newest first, until the open ones cover what is
    unpaid (settling goes oldest first, so the paid ones are the oldest): open invoices
    and invoiced_unpaid agree again."""
    open_total = db.session.scalar(
        select(func.coalesce(func.sum(Invoice.total), 0)).where(
            Invoice.organization_id == organization_id,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status == InvoiceStatus.OPEN,
        )
    )
    reopened: list[Invoice] = []
    if open_total >= unpaid:
        return reopened
    paid = db.session.scalars(
        select(Invoice)
        .where(
            Invoice.organization_id == organization_id,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status == InvoiceStatus.PAID,
            Invoice.total > 0,
        )
        .order_by(Invoice.issued_at.desc(), Invoice.sequence.desc())
    )
    for invoice in paid:
        if open_total >= unpaid:
            break
        invoice.status = InvoiceStatus.OPEN
        invoice.paid_at = None
        open_total += invoice.total
        reopened.append(invoice)
    db.session.flush()
    return reopened


def _payment_id(payment: Payment | str) -> str:
    return payment.id if isinstance(payment, Payment) else payment


def _locked_payment(payment_id: str) -> Payment:
    """The payment's row locked and read again: a void racing another sees it void."""
    return db.session.scalar(
        select(Payment)
        .where(Payment.id == payment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def void_payment(actor: Actor, org: Organization, payment: Payment | str, reason) -> Payment:
    """Undo a recorded payment (reseller staff and keys; a reason is required): what it
    paid ahead is taken back first, the rest is owed on invoices again, and the invoices it
    settled that are no longer covered are open again, newest first. A reversing ledger
    entry (``payment_void``, the amount negative) and an audit entry record it."""
    require(actor, Permission.RECORD_PAYMENTS)
    # Another organization's payment is a 404 whatever else is wrong with the request.
    payment_id = scoping.get_payment(actor, org, _payment_id(payment)).id
    reason = clean_text(reason, "reason", max_length=500, one_line=False)
    _require_open_postpaid(org)
    ensure_account(org)
    account = _lock_account(org.id)  # the account first, as record_payment: no deadlock
    record = _locked_payment(payment_id)
    if record.status == PaymentStatus.VOID:
        raise PaymentAlreadyVoid()
    if record.currency != org.currency:
        raise Conflict(_l("This payment was made in another currency; it cannot be voided."))
    amount = record.amount
    from_ahead = min(amount, account.paid_ahead)
    unpaid, debt = db.session.execute(
        update(PostpaidAccount)
        .where(PostpaidAccount.organization_id == org.id)
        .values(
            invoiced_unpaid=PostpaidAccount.invoiced_unpaid + (amount - from_ahead),
            paid_ahead=PostpaidAccount.paid_ahead - from_ahead,
            updated_at=utcnow(),
        )
        .returning(PostpaidAccount.invoiced_unpaid, _debt_expression())
        .execution_options(synchronize_session=False)
    ).one()
    reopened = _reopen_invoices(org.id, unpaid) if amount > from_ahead else []
    _store_debt(org, debt)
    record.status = PaymentStatus.VOID
    record.voided_at = utcnow()
    record.void_reason = reason
    record.voided_by_user_id = actor.user_id
    record.voided_real_user_id = actor.real_user_id
    record.voided_api_key_id = actor.api_key_id
    db.session.flush()
    credits.post_transaction(
        actor,
        org,
        [Posting(SYSTEM_ACCOUNT, 0, EntryType.PAYMENT_VOID)],
        amount=-amount,
        reference=record.reference or record.id,
        postpaid=True,
    )
    audit.record(
        actor,
        "payment.voided",
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="payment",
        target_id=record.id,
        changes={
            "status": [PaymentStatus.RECORDED.value, PaymentStatus.VOID.value],
            "amount": [_exact(amount, org.currency), None],
            "reason": [None, reason],
            "debt": [_exact(account.debt, org.currency), _exact(debt, org.currency)],
            "invoices_reopened": [None, [inv.number for inv in reopened]],
        },
    )
    db.session.flush()
    return record


def _exact(amount: Decimal, currency: str) -> str:
    """An amount with the currency's decimals, more only where it has them (unbilled tax is
    kept to the stored scale): 25.41, not 25.4100."""
    rounded = round_money(amount, currency)
    return str(rounded if rounded == amount else amount.normalize())


def _format_money(amount: Decimal, currency: str) -> str:
    from flask_babel import format_currency

    return format_currency(amount, currency)
