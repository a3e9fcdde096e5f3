"""Monthly statements: a month of the organization's timezone, its bounds in UTC, and the
statement of that month — credits for a prepaid organization (tenants.credits.statements),
debt for a postpaid one (below).

A postpaid statement follows what the organization owes (tenants.billing.postpaid: its
unbilled charges with their tax, plus its invoices, less its payments). At any instant T:

    debt(T) = the charges (amount + tax) that happened before T and no invoice issued before
              T billed yet
            + the totals of the invoices issued before T
            - the payments recorded before T + those of them voided before T

Its movements are the month's charges (+ amount + tax), its invoices (an invoice moves the
charges it bills from unbilled to invoiced: the debt changes only by its rounding, total -
the exact charges it billed), its payments (-) and voids (+). An invoice bills the charges
from the previous invoice's end to its own: its month's end in the organization's timezone,
or its issue when that came first (a final invoice). A handful of queries per statement:
the invoices (one a month), the payments' sums and the month's own, one sum of the charges
over the windows that matter (from the end of the last invoice before the month), and the
month's charges streamed (``ix_charges_org_occurred``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select, type_coerce

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.billing.periods import parse_period, period_bounds, period_of
from tenants.core.errors import Forbidden, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import Money, utcnow
from tenants.credits.statements import STREAM_BATCH, Statement, StatementLine, credit_statement
from tenants.models import (
    Charge,
    EntryType,
    Invoice,
    InvoiceKind,
    Organization,
    Payment,
    PaymentStatus,
    PricingModel,
)

ZERO = Decimal(0)


def statement_month(org: Organization, value) -> str:
    """The month ``value`` names (``YYYY-MM``), refused (422) when malformed or not started
    yet in the organization's timezone. Months before the organization existed give an
    empty statement."""
    message = _l("Give a month as YYYY-MM, e.g. 2026-10.")
    try:
        month = parse_period(value, "month")
    except ValidationFailed:
        raise ValidationFailed(message, fields={"month": str(message)}) from None
    if month > period_of(utcnow(), _zone(org)):
        later = _l("That month has not started yet: choose this month or an earlier one.")
        raise ValidationFailed(later, fields={"month": str(later)})
    return month


def _zone(org: Organization) -> str:
    return org.timezone or "UTC"


def month_statement(actor: Actor, org: Organization, month: str, account=None) -> Statement:
    """The statement of ``month`` (checked by statement_month) for the organization: of the
    accounts the actor reads, or of one (``system``/``member:<id>``), for a prepaid one; of
    its debt for a postpaid one (those who read every account: a plain member's Logs tab
    shows no charges either)."""
    start, end = period_bounds(month, _zone(org))
    if org.pricing_model == PricingModel.POSTPAID:
        return debt_statement(actor, org, start, end)
    return credit_statement(actor, org, start, end, account)


# -- postpaid ----------------------------------------------------------------------------------


def _invoices_until(org: Organization, end: datetime) -> list[Invoice]:
    """The organization's monthly invoices issued before ``end``, in order (one a month)."""
    return list(
        db.session.scalars(
            select(Invoice)
            .where(
                Invoice.organization_id == org.id,
                Invoice.reseller_id == org.reseller_id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.issued_at < end,
            )
            .order_by(Invoice.issued_at, Invoice.sequence)
        )
    )


def _billed_until(invoice: Invoice, zone: str) -> datetime:
    """Where the charges an invoice bills end: its month's end, or its issue if earlier."""
    return min(period_bounds(invoice.period, zone)[1], invoice.issued_at)


def _charge_sums(org: Organization, windows: dict[str, tuple]) -> dict[str, Decimal]:
    """Σ (amount + tax) of the charges in each ``[low, high)`` window (low None: from the
    first), in one query over the range they cover."""
    lows = [low for low, _high in windows.values()]
    owed = Charge.amount + Charge.tax
    columns = []
    for name, (low, high) in windows.items():
        inside = (
            Charge.occurred_at < high
            if low is None
            else and_(Charge.occurred_at >= low, Charge.occurred_at < high)
        )
        total = func.coalesce(func.sum(case((inside, owed), else_=0)), 0)
        columns.append(type_coerce(total, Money()).label(name))
    query = select(*columns).where(
        Charge.organization_id == org.id, Charge.reseller_id == org.reseller_id
    )
    if None not in lows:
        query = query.where(Charge.occurred_at >= min(lows))
    row = db.session.execute(query).one()
    return {name: Decimal(row._mapping[name]) for name in windows}


