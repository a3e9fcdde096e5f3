"""The Payment section of a postpaid organization: what it owes, this month, its invoices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from tenants.billing.periods import period_bounds, period_of
from tenants.billing.postpaid import account_of
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import Charge, Invoice, InvoiceKind, InvoiceStatus, Organization, Payment


@dataclass(frozen=True)
class PaymentSummary:
    currency: str
    debt: Decimal
    credit_limit: Decimal
    unbilled: Decimal
    unbilled_credits: int
    invoiced_unpaid: Decimal
    paid_ahead: Decimal
    this_month: str
    month_charges: Decimal
    month_credits: int
    open_invoices: list[Invoice]
    payments: list[Payment]


def _charges_window(org_id: str, start: datetime | None, end: datetime):
    clauses = [Charge.organization_id == org_id, Charge.occurred_at < end]
    if start is not None:
        clauses.append(Charge.occurred_at >= start)
    return clauses


def payment_summary(org: Organization, *, now: datetime | None = None) -> PaymentSummary:
    """What the Payment section shows a postpaid organization's reader."""
    now = now or utcnow()
    account = account_of(org)
    this_month = period_of(now, org.timezone)
    start, end = period_bounds(this_month, org.timezone)
    month_credits, month_charges = db.session.execute(
        select(func.sum(Charge.credits), func.sum(Charge.amount)).where(
            *_charges_window(org.id, start, end)
        )
    ).one()
    open_invoices = list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == org.id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status == InvoiceStatus.OPEN,
            )
            .order_by(Invoice.issued_at)
        )
    )
    payments = list(
        db.session.scalars(
            select(Payment)
            .where(Payment.organization_id == org.id)
            .order_by(Payment.created_at.desc())
            .limit(20)
        )
    )
    zero = Decimal(0)
    return PaymentSummary(
        currency=org.currency,
        debt=account.debt if account else zero,
        credit_limit=org.credit_limit,
        unbilled=account.unbilled if account else zero,
        unbilled_credits=account.unbilled_credits if account else 0,
        invoiced_unpaid=account.invoiced_unpaid if account else zero,
        paid_ahead=account.paid_ahead if account else zero,
        this_month=this_month,
        month_charges=month_charges or zero,
        month_credits=int(month_credits or 0),
        open_invoices=open_invoices,
        payments=payments,
    )
