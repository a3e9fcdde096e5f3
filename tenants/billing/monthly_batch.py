"""One batch of the monthly invoice run, in the caller's transaction.

The run works on batches of organizations (BATCH_SIZE, one transaction each) with
set-based statements instead of objects per organization. A batch is prepared, then
issued; only the issue takes the reseller's invoice numbers, so batches can be prepared
side by side on two connections and issued one after the other (tenants.billing
.monthly_run), the numbers never skipping:

``_prepare_batch``
  1. ``_lock_and_group``: lock the batch's postpaid rows (SELECT … FOR UPDATE, in id
     order: two runs lock in the same order and the second one, once the first commits,
     finds the months closed); group the batch's charges by (organization, day in its
     timezone, unit price) into a temporary table — on PostgreSQL one INSERT … SELECT …
     GROUP BY with ``AT TIME ZONE``; other databases (SQLite: tests, the embedded default)
     group in Python, which is fine for their size — and sum that per (organization, month);
  2. ``_make_invoices``: the invoice of each organization and month with charges, all but
     its number: totals with the tax of each rate its charges carry, billing snapshot and
     the billing contact's language;
  3. ``_write_unnumbered``: what needs no number, in bulk — the ledger accounts, the email
     jobs, the invoices staged with their lines (PostgreSQL: a temporary table, the lines
     aggregated from the days table), and the batch's money moved (one UPDATE … FROM of
     the postpaid rows, one of the debts);

``_issue_batch``
  4. ``_number``: each reseller's numbers in one UPDATE of its sequence row (locked until
     the commit: a rollback gives them back);
  5. ``_write_numbered``: the invoices with their lines (one INSERT … SELECT from the
     staged rows: a line a day, price and rate, stored as a key and its day in the
     invoice's ``lines`` document, the text rendered when read), their ledger transactions
     and audit rows in bulk; the invoices that money paid ahead covers marked paid.

The temporary tables (tenants.billing.batch_tables) are created and dropped inside the
batch's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from tenants.billing.batch_invoices import insert_invoices, stage_invoices
from tenants.billing.batch_rows import (
    BatchIds,
    _audit_row,
    _email_job_row,
    _ledger_accounts,
    _ledger_rows,
    _reseller_terms,
)
from tenants.billing.batch_tables import (
    _batch_table,
    _close_accounts,
    _create_temp,
    _days_table,
    _drop_temp,
    _Due,
    _group_days,
    _settle_table,
    _tune_batch_transaction,
)
from tenants.billing.emails import _billing_contacts
from tenants.billing.payments import _settle_open_invoices
from tenants.billing.periods import next_period, period_bounds
from tenants.core.bulk import insert_rows, one_of
from tenants.core.extensions import db
from tenants.core.types import new_ids, utcnow
from tenants.invoices import amounts
from tenants.invoices import documents as invoices
from tenants.jobs import outbox as queue
from tenants.models import (
    AuditEntry,
    InvoiceKind,
    InvoiceStatus,
    LedgerEntry,
    Organization,
    OrganizationStatus,
    PostpaidAccount,
    QueuedJob,
)

# Created at the start of a batch, dropped at its end.
_TEMP_TABLES = (_batch_table, _days_table, _settle_table)


def _lock_batch(org_ids: list[str], period: str):
    """Lock the postpaid rows still open before ``period``, in id order; with the columns
    of the organization the invoices need."""
    return db.session.execute(
        select(
            PostpaidAccount.organization_id.label("id"),
            PostpaidAccount.closed_period,
            PostpaidAccount.closed_until,
            PostpaidAccount.unbilled_credits,
            PostpaidAccount.paid_ahead,
            Organization.reseller_id,
            Organization.name,
            Organization.country,
            Organization.currency,
            Organization.timezone,
            Organization.billing_type,
            Organization.billing_name,
            Organization.billing_address,
            Organization.billing_tax_id,
            Organization.billing_email,
        )
        .join(Organization, Organization.id == PostpaidAccount.organization_id)
        .where(
            one_of(PostpaidAccount.organization_id, org_ids),
            PostpaidAccount.closed_period < period,
        )
        .where(Organization.status != OrganizationStatus.DELETED)  # never invoiced again
        .order_by(PostpaidAccount.organization_id)
        .with_for_update(of=PostpaidAccount)
    ).all()


@dataclass
class _Month:
    """One organization's charges of one month: in all, and per tax rate."""

    period: str
    credits: int = 0
    amount: Decimal = Decimal(0)  # exact, charge by charge (what leaves unbilled)
    tax: Decimal = Decimal(0)  # exact, charge by charge
    # {tax %: base}: the sum of the amounts of the invoice lines at that rate, each line's
    # rounded half-up to the currency (so the subtotal is the sum of the lines)
    bases: dict[Decimal, Decimal] = field(default_factory=dict)


