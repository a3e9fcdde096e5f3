"""The rows a monthly batch writes beside its invoices, built in Python for bulk inserts, and
the resellers' terms its invoices need.

Ledger accounts and transactions, audit rows and email jobs: what the services write one
at a time (tenants.credits.operations, tenants.audit.log, tenants.jobs.outbox), with the
same columns, for a whole batch at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.billing.batch_tables import _Due
from tenants.core.bulk import insert_new, one_of
from tenants.core.extensions import db
from tenants.core.types import new_ids, utcnow
from tenants.credits.ledger import POSTPAID_BALANCE
from tenants.invoices import documents as invoices
from tenants.models import AccountKind, CreditAccount, EntryType, Reseller


class BatchIds:
    """The ids of a batch's rows of each kind, made many at a time (``new_ids``, about ten
    times cheaper than one ``new_id`` each) and handed out one by one: ``ids("ent")``."""

    def __init__(self, **counts: int) -> None:
        self._ids: dict[str, Iterator[str]] = {
            prefix: iter(new_ids(prefix, count)) for prefix, count in counts.items() if count
        }

    def __call__(self, prefix: str) -> str:
        return next(self._ids[prefix])


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
                    one_of(CreditAccount.organization_id, ids),
                    CreditAccount.kind.in_(kinds),
                    CreditAccount.member_id == "",
                )
            )
        }

    accounts = found()
    now = utcnow()
    wanted = [(item, kind) for item in due for kind in kinds if (item.row.id, kind) not in accounts]
    missing = [
        {
            "id": account_id,
            "reseller_id": item.row.reseller_id,
            "organization_id": item.row.id,
            "kind": kind,
        }
        for (item, kind), account_id in zip(wanted, new_ids("acc", len(wanted)), strict=True)
    ]
    created = insert_new(
        CreditAccount.__table__,
        missing,
        index_elements=["organization_id", "kind", "member_id"],
        returning=["organization_id", "kind", "id"],
        values={"member_id": "", "balance": 0, "created_at": now, "updated_at": now},
    )
    accounts.update({(org_id, AccountKind(kind)): account for org_id, kind, account in created})
    if len(created) < len(missing):  # another transaction created some first
        accounts = found()
    return accounts


def _ledger_rows(
    invoice: dict,
    credits: int,
    accounts: dict[tuple[str, AccountKind], str],
    stamp: datetime,
    ids: BatchIds,
) -> list[dict]:
    """An invoice's ledger transaction (``invoice``: its row of the invoices table):
    ``credits`` on the system account, whose balance stays ``POSTPAID_BALANCE`` (postpaid
    usage is billed, not deducted), and as many less on the ``invoiced`` account."""
    org_id = invoice["organization_id"]
    posting = {
        "transaction_id": ids("txn"),
        "reseller_id": invoice["reseller_id"],
        "organization_id": org_id,
        "member_id": "",
        "type": EntryType.INVOICE,
        "amount": invoice["total"],
        "currency": invoice["currency"],
        "reference": invoice["number"],
        "occurred_at": stamp,
        "created_at": stamp,
        "actor_user_id": SYSTEM.user_id,
        "real_user_id": SYSTEM.real_user_id,
        "api_key_id": SYSTEM.api_key_id,
    }
    return [
        {
            **posting,
            "id": ids("ent"),
            "account_id": accounts[(org_id, AccountKind.SYSTEM)],
            "account_kind": AccountKind.SYSTEM,
            "credits": credits,
            "balance_after": POSTPAID_BALANCE,
        },
        {
            **posting,
            "id": ids("ent"),
            "account_id": accounts[(org_id, AccountKind.INVOICED)],
            "account_kind": AccountKind.INVOICED,
            "credits": -credits,
            "balance_after": None,
        },
    ]


def _audit_row(invoice: dict, stamp: datetime, ids: BatchIds) -> dict:
    """The ``invoice.issued`` audit row of an invoice, by the system."""
    return {
        "id": ids("aud"),
        "reseller_id": invoice["reseller_id"],
        "organization_id": invoice["organization_id"],
        "actor_user_id": SYSTEM.user_id,
        "real_user_id": SYSTEM.real_user_id,
        "api_key_id": SYSTEM.api_key_id,
        "support_session_id": SYSTEM.support_session_id,
        "action": "invoice.issued",
        "target_type": "invoice",
        "target_id": invoice["id"],
        "changes": {
            "number": [None, invoice["number"]],
            "period": [None, invoice["period"]],
            "total": [None, str(invoice["total"])],
        },
        "created_at": stamp,
    }


def _email_job_row(invoice: dict, stamp: datetime, ids: BatchIds) -> dict:
    """The outbox row of the job that emails the invoice."""
    return {
        "id": ids("job"),
        "name": "send_invoice_email",
        "kwargs": {"invoice_id": invoice["id"]},
        "created_at": stamp,
        "attempts": 0,
    }


def _reseller_terms(reseller_ids: list[str]) -> dict[str, tuple[str, str, dict]]:
    """``{reseller id: (slug, default language, seller snapshot)}``."""
    return {
        row.id: (row.slug, row.default_language, invoices.seller_snapshot(row))
        for row in db.session.execute(
            select(
                Reseller.id,
                Reseller.slug,
                Reseller.default_language,
                Reseller.name,
                Reseller.legal_name,
                Reseller.legal_address,
                Reseller.tax_id,
                Reseller.country,
            ).where(Reseller.id.in_(reseller_ids))
        )
    }
