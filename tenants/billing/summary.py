"""The Payment section of a postpaid organization: what it owes, this month, its invoices;
and its position (unbilled, their tax, open invoices, credit on account, debt) that the
balance API, the close-out and the locks on the currency and pricing model read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from tenants.billing.periods import period_bounds, period_of
from tenants.billing.postpaid import _lock_account
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import (
    Charge,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Organization,
    Payment,
    PostpaidAccount,
)

ZERO = Decimal(0)


@dataclass(frozen=True)
class Position:
    """Where a postpaid account stands, exact (the stored scale; readers round to the
    currency): charges not yet invoiced and the tax they will carry, the invoices not yet
    paid, and money received ahead of any invoice (credit on account, settles the next)."""

    unbilled: Decimal = ZERO
    unbilled_tax: Decimal = ZERO
    unbilled_credits: int = 0
    open_invoices: Decimal = ZERO
    credit_on_account: Decimal = ZERO

    @property
    def debt(self) -> Decimal:
        """What is owed after the credit on account; never below zero (the rest of the
        credit stays ``credit_on_account``)."""
        owed = self.unbilled + self.unbilled_tax + self.open_invoices - self.credit_on_account
        return max(owed, ZERO)

    @property
    def unbilled_any(self) -> bool:
        return bool(self.unbilled_credits or self.unbilled or self.unbilled_tax)

    @property
    def owed_or_ahead(self) -> bool:
        """Anything unbilled, owed or paid ahead: what keeps an account from being closed."""
        return self.unbilled_any or bool(self.open_invoices or self.credit_on_account)


def postpaid_position(org: Organization, *, lock: bool = False) -> Position:
    """The organization's position (all zero without a postpaid row, e.g. prepaid); ``lock``
    takes its row's lock first (a verb about to act on it)."""
    if lock:
        account = _lock_account(org.id)
    else:  # the row as stored now: its UPDATEs leave loaded objects stale
        account = db.session.scalar(
            select(PostpaidAccount)
            .where(PostpaidAccount.organization_id == org.id)
            .execution_options(populate_existing=True)
        )
    if account is None:
        return Position()
    return Position(
        unbilled=account.unbilled,
        unbilled_tax=account.unbilled_tax,
        unbilled_credits=account.unbilled_credits,
        open_invoices=account.invoiced_unpaid,
        credit_on_account=account.paid_ahead,
    )


@dataclass(frozen=True)
class PaymentSummary:
    currency: str
    debt: Decimal
    credit_limit: Decimal
    unbilled: Decimal
    unbilled_credits: int
    invoiced_unpaid: Decimal
    paid_ahead: Decimal
    unbilled_tax: Decimal
    this_month: str
    month_charges: Decimal
    month_credits: int
    open_invoices: list[Invoice]
    payments: list[Payment]

    @property
    def credit_on_account(self) -> Decimal:
        """Money received ahead of any invoice: it settles the next one."""
        return self.paid_ahead


def _charges_window(org_id: str, start: datetime | None, end: datetime):
    clauses = [Charge.organization_id == org_id, Charge.occurred_at < end]
    if start is not None:
        clauses.append(Charge.occurred_at >= start)
    return clauses


def payment_summary(org: Organization, *, now: datetime | None = None) -> PaymentSummary:
    """What the Payment section shows a postpaid organization's reader."""
    now = now or utcnow()
    position = postpaid_position(org)
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
    return PaymentSummary(
        currency=org.currency,
        debt=position.debt,
        credit_limit=org.credit_limit,
        unbilled=position.unbilled,
        unbilled_credits=position.unbilled_credits,
        invoiced_unpaid=position.open_invoices,
        paid_ahead=position.credit_on_account,
        unbilled_tax=position.unbilled_tax,
        this_month=this_month,
        month_charges=month_charges or ZERO,
        month_credits=int(month_credits or 0),
        open_invoices=open_invoices,
        payments=payments,
    )