@dataclass
class _NewInvoice:
    """One invoice of the batch: its row of the invoices table and the charges it bills."""

    due: _Due
    credits: int
    amount: Decimal  # the month's charges, before tax
    charged_tax: Decimal  # the exact tax of those charges (what leaves unbilled_tax)
    email: str | None  # where it is sent; None: nowhere, no email job
    row: dict[str, Any]


@dataclass
class _Batch:
    """The state the five steps of a batch hand on, each adding its part."""

    org_ids: list[str]
    period: str
    now: datetime
    until: datetime | None = None  # charges up to here, not to the period's end (final)
    # 1. the locked organizations whose month is over, and their charges month by month
    due: list[_Due] = field(default_factory=list)
    months: dict[str, list[_Month]] = field(default_factory=lambda: defaultdict(list))
    # 2. the invoices, in the order of ``due`` then month (numbered by step 4); {org id:
    # [(month, invoice id), …]}; {reseller id: (slug, default language, seller snapshot)}
    invoices: list[_NewInvoice] = field(default_factory=list)
    issued: dict[str, list] = field(default_factory=dict)
    resellers: dict[str, tuple[str, str, dict]] = field(default_factory=dict)
    # 3. the ledger accounts of the invoiced, and what each organization's postpaid row moved
    accounts: dict = field(default_factory=dict)
    settled: list[dict] = field(default_factory=list)

    @property
    def invoiced(self) -> list[_Due]:
        """The organizations with charges: each gets one invoice a month or more."""
        return [item for item in self.due if self.months.get(item.row.id)]


def _invoice_batch(
    org_ids: list[str], period: str, now: datetime, *, until: datetime | None = None
) -> dict[str, list]:
    """Invoice every month still open up to ``period`` of these organizations, in the
    caller's transaction: ``{org id: [(month, invoice id), …]}`` for each one it closed
    (an empty list: closed without an invoice, nothing was charged). Organizations
    already closed (another run), without a postpaid row, deleted, or whose own month is
    not over yet (the catch-up gets them) are left out. ``until`` (at most ``now``): the
    charges up to that instant instead of the period's end, and ``period`` closed there
    (the final invoice; later usage goes to the next month)."""
    return _issue_batch(_prepare_batch(org_ids, period, now, until=until))


def _prepare_batch(
    org_ids: list[str], period: str, now: datetime, *, until: datetime | None = None
) -> _Batch:
    """Steps 1 to 3, in the caller's transaction: everything of the batch but its invoice
    numbers (see the module's docstring); ``_issue_batch`` finishes it."""
    batch = _lock_and_group(_Batch(org_ids, period, now, until))
    if batch.due:
        batch = _write_unnumbered(_make_invoices(batch))
    return batch


def _issue_batch(batch: _Batch) -> dict[str, list]:
    """Steps 4 and 5, in the transaction that prepared ``batch``: number and write its invoices;
    what ``_invoice_batch`` answers."""
    if not batch.due:
        return {}
    return _write_numbered(_number(batch)).issued


