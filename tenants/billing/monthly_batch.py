"""One batch of the monthly invoice run, in the caller's transaction.

The run works on batches of organizations (BATCH_SIZE, one transaction each) with
set-based statements instead of objects per organization:

1. lock the batch's postpaid rows (SELECT … FOR UPDATE, in id order: two runs lock in the
   same order and the second one, once the first commits, finds the months closed);
2. group the batch's charges by (organization, day in its timezone, unit price) into a
   temporary table — on PostgreSQL one INSERT … SELECT … GROUP BY with ``AT TIME ZONE``;
   other databases (SQLite: tests, the embedded default) group in Python, which is fine
   for their size;
3. sum that per (organization, month), take each reseller's numbers in one UPDATE of its
   sequence row, insert the invoices, then their lines with one INSERT … SELECT (the
   line texts per language and day come from a small temporary table);
4. insert the ledger rows, audit rows and e-mail jobs in bulk, and move the money of the
   whole batch with one UPDATE … FROM of the postpaid rows and one of the debts.

The temporary tables (tenants.billing.batch_tables) are created and dropped inside the
batch's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, text

from tenants.access.actors import SYSTEM
from tenants.billing.batch_tables import (
    _batch_table,
    _close_accounts,
    _create_temp,
    _days_table,
    _drop_temp,
    _Due,
    _group_days,
    _insert_lines,
    _insert_rows,
    _invoices_table,
    _labels_table,
    _line_labels,
    _settle_table,
)
from tenants.billing.emails import _billing_contacts
from tenants.billing.payments import _settle_open_invoices
from tenants.billing.periods import next_period, period_bounds
from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.invoices import documents as invoices
from tenants.jobs import outbox as queue
from tenants.models import (
    AccountKind,
    AuditEntry,
    CreditAccount,
    EntryType,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LedgerEntry,
    Organization,
    PostpaidAccount,
    QueuedJob,
    Reseller,
    TaxRate,
)

WORK_MEM = "64MB"  # PostgreSQL's work_mem for a batch's transaction


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
        .where(PostpaidAccount.organization_id.in_(org_ids), PostpaidAccount.closed_period < period)
        .order_by(PostpaidAccount.organization_id)
        .with_for_update(of=PostpaidAccount)
    ).all()


def _ledger_accounts(due: list[_Due]) -> dict[tuple[str, AccountKind], str]:
    """The system and ``invoiced`` accounts of the organizations, created on first use
    (race-safe, as tenants.credits.operations.account_id does one at a time)."""
    kinds = (AccountKind.SYSTEM, AccountKind.INVOICED)
    ids = [item.row.id for item in due]

    def found() -> dict[tuple[str, AccountKind], str]:
        return {
            (org_id, AccountKind(kind)): account
            for org_id, kind, account in db.session.execute(
                select(CreditAccount.organization_id, CreditAccount.kind, CreditAccount.id).where(
                    CreditAccount.organization_id.in_(ids),
                    CreditAccount.kind.in_(kinds),
                    CreditAccount.member_id == "",
                )
            )
        }

    accounts = found()
    now = utcnow()
    missing = [
        {
            "id": new_id("acc"),
            "reseller_id": item.row.reseller_id,
            "organization_id": item.row.id,
            "kind": kind,
            "member_id": "",
            "balance": 0,
            "created_at": now,
            "updated_at": now,
        }
        for item in due
        for kind in kinds
        if (item.row.id, kind) not in accounts
    ]
    if missing:
        _insert_rows(
            CreditAccount.__table__,
            missing,
            index_elements=["organization_id", "kind", "member_id"],
        )
        accounts = found()
    return accounts


def _invoice_batch(org_ids: list[str], period: str, now: datetime) -> dict[str, list]:
    """Invoice every month still open up to ``period`` of these organizations, in the
    caller's transaction: ``{org id: [(month, invoice id), …]}`` for each one it closed
    (an empty list: closed without an invoice, nothing was charged). Organizations
    already closed (another run), without a postpaid row, or whose own month is not over
    yet (the catch-up gets them) are left out."""
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
            end=end_of(period, row.timezone),
            first_open=next_period(row.closed_period) if row.closed_period else "",
        )
        for row in _lock_batch(org_ids, period)
    ]
    due = [item for item in due if item.end <= now]
    if not due:
        return {}
    if db.session.get_bind().dialect.name == "postgresql":
        # Room to hash and sort a batch in memory (this transaction only).
        db.session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    temp = (_batch_table, _days_table, _invoices_table, _labels_table, _settle_table)
    _create_temp(*temp)
    _group_days(due)
    days = _days_table
    months: dict[str, list[tuple[str, int, Decimal]]] = defaultdict(list)
    for org_id, month, count, amount in db.session.execute(
        select(
            days.c.organization_id, days.c.period, func.sum(days.c.credits), func.sum(days.c.amount)
        )
        .group_by(days.c.organization_id, days.c.period)
        .order_by(days.c.organization_id, days.c.period)
    ):
        months[org_id].append((month, int(count), amount))

    invoiced = [item for item in due if months.get(item.row.id)]
    reseller_ids = sorted({item.row.reseller_id for item in invoiced})
    resellers = {
        rid: (slug, language)
        for rid, slug, language in db.session.execute(
            select(Reseller.id, Reseller.slug, Reseller.default_language).where(
                Reseller.id.in_(reseller_ids)
            )
        )
    }
    taxes = {
        (rid, country): percent
        for rid, country, percent in db.session.execute(
            select(TaxRate.reseller_id, TaxRate.country, TaxRate.percent).where(
                TaxRate.reseller_id.in_(reseller_ids)
            )
        )
    }
    contacts = _billing_contacts(
        [(i.row.id, i.row.billing_email, resellers[i.row.reseller_id][1]) for i in invoiced]
    )
    numbers: dict[str, list[tuple[int, str]]] = {}
    for rid in reseller_ids:  # a fixed order: two transactions never wait on each other
        count = sum(len(months[i.row.id]) for i in invoiced if i.row.reseller_id == rid)
        numbers[rid] = invoices.take_invoice_numbers(rid, resellers[rid][0], count)[::-1]

    stamp = utcnow()
    issued: dict[str, list] = {item.row.id: [] for item in due}
    invoice_rows, ledger_rows, audit_rows, job_rows, settle_rows = [], [], [], [], []
    accounts = _ledger_accounts(invoiced) if invoiced else {}
    for item in due:
        row = item.row
        charged, credit_total, unpaid, applied_total = Decimal(0), 0, Decimal(0), Decimal(0)
        remaining_credits, paid_ahead = row.unbilled_credits, row.paid_ahead
        if months.get(row.id):
            email, language = contacts[row.id]
            billing = invoices.billing_snapshot(row)
            tax_percent = taxes.get((row.reseller_id, (row.country or "").upper()), Decimal(0))
        for month, count, amount in months.get(row.id, []):
            sequence, number = numbers[row.reseller_id].pop()
            subtotal, tax, total = invoices.totals(amount, tax_percent, row.currency)
            invoice_id = new_id("inv")
            issued[row.id].append((month, invoice_id))
            invoice_rows.append(
                {
                    "id": invoice_id,
                    "reseller_id": row.reseller_id,
                    "organization_id": row.id,
                    "sequence": sequence,
                    "number": number,
                    "kind": InvoiceKind.INVOICE,
                    "period": month,
                    "status": InvoiceStatus.OPEN,
                    "currency": row.currency,
                    "subtotal": subtotal,
                    "tax_percent": tax_percent,
                    "tax": tax,
                    "total": total,
                    "billing": billing,
                    "language": language,
                    "issued_at": now,
                    "paid_at": None,
                }
            )
            # What was paid ahead settles the new invoice first.
            applied = min(paid_ahead, total)
            paid_ahead -= applied
            applied_total += applied
            unpaid += total - applied
            charged += amount
            credit_total += count
            remaining_credits -= count
            posting = {
                "transaction_id": new_id("txn"),
                "reseller_id": row.reseller_id,
                "organization_id": row.id,
                "member_id": "",
                "type": EntryType.INVOICE,
                "amount": total,
                "currency": row.currency,
                "reference": number,
                "occurred_at": stamp,
                "created_at": stamp,
                "actor_user_id": SYSTEM.user_id,
                "real_user_id": SYSTEM.real_user_id,
                "api_key_id": SYSTEM.api_key_id,
            }
            ledger_rows.append(
                {
                    **posting,
                    "id": new_id("ent"),
                    "account_id": accounts[(row.id, AccountKind.SYSTEM)],
                    "account_kind": AccountKind.SYSTEM,
                    "credits": count,
                    "balance_after": -remaining_credits,
                }
            )
            ledger_rows.append(
                {
                    **posting,
                    "id": new_id("ent"),
                    "account_id": accounts[(row.id, AccountKind.INVOICED)],
                    "account_kind": AccountKind.INVOICED,
                    "credits": -count,
                    "balance_after": None,
                }
            )
            audit_rows.append(
                {
                    "id": new_id("aud"),
                    "reseller_id": row.reseller_id,
                    "organization_id": row.id,
                    "actor_user_id": SYSTEM.user_id,
                    "real_user_id": SYSTEM.real_user_id,
                    "api_key_id": SYSTEM.api_key_id,
                    "support_session_id": SYSTEM.support_session_id,
                    "action": "invoice.issued",
                    "target_type": "invoice",
                    "target_id": invoice_id,
                    "changes": {
                        "number": [None, number],
                        "period": [None, month],
                        "total": [None, str(total)],
                    },
                    "created_at": stamp,
                }
            )
            if email:
                job_rows.append(
                    {
                        "id": new_id("job"),
                        "name": "send_invoice_email",
                        "kwargs": {"invoice_id": invoice_id},
                        "created_at": stamp,
                        "attempts": 0,
                    }
                )
        settle_rows.append(
            {
                "organization_id": row.id,
                "charged": charged,
                "credits": credit_total,
                "unpaid": unpaid,
                "applied": applied_total,
                "closed_until": item.end,
            }
        )

    if invoice_rows:
        _insert_rows(Invoice.__table__, invoice_rows)
        _insert_rows(
            _invoices_table,
            [
                {
                    "organization_id": r["organization_id"],
                    "period": r["period"],
                    "invoice_id": r["id"],
                    "reseller_id": r["reseller_id"],
                    "language": r["language"],
                }
                for r in invoice_rows
            ],
        )
        _line_labels({r["language"] for r in invoice_rows})
        _insert_lines()
        _insert_rows(LedgerEntry.__table__, ledger_rows)
        _insert_rows(AuditEntry.__table__, audit_rows)
    if job_rows:
        _insert_rows(QueuedJob.__table__, job_rows)
        db.session.info.setdefault(queue._PENDING_KEY, []).extend(r["id"] for r in job_rows)
    _close_accounts(settle_rows, period, now)
    for item in settle_rows:
        if item["applied"]:
            unpaid = db.session.scalar(
                select(PostpaidAccount.invoiced_unpaid).where(
                    PostpaidAccount.organization_id == item["organization_id"]
                )
            )
            _settle_open_invoices(item["organization_id"], unpaid)
    _drop_temp(*temp)
    return issued