def _payment_sums(org: Organization, start: datetime, end: datetime) -> tuple[Decimal, Decimal]:
    """What the payments took off the debt before ``start`` and before ``end``."""

    def net(bound):
        paid = case((Payment.created_at < bound, Payment.amount), else_=0)
        voided = case(
            (
                and_(Payment.status == PaymentStatus.VOID, Payment.voided_at < bound),
                Payment.amount,
            ),
            else_=0,
        )
        return type_coerce(func.coalesce(func.sum(paid - voided), 0), Money())

    row = db.session.execute(
        select(net(start), net(end)).where(
            Payment.organization_id == org.id, Payment.reseller_id == org.reseller_id
        )
    ).one()
    return Decimal(row[0]), Decimal(row[1])


def _payment_lines(org: Organization, start: datetime, end: datetime) -> list:
    """The month's payments (-) and voids (+), as lines."""
    payments = db.session.scalars(
        select(Payment).where(
            Payment.organization_id == org.id,
            Payment.reseller_id == org.reseller_id,
            or_(
                and_(Payment.created_at >= start, Payment.created_at < end),
                and_(Payment.voided_at >= start, Payment.voided_at < end),
            ),
        )
    )
    lines = []
    for payment in payments:
        if start <= payment.created_at < end:
            lines.append(
                StatementLine(
                    occurred_at=payment.created_at,
                    type=EntryType.PAYMENT.value,
                    reference=payment.reference or "",
                    change=-payment.amount,
                    balance=None,
                    amount=payment.amount,
                )
            )
        if payment.voided_at is not None and start <= payment.voided_at < end:
            lines.append(
                StatementLine(
                    occurred_at=payment.voided_at,
                    type=EntryType.PAYMENT_VOID.value,
                    reference=payment.reference or "",
                    change=payment.amount,
                    balance=None,
                    amount=payment.amount,
                )
            )
    return lines


def _charge_lines(org: Organization, start: datetime, end: datetime):
    query = (
        select(Charge.occurred_at, Charge.reference, Charge.credits, Charge.amount, Charge.tax)
        .where(
            Charge.organization_id == org.id,
            Charge.reseller_id == org.reseller_id,
            Charge.occurred_at >= start,
            Charge.occurred_at < end,
        )
        .order_by(Charge.occurred_at, Charge.id)
    )

    def stream() -> Iterator[StatementLine]:
        result = db.session.execute(
            query.execution_options(yield_per=STREAM_BATCH, stream_results=True)
        )
        try:
            for occurred_at, reference, credits, amount, tax in result:
                yield StatementLine(
                    occurred_at=occurred_at,
                    type=EntryType.USAGE.value,
                    reference=reference or "",
                    change=amount + tax,
                    balance=None,
                    credits=int(credits),
                    amount=amount,
                    tax=tax,
                )
        finally:
            result.close()

    return stream


def debt_statement(actor: Actor, org: Organization, start: datetime, end: datetime) -> Statement:
    """The postpaid organization's debt between the instants: opening debt, its charges with
    tax, invoices issued, payments and voids, closing debt (see the module's docstring).
    For those who read every account; another tenant's organization is NotFound."""
    org = scoping.get_organization(actor, org.id, include_deleted=True)
    if not scoping.sees_every_account(actor):
        raise Forbidden()
    zone = _zone(org)
    invoices = _invoices_until(org, end)
    before = [i for i in invoices if i.issued_at < start]
    during = [i for i in invoices if i.issued_at >= start]
    open_from = _billed_until(before[-1], zone) if before else None
    windows = {"unbilled_at_start": (open_from, start)}
    low = open_from
    for n, invoice in enumerate(during):
        high = _billed_until(invoice, zone)
        windows[f"billed_{n}"] = (low, high)
        low = high
    windows["unbilled_at_end"] = (low, end)
    sums = _charge_sums(org, windows)
    paid_at_start, paid_at_end = _payment_sums(org, start, end)
    opening = sums["unbilled_at_start"] + sum((i.total for i in before), ZERO) - paid_at_start
    closing = sums["unbilled_at_end"] + sum((i.total for i in invoices), ZERO) - paid_at_end

    invoice_lines = [
        StatementLine(
            occurred_at=invoice.issued_at,
            type=EntryType.INVOICE.value,
            reference=invoice.number,
            change=invoice.total - sums[f"billed_{n}"],
            balance=None,
            amount=invoice.subtotal,
            tax=invoice.tax,
        )
        for n, invoice in enumerate(during)
    ]
    others = sorted(invoice_lines + _payment_lines(org, start, end), key=_moment)
    charges = _charge_lines(org, start, end)

    def stream() -> Iterator[StatementLine]:
        return heapq.merge(charges(), others, key=_moment)

    return Statement(
        kind="debt",
        organization=org,
        account=None,
        start=start,
        end=end,
        opening=opening,
        closing=closing,
        stream=stream,
        currency=org.currency,
    )


def _moment(line: StatementLine) -> datetime:
    return line.occurred_at