def _lock_and_group(batch: _Batch) -> _Batch:
    """Step 1: lock the batch's postpaid rows still open and keep the organizations whose
    month is over in their timezone; group their charges per day into the days table, then
    per (organization, month)."""
    bounds: dict[tuple[str, str], datetime] = {}

    def end_of(month: str, timezone: str) -> datetime:
        key = (month, timezone)
        if key not in bounds:
            bounds[key] = period_bounds(month, timezone)[1]
        return bounds[key]

    due = [
        _Due(
            row=row,
            start=row.closed_until,
            end=batch.until or end_of(batch.period, row.timezone),
            first_open=next_period(row.closed_period) if row.closed_period else "",
        )
        for row in _lock_batch(batch.org_ids, batch.period)
    ]
    batch.due = [item for item in due if item.end <= batch.now]
    if not batch.due:
        return batch
    _tune_batch_transaction()
    _create_temp(*_TEMP_TABLES)
    _group_days(batch.due)
    days = _days_table
    for org_id, month, percent, count, amount, base, tax in db.session.execute(
        select(
            days.c.organization_id,
            days.c.period,
            days.c.tax_percent,
            func.sum(days.c.credits),
            func.sum(days.c.amount),
            func.sum(days.c.line_amount),
            func.sum(days.c.tax),
        )
        .group_by(days.c.organization_id, days.c.period, days.c.tax_percent)
        .order_by(days.c.organization_id, days.c.period, days.c.tax_percent)
    ):
        months = batch.months[org_id]
        if not months or months[-1].period != month:
            months.append(_Month(month))
        months[-1].credits += int(count)
        months[-1].amount += amount
        months[-1].tax += tax
        months[-1].bases[percent] = base
    return batch


def _make_invoices(batch: _Batch) -> _Batch:
    """Step 2: the invoice of each organization and month with charges, without its number:
    totals with the tax of each rate its charges carry, billing snapshot and the billing
    contact's language."""
    invoiced = batch.invoiced
    resellers = _reseller_terms(sorted({item.row.reseller_id for item in invoiced}))
    contacts = _billing_contacts(
        [(i.row.id, i.row.billing_email, resellers[i.row.reseller_id][1]) for i in invoiced]
    )
    batch.resellers = resellers
    batch.issued = {item.row.id: [] for item in batch.due}
    invoice_ids = iter(new_ids("inv", sum(len(batch.months[i.row.id]) for i in invoiced)))
    for item in invoiced:
        row = item.row
        email, language = contacts[row.id]
        billing = invoices.billing_snapshot(row)
        for month in batch.months[row.id]:
            result = amounts.totals_per_rate(month.bases, row.currency)
            invoice_id = next(invoice_ids)
            batch.issued[row.id].append((month.period, invoice_id))
            invoice_row = {
                "id": invoice_id,
                "reseller_id": row.reseller_id,
                "organization_id": row.id,
                "sequence": None,  # step 4
                "number": None,
                "kind": InvoiceKind.INVOICE,
                "period": month.period,
                "status": InvoiceStatus.OPEN,
                "currency": row.currency,
                "subtotal": result.subtotal,
                "tax_percent": result.main_percent,  # the rate of the largest base
                "tax": result.tax,
                "total": result.total,
                "taxes": result.taxes_record(),
                "billing": billing,
                "seller": resellers[row.reseller_id][2],
                "language": language,
                "issued_at": batch.now,
                "paid_at": None,
            }
            batch.invoices.append(
                _NewInvoice(item, month.credits, month.amount, month.tax, email, invoice_row)
            )
    return batch


def _number(batch: _Batch) -> _Batch:
    """Step 4: take each reseller's invoice numbers (one UPDATE of its sequence row, locked
    until the commit) and give them to the batch's invoices in their order."""
    rows_of: dict[str, list[dict]] = defaultdict(list)
    for invoice in batch.invoices:
        rows_of[invoice.row["reseller_id"]].append(invoice.row)
    for rid in sorted(rows_of):  # a fixed order: two transactions never wait on each other
        rows = rows_of[rid]
        taken = invoices.take_invoice_numbers(rid, batch.resellers[rid][0], len(rows))
        for row, (sequence, number) in zip(rows, taken, strict=True):
            row["sequence"], row["number"] = sequence, number
    return batch


def _write_unnumbered(batch: _Batch) -> _Batch:
    """Step 3: what needs no invoice number, in bulk: the organizations' ledger accounts, an
    email job an invoice with an address, the invoices staged with their lines, and the
    batch's money moved and months closed (one UPDATE … FROM of the postpaid rows, one
    UPDATE of the debts)."""
    batch.accounts = _ledger_accounts(batch.invoiced) if batch.invoiced else {}
    emails = [invoice.row for invoice in batch.invoices if invoice.email]
    if emails:
        stamp, ids = utcnow(), BatchIds(job=len(emails))
        job_rows = [_email_job_row(row, stamp, ids) for row in emails]
        insert_rows(QueuedJob.__table__, job_rows)
        db.session.info.setdefault(queue._PENDING_KEY, []).extend(r["id"] for r in job_rows)
    stage_invoices([invoice.row for invoice in batch.invoices])
    batch.settled = _settle_rows(batch)
    _close_accounts(batch.settled, batch.period, batch.now)
    return batch


def _write_numbered(batch: _Batch) -> _Batch:
    """Step 5: the invoices with their lines (staged in step 3), a ledger transaction and an
    audit row an invoice, each kind of row in bulk; the invoices that money paid ahead
    covers are marked paid. The temporary tables are dropped."""
    stamp, count = utcnow(), len(batch.invoices)
    ids = BatchIds(txn=count, ent=2 * count, aud=count)
    ledger_rows, audit_rows = [], []
    for invoice in batch.invoices:
        ledger_rows.extend(_ledger_rows(invoice.row, invoice.credits, batch.accounts, stamp, ids))
        audit_rows.append(_audit_row(invoice.row, stamp, ids))
    if batch.invoices:
        insert_invoices([invoice.row for invoice in batch.invoices])
        insert_rows(LedgerEntry.__table__, ledger_rows)
        insert_rows(AuditEntry.__table__, audit_rows)
    for item in batch.settled:
        if item["applied"]:
            unpaid = db.session.scalar(
                select(PostpaidAccount.invoiced_unpaid).where(
                    PostpaidAccount.organization_id == item["organization_id"]
                )
            )
            _settle_open_invoices(item["organization_id"], unpaid)
    _drop_temp(*_TEMP_TABLES)
    return batch


def _settle_rows(batch: _Batch) -> list[dict]:
    """What each organization's postpaid row moves: its charges from unbilled to invoiced,
    less what was paid ahead; every organization of the batch, invoiced or not, closes."""
    invoices_of: dict[str, list[_NewInvoice]] = defaultdict(list)
    for invoice in batch.invoices:
        invoices_of[invoice.due.row.id].append(invoice)
    settle_rows = []
    for item in batch.due:
        charged, charged_tax, unpaid, applied_total = Decimal(0), Decimal(0), Decimal(0), Decimal(0)
        credit_total = 0
        paid_ahead = item.row.paid_ahead
        for invoice in invoices_of[item.row.id]:
            total = invoice.row["total"]
            # What was paid ahead settles the new invoice first.
            applied = min(paid_ahead, total)
            paid_ahead -= applied
            applied_total += applied
            unpaid += total - applied
            charged += invoice.amount
            charged_tax += invoice.charged_tax
            credit_total += invoice.credits
        settle_rows.append(
            {
                "organization_id": item.row.id,
                "charged": charged,
                "charged_tax": charged_tax,
                "credits": credit_total,
                "unpaid": unpaid,
                "applied": applied_total,
                "closed_until": item.end,
            }
        )
    return settle_rows
